"""Chunks as columns: numpy arrays (memory-mapped from disk when loaded) plus one UTF-8 text blob.

A million ``Chunk`` objects with their own text copies cost ~1.5 GB of Python heap and most of
a 30 s load; as columns they cost ~150 MB of file-backed pages that the OS reads on demand.
``ChunkTable`` is a ``Sequence[Chunk]``: ``table[i]`` makes one ``Chunk`` when a passage is
returned, while search reads the columns directly.

Document texts are stored once, concatenated as UTF-8 (``TextBlob``); a chunk keeps character
offsets into its document (what citations use) and byte offsets into the blob (to slice it).
"""

from __future__ import annotations

import hashlib
import mmap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from index.errors import IndexCorruptError
from index.ingest.chunking import Chunk

ID_BYTES = 16


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """What an index keeps of a source document: its extracted text (for citations), content
    hash, format, title, address, and where its pages start in the text (empty without pages)."""

    path: str
    content_hash: str
    text: str
    format: str = "text"
    title: str | None = None
    url: str | None = None
    pages: tuple[int, ...] = ()
    anchors: tuple[tuple[int, str], ...] = ()

    def details(self) -> dict[str, Any]:
        """What is stored of the record besides its path, hash and text (JSON-ready; anchors
        only when there are any, so other documents are stored as before)."""
        details: dict[str, Any] = {
            "format": self.format,
            "title": self.title,
            "url": self.url,
            "pages": list(self.pages),
        }
        if self.anchors:
            details["anchors"] = [[offset, address] for offset, address in self.anchors]
        return details


class TextBlob:
    """Read-only UTF-8 bytes of every document, in memory or memory-mapped from a file."""

    def __init__(self, data: bytes | mmap.mmap):
        self._data = data

    @classmethod
    def open(cls, path: Path) -> TextBlob:
        """Map ``path`` read-only (an empty file maps to empty bytes)."""
        with path.open("rb") as handle:
            if path.stat().st_size == 0:
                return cls(b"")
            return cls(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))

    def __len__(self) -> int:
        return len(self._data)

    def text(self, start: int, end: int) -> str:
        """The text of bytes ``[start, end)`` (always whole characters; bytes that are not
        UTF-8 mean damage that no checksum caught, e.g. in an index built before them)."""
        try:
            return self._data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            raise IndexCorruptError(
                "the index is damaged (its texts are not UTF-8): run `citebot build` to rebuild it"
            ) from None

    def write(self, path: Path) -> None:
        """Write the bytes to ``path`` (the caller syncs)."""
        with path.open("wb") as handle:
            handle.write(self._data)


class DocumentTable(Mapping[str, DocumentRecord]):
    """Documents by path; texts are decoded from the blob only when asked for."""

    def __init__(
        self,
        paths: list[str],
        hashes: list[str],
        spans: np.ndarray,
        blob: TextBlob,
        details: list[dict[str, Any]] | None = None,
    ):
        self.paths = paths
        self.hashes = hashes
        self.spans = spans  # int64[D, 2] byte ranges in the blob
        self.blob = blob
        # per document: format, title, url, pages (see DocumentRecord.details)
        self.details = details if details is not None else [{} for _ in paths]
        self._position = {path: i for i, path in enumerate(paths)}

    @classmethod
    def from_records(cls, records: Sequence[DocumentRecord]) -> DocumentTable:
        """Pack in-memory records into one blob."""
        encoded = [record.text.encode("utf-8") for record in records]
        ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        return cls(
            [r.path for r in records],
            [r.content_hash for r in records],
            np.column_stack([starts, ends]).reshape(len(records), 2),
            TextBlob(b"".join(encoded)),
            [record.details() for record in records],
        )

    def position(self, path: str) -> int:
        """Row of the document ``path``."""
        return self._position[path]

    def __getitem__(self, path: str) -> DocumentRecord:
        i = self._position[path]
        start, end = self.spans[i]
        return DocumentRecord(
            path, self.hashes[i], self.blob.text(int(start), int(end)), *self._details(i)
        )

    def url(self, row: int) -> str | None:
        """The address of document ``row``, when known."""
        return self._details(row)[2]

    def pages(self, row: int) -> tuple[int, ...]:
        """Where each page of document ``row`` starts in its text (empty without pages)."""
        return self._details(row)[3]

    def format(self, row: int) -> str:
        """The format document ``row`` was extracted from ("text", "markdown", "pdf", ...)."""
        return self._details(row)[0]

    def anchors(self, row: int) -> tuple[tuple[int, str], ...]:
        """Parts of document ``row`` with an address of their own (``Extracted.anchors``)."""
        return self._details(row)[4]

    def _details(
        self, row: int
    ) -> tuple[str, str | None, str | None, tuple[int, ...], tuple[tuple[int, str], ...]]:
        return details_of(self.details[row])

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, path: object) -> bool:
        return path in self._position


