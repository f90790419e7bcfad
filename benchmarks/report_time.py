"""Usage report and /docs stats time (issue 23) at 1k / 10k / 100k logged questions.

For each size, a temporary SQLite state database is filled with synthetic questions over the
last 30 days (two servers, 25 % "not in the source", 3 passage ids of 100 documents per found
answer, a vote on 1 answer in 10, half of them 👎 with a reason): the first 1,000 through
``QuestionLog.record`` (timed: the logging cost per question), the rest in bulk through the same
table (one transaction), so that 100k rows take seconds rather than minutes of commits.

Then, interleaved over ``--repeats`` rounds, medians of:

- **read**: ``QuestionLog.questions(None, days=30)`` (every server's rows with their votes);
- **render**: ``render_report`` of those rows (counts, the SVG chart, the HTML) with an empty
  GapReport (the gaps' own time is measured with them);
- **report**: the whole of ``citebot report --html FILE`` in-process (read, render, write);
- **stats**: what ``/docs stats`` does for one server: ``daily`` then the PNG chart.

    .venv/bin/python benchmarks/report_time.py [--sizes 1000,10000,100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert

from bot.cli.main import main as citebot
from bot.core.insights.charts import fill_days, render_png
from bot.core.insights.gaps import GapReport
from bot.core.insights.report import PassageInfo, render_report
from bot.state.feedback import DOWN, UP
from bot.state.questions import QuestionLog
from bot.state.schema import question_log, votes

DAY = 86_400.0
GUILDS = (111, 222)
REASONS = ("wrong_passage", "outdated", "not_in_docs", "other")


def passage(n: int) -> str:
    return f"{n:016x}"


def row(i: int, now: float, count: int) -> dict[str, object]:
    found = i % 4 != 0
    shown = [passage((i * 7 + k) % 2_000) for k in range(3)] if found else []
    return {
        "guild_id": GUILDS[i % 2],
        "at": now - 30 * DAY * (i / count) - 1.0,
        "collection": f"guild-{GUILDS[i % 2]}",
        "question": f"How do I configure feature {i % 997} with option {i % 13}?",
        "found": int(found),
        "passage_ids": json.dumps(shown),
        "answer_key": f"k{i}",
        "user_hash": f"u{i % 500}",
        "vector": None,
    }


def fill(path: Path, count: int) -> float:
    """Fill the database; returns the median seconds of one ``record``."""
    log = QuestionLog(path, retention_days=30)
    now = time.time()
    first = min(count, 1_000)
    costs = []
    try:
        for i in range(first):
            values = row(i, now, count)
            started = time.perf_counter()
            log.record(
                guild_id=int(str(values["guild_id"])), collection=str(values["collection"]),
                question=str(values["question"]), found=bool(values["found"]),
                passage_ids=json.loads(str(values["passage_ids"])),
                answer_key=str(values["answer_key"]), user_hash=str(values["user_hash"]),
                at=float(str(values["at"])),
            )
            costs.append(time.perf_counter() - started)
        database = log._database  # the same engine, for one bulk transaction
        with database.transaction() as connection:
            for start in range(first, count, 10_000):
                batch = [row(i, now, count) for i in range(start, min(count, start + 10_000))]
                connection.execute(insert(question_log), batch)
            cast = [
                {
                    "answer_key": f"k{i}", "question": "", "passage_ids": "[]",
                    "vote": DOWN if i % 20 == 0 else UP, "user_hash": f"v{i}",
                    "created_at": "2026-12-01T00:00:00+00:00",
                    "reason": REASONS[(i // 20) % 4] if i % 20 == 0 else "", "reason_text": "",
                }
                for i in range(0, count, 10)
            ]
            for start in range(0, len(cast), 10_000):
                connection.execute(insert(votes), cast[start : start + 10_000])
    finally:
        log.close()
    return statistics.median(costs)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(size: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.sqlite3"
        record = fill(path, size)
        log = QuestionLog(path, retention_days=30)
        names = {
            passage(n): PassageInfo(f"doc-{n % 100}.md", f"doc-{n % 100}.md › Part › ¶{n}")
            for n in range(2_000)
        }
        gaps = GapReport(clusters=(), questions=0, days=30, threshold=0.0)
        os.environ["CITEBOT_STATE_DB"] = str(path)
        os.environ["CITEBOT_COLLECTIONS_DIR"] = str(Path(folder) / "collections")
        os.environ["CITEBOT_INDEX_DIR"] = str(Path(folder) / "index")
        results: dict[str, list[float]] = {"read": [], "render": [], "report": [], "stats": []}
        target = Path(folder) / "report.html"
        command = ["report", "--html", str(target)]
        try:
            rows = log.questions(None, days=30)
            assert len(rows) == size, (len(rows), size)
            for _ in range(repeats):
                results["read"].append(timed(lambda: log.questions(None, days=30)))
                results["render"].append(timed(lambda: render_report(
                    rows, gaps, scope="all servers", days=30, passages=names)))
                with contextlib.redirect_stdout(io.StringIO()):
                    results["report"].append(timed(lambda: citebot(command)))
                results["stats"].append(timed(lambda: render_png(
                    fill_days(log.daily(GUILDS[0], days=30), 30))))
            size_kb = target.stat().st_size / 1024
        finally:
            log.close()
    medians = {name: statistics.median(values) for name, values in results.items()}
    return {**medians, "record_ms": record * 1000, "html_kb": size_kb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| logged questions | record (ms, p50) | read (s) | render (s) | citebot report (s) "
          "| /docs stats (s) | page (kB) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in (int(part) for part in args.sizes.split(",")):
        got = measure(size, args.repeats)
        print(
            f"| {size:,} | {got['record_ms']:.2f} | {got['read']:.2f} | {got['render']:.2f} "
            f"| {got['report']:.2f} | {got['stats']:.2f} | {got['html_kb']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
