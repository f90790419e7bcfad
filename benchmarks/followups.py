"""Follow-up questions, side by side in one run: citebot's conversation reading
(index/query/conversation.py) against two baselines, on the article's dialogues; and SQuAD v1.1
questions asked without history and with an empty history (must be identical).

    .venv/bin/python benchmarks/followups.py [--dialogues tests/data/article_dialogues.jsonl]
        [--squad ../shared/data/squad/dev-v1.1.json] [--squad-articles 3] [--json OUT]

Methods, each turn asked by all three in turn (interleaved):
- no context: every question alone;
- concatenated: the previous question and this one searched as one text (first turns alone);
- citebot: ``Engine.search(question, history=...)`` with the turns this method answered before.

Kinds of turns: first turns, follow-ups, topic changes (``"topic_change": true``). A hit is a
gold answer string inside a returned passage (k = 5). Targets: follow-ups hit@1 >= 0.80 and
hit@3 >= 0.95; first turns and topic changes hit@1 within 1 point of no context.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.evaluation import (  # noqa: E402
    HISTORY_TURNS,
    KINDS,
    ConversationTally,
    load_dialogues,
    load_squad,
)
from index.query.conversation import Turn, turn_of  # noqa: E402

DEFAULT_DIALOGUES = ROOT / "tests" / "data" / "article_dialogues.jsonl"
DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
METHODS = ("no context", "concatenated", "citebot")
K = 5


def run_dialogues(engine: Engine, path: Path) -> tuple[dict, dict]:
    """Figures per method and kind of turn, and per-method follow-up latencies (ms)."""
    tallies = {method: ConversationTally() for method in METHODS}
    latencies: dict[str, list[float]] = {method: [] for method in METHODS}
    for dialogue in load_dialogues(path):
        histories: dict[str, list[Turn]] = {method: [] for method in METHODS}
        for position, turn in enumerate(dialogue):
            kind = (
                "first_turns" if position == 0
                else "topic_changes" if turn.topic_change
                else "follow_ups"
            )
            question = turn.question.question
            for method in METHODS:
                history = histories[method]
                started = time.perf_counter()
                if method == "no context" or not history:
                    answer = engine.search(question, K)
                elif method == "concatenated":
                    answer = engine.search(f"{history[-1].question} {question}", K)
                else:
                    answer = engine.search(question, K, history=tuple(history[-HISTORY_TURNS:]))
                seconds = time.perf_counter() - started
                tallies[method].add(kind, turn.question, answer, seconds)
                if kind == "follow_ups":
                    latencies[method].append(1000 * seconds)
                history.append(replace(turn_of(answer), question=question))
    figures = {method: tally.report() for method, tally in tallies.items()}
    return figures, {m: statistics.median(v) for m, v in latencies.items() if v}


def run_squad(engine: Engine, path: Path, articles: int) -> dict:
    """SQuAD v1.1 questions asked with no history argument and with ``history=()``: the number
    of answers that differ in any way (passages, scores, highlights), and the figures."""
    from index.build.builder import assemble_corpus
    from index.evaluation import Tally
    from index.ingest.documents import DocumentSet, parse_document

    tally = Tally()
    different = asked = 0
    for article in load_squad(path)[:articles]:
        document = parse_document(f"{article.title}.txt", article.text())
        corpus, _, _ = assemble_corpus(
            DocumentSet((document,)), engine.build_encoder, engine.chunker()
        )
        searcher = engine.make_searcher(corpus)
        for labelled in article.questions:
            started = time.perf_counter()
            answer = searcher.search(labelled.question, K)
            tally.add(labelled, answer, time.perf_counter() - started)
            different += searcher.search(labelled.question, K, history=()) != answer
            asked += 1
    return {"questions": asked, "different_with_empty_history": different,
            **tally.report().to_dict()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=Path, default=DEFAULT_DIALOGUES)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--squad-articles", type=int, default=3,
                        help="SQuAD articles for the empty-history check (0 to skip)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            source_dir=ROOT / "tests" / "data" / "article",
            index_dir=Path(tmp) / "index",
        )
        engine = Engine(settings)
        engine.load(build_if_missing=True)
        figures, latency = run_dialogues(engine, args.dialogues)
        squad = (
            run_squad(engine, args.squad, args.squad_articles)
            if args.squad_articles and args.squad.is_file() else None
        )

    print(f"Dialogues: {args.dialogues.name}, k = {K}\n")
    print("| turns | answerable | method | hit@1 | hit@3 | hit@5 | MRR | highlight@1 | "
          "not in the source: recall (n) | read with context |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in KINDS:
        for method in METHODS:
            row = figures[method].get(kind)
            if row is None:
                continue
            recall = (
                f"{row['no_answer_recall']:.2f} ({row['unanswerable']})"
                if row["unanswerable"] else "—"
            )
            print(f"| {kind.replace('_', ' ')} | {row['answerable']} | {method} | "
                  f"{row['hit_at_1']:.3f} | {row['hit_at_3']:.3f} | {row['hit_at_5']:.3f} | "
                  f"{row['mrr']:.3f} | {row['highlight_at_1']:.3f} | {recall} | "
                  f"{row['read_with_context']:.2f} |")
    print("\nFollow-up latency, median ms: " + ", ".join(
        f"{method} {ms:.1f}" for method, ms in latency.items()))
    ours, alone = figures["citebot"], figures["no context"]
    checks = {
        "follow-ups hit@1 >= 0.80": ours["follow_ups"]["hit_at_1"] >= 0.80,
        "follow-ups hit@3 >= 0.95": ours["follow_ups"]["hit_at_3"] >= 0.95,
    }
    for kind in ("first_turns", "topic_changes"):
        if kind in ours:
            gap = ours[kind]["hit_at_1"] - alone[kind]["hit_at_1"]
            checks[f"{kind.replace('_', ' ')} hit@1 within 1 point of no context"] = gap >= -0.01
    if squad is not None:
        print(f"\nSQuAD v1.1, first {args.squad_articles} article(s), {squad['questions']} "
              f"questions: hit@1 {squad['hit_at_1']:.4f}, hit@5 {squad['hit_at_5']:.4f}, "
              f"highlight@1 {squad['highlight_at_1']:.4f}; answers different with "
              f"history=(): {squad['different_with_empty_history']}")
        checks["SQuAD: history=() changes no answer"] = squad["different_with_empty_history"] == 0
    print()
    for name, passed in checks.items():
        print(f"- {'PASS' if passed else 'FAIL'} {name}")
    if args.json:
        args.json.write_text(json.dumps(
            {"dialogues": figures, "follow_up_latency_ms": latency, "squad": squad,
             "checks": checks}, indent=2), encoding="utf-8")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