def details_of(
    found: dict[str, Any],
) -> tuple[str, str | None, str | None, tuple[int, ...], tuple[tuple[int, str], ...]]:
    """A stored document's details (``DocumentRecord.details``) as the record's fields after its
    text: format, title, url, pages, anchors."""
    return (
        str(found.get("format") or "text"),
        found.get("title"),
        found.get("url"),
        tuple(int(page) for page in found.get("pages") or ()),
        tuple((int(offset), str(address)) for offset, address in found.get("anchors") or ()),
    )


# Columns of a ChunkTable: name -> (dtype, trailing shape). All have one row per chunk except
# sentence_offsets (n + 1) and sentence_spans (one row per sentence).
COLUMNS: dict[str, tuple[str, tuple[int, ...]]] = {
    "document": ("<i4", ()),
    "section": ("<i4", ()),
    "paragraph": ("<i4", ()),
    "span": ("<i8", (2,)),
    "byte_span": ("<i8", (2,)),
    "id": (f"S{ID_BYTES}", ()),
    "text_key": ("<u8", ()),
    "sentence_offsets": ("<i8", ()),
    "sentence_spans": ("<i8", (2,)),
}


class ChunkTable(Sequence[Chunk]):
    """Every chunk of a corpus as columns; ``table[i]`` is the i-th ``Chunk``.

    ``span`` are character offsets in the chunk's document, ``byte_span`` byte offsets in the
    documents' blob, ``sentence_spans[sentence_offsets[i]:sentence_offsets[i + 1]]`` the
    sentences of chunk i (character offsets in the document), ``text_key`` a stable hash of
    the chunk's text up to case and spacing (for spotting duplicates without reading texts).
    """

    def __init__(
        self, columns: dict[str, np.ndarray], sections: list[str], documents: DocumentTable
    ):
        self.columns = columns
        self.sections = sections
        self.documents = documents
        for name, column in columns.items():
            setattr(self, name, column)
        self.document: np.ndarray
        self.section: np.ndarray
        self.paragraph: np.ndarray
        self.span: np.ndarray
        self.byte_span: np.ndarray
        self.id: np.ndarray
        self.text_key: np.ndarray
        self.sentence_offsets: np.ndarray
        self.sentence_spans: np.ndarray

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk], documents: DocumentTable) -> ChunkTable:
        """Columns of in-memory chunks (every chunk's document must be in ``documents``)."""
        n = len(chunks)
        section_ids: dict[str, int] = {}
        document = np.fromiter((documents.position(c.document) for c in chunks), np.int32, n)
        section = np.fromiter(
            (
                -1 if c.section is None else section_ids.setdefault(c.section, len(section_ids))
                for c in chunks
            ),
            np.int32,
            n,
        )
        paragraph = np.fromiter((c.paragraph for c in chunks), np.int32, n)
        span = np.array([(c.start, c.end) for c in chunks], dtype=np.int64).reshape(n, 2)
        counts = np.fromiter((len(c.sentences) for c in chunks), np.int64, n)
        sentence_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        sentence_spans = np.array([s for c in chunks for s in c.sentences], dtype=np.int64).reshape(
            -1, 2
        )
        byte_span = _byte_spans(documents, document, span)
        columns: dict[str, np.ndarray] = {
            "document": document,
            "section": section,
            "paragraph": paragraph,
            "span": span,
            "byte_span": byte_span,
            "id": np.array([c.id.encode("ascii") for c in chunks], dtype=f"S{ID_BYTES}"),
            "text_key": np.fromiter((text_key(c.text) for c in chunks), np.uint64, n),
            "sentence_offsets": sentence_offsets,
            "sentence_spans": sentence_spans,
        }
        return cls(columns, list(section_ids), documents)

    def __len__(self) -> int:
        return len(self.document)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"chunk {i} out of range")
        section = int(self.section[i])
        first, last = int(self.sentence_offsets[i]), int(self.sentence_offsets[i + 1])
        start, end = (int(v) for v in self.span[i])
        return Chunk(
            id=self.id[i].decode("ascii"),
            document=self.documents.paths[int(self.document[i])],
            section=None if section < 0 else self.sections[section],
            paragraph=int(self.paragraph[i]),
            start=start,
            end=end,
            text=self.text(i),
            sentences=tuple((int(s), int(e)) for s, e in self.sentence_spans[first:last]),
        )

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self)):
            yield self[i]

    def text(self, i: int) -> str:
        """The text of chunk ``i``."""
        start, end = self.byte_span[i]
        return self.documents.blob.text(int(start), int(end))

    def sentence_texts(self) -> Iterator[str]:
        """The text of every sentence, in row order (decodes each document once)."""
        current, text = -1, ""
        for i in range(len(self)):
            document = int(self.document[i])
            if document != current:
                current, text = document, self.documents[self.documents.paths[document]].text
            first, last = int(self.sentence_offsets[i]), int(self.sentence_offsets[i + 1])
            for start, end in self.sentence_spans[first:last]:
                yield text[int(start) : int(end)]

    def check(self, blob_size: int) -> str | None:
        """What is inconsistent in the columns, or None (cheap: a few vector passes)."""
        n = len(self.document)
        offsets = self.columns.get("sentence_offsets")
        rows = {
            "sentence_offsets": n + 1,
            "sentence_spans": int(offsets[-1]) if offsets is not None and len(offsets) else 0,
        }
        for name, (dtype, shape) in COLUMNS.items():
            column = self.columns.get(name)
            if column is None:
                return f"column {name} is missing"
            if column.dtype != np.dtype(dtype) or column.shape[1:] != shape:
                return f"column {name} has the wrong type"
            if len(column) != rows.get(name, n):
                return f"column {name} has {len(column)} rows"
        if n == 0:
            return None
        if self.sentence_offsets[0] != 0 or np.any(np.diff(self.sentence_offsets) < 1):
            return "sentence offsets are not increasing"
        if self.document.min() < 0 or self.document.max() >= len(self.documents):
            return "a chunk names a missing document"
        if self.section.max() >= len(self.sections) or self.section.min() < -1:
            return "a chunk names a missing section"
        if self.byte_span.min() < 0 or self.byte_span.max() > blob_size:
            return "a chunk lies outside the document texts"
        return None

    def save(self, directory: Path) -> None:
        """Write every column as ``<directory>/<name>.npy`` (the caller syncs)."""
        directory.mkdir()
        for name, column in self.columns.items():
            np.save(directory / f"{name}.npy", np.ascontiguousarray(column), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, sections: list[str], documents: DocumentTable) -> ChunkTable:
        """Memory-map the columns written by ``save``."""
        columns = {name: map_array(directory / f"{name}.npy") for name in COLUMNS}
        return cls(columns, sections, documents)


