"""What PostgreSQL state adds per answer, against SQLite, side by side in one run.

Per answered question the bot writes the answer's button state (``AnswerStore.put``) and its
conversation turn (``ConversationStore.remember``); a button press reads the state back
(``AnswerStore.get``) and a follow-up reads the conversation (``ConversationStore.latest``).
This times exactly those store calls, through the real stores, on:

- **sqlite**: the default state file in a temporary folder (rollback journal, synced commits);
- **postgresql**: a throwaway cluster on 127.0.0.1 started here (``tests/servers/postgres.py``)
  with production durability (fsync and synchronous commit on), over TCP with a password, via
  psycopg 3 and SQLAlchemy's pool.

The two engines take turns answer by answer, so both see the same machine load. Reported: p50
and p95 per operation and engine, and the ratio and difference of the medians.

    .venv/bin/python benchmarks/state_latency.py [--answers 1000] [--warmup 100]

Needs PostgreSQL's server programs (``pg_config --bindir``) and, as root, the ``postgres`` user.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.state.answers import AnswerContext, AnswerStore  # noqa: E402
from bot.state.conversations import ConversationStore  # noqa: E402
from bot.state.database import StateLocation  # noqa: E402
from index.conversation import Turn  # noqa: E402
from tests.servers.postgres import start_cluster  # noqa: E402

CHANNEL, USER = 876543210987654321, 765432109876543210
OPERATIONS = ("answer: put + remember", "button: get", "follow-up: latest")


class Bench:
    """The two stores the bot uses per answer, on one database, and their timings."""

    def __init__(self, location: StateLocation) -> None:
        self.answers = AnswerStore(location)
        self.conversations = ConversationStore(location)
        self.times: dict[str, list[float]] = {name: [] for name in OPERATIONS}
        self.keys: list[str] = []

    def answer(self, n: int, record: bool) -> None:
        context = AnswerContext(
            f"What did the allies agree on in meeting {n}?",
            3,
            0,
            (f"north-korea.txt#{n}", f"north-korea.txt#{n + 1}", f"north-korea.txt#{n + 2}"),
            False,
            "guild:987654321098765432",
        )
        turns = [Turn(f"question {n - 1}?", ("a#1", "a#2")), Turn(context.question, ("b#1",))]
        key = self._timed(
            "answer: put + remember",
            lambda: self._answer(context, 10**18 + n, turns),
            record,
        )
        self.keys.append(key)
        self._timed("button: get", lambda: self.answers.get(key), record)
        self._timed("follow-up: latest", lambda: self.conversations.latest(CHANNEL, USER), record)

    def _answer(self, context: AnswerContext, message_id: int, turns: list[Turn]) -> str:
        key = self.answers.put(context)
        self.conversations.remember(message_id, CHANNEL, USER, turns)
        return key

    def _timed(self, name: str, call: Callable[[], object], record: bool) -> object:
        start = time.perf_counter()
        result = call()
        if record:
            self.times[name].append((time.perf_counter() - start) * 1000.0)
        return result

    def close(self) -> None:
        self.answers.close()
        self.conversations.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1000, help="answers timed per engine")
    parser.add_argument("--warmup", type=int, default=100, help="answers first, not timed")
    args = parser.parse_args()
    cluster = start_cluster(durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="citebot-state-bench-") as folder:
            benches = {
                "sqlite": Bench(Path(folder) / "feedback.sqlite3"),
                "postgresql": Bench(cluster.new_database()),
            }
            for n in range(args.warmup + args.answers):
                for bench in benches.values():
                    bench.answer(n, record=n >= args.warmup)
            for bench in benches.values():
                bench.close()
    finally:
        cluster.destroy()
    sqlite, postgres = benches["sqlite"], benches["postgresql"]
    print(f"{args.answers} answers per engine ({args.warmup} warm-up), engines alternating")
    print(
        f"{'operation':<24} {'sqlite p50':>10} {'p95':>7} {'postgres p50':>12} {'p95':>7}"
        f" {'ratio p50':>9} {'added p50':>9}"
    )
    for name in OPERATIONS:
        a, b = sqlite.times[name], postgres.times[name]
        a50, b50 = statistics.median(a), statistics.median(b)
        print(
            f"{name:<24} {a50:>8.2f}ms {percentile(a, 0.95):>5.2f}ms {b50:>10.2f}ms"
            f" {percentile(b, 0.95):>5.2f}ms {b50 / a50:>9.2f} {b50 - a50:>+7.2f}ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
