"""Milvus Lite pieces for benchmarks/backends.py: a ``milvus-lite server`` on loopback, and
(BENCHMARK ONLY) Milvus Lite's own BM25 function as the lexical retriever of a MilvusIndex.

citebot's Milvus backend stores citebot-computed BM25 weights (stemmed, stop words dropped,
one IDF per build) as plain sparse vectors, so its scores equal the local index's. To measure
what that choice is worth, ``AnalyzerBM25Index`` keeps everything of a built MilvusIndex (dense
search, sentences, passages) but takes the chunks' and sentences' BM25 scores from extra
collections whose sparse field Milvus fills itself with a BM25 Function over an analysed text
field, queried with text:

- ``fn-raw``: the chunk's own text, Lite's ``standard`` analyzer (``\\w+``, lower-cased: no
  stemming, no stop words), queried with the question as asked: Lite's BM25 out of the box;
- ``fn-raw-stop``: the same plus a ``stop`` filter with citebot's English stop words (question
  words dropped from the query too, as citebot does): the ``english`` analyzer of real Milvus
  without its stemmer, i.e. what only stemming separates from ``fn-stemmed``;
- ``fn-stemmed``: citebot's own BM25 terms (bm25s tokens, stop words dropped, Snowball-stemmed)
  written as the field's text, queried with citebot's question terms: pre-stemmed text through
  Lite's BM25, which is what real Milvus's ``english`` analyzer approximates server-side.

The backend has no switch for this (its BM25 is client-computed by design); these collections
are written here, beside the build, and dropped with the Milvus data at the end of the run.
Only small indexes (every chunk a candidate: ``Candidates.complete``) are supported.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from tests.servers.milvus import MilvusLiteServer

VARIANTS = ("fn-stemmed", "fn-raw-stop", "fn-raw")
ANALYZER_WORD = re.compile(r"\w+", re.UNICODE)  # Lite's standard analyzer (analyzer/standard.py)
ENGLISH_ANALYZER = {"type": "english"}


class LiteServer(MilvusLiteServer):
    """The tests' ``milvus-lite server`` on loopback, timed, with its memory."""

    def start(self) -> float:  # type: ignore[override]
        """Start it and wait for its "listening" line; returns the seconds that took."""
        started = time.perf_counter()
        super().start()
        return time.perf_counter() - started

    def rss(self) -> int:
        """The server process's resident memory (bytes), 0 when not running."""
        import psutil

        if self.process is None or self.process.poll() is not None:
            return 0
        return int(psutil.Process(self.process.pid).memory_info().rss)