def map_array(path: Path) -> np.ndarray:
    """Memory-map a .npy file read-only and tell the OS that reads are random: a search reads a
    few hundred scattered rows, and read-ahead would pull in (and keep resident) far more."""
    array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    random_access(array)
    return array


def random_access(array: np.ndarray) -> None:
    """Advise the OS against read-ahead on a memory-mapped array (no-op where unsupported)."""
    handle = getattr(array, "_mmap", None)
    advice = getattr(mmap, "MADV_RANDOM", None)
    if isinstance(handle, mmap.mmap) and advice is not None:
        handle.madvise(advice)


def text_key(text: str) -> int:
    """Stable 64-bit hash of a text up to case and whitespace."""
    normal = " ".join(text.split()).casefold()
    return int.from_bytes(hashlib.blake2b(normal.encode("utf-8"), digest_size=8).digest(), "little")


def _byte_spans(documents: DocumentTable, document: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Absolute byte offsets in the blob of character spans in each chunk's document."""
    result = np.empty_like(span)
    if len(span) == 0:
        return result
    order = np.argsort(document, kind="stable")
    bounds = np.flatnonzero(np.diff(document[order])) + 1
    for group in np.split(order, bounds):
        row = int(document[group[0]])
        base = int(documents.spans[row, 0])
        text = documents[documents.paths[row]].text
        if len(text) == int(documents.spans[row, 1]) - base:  # ASCII: bytes are characters
            result[group] = span[group] + base
            continue
        codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        widths = 1 + (codepoints >= 0x80) + (codepoints >= 0x800) + (codepoints >= 0x10000)
        offsets = np.concatenate([[0], np.cumsum(widths, dtype=np.int64)])
        result[group] = offsets[span[group]] + base
    return result
