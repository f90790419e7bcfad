"""Threads as a source (issue 24) against the loopback Discord: the backfill rate and the time
from a thread marked solved to answerable.

The real bot (``create_bot`` + ``bot.start``, discord.py's real HTTP client and gateway) runs in
this process against the stand-in (``tests/loopback``), whose channel reads go through per-route
buckets of ``--per-second`` requests (discord.py waits when a bucket is empty, as with Discord).
With ``--global-per-second`` every channel read also takes from one global bucket (Discord's 50
requests/s per bot), answered past it with a global 429 that discord.py waits out. A forum of
``--threads`` archived threads (a question and ``--replies`` answers each) is made a source with
``solved:all``; builds run in the bot's real child process. Reported:

- **backfill**: threads/s from ``/docs add channel:`` to the channel's cursor marked done (every
  thread read, written and recorded), and the REST calls it took; then the seconds until the
  last build queued by the backfill has finished (all answerable);
- **solved → answerable**: in a second forum (a source with ``solved:tag``), ``--solved`` times,
  a new post with its answer (read, not solved) is tagged "solved" (THREAD_UPDATE) and ``/ask``
  is polled every 0.25 s until a passage of it is quoted: the debounce (``--debounce``) +
  reading the thread + one incremental build + the next question.

    .venv/bin/python benchmarks/threads.py [--threads 300] [--replies 2] [--per-second 50]
        [--global-per-second 50] [--debounce 10] [--solved 3]

Exit status 1 when the backfill missed a thread or a solved thread never became answerable
within a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, World  # noqa: E402
from tests.loopback.client import running_bot  # noqa: E402
from tests.loopback.process import build_article_index  # noqa: E402
from tests.paths import ARTICLE_DIR  # noqa: E402

TOKEN = "MTQwMDAwMDAwMDAwMDAwMDAw.GBench.loopback-threads-token_not-a-real-one"
GUILD = 940000000000000100
OWNER, ASKER, HELPER = 940000000000000010, 940000000000000031, 940000000000000032
ANSWERABLE_WITHIN = 60.0


async def ask_until(discord_: LoopbackDiscord, question: str, needle: str,
                    deadline: float) -> float | None:
    """Ask ``question`` every 0.25 s until an answer quotes ``needle``; when (monotonic)."""
    while time.monotonic() < deadline:
        token = await discord_.slash("ask", user_id=OWNER, guild_id=GUILD, question=question,
                                     k=5)
        answer = await discord_.answered(token, timeout=120)
        if needle in json.dumps(answer.message.get("embeds") or []):
            return time.monotonic()
        await asyncio.sleep(0.25)
    return None


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    index_dir = workdir / "index"
    build_article_index(index_dir)
    world = World(owner_id=OWNER)
    people = world.community
    forum = people.channel(GUILD, "help", forum=True)
    tagged = people.channel(GUILD, "support", forum=True, tags=("solved",))
    for n in range(args.threads):
        thread = people.thread(forum, f"Question {n}", f"How do I configure widget {n}?",
                               owner_id=ASKER)
        for reply in range(args.replies):
            people.post(thread.id, f"Widget {n} is configured with dial {n}-{reply}.",
                        author_id=HELPER)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, source_dir=ARTICLE_DIR, index_dir=index_dir,
        state_db=workdir / "state.sqlite3", collections_dir=workdir / "collections",
        discord_token=TOKEN, discord_guilds=[GUILD], owner_ids=[OWNER],
        discord_cooldown_questions=1000, discord_message_content=True,
        threads_debounce_seconds=args.debounce,
        server_max_documents=args.threads + args.solved + 10,  # every thread a document
    )
    engine = Engine(settings)
    engine.load(build_if_missing=False)
    async with LoopbackDiscord(TOKEN, world) as discord_:
        discord_.rest.limits.per_second = args.per_second
        discord_.rest.limits.global_per_second = args.global_per_second
        async with running_bot(discord_, settings, engine) as bot:
            sync = bot.get_cog("Threads").sync  # type: ignore[union-attr]
            calls_before = len(discord_.recorder.requests)
            started = time.monotonic()
            token = await discord_.slash("docs add", user_id=OWNER, guild_id=GUILD,
                                         permissions=ADMIN_PERMISSIONS, channel=forum,
                                         solved="all")
            await discord_.answered(token)
            while not (await asyncio.to_thread(bot.thread_sources.channel, forum.id)).backfilled:
                await asyncio.sleep(0.05)
            read_at = time.monotonic()
            calls = len(discord_.recorder.requests) - calls_before
            await sync.idle()
            built_at = time.monotonic()
            records = await asyncio.to_thread(bot.thread_sources.threads, forum.id)
            latencies: list[float] = []
            token = await discord_.slash("docs add", user_id=OWNER, guild_id=GUILD,
                                         permissions=ADMIN_PERMISSIONS, channel=tagged,
                                         solved="tag", tag="solved")
            await discord_.answered(token)
            for n in range(args.solved):
                fact = f"Gadget {n} reboots after holding the amber switch for {n + 7} seconds."
                thread = await discord_.new_thread(tagged, f"Gadget {n}",
                                                   f"How do I reboot gadget {n}?",
                                                   owner_id=ASKER)
                await discord_.say(thread.id, fact, author_id=HELPER)
                await asyncio.sleep(args.debounce + 0.5)  # its events, read: not solved yet
                await sync.idle()
                solved_at = time.monotonic()
                await discord_.tag(thread, "solved")
                found = await ask_until(discord_, f"How do I reboot gadget {n}?",
                                        f"{n + 7} seconds", solved_at + ANSWERABLE_WITHIN)
                latencies.append(float("inf") if found is None else found - solved_at)
        problems = discord_.problems()
    return {
        "threads": args.threads, "replies": args.replies, "per_second": args.per_second,
        "debounce": args.debounce,
        "backfill_seconds": read_at - started,
        "threads_per_second": args.threads / (read_at - started),
        "rest_calls": calls, "rate_limited": discord_.rest.limits.exceeded,
        "all_answerable_seconds": built_at - started,
        "recorded": len(records), "with_documents": sum(1 for r in records.values() if r.name),
        "solved_to_answerable": latencies, "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=300)
    parser.add_argument("--replies", type=int, default=2)
    parser.add_argument("--per-second", type=int, default=50)
    parser.add_argument("--global-per-second", type=int, default=None,
                        help="also a global bucket of this many requests/s (Discord: 50)")
    parser.add_argument("--debounce", type=float, default=10.0)
    parser.add_argument("--solved", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citebot-threads-") as folder:
        result = asyncio.run(run(args, Path(folder)))
    latencies = result["solved_to_answerable"]
    print(f"backfill: {result['threads']} threads ({result['replies']} replies each) in "
          f"{result['backfill_seconds']:.1f} s = {result['threads_per_second']:.1f} threads/s, "
          f"{result['rest_calls']} REST calls, buckets of {result['per_second']}/s, "
          f"{result['rate_limited']} over a limit; all answerable after "
          f"{result['all_answerable_seconds']:.1f} s; recorded {result['recorded']}, "
          f"documents {result['with_documents']}")
    print(f"solved -> answerable (debounce {result['debounce']:g} s): "
          + ", ".join(f"{s:.1f} s" for s in latencies)
          + (f"; median {statistics.median(latencies):.1f} s" if latencies else ""))
    if result["problems"]:
        print("payload problems:", *result["problems"], sep="\n  ")
    failed = (result["recorded"] != result["threads"]
              or result["with_documents"] != result["threads"] or result["problems"]
              or any(s > ANSWERABLE_WITHIN for s in latencies))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
