"""The sentence splitter before and after, side by side in one run: retrieval quality (hit@k,
highlight@1) on SQuAD and on the article's question set, build-time speed (sentences/s) and
pathological input (long runs of dots and spaces).

    .venv/bin/python benchmarks/sentence_splitting.py [--baseline REV] [--every N]
        [--squad ../shared/data/squad/dev-v1.1.json] [--copies N]

``baseline`` is ``index/sentences.py`` as committed at REV (read with ``git show``), ``current``
the working tree's. Everything else (chunker, model, search) is the production code; each
splitter in turn is what the chunker calls. Embeddings are cached by text, so a sentence both
splitters find is embedded once (the figures are unaffected: the same text, the same vector).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import index.ingest.chunking  # noqa: E402
from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.build.builder import assemble_corpus  # noqa: E402
from index.evaluation import Tally, evaluate, load_jsonl, load_squad  # noqa: E402
from index.ingest.documents import DocumentSet, load_documents, parse_document  # noqa: E402
from index.ingest.sentences import split_sentences  # noqa: E402
from index.query.search import make_searcher  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
ARTICLE = ROOT / "tests" / "data" / "article" / "north-korea-allied-coordination.txt"
ARTICLE_QUESTIONS = ROOT / "tests" / "data" / "article_questions.jsonl"
K = 5
Splitter = Callable[..., list[tuple[int, int]]]


class CachedEncoder:
    """An encoder that embeds each distinct text once (build texts and questions alike)."""

    def __init__(self, encoder, query_encoder):
        self.spec = encoder.spec
        self._encoder = encoder
        self._query_encoder = query_encoder
        self._vectors: dict[str, np.ndarray] = {}
        self._queries: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], progress=None) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, self._encoder.encode(missing), strict=True):
                self._vectors[text] = vector
        if progress is not None:
            progress(len(texts))
        return np.stack([self._vectors[t] for t in texts]) if texts else self._encoder.encode([])

    def encode_query(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self._queries[text] = self._query_encoder.encode_query(text)
        return self._queries[text]


def baseline_splitter(revision: str) -> Splitter:
    """``split_sentences`` of ``index/sentences.py`` as committed at ``revision``."""
    source = subprocess.run(
        ["git", "show", f"{revision}:index/sentences.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    module = types.ModuleType("baseline_sentences")
    exec(compile(source, f"{revision}:index/sentences.py", "exec"), module.__dict__)
    return module.split_sentences


def splitting(splitter: Splitter):
    """Context: the chunker splits with ``splitter``."""

    class _Swap:
        def __enter__(self):
            self.saved = index.ingest.chunking.split_sentences
            index.ingest.chunking.split_sentences = splitter

        def __exit__(self, *_):
            index.ingest.chunking.split_sentences = self.saved

    return _Swap()


def quality(
    splitters: dict[str, Splitter], engine: Engine, squad: Path, every: int
) -> tuple[dict[str, Tally], dict[str, Tally], dict[str, int]]:
    """Article question set and SQuAD articles (every ``every``-th), splitters taking turns."""
    encoder = CachedEncoder(engine.build_encoder, engine.query_encoder)
    chunker = engine.chunker()
    article_tallies, squad_tallies = {}, {}
    sentences = dict.fromkeys(splitters, 0)
    documents = load_documents(ROOT / "tests" / "data" / "article")
    questions = load_jsonl(ARTICLE_QUESTIONS)
    for name, splitter in splitters.items():
        with splitting(splitter):
            corpus, _, _ = assemble_corpus(documents, encoder, chunker)
        article_tallies[name] = evaluate(make_searcher(corpus, encoder).search, questions, K)
        squad_tallies[name] = Tally()
    articles = load_squad(squad)[::every]
    for number, article in enumerate(articles, start=1):
        document = parse_document(f"{article.title}.txt", article.text())
        for name, splitter in splitters.items():
            with splitting(splitter):
                corpus, _, _ = assemble_corpus(DocumentSet((document,)), encoder, chunker)
            sentences[name] += len(corpus.sentence_vectors)
            searcher = make_searcher(corpus, encoder)
            evaluate(searcher.search, article.questions, K, tally=squad_tallies[name])
        print(f"  article {number}/{len(articles)}: {article.title}", file=sys.stderr, flush=True)
    return article_tallies, squad_tallies, sentences


def speed(splitters: dict[str, Splitter], copies: int, repeats: int = 5) -> dict[str, float]:
    """Median sentences/s over the article's paragraphs repeated ``copies`` times."""
    text = ARTICLE.read_text(encoding="utf-8")
    document = parse_document(ARTICLE.name, text)
    paragraphs = [(p.start, p.end) for p in document.paragraphs] * copies
    rates: dict[str, list[float]] = {name: [] for name in splitters}
    for _ in range(repeats):
        for name, splitter in splitters.items():
            started = time.perf_counter()
            count = sum(len(splitter(text, s, e)) for s, e in paragraphs)
            rates[name].append(count / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in rates.items()}


def pathological(splitters: dict[str, Splitter]) -> list[tuple[str, str, int, float]]:
    """Seconds to split runs of dots, spaces and '. ' (larger sizes only while a run took < 2 s)."""
    rows = []
    for name, splitter in splitters.items():
        for label, unit in (("dots", "."), ("spaces", " "), ("'. ' pairs", ". ")):
            for size in (10_000, 40_000, 1_000_000, 4_000_000):
                text = unit * (size // len(unit))
                started = time.perf_counter()
                splitter(text)
                seconds = time.perf_counter() - started
                rows.append((name, label, size, seconds))
                if seconds > 2:
                    break
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision of the old splitter")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--every", type=int, default=1, help="every N-th SQuAD article (1: all)")
    parser.add_argument("--copies", type=int, default=50, help="article copies for speed")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    splitters = {"baseline": baseline_splitter(args.baseline), "current": split_sentences}

    print(f"| splitter | sentences/s (article x {args.copies}) |\n| --- | --- |")
    for name, rate in speed(splitters, args.copies).items():
        print(f"| {name} | {rate:,.0f} |")
    print("\n| splitter | input | characters | seconds |\n| --- | --- | --- | --- |")
    for name, label, size, seconds in pathological(splitters):
        print(f"| {name} | {label} | {size:,} | {seconds:.3f} |")
    if args.skip_quality:
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(_env_file=None, index_dir=Path(scratch) / "index")  # type: ignore[call-arg]
        article, squad, sentences = quality(splitters, Engine(settings), args.squad, args.every)
    print(
        "\n| splitter | set | questions | hit@1 | hit@5 | MRR | highlight@1 | sentences |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    for label, tallies in (("article", article), ("SQuAD", squad)):
        for name, tally in tallies.items():
            r = tally.report()
            count = sentences[name] if label == "SQuAD" else ""
            print(
                f"| {name} | {label} | {r.questions} | {r.hit_at_1:.4f} | {r.hit_at_5:.4f} | "
                f"{r.mrr:.4f} | {r.highlight_at_1:.4f} | {count} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
