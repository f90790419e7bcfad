"""The searchable collection in memory: documents, their chunks, and the chunks' vectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from index.chunking import Chunk

if TYPE_CHECKING:
    import faiss


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

    def chunk_vectors(self) -> np.ndarray:
        """All chunk vectors as float32[n, d] (a copy, reconstructed from the vector index)."""
        if self.vector_index.ntotal == 0:
            return np.zeros((0, self.vector_index.d), dtype=np.float32)
        return self.vector_index.reconstruct_n(0, self.vector_index.ntotal)
