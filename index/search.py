"""Searching a Corpus: question -> Answer with cited, highlighted passages.

Retrieval is a list of retrievers whose per-chunk scores are combined; dense (FAISS) retrieval
is the first. A second retriever (e.g. lexical) slots in by implementing ``Retriever``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.answer import Answer, Citation, Passage
from index.corpus import Corpus
from index.embedding import Embedder
from index.question import DEFAULT_MAX_CHARS, prepare_question

CANDIDATES = 50
DEFAULT_MIN_SCORE = 0.30


@dataclass(frozen=True, slots=True)
class Query:
    """A prepared question and its embedding, float32[1, d]."""

    text: str
    vector: np.ndarray


class Retriever(Protocol):
    """Scores candidate chunks for a query."""

    def retrieve(self, query: Query, limit: int) -> dict[int, float]:
        """Up to ``limit`` best chunks as {chunk index: score}, higher is better."""
        ...


class DenseRetriever:
    """Cosine similarity of the question to each chunk, via the corpus's FAISS index."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus

    def retrieve(self, query: Query, limit: int) -> dict[int, float]:
        """Nearest chunks by inner product of unit vectors."""
        limit = min(limit, self.corpus.vector_index.ntotal)
        if limit == 0:
            return {}
        scores, rows = self.corpus.vector_index.search(query.vector, limit)
        return {int(r): float(s) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0}


class Searcher:
    """Answers questions from a Corpus. Read-only after construction; safe to share."""

    def __init__(
        self,
        corpus: Corpus,
        embedder: Embedder,
        retrievers: list[Retriever] | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        max_question_chars: int = DEFAULT_MAX_CHARS,
    ):
        self.corpus = corpus
        self.embedder = embedder
        self.retrievers = retrievers if retrievers is not None else [DenseRetriever(corpus)]
        self.min_score = min_score
        self.max_question_chars = max_question_chars

    def search(self, question: str, k: int = 3, offset: int = 0) -> Answer:
        """The ``k`` best passages after skipping ``offset``; raises QuestionError on bad input."""
        prepared = prepare_question(question, self.max_question_chars)
        query = Query(prepared.text, self.embedder.encode_query(prepared.text))
        ranked = self.rank(query, max(CANDIDATES, k + offset))
        found = bool(ranked) and ranked[0][1] >= self.min_score
        passages = tuple(
            self._passage(query, row, score) for row, score in ranked[offset : offset + k]
        )
        return Answer(prepared.text, passages, found=found, notices=prepared.notices)

    def rank(self, query: Query, limit: int) -> list[tuple[int, float]]:
        """Chunk rows with combined scores, best first (mean of each retriever's score)."""
        combined: dict[int, float] = {}
        for retriever in self.retrievers:
            for row, score in retriever.retrieve(query, limit).items():
                combined[row] = combined.get(row, 0.0) + score / len(self.retrievers)
        return sorted(combined.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def best_sentence(self, query: Query, row: int) -> tuple[int, int]:
        """Absolute span of the chunk's sentence closest to the question."""
        chunk = self.corpus.chunks[row]
        first, last = self.corpus.sentence_offsets[row], self.corpus.sentence_offsets[row + 1]
        if last - first <= 1:
            return chunk.sentences[0] if chunk.sentences else (chunk.start, chunk.end)
        similarities = self.corpus.sentence_vectors[first:last] @ query.vector[0]
        return chunk.sentences[int(np.argmax(similarities))]

    def _passage(self, query: Query, row: int, score: float) -> Passage:
        chunk = self.corpus.chunks[row]
        start, end = self.best_sentence(query, row)
        citation = Citation(chunk.document, chunk.section, chunk.paragraph, chunk.start, chunk.end)
        return Passage(
            chunk.id, chunk.text, citation, score, (start - chunk.start, end - chunk.start)
        )


def make_searcher(
    corpus: Corpus, embedder: Embedder, max_question_chars: int = DEFAULT_MAX_CHARS
) -> Searcher:
    """The production searcher for a corpus (used by the app and by evaluation alike)."""
    return Searcher(corpus, embedder, max_question_chars=max_question_chars)
