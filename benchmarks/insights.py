"""Insights (issue 23): fit the knowledge-gap threshold, time ``find_gaps`` and the question log.

    .venv/bin/python benchmarks/insights.py [--sizes 1000,10000,100000] [--repeats 3]

1. **Threshold**: the labelled paraphrase groups of ``benchmarks/data/gap_questions.json`` are
   embedded with the bundled model (all-MiniLM-L6-v2, nothing downloaded), stored and read back
   as int8 as the log keeps them, interleaved in ``--orders`` seeded random orders (a log mixes
   needs), and clustered by ``bot.core.insights.gaps.cluster`` at each threshold from 0.30 to
   0.90. Per threshold: purity (share of questions in their cluster's majority group), split
   groups (groups spread over more than one cluster), merged clusters (clusters holding more than
   one group) and the adjusted Rand index, averaged over the orders. The threshold chosen
   maximises purity × (1 − split rate); ties go to the higher threshold (purer clusters).
2. **find_gaps time** at each ``--sizes`` of logged questions for one server, in a temporary
   SQLite state database: rows are the labelled questions' vectors plus Gaussian noise (cosine
   ≈ 0.93 to the original), 30 % answered "not in the source" and 5 % voted 👎 with a reason;
   also the worst cases at the largest size: every question a gap, and every question a
   different need (random vectors).
3. **Logging cost per answer**: ``record_question`` on a real QuestionLog and FeedbackStore,
   with the bot's query encoder that remembers the question the search just embedded (as the
   bot calls it): what queueing costs the caller (median over ``--log-samples`` answers), and
   the writer thread's flush of 50 queued questions (one transaction).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.engine import Engine  # noqa: E402
from bot.core.insights.gaps import cluster, find_gaps  # noqa: E402
from bot.core.insights.record import record_question  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.state.feedback import FeedbackStore  # noqa: E402
from bot.state.questions import QuestionLog, pack_vector, unpack_vectors  # noqa: E402
from index.answer import Answer  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "gap_questions.json"
GUILD = 111_111_111_111_111_111
NOISE = 0.02  # per component: a noise vector of norm ≈ 0.39, cosine ≈ 0.93 to the original


def load_groups(path: Path = DATA) -> list[tuple[str, str, list[str]]]:
    """The labelled groups: (id, kind, questions)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(group["id"], group["kind"], list(group["questions"])) for group in data["groups"]]