def english_analyzer_refusal(client: Any, name: str) -> str:
    """What Milvus Lite answers when asked for the ``english`` analyzer (real Milvus's
    standard tokenizer + lowercase + Snowball stemmer + English stop words)."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    fields = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    fields.add_field("row", DataType.INT64, is_primary=True)
    fields.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True,
                     analyzer_params=ENGLISH_ANALYZER)
    fields.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    fields.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    try:
        client.create_collection(name, schema=fields)
    except Exception as error:  # the refusal is what we want to show
        return f"refused: {getattr(error, 'message', None) or error}"
    client.drop_collection(name)
    return "accepted (this Milvus has the english analyzer)"


def _stop_words() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return list(STOPWORDS_EN)


class AnalyzerBM25Index:
    """BENCHMARK ONLY: ``inner`` (a MilvusIndex) with its BM25 scores replaced by Milvus Lite's
    BM25 function over analysed text in two extra collections (see the module docstring)."""

    def __init__(self, inner: Any, client: Any, name: str, variant: str, corpus: Any) -> None:
        from index.build.lexical import K1, QUESTION_WORDS, B, index_terms, query_terms
        from index.ingest.chunking import normalize_for_search

        if variant not in VARIANTS:
            raise ValueError(variant)
        self.inner = inner
        self.manifest = inner.manifest
        self.client = client
        self.variant = variant
        self._question_words = set(QUESTION_WORDS)
        self._citebot_terms = query_terms
        stop = set(_stop_words())
        self._stop = stop if variant == "fn-raw-stop" else set()
        table = corpus.table
        chunk_texts = [normalize_for_search(table.text(i)) for i in range(len(table))]
        sentence_texts = [normalize_for_search(t) for t in table.sentence_texts()]
        if variant == "fn-stemmed":
            chunk_texts = [" ".join(terms) for terms in index_terms(chunk_texts)]
            sentence_texts = [" ".join(terms) for terms in index_terms(sentence_texts)]
            analyzer: dict[str, Any] = {"tokenizer": "standard"}
        elif variant == "fn-raw-stop":
            analyzer = {"tokenizer": "standard",
                        "filter": [{"type": "stop", "stop_words": sorted(stop)}]}
        else:
            analyzer = {"tokenizer": "standard"}
        self._vocabulary = {t for text in chunk_texts for t in self._analyse(text)}
        self._chunks = f"{name}_{variant.replace('-', '_')}_chunks"
        self._sentences = f"{name}_{variant.replace('-', '_')}_sentences"
        self._sentence_count = len(sentence_texts)
        params = {"bm25_k1": K1, "bm25_b": B}  # citebot's, so only the terms differ
        for collection, texts in ((self._chunks, chunk_texts), (self._sentences, sentence_texts)):
            _create(client, collection, analyzer, params)
            rows = [{"row": i, "text": text or "\0"} for i, text in enumerate(texts)]
            for first in range(0, len(rows), 1000):
                client.insert(collection, rows[first : first + 1000])
            client.flush(collection)  # one segment: IDF over the whole collection
            client.load_collection(collection)

    def _analyse(self, text: str) -> list[str]:
        tokens = ANALYZER_WORD.findall(text.lower())
        return [t for t in tokens if t not in self._stop] if self._stop else tokens

    # -- the SearchIndex protocol: BM25 parts replaced, the rest delegated ----------------

    @property
    def chunk_count(self) -> int:
        """Number of chunks."""
        return int(self.inner.chunk_count)

    @property
    def has_lexical(self) -> bool:
        """Always: BM25 comes from the extra collections."""
        return True

    def query_terms(self, text: str) -> list[str]:
        """The question's terms as this variant's analyzer sees them."""
        if self.variant == "fn-stemmed":
            return list(self._citebot_terms(text))
        terms = self._analyse(text)
        if self.variant == "fn-raw-stop":
            terms = [t for t in terms if t not in self._question_words]
        return terms

    def known_terms(self, terms: Sequence[str]) -> list[bool]:
        """Whether each term is in the chunks' analysed vocabulary."""
        return [term in self._vocabulary for term in terms]

    def candidates(self, vector: np.ndarray, lexical: Any, width: int) -> Any:
        """The inner index's dense candidates (all chunks), with Lite-BM25 scores."""
        found = self.inner.candidates(vector, None, width)
        if not found.complete:
            raise NotImplementedError("AnalyzerBM25Index handles small indexes only")
        if lexical is None or not lexical.parts:
            return found
        chunk_scores = np.zeros(len(found.rows), dtype=np.float32)
        for terms, weight in lexical.parts:
            scores = self._scores(self._chunks, terms, self.chunk_count)
            chunk_scores += np.float32(weight) * scores[found.rows]
        sentence_scores = self._scores(self._sentences, lexical.terms, self._sentence_count)
        return dataclasses.replace(
            found, lexical=chunk_scores, sentence_lexical=sentence_scores[found.sentence_rows]
        )

    def _scores(self, collection: str, terms: Sequence[str], total: int) -> np.ndarray:
        """BM25 of every row (0 where no term matches), from one text search."""
        scores = np.zeros(total, dtype=np.float32)
        if not terms or total == 0:
            return scores
        counts = Counter(terms)
        query = " ".join(t for t, n in counts.items() for _ in range(n))
        hits = self.client.search(
            collection, data=[query], anns_field="sparse", limit=min(total, 16_384),
            output_fields=["row"], search_params={"metric_type": "BM25"},
        )[0]
        for hit in hits:
            scores[int(hit["row"])] = max(0.0, -float(hit["distance"]))  # Lite: -score
        return scores

    def chunk_vectors(self, rows: np.ndarray) -> np.ndarray:
        """Delegated."""
        return self.inner.chunk_vectors(rows)

    def sentence_similarities(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Delegated."""
        return self.inner.sentence_similarities(rows, vector)

    def stored_chunks(self, rows: Sequence[int]) -> list[Any]:
        """Delegated."""
        return self.inner.stored_chunks(rows)

    def documents_overview(self) -> list[Any]:
        """Delegated."""
        return self.inner.documents_overview()


def _create(client: Any, name: str, analyzer: dict[str, Any], params: dict[str, float]) -> None:
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    fields = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    fields.add_field("row", DataType.INT64, is_primary=True)
    fields.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params=analyzer)
    fields.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    fields.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    index = client.prepare_index_params()
    # pymilvus 3.0.2 sends an index's params as one key-value pair each (bm25_k1=0.9, ...);
    # Milvus Lite 3.2.2 reads them only from a JSON "params" pair and silently ignores the
    # others (it then scores with k1 1.5, b 0.75). Nested once, they arrive as Lite wants them
    # (describe_index then shows them, and scores equal bm25s's times k1 + 1).
    index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params={"params": params})
    client.create_collection(name, schema=fields, consistency_level="Strong")
    client.create_index(name, index, sync=False)
    applied = client.describe_index(name, "sparse").get("params", {})
    if {key: float(applied.get(key, "nan")) for key in params} != params:
        raise SystemExit(f"Milvus Lite did not take the BM25 parameters {params}: {applied}")
