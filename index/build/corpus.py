"""The searchable collection: documents, their chunks (as columns), and the chunks' vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from index.build.chunk_table import ChunkTable, DocumentRecord, DocumentTable
from index.ingest.chunking import Chunk

if TYPE_CHECKING:
    import faiss

    from index.build.lexical import LexicalIndex

__all__ = ["Corpus", "DocumentRecord"]


@dataclass
class Corpus:
    """Everything a search needs, built once and then read-only (safe to share across threads).

    ``vector_index`` holds one unit vector per chunk (row i = chunks[i]), possibly compressed;
    ``exact_chunk_vectors`` the same vectors exactly (float32, memory-mapped when loaded).
    ``sentence_vectors`` has one vector per sentence span, in chunk order (see
    ``sentence_offsets``), with ``sentence_types`` (uint8[m, 3] date / number / name flags, see
    question_types): float32, or int8 codes when ``sentence_scale`` is given (vector =
    codes * scale, per dimension), as loaded from disk, where ``exact_sentence_vectors`` (float16)
    keep them for rebuilds. Documents and chunks given as a mapping and a list are packed into
    tables.
    """

    documents: Mapping[str, DocumentRecord]
    chunks: Sequence[Chunk]
    vector_index: faiss.Index
    sentence_vectors: np.ndarray
    sentence_types: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    lexical: LexicalIndex | None = None
    exact_chunk_vectors: np.ndarray | None = None
    sentence_scale: np.ndarray | None = None
    exact_sentence_vectors: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.documents, DocumentTable):
            self.documents = DocumentTable.from_records(list(self.documents.values()))
        if not isinstance(self.chunks, ChunkTable):
            self.chunks = ChunkTable.from_chunks(self.chunks, self.documents)

    @property
    def table(self) -> ChunkTable:
        """The chunks as columns."""
        assert isinstance(self.chunks, ChunkTable)
        return self.chunks

    @property
    def document_table(self) -> DocumentTable:
        """The documents as columns (what ``documents`` holds once the corpus is made)."""
        assert isinstance(self.documents, DocumentTable)
        return self.documents

    @property
    def sentence_offsets(self) -> np.ndarray:
        """Row of the first sentence of chunk i is ``sentence_offsets[i]`` (length n + 1)."""
        return self.table.sentence_offsets

    @cached_property
    def sections(self) -> dict[str, tuple[str, ...]]:
        """Section headings per document, in order of first appearance."""
        table = self.table
        result: dict[str, tuple[str, ...]] = {path: () for path in self.documents}
        pairs = np.column_stack([table.document, table.section])
        pairs = pairs[pairs[:, 1] >= 0]
        if len(pairs):
            unique, first = np.unique(pairs, axis=0, return_index=True)
            found: dict[int, list[str]] = {}
            for document, section in unique[np.argsort(first, kind="stable")]:
                found.setdefault(int(document), []).append(table.sections[int(section)])
            for document, names in found.items():
                result[self.document_table.paths[document]] = tuple(names)
        return result

    @cached_property
    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per document."""
        counts = np.bincount(self.table.document, minlength=len(self.documents))
        return {path: int(count) for path, count in zip(self.documents, counts, strict=True)}

    @cached_property
    def chunk_matrix(self) -> np.ndarray:
        """All chunk vectors as one float32[n, d] array, for exact scoring of small corpora."""
        return self.chunk_vectors()

    @cached_property
    def sentence_matrix(self) -> np.ndarray:
        """All sentence vectors as one float32[m, d] array, for scoring small corpora whole
        (from the float16 copy where there is one, so small corpora are scored exactly)."""
        if self.exact_sentence_vectors is not None:
            return np.asarray(self.exact_sentence_vectors, dtype=np.float32)
        matrix = np.asarray(self.sentence_vectors, dtype=np.float32)
        return matrix * self.sentence_scale if self.sentence_scale is not None else matrix

    def sentence_similarities(self, rows: np.ndarray | None, vector: np.ndarray) -> np.ndarray:
        """Cosine of the sentences ``rows`` (all when None) to a unit ``vector``, float32."""
        similarities: np.ndarray  # numpy's stubs type arithmetic on a bare ndarray as Any
        if rows is None:
            similarities = self.sentence_matrix @ vector
            return similarities
        codes = np.asarray(self.sentence_vectors[rows], dtype=np.float32)  # int8 converts fast
        if self.sentence_scale is not None:
            similarities = codes @ (self.sentence_scale * vector)
            return similarities
        similarities = codes @ vector
        return similarities

    def sentence_floats(self) -> np.ndarray:
        """Every sentence vector as precisely as this corpus has them (for saving, rebuilds)."""
        if self.exact_sentence_vectors is not None:
            return self.exact_sentence_vectors
        if self.sentence_scale is not None:
            return self.sentence_matrix
        return self.sentence_vectors

    def chunk_vector(self, row: int) -> np.ndarray:
        """The vector of one chunk."""
        vector: np.ndarray  # numpy's stubs type indexing a bare ndarray as Any
        if self.exact_chunk_vectors is not None:
            vector = self.exact_chunk_vectors[row]
            return vector
        if "chunk_matrix" in self.__dict__:
            vector = self.chunk_matrix[row]
            return vector
        # faiss's stubs pick the torch.Tensor overload when no output array is passed.
        return self.vector_index.reconstruct(int(row))  # type: ignore[return-value]

    def chunk_vectors(self) -> np.ndarray:
        """All chunk vectors exactly, float32[n, d] (read-only: the stored array where there is
        one, else reconstructed from the vector index)."""
        if self.exact_chunk_vectors is not None:
            return self.exact_chunk_vectors
        from index.build.vector_index import reconstruct_all

        return reconstruct_all(self.vector_index)
