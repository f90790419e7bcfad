"""Several processes: questions per second and answer latency for 1 and 2 ``citebot discord``
processes against the same PostgreSQL state and the same Milvus index (issue 14).

Everything runs on this machine: a throwaway PostgreSQL cluster (``initdb``/``pg_ctl`` as the
``postgres`` user, durable commits as in production), a Milvus Lite server on loopback holding
the bundled article's index, and the loopback Discord (``tests/loopback``) that the real
discord.py client of each bot process connects to. Each run dispatches ``--questions`` ``/ask``
at once over four servers (two per shard), each from its own user, with queue caps raised so
that none is refused, and waits until all are answered. Runs, in this order, ``--repeats`` times:

- 1 process, SQLite state (the default): the baseline for PostgreSQL's cost per answer;
- 1 process, PostgreSQL state;
- 2 processes, shards 0 and 1 of 2, PostgreSQL state;
- the last two again with the local index (the same build folder for both processes), to tell
  what the one Milvus Lite server (pure Python, on the same two cores) costs.

Reported: answered questions per second (wall time from the first dispatch to the last answer),
and answer latency p50 / p95 (dispatch → follow-up with passages), median over the repeats.

    .venv/bin/python benchmarks/shards.py [--questions 200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.loopback import LoopbackDiscord, World  # noqa: E402
from tests.loopback.process import BotProcess  # noqa: E402
from tests.loopback.traffic import article_questions, ask, wait_settled  # noqa: E402
from tests.servers.milvus import MilvusLiteServer  # noqa: E402
from tests.servers.postgres import start_cluster  # noqa: E402

TOKEN = "MTQwMDAwMDAwMDAwMDAwMDAw.GBench.loopback-shards-token_not-a-real-one"
FIRST_USER = 970000000000000000
# Two servers on each of two shards: Discord's rule is (server id >> 22) % shard count.
SERVERS = tuple(960000000000000000 + (n << 22) for n in range(4))


@dataclass
class Result:
    label: str
    answered: int
    asked: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def run_once(label: str, shared: dict[str, str], processes: int, questions: int,
                   workdir: Path) -> Result:
    world = World(guild_ids=SERVERS)
    texts = article_questions()
    async with LoopbackDiscord(TOKEN, world) as loopback:
        bots = []
        try:
            for shard in range(processes - 1, -1, -1):
                settings = dict(shared)
                if processes > 1:
                    settings.update(discord_shard_count=str(processes),
                                    discord_shard_ids=str(shard))
                bot = BotProcess(loopback, settings, workdir)
                bots.append(bot)
                await bot.start(shard=shard if processes > 1 else None)
            warm = [await ask(loopback, texts[0], FIRST_USER - 1 - n, guild)
                    for n, guild in enumerate(SERVERS)]
            await wait_settled(loopback, warm, 120)
            started = time.monotonic()
            outcomes = [
                await ask(loopback, texts[n % len(texts)], FIRST_USER + n,
                          SERVERS[n % len(SERVERS)])
                for n in range(questions)
            ]
            outcomes = await wait_settled(loopback, outcomes, 900)
            answered = [o for o in outcomes if o.kind == "answered"]
            last = max((o.answered_at or started) for o in answered) if answered else started
            problems = loopback.problems()
        finally:
            for bot in bots:
                await bot.stop()
    if problems:
        print(f"payload problems in {label}: {problems[:5]}", file=sys.stderr)
    return Result(label, len(answered), questions, last - started,
                  [o.answer_seconds for o in answered if o.answer_seconds is not None])


def build_index(shared: dict[str, str]) -> None:
    from bot.core.engine import Engine
    from bot.settings import Settings

    settings = Settings(_env_file=None, **shared)  # type: ignore[arg-type]
    Engine(settings).load(build_if_missing=True)


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="citebot-shards-") as temp:
        workdir = Path(temp)
        cluster = start_cluster(durable=True)
        milvus = MilvusLiteServer(workdir / "milvus")
        milvus.start()
        try:
            base = {
                "source_dir": str(ROOT / "tests" / "data" / "article"),
                "index_dir": str(workdir / "index"),
                "collections_dir": str(workdir / "collections"),
                "state_db": str(workdir / "state" / "feedback.sqlite3"),
                "backend": "milvus",
                "milvus_uri": milvus.uri,
                "milvus_prefix": "bench" + uuid.uuid4().hex[:8],
                "discord_guilds": ",".join(str(g) for g in SERVERS),
                "discord_cooldown_questions": "1000",
                "discord_max_queued": "100000",
                "discord_max_queued_per_server": "100000",
            }
            local = {**base, "backend": "local"}
            await asyncio.to_thread(build_index, base)
            await asyncio.to_thread(build_index, local)
            results: dict[str, list[Result]] = {}
            for repeat in range(args.repeats):
                runs = [
                    ("1 process, SQLite state", {}, 1),
                    ("1 process, PostgreSQL state", {"database_url": cluster.new_database()}, 1),
                    ("2 processes (shards 0, 1), PostgreSQL state",
                     {"database_url": cluster.new_database()}, 2),
                    ("1 process, PostgreSQL state, local index",
                     {"database_url": cluster.new_database(), "backend": "local"}, 1),
                    ("2 processes, PostgreSQL state, local index",
                     {"database_url": cluster.new_database(), "backend": "local"}, 2),
                ]
                for label, extra, processes in runs:
                    settings = {**base, **extra,  # the state file's name differs per run
                                "state_db": str(workdir / f"state-{repeat}-{processes}"
                                                   / f"{len(extra)}.sqlite3")}
                    result = await run_once(label, settings, processes, args.questions, workdir)
                    results.setdefault(label, []).append(result)
                    print(f"{label} (run {repeat + 1}): {result.answered}/{result.asked} answered, "
                          f"{result.per_second:.1f}/s, p50 {result.percentile(0.5) * 1000:.0f} ms",
                          file=sys.stderr)
        finally:
            milvus.stop()
            cluster.destroy()
    print(f"\n{args.questions} concurrent /ask over {len(SERVERS)} servers, median of "
          f"{args.repeats} run(s); Milvus Lite server and PostgreSQL on this machine\n")
    print("| run | answered | questions/s | answer p50 ms | answer p95 ms |")
    print("| --- | --- | --- | --- | --- |")
    medians = {}
    for label, runs in results.items():
        rate = statistics.median(r.per_second for r in runs)
        p50 = statistics.median(r.percentile(0.5) for r in runs) * 1000
        p95 = statistics.median(r.percentile(0.95) for r in runs) * 1000
        medians[label] = rate
        answered = sum(r.answered for r in runs)
        asked = sum(r.asked for r in runs)
        print(f"| {label} | {answered}/{asked} | {rate:.1f} | {p50:.0f} | {p95:.0f} |")
    one, two = medians["1 process, PostgreSQL state"], medians[
        "2 processes (shards 0, 1), PostgreSQL state"]
    print(f"\n2 processes / 1 process (PostgreSQL): {two / one:.2f}x questions per second")
    local_one = medians["1 process, PostgreSQL state, local index"]
    local_two = medians["2 processes, PostgreSQL state, local index"]
    print(f"2 processes / 1 process (PostgreSQL, local index): {local_two / local_one:.2f}x")
    sqlite = medians["1 process, SQLite state"]
    print(f"PostgreSQL / SQLite state, 1 process: {one / sqlite:.2f}x questions per second")
    return 0 if all(r.answered == r.asked for runs in results.values() for r in runs) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
