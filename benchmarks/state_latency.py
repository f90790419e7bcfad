"""What PostgreSQL state adds per answer, against SQLite, side by side in one run.

Per answered question the bot writes the answer's button state (``AnswerStore.put``) and its
conversation turn (``ConversationStore.remember``); a button press reads the state back
(``AnswerStore.get``) and a follow-up reads the conversation (``ConversationStore.latest``).
This times exactly those store calls, through the real stores, on:

- **sqlite**: the default state file in a temporary folder (rollback journal, synced commits);
- **postgresql**: a throwaway cluster on 127.0.0.1 started here (``tests/servers/postgres.py``)
  with production durability (fsync and synchronous commit on), over TCP with a password, via
  psycopg 3 and SQLAlchemy's pool.

The engines take turns answer by answer, so both see the same machine load. Reported: p50 and
p95 per operation and engine, and the ratio and difference of the medians against SQLite.

``--baseline COMMIT`` adds a third column: SQLite through the stores of an earlier commit (e.g.
2211a28, the sqlite3 stores before SQLAlchemy), taken with ``git archive`` into a temporary
folder and imported under another package name, to see what the port costs the default path.

    .venv/bin/python benchmarks/state_latency.py [--answers 1000] [--warmup 100]
        [--baseline 2211a28]

Needs PostgreSQL's server programs (``pg_config --bindir``) and, as root, the ``postgres`` user.
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.state.answers import AnswerContext, AnswerStore  # noqa: E402
from bot.state.conversations import ConversationStore  # noqa: E402
from bot.state.database import StateLocation  # noqa: E402
from index.query.conversation import Turn  # noqa: E402
from tests.servers.postgres import start_cluster  # noqa: E402

CHANNEL, USER = 876543210987654321, 765432109876543210
OPERATIONS = ("answer: put + remember", "button: get", "follow-up: latest")


class Bench:
    """The two stores the bot uses per answer, on one database, and their timings."""

    def __init__(self, location: StateLocation, stores: tuple[type, type, type] | None = None):
        answer_store, conversation_store, self.context_type = stores or (
            AnswerStore,
            ConversationStore,
            AnswerContext,
        )
        self.answers = answer_store(location)
        self.conversations = conversation_store(location)
        self.times: dict[str, list[float]] = {name: [] for name in OPERATIONS}
        self.keys: list[str] = []

    def answer(self, n: int, record: bool) -> None:
        context = self.context_type(
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

    def _answer(self, context: Any, message_id: int, turns: list[Turn]) -> str:
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


def baseline_stores(commit: str, folder: Path) -> tuple[type, type, type]:
    """AnswerStore, ConversationStore and AnswerContext of ``commit``'s bot/state, imported as
    the package ``baseline_state`` from ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "bot/state"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".py"):
                source = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
                target = folder / "baseline_state" / Path(member.name).name
                target.parent.mkdir(exist_ok=True)
                target.write_text(re.sub(r"\bbot\.state\b", "baseline_state", source))
    sys.path.insert(0, str(folder))
    answers = importlib.import_module("baseline_state.answers")
    conversations = importlib.import_module("baseline_state.conversations")
    return answers.AnswerStore, conversations.ConversationStore, answers.AnswerContext


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1000, help="answers timed per engine")
    parser.add_argument("--warmup", type=int, default=100, help="answers first, not timed")
    parser.add_argument("--baseline", metavar="COMMIT", help="also SQLite with COMMIT's stores")
    args = parser.parse_args()
    cluster = start_cluster(durable=True)
    try:
        with tempfile.TemporaryDirectory(prefix="citebot-state-bench-") as folder:
            benches = {
                "sqlite": Bench(Path(folder) / "feedback.sqlite3"),
                "postgresql": Bench(cluster.new_database()),
            }
            if args.baseline:
                stores = baseline_stores(args.baseline, Path(folder))
                benches[f"sqlite {args.baseline}"] = Bench(Path(folder) / "old.sqlite3", stores)
            for n in range(args.warmup + args.answers):
                for bench in benches.values():
                    bench.answer(n, record=n >= args.warmup)
            for bench in benches.values():
                bench.close()
    finally:
        cluster.destroy()
    print(f"{args.answers} answers per engine ({args.warmup} warm-up), engines alternating")
    sqlite = benches["sqlite"]
    print(f"{'operation':<24} {'engine':<16} {'p50':>8} {'p95':>8} {'p50 vs sqlite':>14}")
    for name in OPERATIONS:
        base = statistics.median(sqlite.times[name])
        for label, bench in benches.items():
            times = bench.times[name]
            p50 = statistics.median(times)
            versus = "" if bench is sqlite else f"{p50 / base:.2f}x {p50 - base:+.2f}ms"
            print(
                f"{name:<24} {label:<16} {p50:>6.2f}ms {percentile(times, 0.95):>6.2f}ms"
                f" {versus:>14}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
