"""Train the learned ranker (``CITEBOT_RANKER=learned``, index/ranker.py) on fit halves only.

    .venv/bin/python benchmarks/train_ranker.py [--docs /usr/share/doc/python3.11/html]
        [--squad /work/shared/data/squad/dev-v1.1.json] [--out index/ranker.json]

Data (never the held-out halves that docs/benchmarks.md reports): the fit half of
``tests/data/docs_questions.jsonl`` (judged by section) over the pages of Python's own docs
(``apt-get install python3.11-doc``), and the even-numbered articles of SQuAD v1.1 dev (judged by
the gold answer string in the chunk). The bundled article's questions and dialogues are not
used: they have no fit half and stay an independent check. For each question the searcher
records the features of the linear fusion's best ``--rerank`` candidates (the same code that
scores them at run time); a candidate is positive when it answers. A scikit-learn
``HistGradientBoostingClassifier`` (log loss) learns them; its trees are written as JSON and
checked to score exactly as scikit-learn does. Needs scikit-learn (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from docs_quality import DOCS, DOCS_QUESTIONS, SQUAD, docs_pages  # noqa: E402

from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.build.builder import assemble_corpus  # noqa: E402
from index.evaluation import (  # noqa: E402
    LabelledQuestion,
    contains_any,
    load_split,
    load_squad,
    same_section,
)
from index.ingest.documents import DocumentSet, load_documents, parse_document  # noqa: E402
from index.query.question import prepare_question  # noqa: E402
from index.query.search import Query, Searcher  # noqa: E402
from index.ranker import FEATURES, MODEL_FORMAT, LearnedRanker, default_model_path  # noqa: E402

RERANK = 20


class _Placeholder:
    """Stands in for the model while features are recorded (only ``rerank`` is read)."""

    rerank = RERANK


class Recorder(Searcher):
    """A linear searcher that records the learned ranker's features of each ranking."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.learned = _Placeholder()  # type: ignore[assignment]
        self.recorded: tuple[np.ndarray, np.ndarray] | None = None

    def _learned_scores(self, found, linear, evidence, types, heading, lexical):  # type: ignore[no-untyped-def]
        top, table = self._candidate_features(found, linear, evidence, types, heading, lexical)
        self.recorded = (found.rows[top], table)
        return linear


def record(
    searcher: Recorder, questions: Sequence[LabelledQuestion], corpus: Any
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) of each question's reranked candidates."""
    table = corpus.table
    groups = []
    for question in questions:
        text = prepare_question(question.question).text
        query = Query(text, searcher.embedder.encode_query(text))
        searcher.rank(query)
        assert searcher.recorded is not None
        rows, features = searcher.recorded
        labels = []
        for row in rows:
            chunk = corpus.chunks[int(row)]
            if question.section is not None:
                section = int(table.section[int(row)])
                labels.append(
                    chunk.document == question.document
                    and same_section(table.sections[section] if section >= 0 else None,
                                     question.section)
                )
            else:
                labels.append(contains_any(chunk.text, question.answers))
        groups.append((features, np.asarray(labels, dtype=bool)))
    return groups