def stored(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as the log gives them back (int8, renormalised)."""
    blobs = [pack_vector(row) for row in vectors]
    return unpack_vectors([blob for blob in blobs if blob is not None])


def scores(truth: list[int], labels: list[int]) -> dict[str, float]:
    """Purity, split groups, merged clusters and the adjusted Rand index of one clustering."""
    clusters: dict[int, Counter[int]] = {}
    groups: dict[int, set[int]] = {}
    for group, label in zip(truth, labels, strict=True):
        clusters.setdefault(label, Counter())[group] += 1
        groups.setdefault(group, set()).add(label)
    purity = sum(max(counts.values()) for counts in clusters.values()) / len(truth)
    split = sum(1 for labels_of in groups.values() if len(labels_of) > 1)
    merged = sum(1 for counts in clusters.values() if len(counts) > 1)
    return {
        "purity": purity,
        "split": split,
        "split_rate": split / len(groups),
        "merged": merged,
        "clusters": len(clusters),
        "ari": adjusted_rand(truth, labels),
    }


def adjusted_rand(truth: list[int], labels: list[int]) -> float:
    """Hubert and Arabie's adjusted Rand index."""

    def pairs(count: int) -> float:
        return count * (count - 1) / 2

    table = Counter(zip(truth, labels, strict=True))
    index = sum(pairs(n) for n in table.values())
    rows = sum(pairs(n) for n in Counter(truth).values())
    columns = sum(pairs(n) for n in Counter(labels).values())
    expected = rows * columns / pairs(len(truth))
    top = (rows + columns) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


def fit(vectors: np.ndarray, truth: list[int], orders: int) -> tuple[float, list[dict]]:
    """Sweep the threshold; the chosen one and every row of the sweep."""
    rng = np.random.default_rng(23)
    permutations = [rng.permutation(len(truth)) for _ in range(orders)]
    sweep = []
    for threshold in np.round(np.arange(0.30, 0.905, 0.01), 2):
        runs = []
        for order in permutations:
            labels = [0] * len(truth)
            for number, members in enumerate(cluster(vectors[order], float(threshold))):
                for member in members:
                    labels[int(order[member])] = number
            runs.append(scores(truth, labels))
        row = {key: statistics.fmean(run[key] for run in runs) for key in runs[0]}
        row["threshold"] = float(threshold)
        row["objective"] = row["purity"] * (1 - row["split_rate"])
        sweep.append(row)
    best = max(sweep, key=lambda row: (round(row["objective"], 6), row["threshold"]))
    return best["threshold"], sweep


def fill_log(path: Path, size: int, vectors: np.ndarray, questions: list[str], *,
             gap_share: float, random_needs: bool, seed: int = 7) -> None:
    """``size`` synthetic questions of one server in the log at ``path`` (one transaction)."""
    rng = np.random.default_rng(seed)
    now = time.time()
    picks = rng.integers(0, len(questions), size)
    if random_needs:
        noisy = rng.standard_normal((size, vectors.shape[1])).astype(np.float32)
    else:
        noisy = vectors[picks] + rng.normal(0, NOISE, (size, vectors.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    found = rng.random(size) >= gap_share
    down = rng.random(size) < 0.05
    rows = []
    votes = []
    for i in range(size):
        key = f"bench-{i}"
        rows.append((GUILD, now - (size - i) * (29 * 86_400 / size), "guild-1",
                     questions[int(picks[i])], int(found[i]), '["a.md#1"]', key, "h",
                     pack_vector(noisy[i])))
        if down[i]:
            votes.append((key, questions[int(picks[i])], "[]", -1, f"v{i}", "2026-01-01T00:00:00",
                          "outdated", "the page is from last year"))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO question_log (guild_id, at, collection, question, found, passage_ids, "
            "answer_key, user_hash, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO votes (answer_key, question, passage_ids, vote, user_hash, created_at, "
            "reason, reason_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", votes)


def time_gaps(folder: Path, size: int, vectors: np.ndarray, questions: list[str], repeats: int,
              *, gap_share: float = 0.30, random_needs: bool = False) -> dict:
    """Median seconds of ``find_gaps`` (and of reading the rows alone) over ``size`` questions."""
    path = folder / f"log-{size}-{gap_share}-{random_needs}.sqlite3"
    QuestionLog(path).close()  # creates the schema
    fill_log(path, size, vectors, questions, gap_share=gap_share, random_needs=random_needs)
    log = QuestionLog(path)
    try:
        totals, reads = [], []
        report = None
        for _ in range(repeats):
            started = time.perf_counter()
            rows = log.gap_rows(GUILD, days=30)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = find_gaps(log, GUILD, days=30)
            totals.append(time.perf_counter() - started)
        assert report is not None
        return {"size": size, "gaps": len(rows), "clusters": report.total_clusters,
                "read_s": statistics.median(reads), "find_gaps_s": statistics.median(totals),
                "gap_share": gap_share, "random_needs": random_needs}
    finally:
        log.close()


def logging_cost(folder: Path, engine: Engine, questions: list[str], samples: int) -> dict:
    """What logging costs per answer, as the bot logs: ``record_question`` queues the question
    (timed: what the event loop pays), and the log's writer thread writes the queue in one
    transaction (timed per flush, shared by the questions it writes), the question already
    embedded by the search."""
    path = folder / "state.sqlite3"
    log, feedback = QuestionLog(path), FeedbackStore(path)
    encoder = engine.query_encoder
    queued, flushes = [], []
    try:
        for first in range(0, samples, 50):  # about a second's worth of a busy server's answers
            batch = [f"{questions[i % len(questions)]} ({i})" for i in range(first, first + 50)]
            for i, question in enumerate(batch):
                encoder.encode_query(question)  # what the search did, just before
                answer = Answer(question=question, passages=(), found=bool(i % 2))
                started = time.perf_counter()
                record_question(log, feedback, guild_id=GUILD, user_id=42,
                                collection="guild-1", question=question, answer=answer,
                                shown=["a.md#1", "a.md#2"], answer_key=f"k{first + i}",
                                encoder=encoder)
                queued.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            written = log.flush()
            flushes.append(((time.perf_counter() - started) * 1000, written))
    finally:
        log.close()
        feedback.close()
    queued.sort()
    per_question = [ms / max(1, n) for ms, n in flushes]
    return {"samples": len(queued), "p50_ms": statistics.median(queued),
            "p95_ms": queued[int(0.95 * (len(queued) - 1))],
            "flush_p50_ms": statistics.median(ms for ms, _ in flushes),
            "flush_per_question_p50_ms": statistics.median(per_question),
            "batch": 50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--orders", type=int, default=5)
    parser.add_argument("--log-samples", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    groups = load_groups()
    questions = [question for _, _, members in groups for question in members]
    truth = [number for number, (_, _, members) in enumerate(groups) for _ in members]
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        engine = Engine(Settings(_env_file=None, index_dir=folder / "index",  # type: ignore[call-arg]
                                 source_dir=folder / "sources"), remember_queries=True)
        vectors = stored(engine.embedder.encode(questions))
        threshold, sweep = fit(vectors, truth, args.orders)
        print(f"{len(groups)} groups, {len(questions)} questions, {args.orders} orders")
        print("threshold  purity  split  merged  clusters  ARI    objective")
        for row in sweep:
            if abs(row["threshold"] * 100 % 5) < 1e-6 or row["threshold"] == threshold:
                mark = "  <- chosen" if row["threshold"] == threshold else ""
                print(f"{row['threshold']:.2f}       {row['purity']:.3f}   {row['split']:5.1f}  "
                      f"{row['merged']:5.1f}  {row['clusters']:7.1f}   {row['ari']:.3f}  "
                      f"{row['objective']:.3f}{mark}")
        for kind in ("off", "on"):
            chosen = [i for i, (_, k, members) in enumerate(groups) if k == kind for _ in members]
            part = vectors[[i for i, number in enumerate(truth) if groups[number][1] == kind]]
            part_truth = [truth[i] for i in range(len(truth)) if groups[truth[i]][1] == kind]
            labels = [0] * len(part_truth)
            for number, members in enumerate(cluster(part, threshold)):
                for member in members:
                    labels[member] = number
            result = scores(part_truth, labels)
            print(f"  {kind}-topic only at {threshold:.2f}: purity {result['purity']:.3f}, "
                  f"{result['split']} of {len(set(part_truth))} groups split, "
                  f"{result['merged']} merged clusters ({len(chosen)} questions)")

        timings = []
        sizes = [int(size) for size in args.sizes.split(",")]
        for size in sizes:
            timings.append(time_gaps(folder, size, vectors, questions, args.repeats))
        largest = max(sizes)
        timings.append(time_gaps(folder, largest, vectors, questions, args.repeats,
                                 gap_share=1.0))
        timings.append(time_gaps(folder, largest, vectors, questions, args.repeats,
                                 gap_share=1.0, random_needs=True))
        print("logged  gaps    clusters  read s  find_gaps s  (rows; read: QuestionLog.gap_rows)")
        for row in timings:
            kind = "random needs" if row["random_needs"] else f"{row['gap_share']:.0%} gaps"
            print(f"{row['size']:7d} {row['gaps']:7d} {row['clusters']:8d}  {row['read_s']:.3f}"
                  f"   {row['find_gaps_s']:.3f}       ({kind})")
        cost = logging_cost(folder, engine, questions, args.log_samples)
        print(f"record_question (queued): p50 {cost['p50_ms']:.3f} ms, p95 {cost['p95_ms']:.3f} "
              f"ms over {cost['samples']} answers; the writer's flush of {cost['batch']}: p50 "
              f"{cost['flush_p50_ms']:.2f} ms, {cost['flush_per_question_p50_ms']:.3f} ms a "
              "question")
    if args.json:
        args.json.write_text(json.dumps({"threshold": threshold, "sweep": sweep,
                                         "timings": timings, "logging": cost}, indent=1))


if __name__ == "__main__":
    main()
