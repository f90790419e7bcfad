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
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from index.answer import Answer, Passage, mark_weak
from index.backends.base import Candidates, LexicalQuery, SearchIndex
from index.backends.local import LocalIndex
from index.build.corpus import Corpus
from index.build.question_types import TYPES, expected_type
from index.errors import QuestionError
from index.query.conversation import (
    Turn,
    adds_wanted,
    content_words,
    follow_up_highlight,
    fuse_vectors,
    read_with_history,
    wants_new_value,
)
from index.query.evidence import MIN_SIMILARITY, found_in_source, gather
from index.query.question import DEFAULT_MAX_CHARS, prepare_question

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
# Extra weight of the chunk-level dense z-score for chunks under a section heading (with
# HEADINGS_IN_SEARCH and SECTION_CHUNKS their vector is the heading path and the section's
# text: the section as a whole); chosen on the fit half of tests/data/docs_questions.jsonl.
SECTION_DENSE_WEIGHT = 0.0
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
class Ranking:
    """Candidate chunks ordered best first, with fused scores, best-sentence rows (in the
    index) and their places in their chunks, and the candidates' text keys."""

    rows: np.ndarray
    scores: np.ndarray
    best_sentences: np.ndarray
    max_similarity: float
    complete: bool = True  # every chunk was scored (else only candidates)
    best_in_chunk: np.ndarray | None = None
    text_keys: np.ndarray | None = None
    sentences: SentenceScores | None = None


@dataclass(frozen=True, slots=True)
class SentenceScores:
    """Every candidate sentence's highlight score (the best of a chunk is its highlight).

    ``rows``: int64[m] sentence rows; ``scores``: float32[m]; ``first`` / ``counts``:
    int64[n] where each ranked chunk's sentences begin in ``rows`` and how many (ranking order).
    """

    rows: np.ndarray
    scores: np.ndarray
    first: np.ndarray
    counts: np.ndarray

    def of_chunk(self, position: int) -> slice:
        """Where the sentences of the chunk at ``position`` in the ranking lie."""
        start = int(self.first[position])
        return slice(start, start + int(self.counts[position]))

    def lookup(self, rows: np.ndarray) -> np.ndarray | None:
        """The scores of sentences ``rows``, or None when one of them is not a candidate."""
        order = np.argsort(self.rows, kind="stable")
        at = np.minimum(np.searchsorted(self.rows, rows, sorter=order), len(order) - 1)
        if len(order) == 0 or np.any(self.rows[order[at]] != rows):
            return None
        return self.scores[order[at]]


