"""A hostile PDF in one server's ``/docs add``: how long it holds another server's small add
(issue 20, item 2), over the loopback Discord into a real ``citebot discord`` process whose
builds run in their real child processes, one at a time (the build queue).

Three runs, each in fresh servers:

- ``alone``: server B adds a small Markdown file; nothing else is queued (the baseline);
- ``behind the 2,000-page PDF``: server A adds the 32 KB PDF that lists one page 2,000 times,
  its content inflating to 20 MB of whitespace (refused by the decoded-bytes budget);  a second
  after A's add is answered (its build queued), B adds its small file;
- ``behind a PDF within the budgets``: A's PDF lists a page of one line
  ``--pages`` times (within every byte budget, so only the extraction deadline,
  ``--deadline`` seconds, stops it); then B adds its small file.

Reported per run: seconds to extract A's PDF in this process (until it is refused), from A's
command to A's reply (the PDF skipped and removed), and from B's command to B's reply (what B
waited, all of it, its own build included).

    .venv/bin/python benchmarks/hostile_queue.py [--deadline 60] [--pages 100000]

Loopback only; stops by itself. Exit status 1 when a reply is not the one expected.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.index.formats.pdf_fixtures import repeated_page_pdf_bytes  # noqa: E402
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, Request, World  # noqa: E402
from tests.loopback.process import BotProcess  # noqa: E402

TOKEN = "MTQwMDAwMDAwMDAwMDAwMDAw.GBench.loopback-hostile-token_not-a-real-one"
OWNER = 970000000000000001
MANAGER = 970000000000000002
FIRST_GUILD = 970000000000000100
SMALL = b"# Lighthouses\n\nThe Port Quillan lighthouse has eleven green stripes.\n"


def default_index(workdir: Path) -> Path:
    """An index of one small document for the bot's shared collection (not source_docs/)."""
    from bot.core.engine import Engine
    from bot.settings import Settings

    sources = workdir / "shared-sources"
    sources.mkdir()
    (sources / "shared.md").write_text("# Shared\n\nA shared document of the bot.\n")
    index_dir = workdir / "shared-index"
    settings = Settings(_env_file=None, source_dir=sources, index_dir=index_dir)  # type: ignore[call-arg]
    Engine(settings).load(build_if_missing=True)
    return index_dir


async def result(loopback: LoopbackDiscord, token: str, timeout: float = 900) -> Request:
    def found() -> Request | None:
        calls = loopback.recorder.for_token(token)
        return next((r for r in calls if r.is_followup and r.succeeded), None)

    return await loopback.recorder.wait_for(found, timeout)


async def add(loopback: LoopbackDiscord, guild: int, name: str, data: bytes) -> str:
    attachment = loopback.attach(name, data)
    return await loopback.slash("docs add", user_id=MANAGER, permissions=ADMIN_PERMISSIONS,
                                guild_id=guild, file=attachment)


def extraction_seconds(data: bytes, deadline: float) -> tuple[float, str]:
    """Seconds to extract the PDF here, in this process (refused or not), and the reason."""
    from index.ingest.formats import ExtractLimits, UnreadableDocument
    from index.ingest.formats.pdf import extract

    started = time.perf_counter()
    try:
        extract(data, ExtractLimits(timeout_seconds=deadline))
        reason = "read"
    except UnreadableDocument as problem:
        reason = str(problem)
    return time.perf_counter() - started, reason


async def answered_at_once(loopback: LoopbackDiscord, token: str) -> None:
    """Until the add is answered ("Adding …"): its file is then downloaded and its build
    queued within moments (a second later, B's add is checked to be queued behind it)."""
    await loopback.recorder.wait_for(lambda: loopback.recorder.for_token(token), 120)
    await asyncio.sleep(1.0)


def was_queued(loopback: LoopbackDiscord, token: str) -> bool:
    """Whether the add's progress said it waited behind another build."""
    return any("Queued: 1 build(s) ahead" in str(r.message.get("content"))
               for r in loopback.recorder.for_token(token) if r.method == "PATCH")


