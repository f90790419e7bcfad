"""What the searcher needs from an index, whichever engine holds it.

``index/query/search.py`` fuses scores, picks the best sentence, removes near-duplicates and decides
"not in the source" in one implementation. A backend only retrieves: for a question's vector
and BM25 terms it names candidate chunks and hands over, for each candidate and each of its
sentences, the dense and BM25 scores the fusion needs, plus what a passage shows.

Rows: a chunk's *row* is its position in the build (0..n-1, in document order); a sentence's
row is its position among all sentences of the build (chunk order, then text order). Both are
stable for one build, so a backend can store them as keys (``citebot migrate`` keeps them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from index.answer import Citation
from index.ingest.chunking import Chunk

if TYPE_CHECKING:
    from index.build.build_lock import BuildLock
    from index.build.corpus import Corpus
    from index.build.model import ModelSpec


@dataclass(frozen=True, slots=True)
class LexicalQuery:
    """BM25 terms of a question, possibly with earlier questions' at lower weights.

    ``parts``: ((terms, weight), ...), the question's own terms first at weight 1.0. A chunk's
    lexical score is the sum over parts of ``weight * BM25(terms)`` (float32, summed in order).
    """

    parts: tuple[tuple[tuple[str, ...], float], ...]

    @classmethod
    def of(cls, terms: Sequence[str]) -> LexicalQuery:
        """The question's own terms alone."""
        return cls(((tuple(terms), 1.0),))

    @property
    def terms(self) -> list[str]:
        """Every term, the question's own first (repeats kept), then new terms of the others."""
        own = list(self.parts[0][0]) if self.parts else []
        for terms, _ in self.parts[1:]:
            own.extend(t for t in terms if t not in own)
        return own


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate chunks of one question and their sentences, with every score fusion needs.

    ``rows``: int64[n] chunk rows, ascending, one per distinct text (``text_keys``).
    ``dense``: float32[n] cosine of each chunk vector to the question's vector.
    ``lexical``: float32[n] lexical score (see LexicalQuery) or None without BM25.
    ``sentence_rows``: int64[m] the candidates' sentences, grouped per candidate in ``rows``
    order and in text order within a chunk; ``starts``: int64[n] where each group begins
    (every chunk has at least one sentence). ``sentence_dense`` / ``sentence_lexical``: float32[m]
    the same two scores per sentence; ``sentence_types``: uint8[m, 3] date / number / name flags.
    ``complete``: every chunk of the index is a candidate. ``in_section``: bool[n] whether each
    chunk is a section of a structured document (HTML, Markdown: a chunk under a heading whose
    search text is its heading path and section; None when the backend does not say).
    """

    rows: np.ndarray
    text_keys: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray | None
    sentence_rows: np.ndarray
    starts: np.ndarray
    sentence_dense: np.ndarray
    sentence_lexical: np.ndarray | None
    sentence_types: np.ndarray
    complete: bool
    in_section: np.ndarray | None = None


def sentence_groups(first: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Candidates.sentence_rows`` and ``starts`` for chunks whose sentences are the rows
    ``first[i] .. first[i] + counts[i] - 1``."""
    first = np.asarray(first, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    sentence_rows = np.repeat(first - starts, counts) + np.arange(int(counts.sum()))
    return sentence_rows.astype(np.int64), starts


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """What a passage shows of one chunk: the chunk (text, offsets into its document, section,
    paragraph, sentence spans) and its citation (page, link)."""

    chunk: Chunk
    citation: Citation


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    """One indexed document as `/sources` and `citebot info` list it."""

    path: str
    sections: tuple[str, ...]
    chunks: int
    url: str | None


class SearchIndex(Protocol):
    """A loaded, read-only index (safe to share across threads)."""

    manifest: dict[str, Any]

    @property
    def chunk_count(self) -> int:
        """Number of chunks."""
        ...

    @property
    def has_lexical(self) -> bool:
        """Whether the index has BM25 (else candidates carry no lexical scores)."""
        ...

    def query_terms(self, text: str) -> list[str]:
        """BM25 terms of a question (stop words and question words dropped, stemmed)."""
        ...

    def known_terms(self, terms: Sequence[str]) -> list[bool]:
        """For each term, whether some chunk holds it (a vocabulary look-up, no scoring)."""
        ...

    def candidates(
        self, vector: np.ndarray, lexical: LexicalQuery | None, width: int
    ) -> Candidates:
        """Candidates for a unit query ``vector`` (float32[d]): up to ``width`` nearest chunks
        and up to ``width`` best by BM25 (every chunk when the index is small enough to score
        whole), filtered inside the search to this index only."""
        ...

    def chunk_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The exact vectors of chunks ``rows``, float32[len(rows), d]."""
        ...

    def sentence_similarities(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Cosine of the sentences ``rows`` to a unit ``vector``, float32[len(rows)]."""
        ...

    def stored_chunks(self, rows: Sequence[int]) -> list[StoredChunk]:
        """The chunks ``rows`` with their citations, in that order."""
        ...

    def documents_overview(self) -> list[DocumentSummary]:
        """Every document, in index order."""
        ...


class IndexBackend(Protocol):
    """Where one collection's builds live (``index.backends.local_store.IndexStore`` on local
    disk, or ``MilvusStore``): build into it, make a build live atomically, load the live one."""

    def exists(self) -> bool:
        """Whether a build is live."""
        ...

    def live_build_id(self) -> str | None:
        """An id of the live build that changes with every build made live, or None."""
        ...

    def read_manifest(self) -> dict[str, Any]:
        """The live build's manifest (IndexMissingError / IndexCorruptError)."""
        ...

    def size_bytes(self) -> int:
        """Bytes the live build takes."""
        ...

    def verify(self) -> bool:
        """Check the live build against the checksums recorded when it was built (raises
        IndexCorruptError or BackendError naming the damage); False when it was built before
        checksums were recorded."""
        ...

    def build_lock(self) -> BuildLock:
        """The lock builds of this collection hold."""
        ...

    def save(self, corpus: Corpus) -> object:
        """Write ``corpus`` as a new build and make it live atomically."""
        ...

    def load(self, model: ModelSpec, chunker_parameters: dict[str, Any]) -> SearchIndex | Corpus:
        """The live build, refused (IndexMismatchError) when made with another model or
        chunking."""
        ...

    def known_vectors(self, model: ModelSpec) -> dict[str, np.ndarray]:
        """Normalised text -> vector of the live build's chunks and sentences, when it was
        built with ``model``'s weights (what a rebuild re-uses)."""
        ...

    def prefetch(self) -> bool:
        """Get ready to answer from the live build (read files ahead; may do nothing)."""
        ...

    def drop(self) -> None:
        """Delete every build of this collection."""
        ...