@dataclass(frozen=True, slots=True)
class Context:
    """A question read together with earlier turns: the fused query and BM25 scores, and the
    previous question (shown to the user)."""

    query: Query
    lexical: LexicalQuery | None
    previous: str
    alone: Ranking
    turns: int = 1


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
    """Answers questions from an index (any ``SearchIndex``; a Corpus is searched locally).
    Read-only after construction; safe to share."""

    def __init__(
        self,
        index: SearchIndex | Corpus,
        embedder: QueryEncoder,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
        max_question_chars: int = DEFAULT_MAX_CHARS,
        lexical: bool = True,
    ):
        self.index: SearchIndex = LocalIndex(index, lexical) if isinstance(index, Corpus) else index
        self.embedder = embedder
        self.min_similarity = min_similarity
        self.max_question_chars = max_question_chars
        self.lexical = lexical and self.index.has_lexical
        use_one_blas_thread()

    @property
    def corpus(self) -> Corpus:
        """The local corpus searched (AttributeError for other backends)."""
        corpus: Corpus | None = getattr(self.index, "corpus", None)
        if corpus is None:
            raise AttributeError("this searcher's index is not a local corpus")
        return corpus

    def search(
        self, question: str, k: int = 3, offset: int = 0, history: Sequence[Turn] = ()
    ) -> Answer:
        """The ``k`` best passages after skipping ``offset``; raises QuestionError on bad input.

        ``history``: the conversation's earlier turns, most recent last; a question that depends
        on them is read together with them (``Answer.context`` then names the previous question),
        and its bold sentences are chosen by its own words too (``follow_up_highlight``).
        """
        return self._search(question, k, offset, tuple(history), {})[0]

    def _search(
        self,
        question: str,
        k: int,
        offset: int,
        history: tuple[Turn, ...],
        shown: dict[int, int | None],
    ) -> tuple[Answer, tuple[int, ...]]:
        """``search``, and the sentence rows it highlights (one per passage). ``shown``: the
        row each earlier turn highlighted in its first passage (None: unknown), by position in
        ``history``, filled as needed."""
        prepared = prepare_question(question, self.max_question_chars)
        query = Query(prepared.text, self.embedder.encode_query(prepared.text))
        lexical = self.lexical_query(query.text)
        context = self.with_history(query, lexical, history) if history else None
        if context is not None:
            query, lexical = context.query, context.lexical
        width = CANDIDATES
        while True:
            ranking = self.rank(query, width, lexical)
            chosen = self._distinct(ranking, k + offset)
            if len(chosen) == k + offset or ranking.complete or width >= MAX_CANDIDATES:
                break
            width *= WIDENING
        shown_before, chosen = chosen[:offset], chosen[offset:]
        if context is not None:
            earlier, last = self._shown(history, shown, context.turns, ranking, chosen)
            adds = (
                self._adds_wanted(prepared.text, history[-context.turns:], ranking, chosen)
                if wants_new_value(prepared.text) else None
            )
            ranking = self._follow_up_highlights(
                ranking, chosen, context.alone, earlier, last, adds
            )
        passages = mark_weak(
            self._passages(query, ranking, chosen),
            self._best_similarity(query, ranking, shown_before),
        )
        # A follow-up is judged with the words it was searched with (its own and the earlier
        # question's): judged on its own words alone, 43 % of the answerable follow-ups of
        # tests/data/article_dialogues.jsonl were flagged, against 4.5 % this way.
        evidence = gather(ranking, lexical, self.index if self.lexical else None)
        found = found_in_source(evidence, self.min_similarity)
        answer = Answer(
            prepared.text,
            passages,
            found=found,
            notices=prepared.notices,
            context=context.previous if context is not None else None,
        )
        return answer, tuple(int(ranking.best_sentences[i]) for i in chosen)

    def _shown(
        self,
        history: tuple[Turn, ...],
        shown: dict[int, int | None],
        turns: int,
        ranking: Ranking,
        chosen: list[int],
    ) -> tuple[frozenset[int], frozenset[int]]:
        """The sentence rows that the last ``turns`` earlier turns (those the question is read
        with) highlighted in their first passage, and those of the previous turn alone. A turn
        that carries its bold sentence (``Turn.highlight``) has it looked up among the sentences
        of the chunks ``chosen``; any other is answered again (each once: ``shown`` remembers
        them by position in ``history``)."""
        rows: set[int] = set()
        last: frozenset[int] = frozenset()
        texts: list[tuple[int, str]] | None = None
        for position in range(max(0, len(history) - turns), len(history)):
            turn = history[position]
            if turn.highlight is not None:
                if texts is None:
                    texts = self._sentence_texts(ranking, chosen)
                found = frozenset(row for row, text in texts if text == turn.highlight)
            else:
                if position not in shown:
                    try:
                        answer, highlighted = self._search(
                            turn.question, 1, 0, history[:position], shown
                        )
                    except QuestionError:  # an earlier question that could not be asked
                        shown[position] = None
                        continue
                    same = bool(answer.passages) and (
                        not turn.passage_ids or answer.passages[0].chunk_id == turn.passage_ids[0]
                    )
                    shown[position] = highlighted[0] if same else None
                row = shown[position]
                found = frozenset() if row is None else frozenset((row,))
            rows |= found
            if position == len(history) - 1:
                last = found
        return frozenset(rows), last

    def _sentence_texts(self, ranking: Ranking, chosen: list[int]) -> list[tuple[int, str]]:
        """Each sentence row of the chunks at positions ``chosen`` with its text."""
        together = ranking.sentences
        assert together is not None
        records = self.index.stored_chunks([int(ranking.rows[i]) for i in chosen])
        texts = []
        for position, record in zip(chosen, records, strict=True):
            chunk = record.chunk
            rows = together.rows[together.of_chunk(position)]
            if len(rows) != len(chunk.sentences):
                continue
            for row, (start, end) in zip(rows, chunk.sentences, strict=True):
                texts.append((int(row), chunk.text[start - chunk.start : end - chunk.start]))
        return texts

    def _adds_wanted(
        self, question: str, turns: Sequence[Turn], ranking: Ranking, chosen: list[int]
    ) -> dict[int, bool]:
        """Whether each sentence row of the chunks ``chosen`` names someone that neither the
        follow-up nor the earlier questions it is read with named (``adds_wanted``)."""
        earlier = [turn.question for turn in turns]
        return {
            row: adds_wanted(text, question, earlier)
            for row, text in self._sentence_texts(ranking, chosen)
        }

    @staticmethod
    def _follow_up_highlights(
        ranking: Ranking,
        chosen: list[int],
        alone: Ranking,
        shown: frozenset[int],
        last: frozenset[int],
        adds: dict[int, bool] | None = None,
    ) -> Ranking:
        """The ranking with each chosen chunk's highlight chosen for a follow-up
        (``conversation.follow_up_highlight``: the question's own scores count as well as the
        scores read with the history, what earlier answers highlighted is held back, and when the
        chunk holds one of ``last``, the rows the previous answer highlighted, only it or the
        next sentence is chosen; ``adds``: by row, whether a sentence names someone new, for a
        follow-up that asks who, a row not in it counting as one that does)."""
        together, own = ranking.sentences, alone.sentences
        assert together is not None and own is not None and ranking.best_in_chunk is not None
        best_sentences = ranking.best_sentences.copy()
        best_in_chunk = ranking.best_in_chunk.copy()
        for position in chosen:
            rows = together.rows[together.of_chunk(position)]
            own_scores = own.lookup(rows)
            if own_scores is None:  # not a candidate of the question alone: kept as it was
                continue
            best = follow_up_highlight(
                together.scores[together.of_chunk(position)],
                own_scores,
                np.isin(rows, np.fromiter(shown, dtype=np.int64, count=len(shown))),
                _first_of(rows, last),
                None if adds is None else np.array([adds.get(int(row), True) for row in rows]),
            )
            best_sentences[position] = rows[best]
            best_in_chunk[position] = best
        return replace(ranking, best_sentences=best_sentences, best_in_chunk=best_in_chunk)

    def lexical_query(self, text: str) -> LexicalQuery | None:
        """The question's own BM25 terms, or None without BM25."""
        if not self.lexical:
            return None
        return LexicalQuery.of(self.index.query_terms(text))

    def with_history(
        self, query: Query, lexical: LexicalQuery | None, history: Sequence[Turn]
    ) -> Context | None:
        """The question read together with the earlier turns when it depends on them
        (index/conversation.py decides and weighs), or None to answer it alone. The question's
        own text is kept in the query (it decides the expected answer type)."""
        own = self.rank(query, CANDIDATES, lexical)
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
        if lexical is not None:
            parts = [(tuple(self.index.query_terms(text)), weight)
                     for text, weight in zip(earlier, reading.weights, strict=True)]
            lexical = LexicalQuery((*lexical.parts, *parts))
        return Context(fused, lexical, reading.context, own, len(reading.questions))

    def rank(
        self,
        query: Query,
        candidates: int = CANDIDATES,
        lexical: LexicalQuery | None = None,
    ) -> Ranking:
        """Score candidate chunks (up to ``candidates`` from each retriever, or every chunk of
        a small index) by fusing every signal; best first. ``lexical`` defaults to the
        question's own BM25 terms."""
        if lexical is None:
            lexical = self.lexical_query(query.text)
        found = self.index.candidates(query.vector[0], lexical, candidates)
        if found.rows.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Ranking(empty, np.zeros(0), empty, 0.0, found.complete, empty, empty)
        signals = self._signals(found)
        wanted = expected_type(query.text)
        sentence_count = len(found.sentence_rows)
        types = (
            found.sentence_types[:, TYPES.index(wanted)].astype(np.float32)
            if wanted
            else np.zeros(sentence_count, dtype=np.float32)
        )
        starts = found.starts
        evidence: np.ndarray = TYPE_WEIGHT * types
        highlight: np.ndarray = np.zeros(sentence_count, dtype=np.float32)
        chunk_score: np.ndarray = np.zeros(len(found.rows), dtype=np.float32)
        for signal in signals:
            sentence_z = _z(signal.sentence_scores)
            evidence = evidence + signal.sentence_weight * sentence_z
            highlight = highlight + signal.highlight_weight * sentence_z
            chunk_score = chunk_score + signal.chunk_weight * _z(signal.chunk_scores)
        chunk_score = chunk_score + BEST_SENTENCE_WEIGHT * np.maximum.reduceat(evidence, starts)
        if SECTION_DENSE_WEIGHT and found.in_section is not None:
            chunk_score = chunk_score + SECTION_DENSE_WEIGHT * found.in_section * _z(found.dense)
        same_chunk_as_previous = np.ones(sentence_count, dtype=bool)
        same_chunk_as_previous[starts] = False
        previous = np.where(same_chunk_as_previous, np.roll(highlight, 1), 0.0)
        highlight = highlight + HIGHLIGHT_PREVIOUS_WEIGHT * previous + HIGHLIGHT_TYPE_WEIGHT * types
        best = _first_max_of_groups(highlight, starts)
        order = np.argsort(-chunk_score, kind="stable")
        counts = np.diff(np.append(starts, sentence_count))
        return Ranking(
            rows=found.rows[order],
            scores=chunk_score[order],
            best_sentences=found.sentence_rows[best[order]],
            max_similarity=float(found.sentence_dense.max()),
            complete=found.complete,
            best_in_chunk=(best - starts)[order],
            text_keys=found.text_keys[order],
            sentences=SentenceScores(found.sentence_rows, highlight, starts[order], counts[order]),
        )

    def _known_words(self, words: list[str]) -> list[bool] | None:
        """For each of ``words``, whether a chunk holds it (its stemmed term is in the BM25
        vocabulary: a look-up, no scoring); None when there is no BM25 index."""
        if not self.lexical:
            return None
        index = self.index
        return [any(index.known_terms(index.query_terms(w))) for w in words]

    @staticmethod
    def _signals(found: Candidates) -> list[Signal]:
        signals = [Signal("dense", found.dense, found.sentence_dense, *DENSE_WEIGHTS)]
        if found.lexical is not None and found.sentence_lexical is not None:
            signals.append(
                Signal("lexical", found.lexical, found.sentence_lexical, *LEXICAL_WEIGHTS)
            )
        return signals

    def _distinct(self, ranking: Ranking, wanted: int) -> list[int]:
        """Positions in the ranking of the first ``wanted`` chunks that are not near-duplicates
        of a chunk already chosen (same text, or almost the same vector)."""
        chosen: list[int] = []
        texts: set[int] = set()
        vectors: list[np.ndarray] = []
        keys = ranking.text_keys
        assert keys is not None
        batch = max(2 * wanted, 8)
        fetched: dict[int, np.ndarray] = {}
        for position in range(len(ranking.rows)):
            if len(chosen) == wanted:
                break
            text = int(keys[position])  # a hash of the text up to case and spacing
            if text in texts:
                continue
            if position not in fetched:  # vectors in batches (one round trip for a server)
                upcoming = range(position, min(position + batch, len(ranking.rows)))
                block = self.index.chunk_vectors(ranking.rows[upcoming.start:upcoming.stop])
                fetched.update(zip(upcoming, block, strict=True))
            vector = fetched[position]
            if vectors and float(np.max(np.vstack(vectors) @ vector)) >= DUPLICATE_COSINE:
                continue
            chosen.append(position)
            texts.add(text)
            vectors.append(vector)
        return chosen

    def _best_similarity(
        self, query: Query, ranking: Ranking, positions: list[int]
    ) -> float | None:
        """The best similarity of the passages at ``positions`` (an earlier page's), or None."""
        if not positions:
            return None
        rows = np.asarray([ranking.best_sentences[i] for i in positions], dtype=np.int64)
        return float(np.max(self.index.sentence_similarities(rows, query.vector[0])))

    def _passages(self, query: Query, ranking: Ranking, chosen: list[int]) -> tuple[Passage, ...]:
        """The passages at positions ``chosen`` of the ranking."""
        if not chosen:
            return ()
        assert ranking.best_in_chunk is not None
        rows = [int(ranking.rows[i]) for i in chosen]
        stored = self.index.stored_chunks(rows)
        sentence_rows = np.asarray([ranking.best_sentences[i] for i in chosen], dtype=np.int64)
        similarities = self.index.sentence_similarities(sentence_rows, query.vector[0])
        passages = []
        for i, record, similarity in zip(chosen, stored, similarities, strict=True):
            chunk = record.chunk
            start, end = chunk.sentences[int(ranking.best_in_chunk[i])]
            passages.append(Passage(
                chunk.id,
                chunk.text,
                record.citation,
                float(ranking.scores[i]),
                (start - chunk.start, end - chunk.start),
                float(similarity),
            ))
        return tuple(passages)


def _first_of(rows: np.ndarray, wanted: frozenset[int]) -> int | None:
    """Where the first of ``rows`` that is in ``wanted`` lies, or None."""
    hits = np.flatnonzero(np.isin(rows, np.fromiter(wanted, dtype=np.int64, count=len(wanted))))
    return int(hits[0]) if len(hits) else None


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
    z: np.ndarray = (values - values.mean()) / (values.std() + 1e-6)
    return z


def make_searcher(
    index: SearchIndex | Corpus, embedder: QueryEncoder, max_question_chars: int = DEFAULT_MAX_CHARS
) -> Searcher:
    """The production searcher for an index (used by the app and by evaluation alike)."""
    return Searcher(index, embedder, max_question_chars=max_question_chars)
