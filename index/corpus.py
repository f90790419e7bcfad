"""The searchable collection in memory: documents, their chunks, and the chunks' vectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from index.chunking import Chunk, normalize_for_search
from index.question_types import sentence_types

if TYPE_CHECKING:
    import faiss

    from index.lexical import LexicalIndex


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """What an index keeps of a source document: its text (for citations) and content hash."""

    path: str
    content_hash: str
    text: str


@dataclass
class Corpus:
    """Everything a search needs, built once and then read-only (safe to share across threads).

    ``vector_index`` holds one unit vector per chunk (row i = chunks[i]);
    ``sentence_vectors`` one per sentence span, in chunk order (see ``sentence_chunk``).
    """

    documents: dict[str, DocumentRecord]
    chunks: list[Chunk]
    vector_index: faiss.Index
    sentence_vectors: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    lexical: LexicalIndex | None = None
    sentence_type_flags: np.ndarray | None = None

    @cached_property
    def sentence_chunk(self) -> np.ndarray:
        """For each row of ``sentence_vectors``, the index of its chunk."""
        counts = [len(chunk.sentences) for chunk in self.chunks]
        return np.repeat(np.arange(len(self.chunks), dtype=np.int64), counts)

    @cached_property
    def sentence_offsets(self) -> np.ndarray:
        """Row of the first sentence of chunk i is ``sentence_offsets[i]`` (length n + 1)."""
        counts = [len(chunk.sentences) for chunk in self.chunks]
        return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])

    @cached_property
    def sections(self) -> dict[str, tuple[str, ...]]:
        """Section headings per document, in order."""
        result: dict[str, dict[str, None]] = {path: {} for path in self.documents}
        for chunk in self.chunks:
            if chunk.section:
                result[chunk.document].setdefault(chunk.section, None)
        return {path: tuple(found) for path, found in result.items()}

    @cached_property
    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per document."""
        counts = dict.fromkeys(self.documents, 0)
        for chunk in self.chunks:
            counts[chunk.document] += 1
        return counts

    @cached_property
    def chunk_matrix(self) -> np.ndarray:
        """All chunk vectors as one float32[n, d] array, for exact scoring of small corpora."""
        return self.chunk_vectors()

    def chunk_vector(self, row: int) -> np.ndarray:
        """The vector of one chunk."""
        if "chunk_matrix" in self.__dict__:
            return self.chunk_matrix[row]
        return self.vector_index.reconstruct(int(row))

    @cached_property
    def sentence_types(self) -> np.ndarray:
        """uint8[m, 3] date / number / name flags per sentence (see question_types); computed
        at build time, or here for an index that did not store them."""
        if self.sentence_type_flags is not None:
            return self.sentence_type_flags
        return sentence_types(
            [
                normalize_for_search(self.documents[chunk.document].text[start:end])
                for chunk in self.chunks
                for start, end in chunk.sentences
            ]
        )

    def chunk_vectors(self) -> np.ndarray:
        """All chunk vectors as float32[n, d] (a copy, reconstructed from the vector index)."""
        from index.vector_index import reconstruct_all

        return reconstruct_all(self.vector_index)
