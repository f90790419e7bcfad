"""The "not in the source" rule, old (dense only: best sentence cosine < 0.30) against new
(index/query/evidence.py: dense floor plus lexical evidence), side by side in one run.

    .venv/bin/python benchmarks/not_found.py [--articles N] [--repeats 3] [--json OUT]

Every question is searched once with the production searcher; both rules are applied to the
evidence of that one search (the rule reads the ranking and never changes it, so hit@k and
highlight@1 are the same under both). Pairs and halves: benchmarks/not_found_data.py; the
"fit" half calibrated the rule (benchmarks/fit_not_found.py), "test" is held out. Latency: the
questions of tests/data/ on the bundled article, each searched (embedding included) with the old
and the new rule in turn (interleaved), median of ``--repeats`` per question, then p50/p95 over
questions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import not_found_data as data

import index.query.search as search_module
from bot.settings import Settings
from index.build.builder import ALONE, IN_CHUNK
from index.evaluation import load_jsonl, percentile
from index.query.evidence import MIN_SIMILARITY, RULES, Evidence, Rule, found_in_source

GROUPS = (
    "off-topic", "near-topic", "article", "squad", "wrong-random", "wrong-close",
    "squad2-impossible",
)
TARGETS = {
    "off-topic": "recall ≥ 0.95",
    "article": "flagged ≤ 1 %",
    "squad": "flagged ≤ 1 %",
}


def old_rule(evidence: Evidence) -> bool:
    """Found before lexical evidence: some sentence at least 0.30 similar."""
    return evidence.similarity >= MIN_SIMILARITY


def rows_of(pairs: list[data.Pair], rule: Rule = RULES["alone"]) -> list[dict[str, object]]:
    """Per group and half: share said "not in the source" under each rule."""
    rows = []
    for group in GROUPS:
        for half in ("fit", "test", "all"):
            chosen = [p for p in pairs if p.group == group and half in ("all", p.half)]
            if not chosen or (half == "all" and len({p.half for p in chosen}) == 1):
                continue
            rows.append({
                "group": group,
                "half": half,
                "pairs": len(chosen),
                "answerable": chosen[0].answerable,
                "old": sum(not old_rule(p.evidence) for p in chosen) / len(chosen),
                "new": sum(not found_in_source(p.evidence, rule.min_similarity, rule)
                           for p in chosen) / len(chosen),
            })
    return rows


def latency(engine, repeats: int) -> dict[str, float]:
    """p50/p95 ms of a search with the old and the new rule, interleaved question by question."""
    questions = [q.question for name in ("article_questions", "off_topic_questions")
                 for q in load_jsonl(data.DATA / f"{name}.jsonl")]
    searcher = engine.searcher
    gather, decide = search_module.gather, search_module.found_in_source

    def dense_only(ranking, lexical, index) -> Evidence:
        return Evidence(ranking.max_similarity)

    times: dict[str, list[float]] = {"old": [], "new": []}
    for question in questions:
        searcher.search(question, k=3)  # warm
        samples: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(repeats):
            for rule in ("old", "new"):
                if rule == "old":
                    search_module.gather = dense_only  # type: ignore[assignment]
                    search_module.found_in_source = lambda e, m, *_: e.similarity >= m
                started = time.perf_counter()
                searcher.search(question, k=3)
                samples[rule].append(time.perf_counter() - started)
                search_module.gather, search_module.found_in_source = gather, decide
        for rule in times:
            times[rule].append(statistics.median(samples[rule]))
    result = {}
    for rule, values in times.items():
        ordered = sorted(values)
        result[f"{rule}_p50_ms"] = 1000 * percentile(ordered, 50)
        result[f"{rule}_p95_ms"] = 1000 * percentile(ordered, 95)
    result["questions"] = len(questions)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=None, help="first N SQuAD articles")
    parser.add_argument("--squad", type=Path, default=data.DEFAULT_SQUAD)
    parser.add_argument("--squad2", type=Path, default=data.DEFAULT_SQUAD2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the searches' evidence here (re-applies the rules without "
                             "searching again; latency is always measured)")
    args = parser.parse_args()
    pairs, squad = data.collect(args.cache, args.articles, args.squad, args.squad2)
    speed = latency(data.article_engine(remember_queries=False), args.repeats)
    # the rule fitted for the index's sentence vectors (late chunking: IN_CHUNK)
    late = Settings(_env_file=None).late_chunking  # type: ignore[call-arg]
    rule = RULES[IN_CHUNK if late else ALONE]
    rows = rows_of(pairs, rule)

    print('| pairs | half | n | "not in the source": old rule | new rule | target |')
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for row in rows:
        kind = "answerable (flagged)" if row["answerable"] else "off-topic (recall)"
        target = TARGETS.get(str(row["group"]), "") if row["half"] != "fit" else ""
        print(f"| {row['group']} — {kind} | {row['half']} | {row['pairs']} | "
              f"{row['old']:.4f} | {row['new']:.4f} | {target} |")
    print(f"\nSQuAD v1.1 dev, own article ({squad['answerable']} questions; same ranking under "
          f"both rules): hit@1 {squad['hit_at_1']:.4f}, hit@5 {squad['hit_at_5']:.4f}, "
          f"highlight@1 {squad['highlight_at_1']:.4f}, search p50 {squad['latency_p50_ms']:.1f} ms")
    print(f"\nLatency, bundled article, {speed['questions']} questions × {args.repeats}: "
          f"old rule p50 {speed['old_p50_ms']:.2f} ms (p95 {speed['old_p95_ms']:.2f}), "
          f"new rule p50 {speed['new_p50_ms']:.2f} ms (p95 {speed['new_p95_ms']:.2f}), "
          f"ratio {speed['new_p50_ms'] / speed['old_p50_ms']:.3f}")
    missed = [p.question for p in pairs if p.group == "off-topic"
              and found_in_source(p.evidence, rule.min_similarity, rule)]
    flagged = [p.question for p in pairs if p.group == "article"
               and not found_in_source(p.evidence, rule.min_similarity, rule)]
    print(f"\nOff-topic questions still answered: {missed}")
    print(f"Article questions flagged: {flagged}")
    if args.json:
        args.json.write_text(json.dumps(
            {"rows": rows, "squad": squad, "latency": speed,
             "missed": missed, "flagged": flagged}, indent=2))


if __name__ == "__main__":
    main()
