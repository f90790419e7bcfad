"""Searching a Corpus: question -> Answer with cited, highlighted passages.

Hybrid retrieval: each *signal* scores every candidate chunk and every sentence of those chunks
(dense: cosine of MiniLM vectors; lexical: BM25 with stemming). Scores are z-normalised over
the candidates and fused; a chunk also gets the evidence of its best sentence, so a passage
whose one sentence answers the question ranks high even if the rest is about something else.
A new retriever slots in as one more Signal with its weights.

Weights were tuned on half of SQuAD v1.1 dev and checked on the other half (docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.answer import Answer, Citation, Passage
from index.chunking import Chunk
from index.conversation import (
    Turn,
    content_words,
    fuse_scores,
    fuse_vectors,
    read_with_history,
)
from index.corpus import Corpus
from index.documents import page_of
from index.evidence import MIN_SIMILARITY, found_in_source, gather
from index.links import passage_link
from index.question import DEFAULT_MAX_CHARS, prepare_question
from index.question_types import TYPES, expected_type

# Every chunk and sentence is scored up to this many chunks; above it only the candidates from
# the vector index and from BM25 are, and normalisation is over the candidates. Scoring all
# sentences costs ~0.23 us each (16 ms p50 at 10k chunks, 43 ms at 40k), candidates ~10 ms
# flat; at 40k chunks candidates found the answer in the top 5 for 0.880 of SQuAD questions
# against 0.887 for full scoring (benchmarks/scale_end_to_end.py index, docs/benchmarks.md).
FULL_SCORING_LIMIT = 5_000
CANDIDATES = 200
# When the candidates hold fewer than k distinct passages (a collection full of copies of the
# same text), the pool is widened 8x at a time up to this many per retriever.
WIDENING = 8
MAX_CANDIDATES = 12_800
# "Not in the source" below this best-sentence cosine, or on weak lexical evidence above it
# (index/evidence.py).
DEFAULT_MIN_SIMILARITY = MIN_SIMILARITY
DUPLICATE_COSINE = 0.98
TYPE_WEIGHT = 0.5
BEST_SENTENCE_WEIGHT = 1.0
HIGHLIGHT_TYPE_WEIGHT = 1.0
HIGHLIGHT_PREVIOUS_WEIGHT = 0.2
# (chunk, sentence evidence, highlight) weights of each signal's z-scores.
DENSE_WEIGHTS = (1.0, 1.0, 1.0)
LEXICAL_WEIGHTS = (0.75, 0.5, 1.0)


class QueryEncoder(Protocol):
    """Embeds one question (sentence-transformers or its ONNX export)."""

    def encode_query(self, text: str) -> np.ndarray:
        """float32[1, d], unit length."""
        ...


class RecentQueries:
    """A query encoder that remembers its last ``size`` questions' vectors, so one question
    searched in several collections (a server's own and the shared one), or asked again for
    More, is embedded once. Thread-safe; the vectors it returns are read-only."""

    def __init__(self, encoder: QueryEncoder, size: int = 256) -> None:
        self.encoder = encoder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode_query(self, text: str) -> np.ndarray:
        """float32[1, d], unit length (from memory when ``text`` was embedded recently)."""
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
                return vector
        vector = self.encoder.encode_query(text)
        vector.flags.writeable = False
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector


@dataclass(frozen=True, slots=True)
class Query:
    """A prepared question and its embedding, float32[1, d]."""

    text: str
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class Signal:
    """One retriever's scores over the candidate chunks and their sentences, with its weights."""

    name: str
    chunk_scores: np.ndarray
    sentence_scores: np.ndarray
    chunk_weight: float
    sentence_weight: float
    highlight_weight: float


@dataclass(frozen=True, slots=True)
class LexicalScores:
    """A question's BM25 terms and the BM25 score of every chunk."""

    terms: list[str]
    chunks: np.ndarray


@dataclass(frozen=True, slots=True)
class Ranking:
    """Candidate chunks ordered best first, with fused scores and best-sentence rows."""

    rows: np.ndarray
    scores: np.ndarray
    best_sentences: np.ndarray
    max_similarity: float
    complete: bool = True  # every chunk was scored (else only candidates)


@dataclass(frozen=True, slots=True)
class Context:
    """A question read together with earlier turns: the fused query and BM25 scores, and the
    previous question (shown to the user)."""

    query: Query
    lexical_scores: LexicalScores | None
    previous: str


_BLAS_LIMITED = False


def use_one_blas_thread() -> None:
    """Questions are answered one at a time with small matrix-vector products: one BLAS thread
    is as fast when the machine is idle and about twice as fast when another process is busy
    (idle BLAS threads spin and steal the cores; see benchmarks/latency.py --what-if)."""
    global _BLAS_LIMITED
    if _BLAS_LIMITED:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _BLAS_LIMITED = True


class Searcher:
    """Answers questions from a Corpus. Read-only after construction; safe to share."""

    def __init__(
        self,
        corpus: Corpus,
        embedder: QueryEncoder,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
        max_question_chars: int = DEFAULT_MAX_CHARS,
        lexical: bool = True,
    ):
        self.corpus = corpus
        self.embedder = embedder
        self.min_similarity = min_similarity
        self.max_question_chars = max_question_chars
        self.lexical = lexical and corpus.lexical is not None
        use_one_blas_thread()

    def search(
        self, question: str, k: int = 3, offset: int = 0, history: Sequence[Turn] = ()
    ) -> Answer:
        """The ``k`` best passages after skipping ``offset``; raises QuestionError on bad input.

        ``history``: the conversation's earlier turns, most recent last; a question that depends
        on them is read together with them (``Answer.context`` then names the previous question).
        """
        prepared = prepare_question(question, self.max_question_chars)
        query = Query(prepared.text, self.embedder.encode_query(prepared.text))
        lexical_scores = self._lexical_scores(query)
        context = self.with_history(query, lexical_scores, history) if history else None
        if context is not None:
            query, lexical_scores = context.query, context.lexical_scores
        width = CANDIDATES
        while True:
            ranking = self.rank(query, width, lexical_scores)
            chosen = self._distinct(ranking, k + offset)
            if len(chosen) == k + offset or ranking.complete or width >= MAX_CANDIDATES:
                break
            width *= WIDENING
        chosen = chosen[offset:]
        passages = tuple(
            self._passage(query, int(ranking.rows[i]), float(ranking.scores[i]),
                          int(ranking.best_sentences[i]))
            for i in chosen
        )
        # A follow-up is judged with the words it was searched with (its own and the earlier
        # question's): judged on its own words alone, 43 % of the answerable follow-ups of
        # tests/data/article_dialogues.jsonl were flagged, against 4.5 % this way.
        lexical = self.corpus.lexical if self.lexical else None
        evidence = gather(ranking, lexical_scores, lexical)
        found = found_in_source(evidence, self.min_similarity)
        return Answer(
            prepared.text,
            passages,
            found=found,
            notices=prepared.notices,
            context=context.previous if context is not None else None,
        )

    def with_history(
        self, query: Query, lexical_scores: LexicalScores | None, history: Sequence[Turn]
    ) -> Context | None:
        """The question read together with the earlier turns when it depends on them
        (index/conversation.py decides and weighs), or None to answer it alone. The question's
        own text is kept in the query (it decides the expected answer type)."""
        own = self.rank(query, CANDIDATES, lexical_scores)
        own_words = content_words(query.text)
        known = self._known_words(own_words)
        words_in_sources = known is None or not own_words or any(known)
        names_unknown = known is not None and not all(known)
        reading = read_with_history(
            query.text, history, own.max_similarity, words_in_sources, names_unknown
        )
        if reading is None:
            return None
        earlier = [
            prepare_question(text, self.max_question_chars).text for text in reading.questions
        ]
        vectors = [self.embedder.encode_query(text) for text in earlier]
        fused = Query(query.text, fuse_vectors(query.vector, vectors, reading.weights))
        if lexical_scores is not None:
            scores = [self._lexical_scores(Query(text, fused.vector)) for text in earlier]
            others = [other for other in scores if other is not None]
            terms = list(lexical_scores.terms)
            for other in others:
                terms.extend(t for t in other.terms if t not in terms)
            chunks = [other.chunks for other in others]
            lexical_scores = LexicalScores(
                terms, fuse_scores(lexical_scores.chunks, chunks, reading.weights)
            )
        return Context(fused, lexical_scores, reading.context)

    def rank(
        self,
        query: Query,
        candidates: int = CANDIDATES,
        lexical_scores: LexicalScores | None = None,
    ) -> Ranking:
        """Score candidate chunks (up to ``candidates`` from each retriever, or every chunk of
        a corpus below FULL_SCORING_LIMIT) by fusing every signal; best first."""
        corpus = self.corpus
        if lexical_scores is None:
            lexical_scores = self._lexical_scores(query)
        rows = self._candidates(query, lexical_scores, candidates)
        complete = len(rows) == len(corpus.chunks)
        if rows.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Ranking(empty, np.zeros(0), empty, 0.0, complete)
        sentence_rows, starts = self._sentences_of(rows)
        signals = self._signals(query, rows, sentence_rows, lexical_scores)
        dense_sentences = signals[0].sentence_scores
        wanted = expected_type(query.text)
        types = (
            corpus.sentence_types[sentence_rows, TYPES.index(wanted)].astype(np.float32)
            if wanted
            else np.zeros(len(sentence_rows), dtype=np.float32)
        )
        evidence = TYPE_WEIGHT * types
        highlight = np.zeros(len(sentence_rows), dtype=np.float32)
        chunk_score = np.zeros(len(rows), dtype=np.float32)
        for signal in signals:
            sentence_z = _z(signal.sentence_scores)
            evidence = evidence + signal.sentence_weight * sentence_z
            highlight = highlight + signal.highlight_weight * sentence_z
            chunk_score = chunk_score + signal.chunk_weight * _z(signal.chunk_scores)
        chunk_score = chunk_score + BEST_SENTENCE_WEIGHT * np.maximum.reduceat(evidence, starts)
        same_chunk_as_previous = np.ones(len(sentence_rows), dtype=bool)
        same_chunk_as_previous[starts] = False
        previous = np.where(same_chunk_as_previous, np.roll(highlight, 1), 0.0)
        highlight = highlight + HIGHLIGHT_PREVIOUS_WEIGHT * previous + HIGHLIGHT_TYPE_WEIGHT * types
        best = _first_max_of_groups(highlight, starts)
        order = np.argsort(-chunk_score, kind="stable")
        return Ranking(
            rows=rows[order],
            scores=chunk_score[order],
            best_sentences=sentence_rows[best[order]],
            max_similarity=float(dense_sentences.max()),
            complete=complete,
        )

    def _known_words(self, words: list[str]) -> list[bool] | None:
        """For each of ``words``, whether a chunk holds it (its stemmed term is in the BM25
        vocabulary: a look-up, no scoring); None when there is no BM25 index."""
        if not self.lexical:
            return None
        lexical = self.corpus.lexical
        assert lexical is not None
        vocabulary = lexical.chunks.vocab_dict
        return [any(term in vocabulary for term in lexical.query_terms(w)) for w in words]

    def _lexical_scores(self, query: Query) -> LexicalScores | None:
        """The question's BM25 terms and the BM25 of every chunk (once per question), or None."""
        if not self.lexical:
            return None
        lexical = self.corpus.lexical
        assert lexical is not None
        terms = lexical.query_terms(query.text)
        return LexicalScores(terms, lexical.chunk_scores(terms))

    def _candidates(
        self, query: Query, lexical_scores: LexicalScores | None, candidates: int = CANDIDATES
    ) -> np.ndarray:
        corpus = self.corpus
        total = len(corpus.chunks)
        if total <= FULL_SCORING_LIMIT or candidates >= total:
            return np.arange(total, dtype=np.int64)
        _, found = corpus.vector_index.search(query.vector, candidates)
        rows = found[0][found[0] >= 0].astype(np.int64)
        if lexical_scores is not None:
            chunk_scores = lexical_scores.chunks
            # chunks containing a query term: far fewer than all (a boolean mask is ~6x faster
            # to scan than the float scores)
            matching = np.flatnonzero(chunk_scores > 0)
            if len(matching) > candidates:
                scores = chunk_scores[matching]
                best = np.argpartition(scores, len(scores) - candidates)[-candidates:]
                matching = matching[best]
            rows = np.concatenate([rows, matching])
        # One chunk per distinct text (copies score alike and would be skipped as duplicates
        # anyway): the first, i.e. the closest by vector, else the best by BM25.
        _, first = np.unique(corpus.table.text_key[rows], return_index=True)
        return np.sort(rows[first])

    def _sentences_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of the given chunks (grouped per chunk) and where each group starts."""
        offsets = self.corpus.sentence_offsets
        if len(rows) == len(self.corpus.chunks):
            return np.arange(offsets[-1], dtype=np.int64), offsets[:-1].copy()
        first = np.asarray(offsets[rows], dtype=np.int64)
        counts = np.asarray(offsets[rows + 1], dtype=np.int64) - first
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        sentence_rows = np.repeat(first - starts, counts) + np.arange(counts.sum())
        return sentence_rows.astype(np.int64), starts

    def _signals(
        self,
        query: Query,
        rows: np.ndarray,
        sentence_rows: np.ndarray,
        lexical_scores: LexicalScores | None,
    ) -> list[Signal]:
        corpus = self.corpus
        vector = query.vector[0]
        if len(rows) == len(corpus.chunks):
            dense_chunks = corpus.chunk_matrix @ vector
        else:
            dense_chunks = corpus.vector_index.reconstruct_batch(rows) @ vector
        whole = len(sentence_rows) == len(corpus.sentence_vectors)
        dense_sentences = corpus.sentence_similarities(None if whole else sentence_rows, vector)
        signals = [Signal("dense", dense_chunks, dense_sentences, *DENSE_WEIGHTS)]
        if lexical_scores is not None:
            lexical = corpus.lexical
            assert lexical is not None
            chunk_scores = lexical_scores.chunks
            if len(rows) < len(corpus.chunks):
                chunk_scores = chunk_scores[rows]
                sentence_scores = lexical.sentence_scores(lexical_scores.terms, sentence_rows)
            else:
                sentence_scores = lexical.sentence_scores(lexical_scores.terms)
            signals.append(Signal("lexical", chunk_scores, sentence_scores, *LEXICAL_WEIGHTS))
        return signals

    def _distinct(self, ranking: Ranking, wanted: int) -> list[int]:
        """Positions in the ranking of the first ``wanted`` chunks that are not near-duplicates
        of a chunk already chosen (same text, or almost the same vector)."""
        chosen: list[int] = []
        texts: set[int] = set()
        vectors: list[np.ndarray] = []
        keys = self.corpus.table.text_key
        for position, row in enumerate(ranking.rows):
            if len(chosen) == wanted:
                break
            text = int(keys[row])  # a hash of the text up to case and spacing
            if text in texts:
                continue
            vector = self.corpus.chunk_vector(int(row))
            if vectors and float(np.max(np.vstack(vectors) @ vector)) >= DUPLICATE_COSINE:
                continue
            chosen.append(position)
            texts.add(text)
            vectors.append(vector)
        return chosen

    def _passage(self, query: Query, row: int, score: float, sentence_row: int) -> Passage:
        chunk = self.corpus.chunks[row]
        local = sentence_row - int(self.corpus.sentence_offsets[row])
        start, end = chunk.sentences[local]
        citation = _citation_of(self.corpus, row, chunk)
        rows = np.array([sentence_row], dtype=np.int64)
        similarity = float(self.corpus.sentence_similarities(rows, query.vector[0])[0])
        return Passage(
            chunk.id,
            chunk.text,
            citation,
            score,
            (start - chunk.start, end - chunk.start),
            similarity,
        )


def _citation_of(corpus: Corpus, row: int, chunk: Chunk) -> Citation:
    """The citation of chunk ``row``: its place, page(s) and link."""
    documents = corpus.documents
    document = int(corpus.table.document[row])
    pages = documents.pages(document)  # type: ignore[attr-defined]
    page = page_end = None
    if pages:
        page = page_of(pages, chunk.start)
        page_end = page_of(pages, max(chunk.start, chunk.end - 1))
    url = passage_link(
        documents.url(document), documents.format(document), chunk.text, page  # type: ignore[attr-defined]
    )
    return Citation(
        chunk.document, chunk.section, chunk.paragraph, chunk.start, chunk.end, page, page_end, url
    )


def _first_max_of_groups(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the first largest value of each group (groups begin at ``starts``)."""
    values = np.nan_to_num(values, nan=-np.inf)
    counts = np.diff(np.append(starts, len(values)))
    group = np.repeat(np.arange(len(starts)), counts)
    is_max = values == np.repeat(np.maximum.reduceat(values, starts), counts)
    hits = np.flatnonzero(is_max)
    _, first = np.unique(group[hits], return_index=True)
    return hits[first].astype(np.int64)


def _z(values: np.ndarray) -> np.ndarray:
    """Standard scores (zero when all values are equal)."""
    values = values.astype(np.float32, copy=False)
    return (values - values.mean()) / (values.std() + 1e-6)


def make_searcher(
    corpus: Corpus, embedder: QueryEncoder, max_question_chars: int = DEFAULT_MAX_CHARS
) -> Searcher:
    """The production searcher for a corpus (used by the app and by evaluation alike)."""
    return Searcher(corpus, embedder, max_question_chars=max_question_chars)