async def run(loopback: LoopbackDiscord, guilds: tuple[int, int], hostile: bytes | None
              ) -> tuple[float | None, float, str, str, bool]:
    """(A's seconds, B's seconds, A's reply, B's reply, whether B was queued behind A)."""
    a_seconds, a_text = None, ""
    if hostile is not None:
        started_a = time.monotonic()
        token_a = await add(loopback, guilds[0], "hostile.pdf", hostile)
        await answered_at_once(loopback, token_a)
    started_b = time.monotonic()
    token_b = await add(loopback, guilds[1], "lighthouse.md", SMALL)
    if hostile is not None:
        reply_a = await result(loopback, token_a)
        a_seconds, a_text = reply_a.at - started_a, str(reply_a.message["content"])
    reply_b = await result(loopback, token_b)
    b_text = str(reply_b.message["content"])
    return a_seconds, reply_b.at - started_b, a_text, b_text, was_queued(loopback, token_b)


async def main_async(args: argparse.Namespace) -> int:
    runs = [
        ("alone", None),
        ("behind the 2,000-page PDF (20 MB a page)", repeated_page_pdf_bytes()),
        (f"behind a PDF within the budgets ({args.pages:,} pages)",
         repeated_page_pdf_bytes(pages=args.pages, padding=0)),
    ]
    guild_ids = tuple(FIRST_GUILD + 10 * n for n in range(2 * len(runs)))
    world = World(owner_id=OWNER, guild_ids=guild_ids)
    rows, status = [], 0
    extracted = [  # before the stand-in runs: this blocks the process
        "-" if hostile is None else f"{extraction_seconds(hostile, args.deadline)[0]:.2f}"
        for _, hostile in runs
    ]
    with tempfile.TemporaryDirectory(prefix="citebot-hostile-") as temp:
        workdir = Path(temp)
        index_dir = default_index(workdir)
        async with LoopbackDiscord(TOKEN, world) as loopback:
            settings = {
                "source_dir": str(workdir / "shared-sources"),
                "index_dir": str(index_dir),
                "collections_dir": str(workdir / "collections"),
                "state_db": str(workdir / "state.sqlite3"),
                "discord_guilds": ",".join(str(g) for g in guild_ids),
                "extract_timeout_seconds": str(args.deadline),
            }
            bot = BotProcess(loopback, settings, workdir)
            try:
                await bot.start()
                for number, (label, hostile) in enumerate(runs):
                    pair = (guild_ids[2 * number], guild_ids[2 * number + 1])
                    alone = extracted[number]
                    a_seconds, b_seconds, a_text, b_text, behind = await run(
                        loopback, pair, hostile
                    )
                    ok = b_text.startswith("Added **lighthouse.md**.") and (
                        hostile is None or ("was not added" in a_text and behind)
                    )
                    status |= not ok
                    size = f"{len(hostile) / 1000:.0f} kB" if hostile is not None else "-"
                    shown_a = "-" if a_seconds is None else f"{a_seconds:.1f}"
                    rows.append(f"| {label} | {size} | {alone} | {shown_a} | {b_seconds:.1f} | "
                                f"{'yes' if ok else 'NO'} |")
                    for text in (a_text, b_text):
                        if text:
                            print(f"{label}: {text.splitlines()[0][:300]}")
            finally:
                await bot.stop()
            problems = loopback.problems()
    print(f"\nextraction deadline {args.deadline:g} s; seconds from the command to the reply\n")
    print("| run | A's PDF | its extraction alone s | A's reply s (PDF skipped) | B's reply s "
          "(small add, queued behind A's build) | as expected |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    for problem in problems[:20]:
        print(f"payload problem: {problem}")
    return status or bool(problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deadline", type=float, default=60.0,
                        help="CITEBOT_EXTRACT_TIMEOUT_SECONDS for the bot")
    parser.add_argument("--pages", type=int, default=100_000,
                        help="pages of the PDF that only the deadline stops")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
