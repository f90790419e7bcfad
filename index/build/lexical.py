"""Lexical (BM25) search over chunks and over sentences, with English stop words and stemming.

bm25s gives sparse-matrix BM25 that scores a whole corpus in microseconds per query term,
and PyStemmer's Snowball stemmer matches "visited" with "visit"; both beat hand-written code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import bm25s

K1 = 0.9
B = 0.4
METHOD = "lucene"
# Question words carry no content: dropping them from queries (not from documents) helps.
QUESTION_WORDS = (
    "what which who whom whose when where why how did does do were was is are has have had "
    "many much"
).split()


def _import_bm25s() -> Any:  # the bm25s module (it ships no types)
    """bm25s sets its own logger to DEBUG on import; give control back to the application."""
    import logging

    import bm25s

    logger = logging.getLogger("bm25s")
    if logger.level == logging.DEBUG and not getattr(logger, "_citebot_reset", False):
        logger.setLevel(logging.NOTSET)
        logger._citebot_reset = True  # type: ignore[attr-defined]  # our marker on its logger
    return bm25s


def _stemmer() -> Any:  # a Stemmer.Stemmer (PyStemmer ships no types)
    import Stemmer

    return Stemmer.Stemmer("english")


class LexicalIndex:
    """Two BM25 indexes: one over chunk texts, one over sentence texts."""

    def __init__(self, chunks: bm25s.BM25, sentences: bm25s.BM25):
        self.chunks = chunks
        self.sentences = sentences
        self._stemmer = _stemmer()
        from bm25s.stopwords import STOPWORDS_EN

        self._query_stopwords = list(STOPWORDS_EN) + QUESTION_WORDS

    @classmethod
    def build(cls, chunk_texts: list[str], sentence_texts: list[str]) -> LexicalIndex:
        """Index the given texts (already normalised for search)."""
        return cls(_bm25(chunk_texts), _bm25(sentence_texts))

    @property
    def parameters(self) -> dict[str, object]:
        """What the manifest records."""
        return {
            "k1": K1,
            "b": B,
            "method": METHOD,
            "stemmer": "snowball-english",
            "stopwords": "en",
        }

    def query_terms(self, question: str) -> list[str]:
        """Stemmed content words of a question."""
        return query_terms(question, self._stemmer, self._query_stopwords)

    def chunk_scores(self, terms: list[str]) -> np.ndarray:
        """BM25 of every chunk, float32[n]."""
        return _scores(self.chunks, terms)

    def sentence_scores(self, terms: list[str], rows: np.ndarray | None = None) -> np.ndarray:
        """BM25 of every sentence, or of the sentences ``rows`` only: a binary search in each
        term's postings instead of scoring millions of sentences (same values)."""
        if rows is None:
            return _scores(self.sentences, terms)
        return _scores_of_rows(self.sentences, terms, rows)

    def save(self, directory: Path) -> None:
        """Write both indexes under ``directory``."""
        self.chunks.save(str(directory / "lexical-chunks"), show_progress=False)
        self.sentences.save(str(directory / "lexical-sentences"), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read both indexes from ``directory`` (memory-mapped: pages are read as queried).

        Chunk postings are read whole (sequential); sentence postings by binary search, so
        read-ahead is switched off for those."""
        from index.build.chunk_table import random_access

        bm25s = _import_bm25s()
        chunks = bm25s.BM25.load(str(directory / "lexical-chunks"), mmap=True, show_progress=False)
        sentences = bm25s.BM25.load(
            str(directory / "lexical-sentences"), mmap=True, show_progress=False
        )
        for name in ("indices", "data"):
            random_access(sentences.scores[name])
        return cls(chunks, sentences)


def index_terms(texts: list[str]) -> list[list[str]]:
    """The BM25 terms of each text as indexed (English stop words dropped, Snowball-stemmed):
    what another engine must index to score as this one does."""
    bm25s = _import_bm25s()
    tokens = bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [list(terms) for terms in tokens]


def query_terms(
    question: str, stemmer: Any = None, stopwords: list[str] | None = None
) -> list[str]:
    """The BM25 terms of a question: stemmed content words (question words dropped too)."""
    bm25s = _import_bm25s()
    if stopwords is None:
        from bm25s.stopwords import STOPWORDS_EN

        stopwords = list(STOPWORDS_EN) + QUESTION_WORDS
    tokens = bm25s.tokenize(
        [question],
        stopwords=stopwords,
        stemmer=stemmer or _stemmer(),
        return_ids=False,
        show_progress=False,
    )
    return list(tokens[0])


def _bm25(texts: list[str]) -> bm25s.BM25:
    bm25s = _import_bm25s()

    retriever = bm25s.BM25(k1=K1, b=B, method=METHOD)
    tokens = index_terms(texts)
    # bm25s cannot index an empty vocabulary; a corpus of only stop words still gets one term.
    if not any(tokens):
        tokens = [["\0"]] * len(texts)
    retriever.index(tokens, show_progress=False)
    return retriever


def _postings(retriever: bm25s.BM25, terms: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(document rows, BM25 contributions) of each known query term, repeats kept. bm25s
    stores its index as a CSC matrix: each term's rows are sorted."""
    vocabulary = retriever.vocab_dict
    scores = retriever.scores
    indptr, indices, data = scores["indptr"], scores["indices"], scores["data"]
    found = []
    for term in terms:
        if term in vocabulary:
            token = vocabulary[term]
            start, end = int(indptr[token]), int(indptr[token + 1])
            found.append((indices[start:end], data[start:end]))
    return found


def _scores(retriever: bm25s.BM25, terms: list[str]) -> np.ndarray:
    size = retriever.scores["num_docs"]
    postings = _postings(retriever, terms)
    if not postings:
        return np.zeros(size, dtype=np.float32)
    rows = np.concatenate([r for r, _ in postings])
    weights = np.concatenate([w for _, w in postings])
    return np.bincount(rows, weights=weights, minlength=size).astype(np.float32)


def _scores_of_rows(retriever: bm25s.BM25, terms: list[str], rows: np.ndarray) -> np.ndarray:
    result = np.zeros(len(rows), dtype=np.float64)  # summed as bincount does, then rounded
    for posted, weights in _postings(retriever, terms):
        if len(posted) == 0:
            continue
        at = np.minimum(np.searchsorted(posted, rows), len(posted) - 1)
        hit = posted[at] == rows
        result[hit] += weights[at[hit]]
    return result.astype(np.float32)
