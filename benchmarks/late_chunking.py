"""Late chunking's answers on SQuAD, side by side with sentences embedded alone, and a sweep of
the search weights for in-chunk sentence vectors (fit on the even articles, checked on the odd).

    .venv/bin/python benchmarks/late_chunking.py [--squad ../shared/data/squad/dev-v1.1.json]
        [--variants alone,late,late-int8] [--cache /tmp/late-cache.pkl] [--sweep]

Each article is its own corpus, built as `citebot eval` builds it (index.builder.assemble_corpus,
the production chunker). Vectors are cached by text in ``--cache`` so a second run (another
weight profile) does not embed again. ``--sweep`` scores a grid of search weights (the module
constants of index/query/search.py) on the even-numbered articles, and the best few on the odd ones;
each question's candidates are fetched once, so a point of the grid costs the fusion only.
"""

from __future__ import annotations

import argparse
import itertools
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

import index.query.search as search_module  # noqa: E402
from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.build.builder import assemble_corpus  # noqa: E402
from index.build.model import ModelSpec  # noqa: E402
from index.build.onnx_encoder import OnnxEncoder, ensure_onnx  # noqa: E402
from index.evaluation import EVAL_K, Article, Tally, load_jsonl, load_squad  # noqa: E402
from index.ingest.chunking import Chunker, normalize_for_search  # noqa: E402
from index.ingest.documents import (  # noqa: E402
    DocumentSet,
    load_documents,
    parse_document,
)

ARTICLE = ROOT / "tests" / "data" / "article"
DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
WEIGHT_NAMES = (
    "DENSE_WEIGHTS", "LEXICAL_WEIGHTS", "TYPE_WEIGHT", "BEST_SENTENCE_WEIGHT",
    "HIGHLIGHT_TYPE_WEIGHT", "HIGHLIGHT_PREVIOUS_WEIGHT",
)


class CachedEncoder:
    """An encoder whose vectors are remembered by text (and spans), shared across runs."""

    def __init__(self, inner: OnnxEncoder, cache: dict[Any, Any], name: str,
                 queries: str = "queries") -> None:
        self.inner = inner
        self.spec = inner.spec
        self.late_chunking = inner.late_chunking
        self.cache = cache.setdefault(name, {})
        self.queries = cache.setdefault(queries, {})
        self.seconds = 0.0

    def encode(self, texts: Sequence[str], progress=None) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if ("alone", t) not in self.cache]
        if missing:
            started = time.perf_counter()
            vectors = self.inner.encode(missing)
            self.seconds += time.perf_counter() - started
            self.cache.update({("alone", t): v for t, v in zip(missing, vectors, strict=True)})
        if progress is not None:
            progress(len(texts))
        return np.vstack([self.cache[("alone", t)] for t in texts]) if texts else np.zeros(
            (0, self.spec.dimension), dtype=np.float32)

    def encode_in_context(self, texts, spans, progress=None):
        keys = [("chunk", t, tuple(map(tuple, s))) for t, s in zip(texts, spans, strict=True)]
        todo = [i for i, key in enumerate(keys) if key not in self.cache]
        if todo:
            started = time.perf_counter()
            vectors, pooled = self.inner.encode_in_context(
                [texts[i] for i in todo], [spans[i] for i in todo])
            self.seconds += time.perf_counter() - started
            for i, vector, rows in zip(todo, vectors, pooled, strict=True):
                self.cache[keys[i]] = (vector, rows)
        if progress is not None:
            progress(len(texts))
        found = [self.cache[key] for key in keys]
        return np.vstack([v for v, _ in found]), [list(rows) for _, rows in found]

    def encode_query(self, text: str) -> np.ndarray:
        vector = self.queries.get(text)
        if vector is None:
            vector = self.queries[text] = self.inner.encode_query(text)
        return vector


