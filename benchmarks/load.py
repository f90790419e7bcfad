"""Load: many concurrent ``/ask`` through the loopback Discord into a real ``citebot discord``.

The bot runs as its own process (``tests/loopback/launcher.py``: the real entry point, discord.py's
real client) over an index of the bundled article; the loopback Discord (``tests/loopback``)
runs here. After one warm-up question, ``--questions`` INTERACTION_CREATEs for ``/ask`` are
dispatched at once, each from its own user, spread round-robin over ``--servers`` servers, using
the article's own question set. Reported, per run:

- **acknowledgement latency**: dispatch of INTERACTION_CREATE → the interaction callback (a
  deferral or an immediate refusal) received by the stand-in; every one must be under 3 s;
- **answer latency**: dispatch → the follow-up with passages;
- how many were answered, refused as busy (the bounded queue: ``CITEBOT_DISCORD_MAX_QUEUED`` /
  ``_PER_SERVER``), refused otherwise, failed, or never settled;
- the shared payload check (``tests/loopback/checks.py``) over everything the bot sent.

Two runs: the default caps (64 waiting in all, 16 per server) and ``--raised`` caps.

    .venv/bin/python benchmarks/load.py [--questions 200] [--servers 8] [--raised 1000,1000]

Exit status 1 when an acknowledgement took 3 s or more, a question never settled, or a payload
failed the check. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.loopback import LoopbackDiscord, World  # noqa: E402
from tests.loopback.process import BotProcess, build_article_index  # noqa: E402
from tests.loopback.traffic import (  # noqa: E402
    Outcome,
    article_questions,
    ask,
    percentiles,
    wait_settled,
)

TOKEN = "MTQwMDAwMDAwMDAwMDAwMDAw.GBench.loopback-load-token_not-a-real-one"
ACK_LIMIT = 3.0
FIRST_USER = 950000000000000000


@dataclass
class Run:
    """One load run's outcomes and checks."""

    label: str
    outcomes: list[Outcome]
    problems: list[str]
    seconds: float

    def count(self, kind: str) -> int:
        return sum(o.kind == kind for o in self.outcomes)

    @property
    def acks(self) -> list[float]:
        return [o.ack_seconds for o in self.outcomes if o.ack_seconds is not None]

    @property
    def answers(self) -> list[float]:
        return [
            o.answer_seconds for o in self.outcomes if o.kind == "answered" and o.answer_seconds
        ]

    @property
    def ok(self) -> bool:
        acked_in_time = len(self.acks) == len(self.outcomes) and max(self.acks) < ACK_LIMIT
        return acked_in_time and not self.count("pending") and not self.problems


async def run_once(
    label: str, index_dir: Path, workdir: Path, caps: tuple[int, int], questions: int, servers: int
) -> Run:
    world = World(guild_ids=tuple(960000000000000000 + 10 * n for n in range(servers)))
    texts = article_questions()
    async with LoopbackDiscord(TOKEN, world) as loopback:
        settings = {
            "source_dir": str(ROOT / "tests" / "data" / "article"),
            "index_dir": str(index_dir),
            "state_db": str(workdir / f"feedback-{label}.sqlite3"),
            "discord_guilds": ",".join(str(g) for g in world.guild_ids),
            "discord_cooldown_questions": "1000",
            "discord_max_queued": str(caps[0]),
            "discord_max_queued_per_server": str(caps[1]),
        }
        bot = BotProcess(loopback, settings, workdir)
        try:
            await bot.start()
            warm = await ask(loopback, texts[0], FIRST_USER - 1, world.guild_id)
            await wait_settled(loopback, [warm], 120)
            started = time.monotonic()
            outcomes = [
                await ask(
                    loopback,
                    texts[n % len(texts)],
                    FIRST_USER + n,
                    world.guild_ids[n % servers],
                )
                for n in range(questions)
            ]
            outcomes = await wait_settled(loopback, outcomes, 600)
            seconds = time.monotonic() - started
            problems = loopback.problems()
        finally:
            await bot.stop()
    return Run(label, outcomes, problems, seconds)


def row(run: Run, caps: tuple[int, int]) -> str:
    ack = percentiles(run.acks)
    answer = percentiles(run.answers)
    others = run.count("refused") + run.count("error")

    def ms(values: tuple[float, float, float]) -> str:
        return " / ".join("-" if math.isnan(v) else f"{v * 1000:.0f}" for v in values)

    return (
        f"| {run.label} ({caps[0]} / {caps[1]}) | {len(run.outcomes)} | {run.count('answered')} | "
        f"{run.count('busy')} | {others} | {run.count('pending')} | {ms(ack)} | {ms(answer)} | "
        f"{'yes' if run.acks and max(run.acks) < ACK_LIMIT else 'NO'} | {run.seconds:.1f} |"
    )


async def main_async(args: argparse.Namespace) -> int:
    raised = tuple(int(part) for part in args.raised.split(","))
    configs = [("default caps", (64, 16)), ("raised caps", (raised[0], raised[1]))]
    with tempfile.TemporaryDirectory(prefix="citebot-load-") as temp:
        workdir = Path(temp)
        index_dir = args.index_dir or workdir / "index"
        build_article_index(index_dir)
        runs = []
        for label, caps in configs:
            run = await run_once(label, index_dir, workdir, caps, args.questions, args.servers)
            runs.append((run, caps))
    print(
        f"\n{args.questions} concurrent /ask over {args.servers} servers "
        "(acknowledgement and answer latency in ms: p50 / p99 / max)\n"
    )
    print(
        "| run (max queued / per server) | asked | answered | busy | other refusals | pending "
        "| ack p50 / p99 / max | answer p50 / p99 / max | every ack < 3 s | wall s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for run, caps in runs:
        print(row(run, caps))
    status = 0
    for run, _ in runs:
        for problem in run.problems[:20]:
            print(f"payload problem ({run.label}): {problem}")
        others = {o.text for o in run.outcomes if o.kind in ("refused", "error")}
        for text in sorted(others)[:5]:
            print(f"refusal/error text ({run.label}): {text!r}")
        status |= not run.ok
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--servers", type=int, default=8)
    parser.add_argument("--raised", default="1000,1000", help="max queued, per server")
    parser.add_argument("--index-dir", type=Path, help="an index of the article to reuse")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
