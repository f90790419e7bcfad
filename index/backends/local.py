"""The local backend: a Corpus in memory or memory-mapped from an index directory.

Small corpora (up to FULL_SCORING_LIMIT chunks) are scored whole; larger ones through the
vector index's nearest chunks and the best chunks by BM25 (see index/query/search.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.answer import Citation
from index.backends.base import (
    Candidates,
    DocumentSummary,
    LexicalQuery,
    StoredChunk,
    sentence_groups,
)
from index.backends.local_store import REBUILD_HINT
from index.build.chunk_table import text_key
from index.build.corpus import Corpus
from index.errors import IndexCorruptError
from index.ingest.chunking import Chunk
from index.ingest.documents import page_of
from index.links import anchor_at, passage_link

# Every chunk and sentence is scored up to this many chunks; above it only the candidates from
# the vector index and from BM25 are, and normalisation is over the candidates. Scoring all
# sentences costs ~0.23 us each (16 ms p50 at 10k chunks, 43 ms at 40k), candidates ~10 ms
# flat; at 40k chunks candidates found the answer in the top 5 for 0.880 of SQuAD questions
# against 0.887 for full scoring (benchmarks/scale_end_to_end.py index, docs/benchmarks.md).
FULL_SCORING_LIMIT = 5_000


class LocalIndex:
    """``SearchIndex`` over a Corpus. Read-only; safe to share across threads."""

    def __init__(self, corpus: Corpus, lexical: bool = True) -> None:
        self.corpus = corpus
        self.manifest = corpus.manifest
        self._lexical = corpus.lexical if lexical else None
        self._in_section: np.ndarray | None = None

    @property
    def chunk_count(self) -> int:
        """Number of chunks."""
        return len(self.corpus.chunks)

    @property
    def has_lexical(self) -> bool:
        """Whether BM25 is used."""
        return self._lexical is not None

    def query_terms(self, text: str) -> list[str]:
        """BM25 terms of a question (none without BM25)."""
        return self._lexical.query_terms(text) if self._lexical is not None else []

    def known_terms(self, terms: Sequence[str]) -> list[bool]:
        """Whether each term is in the chunks' BM25 vocabulary."""
        if self._lexical is None:
            return [False] * len(terms)
        vocabulary = self._lexical.chunks.vocab_dict
        return [term in vocabulary for term in terms]

    def candidates(
        self, vector: np.ndarray, lexical: LexicalQuery | None, width: int
    ) -> Candidates:
        """Every chunk of a small corpus, else the ``width`` nearest and ``width`` best by BM25."""
        corpus = self.corpus
        total = len(corpus.chunks)
        chunk_lexical = self._chunk_lexical(lexical)
        whole = total <= FULL_SCORING_LIMIT or width >= total
        rows = np.arange(total, dtype=np.int64) if whole else self._nearest(
            vector, chunk_lexical, width
        )
        sentence_rows, starts = self._sentences_of(rows, whole)
        if whole:
            dense = corpus.chunk_matrix @ vector
            sentence_dense = corpus.sentence_similarities(None, vector)
        else:
            dense = corpus.vector_index.reconstruct_batch(rows) @ vector
            sentence_dense = corpus.sentence_similarities(sentence_rows, vector)
        sentence_lexical = None
        if chunk_lexical is not None:  # a lexical index and a lexical query
            assert lexical is not None
            if not whole:
                chunk_lexical = chunk_lexical[rows]
            sentence_lexical = self._sentence_lexical(lexical, None if whole else sentence_rows)
        return Candidates(
            rows=rows,
            text_keys=corpus.table.text_key[rows],
            dense=dense,
            lexical=chunk_lexical,
            sentence_rows=sentence_rows,
            starts=starts,
            sentence_dense=sentence_dense,
            sentence_lexical=sentence_lexical,
            sentence_types=corpus.sentence_types[sentence_rows],
            complete=len(rows) == total,
            in_section=self._sectioned()[rows],
            section_ids=corpus.table.section[rows],
            section_names=corpus.table.sections,
        )

    def _sectioned(self) -> np.ndarray:
        """bool[chunks]: chunks under a heading of an HTML or Markdown document (computed once)."""
        if self._in_section is None:
            from index.ingest.chunking import SECTION_FORMATS

            table = self.corpus.table
            structured = np.array(
                [table.documents.format(i) in SECTION_FORMATS for i in range(len(table.documents))],
                dtype=bool,
            )
            self._in_section = (table.section >= 0) & structured[table.document]
        return self._in_section

    def chunk_vectors(self, rows: np.ndarray) -> np.ndarray:
        """Exact chunk vectors."""
        return np.vstack([self.corpus.chunk_vector(int(row)) for row in rows])

    def sentence_similarities(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Cosine of sentences to a unit vector (as stored: int8 codes when loaded). One row at
        a time: a batched product rounds the last bit differently, and the similarity shown
        for a passage stays what it always was (a few rows per answer)."""
        similarities = [self.corpus.sentence_similarities(rows[i : i + 1], vector)[0]
                        for i in range(len(rows))]
        return np.asarray(similarities, dtype=np.float32)

    def stored_chunks(self, rows: Sequence[int]) -> list[StoredChunk]:
        """Chunks and their citations. Each text is checked against the hash recorded with it
        at build (``text_key``): the files were checked when loaded, but a file changed in
        place afterwards shows through its memory map, and must not be quoted."""
        found = []
        for row in rows:
            chunk = self.corpus.chunks[int(row)]
            if text_key(chunk.text) != int(self.corpus.table.text_key[int(row)]):
                raise IndexCorruptError(
                    f"the index is damaged (the text of chunk {int(row)} changed since it was "
                    f"built): {REBUILD_HINT}"
                )
            found.append(StoredChunk(chunk, _citation_of(self.corpus, int(row), chunk)))
        return found

    def documents_overview(self) -> list[DocumentSummary]:
        """Every document with its sections, chunk count and address."""
        corpus = self.corpus
        documents = corpus.document_table
        return [
            DocumentSummary(
                path, corpus.sections[path], corpus.chunk_counts[path], documents.url(row)
            )
            for row, path in enumerate(documents)
        ]

    def _chunk_lexical(self, lexical: LexicalQuery | None) -> np.ndarray | None:
        """Lexical score of every chunk (weighted sum over the query's parts), or None."""
        if self._lexical is None or lexical is None or not lexical.parts:
            return None
        (own, _), *others = lexical.parts
        fused: np.ndarray = self._lexical.chunk_scores(list(own)).astype(np.float32, copy=True)
        for terms, weight in others:
            fused = fused + np.float32(weight) * self._lexical.chunk_scores(list(terms))
        return fused

    def _sentence_lexical(self, lexical: LexicalQuery, rows: np.ndarray | None) -> np.ndarray:
        """BM25 of the sentences over every term of the query (as fused queries always were)."""
        assert self._lexical is not None
        return self._lexical.sentence_scores(lexical.terms, rows)

    def _nearest(
        self, vector: np.ndarray, chunk_lexical: np.ndarray | None, width: int
    ) -> np.ndarray:
        corpus = self.corpus
        _, found = corpus.vector_index.search(vector[None, :], width)
        rows = found[0][found[0] >= 0].astype(np.int64)
        if chunk_lexical is not None:
            # chunks containing a query term: far fewer than all (a boolean mask is ~6x faster
            # to scan than the float scores)
            matching = np.flatnonzero(chunk_lexical > 0)
            if len(matching) > width:
                scores = chunk_lexical[matching]
                best = np.argpartition(scores, len(scores) - width)[-width:]
                matching = matching[best]
            rows = np.concatenate([rows, matching])
        # One chunk per distinct text (copies score alike and would be skipped as duplicates
        # anyway): the first, i.e. the closest by vector, else the best by BM25.
        _, first = np.unique(corpus.table.text_key[rows], return_index=True)
        return np.sort(rows[first])

    def _sentences_of(self, rows: np.ndarray, whole: bool) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of the given chunks (grouped per chunk) and where each group starts."""
        offsets = self.corpus.sentence_offsets
        if whole:
            return np.arange(offsets[-1], dtype=np.int64), np.asarray(offsets[:-1], np.int64)
        first = np.asarray(offsets[rows], dtype=np.int64)
        return sentence_groups(first, np.asarray(offsets[rows + 1], dtype=np.int64) - first)


def _citation_of(corpus: Corpus, row: int, chunk: Chunk) -> Citation:
    """The citation of chunk ``row``: its place, page(s) and link."""
    documents = corpus.document_table
    document = int(corpus.table.document[row])
    pages = documents.pages(document)
    page = page_end = None
    if pages:
        page = page_of(pages, chunk.start)
        page_end = page_of(pages, max(chunk.start, chunk.end - 1))
    url = anchor_at(documents.anchors(document), chunk.start) or passage_link(
        documents.url(document), documents.format(document), chunk.text, page
    )
    return Citation(
        chunk.document, chunk.section, chunk.paragraph, chunk.start, chunk.end, page, page_end, url
    )