def export(model: Any, rerank: int, trained: dict[str, Any]) -> dict[str, Any]:
    """The fitted classifier's trees as index/ranker.py reads them."""
    trees = []
    depth = 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        depth = max(depth, int(nodes["depth"].max()))
        trees.append({
            "feature": [int(v) for v in nodes["feature_idx"]],
            "threshold": [float(v) for v in nodes["num_threshold"]],
            "left": [int(v) for v in nodes["left"]],
            "right": [int(v) for v in nodes["right"]],
            "missing_left": [bool(v) for v in nodes["missing_go_to_left"]],
            "is_leaf": [bool(v) for v in nodes["is_leaf"]],
            "value": [float(v) for v in nodes["value"]],
        })
    base = float(np.ravel(model._baseline_prediction)[0])
    return {
        "format": MODEL_FORMAT, "features": list(FEATURES), "base": base, "depth": depth,
        "rerank": rerank, "trees": trees, "trained": trained,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--squad-articles", type=int, default=24, help="even articles used")
    parser.add_argument("--docs-weight", type=float, default=5.0,
                        help="weight of a documentation question against a SQuAD one")
    parser.add_argument("--out", type=Path, default=default_model_path())
    parser.add_argument("--features", type=Path,
                        help="a pickle of the recorded features: read when it exists, else "
                             "written (to try training settings without recording again)")
    parser.add_argument("--check-squad", action="store_true",
                        help="train nothing: measure linear and learned side by side on SQuAD's "
                             "held-out odd-numbered articles (each article indexed once, the two "
                             "rankers' searches interleaved question by question)")
    args = parser.parse_args()
    if args.check_squad:
        check_squad(args)
        return
    if args.features is not None and args.features.exists():
        docs_groups, squad_groups, articles = pickle.loads(args.features.read_bytes())
    else:
        docs_groups, squad_groups, articles = gather(args)
        if args.features is not None:
            args.features.write_bytes(pickle.dumps((docs_groups, squad_groups, articles)))
    train(args, docs_groups, squad_groups, articles)


def check_squad(args: argparse.Namespace) -> None:
    """Linear and learned on SQuAD v1.1 dev odd articles, the same corpora, interleaved."""
    from index.evaluation import Tally
    from index.query.search import make_searcher

    engine = Engine(Settings())
    engine.warm_up()
    tallies = {"linear": Tally(), "learned": Tally()}
    differ = 0
    for number, article in enumerate(load_squad(args.squad)[1::2]):
        document = parse_document(f"{article.title}.txt", article.text())
        corpus, _, _ = assemble_corpus(
            DocumentSet((document,)), engine.build_encoder, engine.chunker()
        )
        searchers = {name: make_searcher(corpus, engine.query_encoder, ranker=name)
                     for name in tallies}
        for position, question in enumerate(article.questions):
            names = list(tallies) if (number + position) % 2 == 0 else list(tallies)[::-1]
            answers = {}
            for name in names:
                started = time.perf_counter()
                answers[name] = searchers[name].search(question.question, 5)
                tallies[name].add(question, answers[name], time.perf_counter() - started)
            differ += [p.chunk_id for p in answers["linear"].passages[:1]] != [
                p.chunk_id for p in answers["learned"].passages[:1]
            ]
    for name, tally in tallies.items():
        figures = tally.report().to_dict()
        print(f"| {name} | {figures['hit_at_1']:.4f} | {figures['hit_at_3']:.4f} | "
              f"{figures['hit_at_5']:.4f} | {figures['mrr']:.3f} | "
              f"{figures['highlight_at_1']:.3f} | {figures['latency_p50_ms']:.2f} | "
              f"{figures['latency_p95_ms']:.2f} |")
    print(f"first passage differs for {differ} questions")


def gather(args: argparse.Namespace) -> tuple[list, list, list]:
    """The recorded features of the docs fit half and of SQuAD's even articles."""
    engine = Engine(Settings())
    engine.warm_up()
    encoder = engine.build_encoder

    def searcher_of(corpus: Any) -> Recorder:
        return Recorder(corpus, engine.query_encoder, ranker="linear")

    started = time.perf_counter()
    docs_groups: list[tuple[np.ndarray, np.ndarray]] = []
    with tempfile.TemporaryDirectory() as folder:
        pages = docs_pages(args.docs, Path(folder) / "docs")
        corpus, _, _ = assemble_corpus(load_documents(pages), encoder, engine.chunker())
        docs_groups = record(searcher_of(corpus), load_split(DOCS_QUESTIONS, "fit"), corpus)
    squad_groups: list[tuple[np.ndarray, np.ndarray]] = []
    articles = load_squad(args.squad)[0::2][: args.squad_articles]
    for article in articles:
        document = parse_document(f"{article.title}.txt", article.text())
        corpus, _, _ = assemble_corpus(DocumentSet((document,)), encoder, engine.chunker())
        squad_groups.extend(record(searcher_of(corpus), article.questions, corpus))
    print(f"features recorded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return docs_groups, squad_groups, [article.title for article in articles]


def train(args: argparse.Namespace, docs_groups: list, squad_groups: list, articles: list) -> None:
    """Fit the model, write it, and check that numpy scores it as scikit-learn does."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    def stack(groups: list[tuple[np.ndarray, np.ndarray]], weight: float):
        kept = [(x, y) for x, y in groups if y.any()]  # the answer among the candidates
        x = np.vstack([g[0] for g in kept])
        y = np.concatenate([g[1] for g in kept])
        w = np.concatenate([np.full(len(g[1]), weight / len(g[1])) for g in kept])
        return x, y, w, len(kept)

    dx, dy, dw, docs_kept = stack(docs_groups, args.docs_weight)
    sx, sy, sw, squad_kept = stack(squad_groups, 1.0)
    x, y, w = np.vstack([dx, sx]), np.concatenate([dy, sy]), np.concatenate([dw, sw])
    model = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.05, max_leaf_nodes=15, max_depth=5,
        min_samples_leaf=40, l2_regularization=1.0, early_stopping=False, random_state=0,
    )
    model.fit(x, y, sample_weight=w * len(w) / w.sum())
    trained = {
        "data": f"docs_questions fit half ({docs_kept} of {len(docs_groups)} questions with the "
                f"answer in the top {RERANK}), SQuAD v1.1 dev even articles "
                f"({len(articles)} articles, {squad_kept} of {len(squad_groups)} questions)",
        "docs_weight": args.docs_weight,
        "command": "benchmarks/train_ranker.py",
        "sklearn_model": "HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, "
                         "max_leaf_nodes=15, max_depth=5, min_samples_leaf=40, "
                         "l2_regularization=1.0)",
    }
    exported = export(model, RERANK, trained)
    args.out.write_text(json.dumps(exported, separators=(",", ":")) + "\n")
    ranker = LearnedRanker.load(args.out)
    expected = model.decision_function(x[:5000])
    got = ranker.score(x[:5000])
    difference = float(np.max(np.abs(expected - got)))
    assert difference < 1e-6, difference
    for name, groups in (("docs fit", docs_groups), ("SQuAD even", squad_groups)):
        linear_hits = np.mean([y[0] for _, y in groups])
        learned_hits = np.mean([y[np.argmax(ranker.score(x))] for x, y in groups])
        print(f"{name}: hit@1 among the reranked, linear {linear_hits:.3f} -> "
              f"learned {learned_hits:.3f} (fit data: not a held-out figure)")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, {len(exported['trees'])} trees,"
          f" max |sklearn - numpy| {difference:.1e})")


if __name__ == "__main__":
    main()
