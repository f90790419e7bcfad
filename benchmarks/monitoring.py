"""What health and metrics cost (issue 14): the counting on every question, the two endpoints,
and whether serving them on the bot's event loop slows the answers.

One bot made by ``create_bot`` over an index of the bundled article (built in a temporary
directory), not connected to Discord (the gateway check then fails at once, as it does while a
bot starts: the index and database checks still run on their threads). Measured side by side,
in interleaved rounds so that load from other processes hits every variant alike:

- **count**: ``Metrics.question`` (a labelled counter and a histogram observation), per call,
  next to **search**, ``CitebotBot.search`` of the article's questions (what it is added to);
- **healthz** / **metrics**: ``GET /healthz`` and ``GET /metrics`` over loopback HTTP, one
  request at a time on a kept-alive connection;
- **search while polled**: the same searches while a poller process requests ``/healthz`` back
  to back (the worst a poller can do), and **search, polled 10/s** (a request every 100 ms,
  already more than a monitoring system's scrape every 10-15 s), next to **search**.

    .venv/bin/python benchmarks/monitoring.py [--rounds 12] [--questions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

for _key in [key for key in os.environ if key.startswith("CITEBOT_")]:
    del os.environ[_key]

import aiohttp  # noqa: E402

from bot.core.engine import Engine  # noqa: E402
from bot.discord.client import create_bot  # noqa: E402
from bot.discord.monitoring.server import MonitoringServer  # noqa: E402
from bot.settings import Settings  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "article_questions.jsonl"
COUNTS_PER_ROUND = 10_000


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.3f}"


async def timed_searches(bot, questions: list[str]) -> list[float]:
    times = []
    for question in questions:
        started = time.perf_counter()
        await bot.search(question, 3)
        times.append(time.perf_counter() - started)
    return times


async def timed_gets(session: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
        times.append(time.perf_counter() - started)
    return times


# A poller in a process of its own, as a monitoring system is: GET the URL, print a line, pause.
POLLER = """
import sys, time, urllib.error, urllib.request
url, pause = sys.argv[1], float(sys.argv[2])
while True:
    try:
        urllib.request.urlopen(url).read()
    except urllib.error.HTTPError as error:  # 503: the bot is not connected here
        error.read()
    print(flush=True)
    if pause:
        time.sleep(pause)
"""


async def searches_while_polled(
    bot, questions: list[str], url: str, done: list[int], pause: float
) -> list[float]:
    """The searches while a poller process requests ``url`` every ``pause`` s (0: at once)."""
    poller = await asyncio.create_subprocess_exec(
        sys.executable, "-c", POLLER, url, str(pause), stdout=asyncio.subprocess.PIPE
    )
    assert poller.stdout is not None
    await poller.stdout.readline()  # it is polling
    try:
        return await timed_searches(bot, questions)
    finally:
        poller.kill()
        rest = await poller.stdout.read()
        await poller.wait()
        done[0] += 1 + rest.count(b"\n")


async def measure(rounds: int, questions: list[str], folder: Path) -> dict[str, list[float]]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        source_dir=ROOT / "tests" / "data" / "article",
        index_dir=folder / "index",
        state_db=folder / "state.sqlite3",
        collections_dir=folder / "collections",
    )
    engine = Engine(settings, remember_queries=False)
    engine.load(build_if_missing=True)
    bot = create_bot(settings, engine)
    results: dict[str, list[float]] = defaultdict(list)
    polls = [0]
    async with bot:
        server = MonitoringServer(bot, "127.0.0.1", 0)
        await server.start()
        base = f"http://127.0.0.1:{server.addresses[0][1]}"
        async with aiohttp.ClientSession() as session:
            await timed_searches(bot, questions[:3])  # warm-up: model, caches, connections
            await timed_gets(session, base + "/healthz", 3)
            url = base + "/healthz"

            async def count() -> list[float]:
                started = time.perf_counter()
                for _ in range(COUNTS_PER_ROUND):
                    bot.metrics.question("answered", 0.005)
                return [(time.perf_counter() - started) / COUNTS_PER_ROUND]

            variants = {
                "search": lambda: timed_searches(bot, questions),
                "count": count,
                "healthz": lambda: timed_gets(session, url, len(questions)),
                "metrics": lambda: timed_gets(session, base + "/metrics", len(questions)),
                "search while polled": lambda: searches_while_polled(
                    bot, questions, url, polls, 0.0
                ),
                "search, polled 10/s": lambda: searches_while_polled(
                    bot, questions, url, [0], 0.1
                ),
            }
            names = list(variants)
            for number in range(rounds):  # each round starts one variant later (no order bias)
                turn = number % len(names)
                for name in names[turn:] + names[:turn]:
                    results[name] += await variants[name]()
        await server.stop()
    print(f"(/healthz answered {polls[0]} times during the polled searches)", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    questions = questions[: args.questions]
    with tempfile.TemporaryDirectory(prefix="citebot-monitoring-") as folder:
        results = asyncio.run(measure(args.rounds, questions, Path(folder)))
    search = statistics.median(results["search"])
    print(f"{args.rounds} rounds x {len(questions)} questions; medians in ms\n")
    print("| variant | median ms | p95 ms | ratio to search |")
    print("| --- | --- | --- | --- |")
    for name, values in results.items():
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)
        ratio = statistics.median(values) / search
        print(f"| {name} | {ms(values)} | {p95 * 1000:.3f} | {ratio:.4f} |")


if __name__ == "__main__":
    main()
