"""Milvus backend: how to score the candidates' sentences, measured side by side.

    .venv/bin/python benchmarks/milvus_sentence_scores.py [--paragraphs 2000] [--questions 200]

A question's ~200-400 candidate chunks have ~1,000-2,000 sentences whose cosine to the question
the fusion needs. Two ways, interleaved per question on a Milvus Lite server over loopback:
(A) one dense search on the sentences collection filtered to the candidates' chunks (what
``MilvusIndex`` does), (B) fetching those sentences' vectors with a query and multiplying here.
For reference, (C) the sentences' BM25 search, (D) the whole ``candidates`` call, and (E) the
same call scoring every chunk and sentence (what happens below the full-scoring limit).

Chunks are SQuAD v1.1 dev paragraphs (one document and one chunk each, real text and BM25
terms); vectors are random unit vectors (search cost does not depend on their values).
Except in (E), candidates are the top 200 of each retriever whatever the corpus size (the
local index's full-scoring limit is lowered to 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.backends import local  # noqa: E402
from index.backends.base import LexicalQuery  # noqa: E402
from index.backends.milvus import MilvusStore  # noqa: E402
from index.build.chunk_table import DocumentRecord  # noqa: E402
from index.build.corpus import Corpus  # noqa: E402
from index.build.lexical import LexicalIndex  # noqa: E402
from index.build.vector_index import make_vector_index  # noqa: E402
from index.evaluation import percentile  # noqa: E402
from index.ingest.chunking import Chunk, normalize_for_search  # noqa: E402
from index.ingest.sentences import split_sentences  # noqa: E402
from tests.servers.milvus import MilvusLiteServer  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
DIMENSION = 384


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def corpus_of(path: Path, paragraphs: int) -> tuple[Corpus, list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    texts, questions = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            if len(texts) < paragraphs:
                texts.append(paragraph["context"])
                questions.extend(q["question"] for q in paragraph["qas"])
    documents, chunks = {}, []
    for i, text in enumerate(texts):
        path_name = f"p{i:05d}.txt"
        documents[path_name] = DocumentRecord(path_name, f"{i:064x}", text)
        spans = tuple(split_sentences(text)) or ((0, len(text)),)
        chunks.append(Chunk(f"{i:016x}", path_name, None, 1, 0, len(text), text, spans))
    chunk_texts = [normalize_for_search(c.text) for c in chunks]
    sentence_texts = [normalize_for_search(c.text[s:e]) for c in chunks for s, e in c.sentences]
    chunk_vectors = unit(len(chunks), 1)
    vector_index, parameters = make_vector_index(chunk_vectors, "flat")
    lexical = LexicalIndex.build(chunk_texts, sentence_texts)
    manifest = {"format_version": 3, "model": {"name": "random", "weights_sha256": "0" * 64,
                "dimension": DIMENSION}, "chunker": {}, "vector_index": parameters,
                "counts": {"documents": len(texts), "chunks": len(chunks),
                           "sentences": len(sentence_texts)}, "lexical": lexical.parameters}
    corpus = Corpus(documents, chunks, vector_index, unit(len(sentence_texts), 2),
                    np.zeros((len(sentence_texts), 3), np.uint8), manifest, lexical,
                    exact_chunk_vectors=chunk_vectors)
    return corpus, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paragraphs", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    args = parser.parse_args()
    local.FULL_SCORING_LIMIT = 0
    corpus, questions = corpus_of(args.squad, args.paragraphs)
    with tempfile.TemporaryDirectory() as folder:
        server = MilvusLiteServer(Path(folder) / "data")
        server.start()
        try:
            store = MilvusStore(server.uri, None, "bench", Path(folder) / "locks")
            started = time.perf_counter()
            store.save(corpus)
            saved = time.perf_counter() - started
            model = SimpleNamespace(name="random", weights_hash="0" * 64)
            index = store.load(model, {})  # type: ignore[arg-type]
            timings: dict[str, list[float]] = {k: [] for k in "ABCDE"}
            sizes = []
            vectors = unit(args.questions, 3)
            for question, vector in zip(questions[: args.questions], vectors, strict=False):
                lexical = LexicalQuery.of(index.query_terms(question))
                local.FULL_SCORING_LIMIT = 5_000  # every chunk scored, as below the limit
                clock = time.perf_counter()
                index.candidates(vector, lexical, 200)
                timings["E"].append(time.perf_counter() - clock)
                local.FULL_SCORING_LIMIT = 0
                clock = time.perf_counter()
                found = index.candidates(vector, lexical, 200)
                timings["D"].append(time.perf_counter() - clock)
                rows = found.rows
                counts = np.diff(np.append(found.starts, len(found.sentence_rows)))
                sizes.append((len(rows), len(found.sentence_rows)))
                clock = time.perf_counter()
                searched, _ = index._sentence_dense(rows, counts, found.sentence_rows, vector)
                timings["A"].append(time.perf_counter() - clock)
                clock = time.perf_counter()
                fetched = index._sentence_vectors(found.sentence_rows, ["types"])
                matrix = np.array([fetched[int(r)][0] for r in found.sentence_rows], np.float32)
                computed = matrix @ vector
                timings["B"].append(time.perf_counter() - clock)
                assert np.allclose(searched, computed, atol=1e-5)
                clock = time.perf_counter()
                index._sentence_sparse(rows, counts, found.sentence_rows,
                                       index._sparse_query(lexical, weighted=False))
                timings["C"].append(time.perf_counter() - clock)
        finally:
            server.stop()
    chunks = statistics.median(s[0] for s in sizes)
    sentences = statistics.median(s[1] for s in sizes)
    print(f"{len(corpus.chunks)} chunks, {len(corpus.sentence_vectors)} sentences; save "
          f"{saved:.1f} s; per question median {chunks:.0f} candidates, {sentences:.0f} "
          f"sentences; {len(sizes)} questions\n")
    print("| step | p50 ms | p95 ms | ratio to A (p50) |\n| --- | --- | --- | --- |")
    names = {"A": "sentence cosines: filtered search (used)",
             "B": "sentence cosines: fetch vectors + numpy",
             "C": "sentence BM25: filtered sparse search",
             "D": "whole candidates() call",
             "E": "whole candidates() call, every chunk scored (the default below 5,000)"}
    base = statistics.median(timings["A"])
    for key, name in names.items():
        values = sorted(v * 1000 for v in timings[key])
        print(f"| {name} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} | "
              f"{statistics.median(timings[key]) / base:.2f} |")


if __name__ == "__main__":
    main()
