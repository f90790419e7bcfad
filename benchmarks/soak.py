"""Soak: 10,000 questions through the Discord path; the bot's memory and file descriptors.

A real ``citebot discord`` process (``tests/loopback/launcher.py``) over an index of the bundled
article, driven by the loopback Discord in this process: ``/ask`` (the article's own questions,
200 users, 4 servers) with ``--window`` questions in flight at a time; every 25th question is a
mention instead, and every 10th answer gets a 👍 (the feedback database and the answer state
are exercised too). After every 1,000 questions the bot process's resident memory (RSS) and
open file descriptors are read (psutil), and everything the bot sent so far passes the shared
payload check (``tests/loopback/checks.py``) before it is dropped.

Targets: RSS growth after warm-up (the first 1,000) at most 5 %; file descriptors do not grow.

    .venv/bin/python benchmarks/soak.py [--questions 10000] [--window 8] [--every 1000]

Exit status 1 when a target is missed, a question was not answered, or a payload failed the
check. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.loopback import LoopbackDiscord, World  # noqa: E402
from tests.loopback.process import BotProcess, build_article_index  # noqa: E402
from tests.loopback.traffic import Outcome, article_questions, ask, wait_settled  # noqa: E402

TOKEN = "MTQwMDAwMDAwMDAwMDAwMDAw.GSoak.loopback-soak-token_not-a-real-one"
USERS = 200
FIRST_USER = 970000000000000000
MAX_GROWTH = 0.05


def measure(process: psutil.Process) -> tuple[float, int]:
    """Resident memory (MiB) and open file descriptors of the bot process."""
    return process.memory_info().rss / 2**20, process.num_fds()


async def mention(loopback: LoopbackDiscord, question: str, user_id: int, guild_id: int) -> bool:
    message_id = await loopback.mention(question, user_id=user_id, guild_id=guild_id)
    reply = await loopback.reply_to(message_id, timeout=120)
    return bool(reply.message.get("embeds"))


async def vote(loopback: LoopbackDiscord, outcome: Outcome, user_id: int) -> None:
    answer = next(r for r in loopback.recorder.for_token(outcome.token) if r.is_followup)
    message = loopback.sent_message(answer)
    vote_id = next(
        c["custom_id"]
        for row in answer.message["components"]
        for c in row["components"]
        if c.get("custom_id", "").endswith(":up")
    )
    token = await loopback.click(message, vote_id, user_id=user_id)
    await loopback.answered(token, timeout=120)


async def soak(args: argparse.Namespace, index_dir: Path, workdir: Path) -> int:
    world = World(guild_ids=tuple(980000000000000000 + 10 * n for n in range(4)))
    texts = article_questions()
    samples: list[tuple[int, float, int, float]] = []
    latencies: list[float] = []
    failures = 0
    problems: list[str] = []
    async with LoopbackDiscord(TOKEN, world) as loopback:
        settings = {
            "source_dir": str(ROOT / "tests" / "data" / "article"),
            "index_dir": str(index_dir),
            "state_db": str(workdir / "feedback.sqlite3"),
            "discord_guilds": ",".join(str(g) for g in world.guild_ids),
            "discord_cooldown_questions": "1000",
        }
        bot = BotProcess(loopback, settings, workdir)
        try:
            await bot.start()
            process = psutil.Process(bot.pid)
            before = measure(process)
            started = time.monotonic()
            asked = 0
            while asked < args.questions:
                batch = min(args.window, args.questions - asked)
                pending: list[Outcome] = []
                mentions = []
                for n in range(asked, asked + batch):
                    user, guild = FIRST_USER + n % USERS, world.guild_ids[n % len(world.guild_ids)]
                    text = texts[n % len(texts)]
                    if n % 25 == 24:
                        mentions.append(mention(loopback, text, user, guild))
                    else:
                        pending.append(await ask(loopback, text, user, guild))
                answers_ok = await asyncio.gather(*mentions)
                outcomes = await wait_settled(loopback, pending, 120)
                failures += sum(not ok for ok in answers_ok)
                failures += sum(o.kind != "answered" for o in outcomes)
                latencies += [o.answer_seconds for o in outcomes if o.answer_seconds]
                for number, outcome in enumerate(outcomes):
                    if outcome.kind == "answered" and (asked + number) % 10 == 0:
                        await vote(loopback, outcome, FIRST_USER + number)
                crossed = (asked + batch) // args.every > asked // args.every
                asked += batch
                if crossed or asked == args.questions:
                    problems += loopback.problems()
                    loopback.forget()
                    rss, fds = measure(process)
                    samples.append((asked, rss, fds, time.monotonic() - started))
                    print(f"{asked:>6} questions: RSS {rss:.1f} MiB, {fds} fds", flush=True)
        finally:
            await bot.stop()
    return report(args, before, samples, latencies, failures, problems)


def report(
    args: argparse.Namespace,
    before: tuple[float, int],
    samples: list[tuple[int, float, int, float]],
    latencies: list[float],
    failures: int,
    problems: list[str],
) -> int:
    warm_rss, warm_fds = samples[0][1], samples[0][2]
    print(
        f"\n{args.questions} questions, {args.window} in flight; bot process before the first "
        f"question: RSS {before[0]:.1f} MiB, {before[1]} fds\n"
    )
    print("| questions | RSS MiB | vs. after warm-up | open fds | elapsed s |")
    print("| --- | --- | --- | --- | --- |")
    for asked, rss, fds, elapsed in samples:
        growth = (rss - warm_rss) / warm_rss * 100
        print(f"| {asked:,} | {rss:.1f} | {growth:+.1f} % | {fds} | {elapsed:.0f} |")
    final_rss, final_fds = samples[-1][1], samples[-1][2]
    growth = (final_rss - warm_rss) / warm_rss
    ordered = sorted(latencies)
    p99 = ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")
    print(
        f"\nanswer latency (dispatch → follow-up) p50 {statistics.median(ordered) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms; not answered: {failures}; payload problems: {len(problems)}"
    )
    for problem in problems[:20]:
        print(f"payload problem: {problem}")
    memory_ok = growth <= MAX_GROWTH
    fds_ok = final_fds <= warm_fds
    print(
        f"RSS growth after warm-up {growth * 100:+.1f} % (target ≤ {MAX_GROWTH * 100:.0f} %): "
        f"{'ok' if memory_ok else 'MISSED'}; fds {warm_fds} → {final_fds}: "
        f"{'ok' if fds_ok else 'GREW'}"
    )
    return int(not (memory_ok and fds_ok) or failures > 0 or bool(problems))


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="citebot-soak-") as temp:
        workdir = Path(temp)
        index_dir = args.index_dir or workdir / "index"
        build_article_index(index_dir)
        return await soak(args, index_dir, workdir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=8, help="questions in flight at a time")
    parser.add_argument("--every", type=int, default=1000, help="measure every N questions")
    parser.add_argument("--index-dir", type=Path, help="an index of the article to reuse")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
