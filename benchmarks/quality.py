"""Retrieval quality on SQuAD, side by side in one run: citebot vs dense-only and BM25-only
baselines over paragraphs (same model, same data), and citebot's "not in the source" figures
on SQuAD 2.0 unanswerable questions.

    .venv/bin/python benchmarks/quality.py [--squad ../shared/data/squad/dev-v1.1.json]
        [--squad2 ../shared/data/squad/dev-v2.0-part.json] [--articles N] [--json OUT]

Each article is its own corpus. A hit is a gold answer string inside a returned passage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.answer import Answer, Citation, Passage  # noqa: E402
from index.evaluation import (  # noqa: E402
    Article,
    Tally,
    evaluate,
    evaluate_articles,
    load_squad,
)

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
DEFAULT_SQUAD2 = ROOT.parent / "shared" / "data" / "squad" / "dev-v2.0-part.json"
K = 5


def _answer(question: str, paragraphs: tuple[str, ...], order: np.ndarray, scores) -> Answer:
    passages = tuple(
        Passage(
            str(i),
            paragraphs[i],
            Citation("a", None, int(i) + 1, 0, len(paragraphs[i])),
            float(scores[i]),
            (0, len(paragraphs[i])),
        )
        for i in order[:K]
    )
    return Answer(question, passages)


def dense_baseline(articles: list[Article], engine: Engine) -> Tally:
    """Each paragraph embedded whole; ranking by cosine to the question."""
    tally = Tally()
    embedder, query_encoder = engine.build_encoder, engine.query_encoder
    for article in articles:
        paragraphs = tuple(p.strip() for p in article.paragraphs)
        matrix = embedder.encode(list(paragraphs))

        def search(question: str, k: int, matrix=matrix, paragraphs=paragraphs) -> Answer:
            scores = matrix @ query_encoder.encode_query(question)[0]
            return _answer(question, paragraphs, np.argsort(-scores, kind="stable"), scores)

        evaluate(search, article.questions, K, tally=tally)
    return tally


def bm25_baseline(articles: list[Article]) -> Tally:
    """bm25s over paragraphs with English stop words and the Snowball English stemmer."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    tally = Tally()
    for article in articles:
        paragraphs = tuple(p.strip() for p in article.paragraphs)
        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(list(paragraphs), stopwords="en", stemmer=stemmer, show_progress=False),
            show_progress=False,
        )

        def search(question: str, k: int, retriever=retriever, paragraphs=paragraphs) -> Answer:
            tokens = bm25s.tokenize(
                [question], stopwords="en", stemmer=stemmer, show_progress=False
            )
            scores = retriever.get_scores(tokens.vocab and _query_terms(tokens))
            return _answer(question, paragraphs, np.argsort(-scores, kind="stable"), scores)

        evaluate(search, article.questions, K, tally=tally)
    return tally


def _query_terms(tokens) -> list[str]:
    inverse = {v: k for k, v in tokens.vocab.items()}
    return [inverse[i] for i in tokens.ids[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--squad2", type=Path, default=DEFAULT_SQUAD2)
    parser.add_argument("--articles", type=int, help="only the first N articles of each file")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    engine = Engine(Settings())
    engine.build_encoder  # noqa: B018 - exports the model to ONNX once, before any timing
    engine.warm_up()
    print(f"encoders: build {type(engine.build_encoder).__name__}, "
          f"questions {type(engine.query_encoder).__name__}", file=sys.stderr, flush=True)
    articles = load_squad(args.squad)[: args.articles or None]
    rows = {}
    timings = {}
    for name, run in (
        (
            "citebot",
            lambda: evaluate_articles(
                articles, engine.build_encoder, engine.chunker(), engine.make_searcher, K
            ),
        ),
        ("dense-only (paragraphs)", lambda: dense_baseline(articles, engine)),
        ("BM25-only (paragraphs)", lambda: bm25_baseline(articles)),
    ):
        started = time.perf_counter()
        rows[name] = run().report().to_dict()
        timings[name] = time.perf_counter() - started
        print(f"{name}: done in {timings[name]:.0f} s", file=sys.stderr, flush=True)
    squad2 = load_squad(args.squad2)[: args.articles or None]
    no_answer = (
        evaluate_articles(squad2, engine.build_encoder, engine.chunker(), engine.make_searcher, K)
        .report()
        .to_dict()
    )

    questions = rows["citebot"]["questions"]
    print(f"\n### SQuAD v1.1 dev: {len(articles)} articles, {questions} questions, k={K}\n")
    print(
        "| system | hit@1 | hit@3 | hit@5 | MRR | highlight@1 | words/passage | p50 ms | p95 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        highlight = f"{r['highlight_at_1']:.3f}" if name == "citebot" else "—"
        print(
            f"| {name} | {r['hit_at_1']:.3f} | {r['hit_at_3']:.3f} | {r['hit_at_5']:.3f} | "
            f"{r['mrr']:.3f} | {highlight} | {r['mean_words_per_passage']:.1f} | "
            f"{r['latency_p50_ms']:.1f} | {r['latency_p95_ms']:.1f} |"
        )
    ratio = rows["citebot"]["latency_p50_ms"] / rows["dense-only (paragraphs)"]["latency_p50_ms"]
    print(f"\nLatency p50 ratio citebot / dense-only: {ratio:.2f}×")
    print(f'\n### SQuAD 2.0 dev (first {len(squad2)} articles): "not in the source"\n')
    print(
        "| questions | unanswerable | no-answer precision | no-answer recall | "
        "answerable said not found | hit@1 (answerable) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    n = no_answer
    print(
        f"| {n['questions']} | {n['unanswerable']} | {n['no_answer_precision']:.3f} | "
        f"{n['no_answer_recall']:.3f} | {n['answerable_said_not_found']:.3f} | "
        f"{n['hit_at_1']:.3f} |"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"squad1": rows, "squad2": no_answer, "latency_ratio": ratio}, indent=2)
        )


if __name__ == "__main__":
    main()