class MixedEncoder:
    """Sentence vectors pooled in their chunk's pass by ``late`` plus ``weight`` times each
    sentence embedded alone by ``alone`` (unit length); chunk vectors from ``late``."""

    def __init__(self, late: CachedEncoder, alone: CachedEncoder, weight: float) -> None:
        self.late, self.alone, self.weight = late, alone, weight
        self.spec = late.spec
        self.late_chunking = True
        self.seconds = 0.0

    def encode(self, texts, progress=None):
        return self.alone.encode(texts, progress)

    def encode_in_context(self, texts, spans, progress=None):
        vectors, pooled = self.late.encode_in_context(texts, spans, progress)
        mixed = []
        for text, rows, places in zip(texts, pooled, spans, strict=True):
            sentences = [normalize_for_search(text[a:b]) for a, b in places]
            alone = self.alone.encode(sentences) if sentences else []
            out = []
            for row, own in zip(rows, alone, strict=False):
                if row is None:
                    out.append(None)
                    continue
                both = row + self.weight * own
                out.append((both / np.linalg.norm(both)).astype(np.float32))
            mixed.append(out)
        self.seconds = self.late.seconds + self.alone.seconds
        return vectors, mixed

    def encode_query(self, text):
        return self.late.encode_query(text)


class MemoCandidates:
    """A SearchIndex whose candidates are fetched once per (question vector, terms, width)."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._memo: dict[Any, Any] = {}

    def candidates(self, vector, lexical, width):
        key = (vector.tobytes(), None if lexical is None else lexical.parts, width)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._index.candidates(vector, lexical, width)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


def encoders(variants: list[str], cache: dict[Any, Any], folder: Path) -> dict[str, Any]:
    """A variant names its sentence vectors (``alone`` / ``late``), then options: ``int8``
    (the build's model quantized), ``b1`` (batches of one text), ``q8`` (questions embedded
    with the quantized model too; else with the float one)."""
    spec = ModelSpec.resolve(Settings(_env_file=None).model)  # type: ignore[call-arg]
    path = ensure_onnx(folder, spec, token_output=True)
    int8 = ensure_onnx(folder, spec, quantized=True, token_output=True)
    query_encoders = {
        False: OnnxEncoder.for_queries(spec, path), True: OnnxEncoder.for_queries(spec, int8)
    }
    made: dict[str, Any] = {}
    for variant in variants:
        if variant.startswith("mix"):  # mix:WEIGHT:LATE-VARIANT:ALONE-VARIANT
            _, weight, late, alone = variant.split(":")
            made[variant] = MixedEncoder(made[late], made[alone], float(weight))
            continue
        mode, *options = variant.split("-")
        model = int8 if "int8" in options else path
        inner = OnnxEncoder(spec, model, threads=2, batch_size=1 if "b1" in options else 8,
                            late_chunking=mode == "late")
        quantized_queries = "q8" in options
        inner.encode_query = query_encoders[quantized_queries].encode_query  # type: ignore
        made[variant] = CachedEncoder(
            inner, cache, variant, "queries-int8" if quantized_queries else "queries")
    return made


def searchers(articles: list[Article], encoder: CachedEncoder, chunker: Chunker) -> list[Any]:
    made = []
    for article in articles:
        document = parse_document(f"{article.title}.txt", article.text())
        corpus, _, _ = assemble_corpus(DocumentSet((document,)), encoder, chunker)
        searcher = search_module.make_searcher(corpus, encoder)
        searcher.index = MemoCandidates(searcher.index)
        made.append(searcher)
    return made


def article_tally(encoder: CachedEncoder, chunker: Chunker) -> Tally:
    """The article set (tests/data/article_questions.jsonl) over the bundled article."""
    corpus, _, _ = assemble_corpus(load_documents(ARTICLE), encoder, chunker)
    searcher = search_module.make_searcher(corpus, encoder)
    tally = Tally()
    for labelled in load_jsonl(ROOT / "tests" / "data" / "article_questions.jsonl"):
        tally.add(labelled, searcher.search(labelled.question, k=EVAL_K), 0.0)
    return tally


def score(searchers_: list[Any], articles: list[Article], chosen: list[int]) -> Tally:
    tally = Tally()
    for i in chosen:
        for labelled in articles[i].questions:
            started = time.perf_counter()
            answer = searchers_[i].search(labelled.question, k=EVAL_K)
            tally.add(labelled, answer, time.perf_counter() - started)
    return tally


def combined(*tallies: Tally) -> Tally:
    """One tally of several (counts added, lists joined)."""
    total = Tally()
    for tally in tallies:
        for name, value in vars(tally).items():
            mine = getattr(total, name)
            if isinstance(value, dict):
                setattr(total, name, {k: mine.get(k, 0) + v for k, v in value.items()})
            else:
                setattr(total, name, mine + value)
    return total


def line(name: str, tally: Tally) -> str:
    r = tally.report()
    return (f"{name:<44} n={r.answerable:>5} hit@1 {r.hit_at_1:.4f} hit@3 {r.hit_at_3:.4f} "
            f"hit@5 {r.hit_at_5:.4f} MRR {r.mrr:.4f} hl@1 {r.highlight_at_1:.4f} "
            f"flagged {tally.answerable_not_found / max(1, tally.answerable):.4f}")


def patched(weights: dict[str, Any]):
    saved = {name: getattr(search_module, name) for name in weights}
    for name, value in weights.items():
        setattr(search_module, name, value)
    return saved


def grid() -> list[dict[str, Any]]:
    points = []
    for dense_sentence, dense_highlight, lexical_chunk, best in itertools.product(
        (0.75, 1.0, 1.25), (0.75, 1.0, 1.5), (0.5, 0.75, 1.0), (0.75, 1.0, 1.25)
    ):
        points.append({
            "DENSE_WEIGHTS": (1.0, dense_sentence, dense_highlight),
            "LEXICAL_WEIGHTS": (lexical_chunk, 0.5, 1.0),
            "BEST_SENTENCE_WEIGHT": best,
        })
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--variants", default="alone,late")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--articles", type=int, default=None)
    parser.add_argument("--score", default=None, help="only these variants (default: all)")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--points", type=Path, default=None,
                        help="--sweep: a JSON list of {constant: value} to score, not the grid")
    args = parser.parse_args()
    articles = load_squad(args.squad)[: args.articles]
    cache: dict[Any, Any] = {}
    if args.cache is not None and args.cache.is_file():
        cache = pickle.loads(args.cache.read_bytes())
    folder = Path(tempfile.mkdtemp(prefix="citebot-late-"))
    variants = args.variants.split(",")
    made = encoders(variants, cache, folder)
    settings = Settings(_env_file=None, index_dir=folder)  # type: ignore[call-arg]
    chunker = Engine(settings).chunker()
    built = {}
    for variant, encoder in made.items():
        started = time.perf_counter()
        built[variant] = searchers(articles, encoder, chunker)
        print(f"{variant}: corpora in {time.perf_counter() - started:.1f} s "
              f"(embedding {encoder.seconds:.1f} s)", flush=True)
    if args.cache is not None:
        args.cache.write_bytes(pickle.dumps(cache))
    scored = variants if args.score is None else args.score.split(",")
    for variant, encoder in made.items():
        if variant not in scored:
            continue
        tally = article_tally(encoder, chunker)
        r = tally.report()
        print(line(f"{variant} article set", tally) + f" no-answer recall {r.no_answer_recall}",
              flush=True)
    if args.cache is not None:
        args.cache.write_bytes(pickle.dumps(cache))
    every = list(range(len(articles)))
    fit, held = every[0::2], every[1::2]
    for variant in scored:
        fitted = score(built[variant], articles, fit)
        checked = score(built[variant], articles, held)
        print(line(f"{variant} all", combined(fitted, checked)), flush=True)
        print(line(f"{variant} fit (even)", fitted), flush=True)
        print(line(f"{variant} held-out (odd)", checked), flush=True)
    if not args.sweep:
        return
    for variant in variants:
        if not variant.startswith("late"):
            continue
        results = []
        points = grid() if args.points is None else json.loads(args.points.read_text())
        for point in points:
            point = {k: tuple(v) if isinstance(v, list) else v for k, v in point.items()}
            saved = patched(point)
            try:
                tally = score(built[variant], articles, fit)
            finally:
                patched(saved)
            r = tally.report()
            results.append((r.hit_at_1 + r.highlight_at_1 * 0.5, point, tally))
            print(line(f"{variant} fit {point}", tally), flush=True)
        results.sort(key=lambda item: -item[0])
        for _, point, tally in results[: args.top]:
            saved = patched(point)
            try:
                checked = score(built[variant], articles, held)
                print(line(f"{variant} FIT {point}", tally), flush=True)
                print(line(f"{variant} HELD {point}", checked), flush=True)
                print(line(f"{variant} ALL {point}", combined(tally, checked)), flush=True)
            finally:
                patched(saved)


if __name__ == "__main__":
    main()
