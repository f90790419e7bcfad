"""Text extraction, one module per source format.

Every extractor turns a file's bytes into an :class:`Extracted`: the document's text as citebot
keeps and quotes it, with spans (offsets into that text) for its body blocks, its headings and
its pages. Every offset anywhere in the index refers to this extracted text, so for every format
``extracted.text[block.start:block.end]`` is exactly the block's text.

An extractor raises :class:`UnreadableDocument` with a short reason (without the file name)
when a file cannot be indexed; the caller names the file and skips it. One bad file never stops
a build.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from index.errors import SourceError

DEFAULT_MAX_FILE_BYTES = 50 * 1000 * 1000
"""Largest source file (and, for DOCX, its uncompressed content) indexed by default: 50 MB."""
DEFAULT_EXTRACT_TIMEOUT_SECONDS = 60.0
"""Longest one document's extraction may take by default; a slower one is skipped."""


class UnreadableDocument(SourceError):
    """A file that cannot be indexed; the message says why, e.g. 'encrypted PDF: ...'."""


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph of body text, ``text[start:end]``, under the section heading that precedes it
    (None before the first heading)."""

    start: int
    end: int
    section: str | None


@dataclass(frozen=True, slots=True)
class Extracted:
    """A document's extracted text and its structure.

    ``blocks`` are the body paragraphs in order (they are what gets chunked and searched);
    ``headings`` are spans of ``text`` that only name sections (not searched as body: every
    non-whitespace character of ``text`` lies in a block or a heading). ``pages[i]`` is the offset
    where page i + 1 starts (empty for formats without pages). ``title`` and ``url`` are what the
    document says of itself (``<title>``, front matter, ``<link rel="canonical">``).
    ``anchors``: (offset, address) from where the text has an address of its own, up to the next
    anchor ("" after it: the document's address again); a Markdown heading that is only a link
    gives the section under it that link (a thread's message its jump link, say).
    """

    text: str
    blocks: tuple[Block, ...]
    format: str
    headings: tuple[tuple[int, int], ...] = ()
    pages: tuple[int, ...] = ()
    title: str | None = None
    url: str | None = None
    anchors: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractLimits:
    """Limits an extractor enforces: ``max_bytes`` bounds the file and anything decompressed
    from it (DOCX parts), so a zip bomb is refused before it is expanded; ``timeout_seconds``
    bounds the time one document's extraction takes (see ``Deadline``)."""

    max_bytes: int = DEFAULT_MAX_FILE_BYTES
    timeout_seconds: float = DEFAULT_EXTRACT_TIMEOUT_SECONDS

    def deadline(self) -> Deadline:
        """A deadline ``timeout_seconds`` from now."""
        return Deadline(time.monotonic() + self.timeout_seconds, self.timeout_seconds)


@dataclass(frozen=True, slots=True)
class Deadline:
    """When an extraction must stop: an extractor whose work is not bounded by its file's size
    (a PDF can draw one page thousands of times) calls ``check`` between steps of its work, so
    the work really stops there (the longest step is bounded by the byte limits)."""

    at: float
    """On the ``time.monotonic`` clock."""
    seconds: float

    def check(self) -> None:
        """Raise UnreadableDocument once the deadline has passed."""
        if time.monotonic() > self.at:
            raise UnreadableDocument(
                f"reading it took over {self.seconds:g} s (the limit for one document, "
                "CITEBOT_EXTRACT_TIMEOUT_SECONDS) and was stopped: is it damaged, or built to "
                "stall readers? Export it again, or split it, to index it"
            )


Extractor = Callable[[bytes, ExtractLimits], Extracted]

# suffix -> module in this package that defines ``extract(data, limits) -> Extracted``
_MODULES = {
    ".txt": "plain",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SOURCE_SUFFIXES = tuple(_MODULES)
"""File name endings (lower case) that citebot reads; other files are not sources."""


def is_source_name(name: str) -> bool:
    """Whether a file of this name is a source document (by its suffix)."""
    return name.lower().endswith(SOURCE_SUFFIXES)


def extractor_for(name: str) -> Extractor:
    """The extractor of a file by its name's suffix (``is_source_name`` must hold)."""
    lowered = name.lower()
    for suffix, module in _MODULES.items():
        if lowered.endswith(suffix):
            extract: Extractor = importlib.import_module(f"{__name__}.{module}").extract
            return extract
    raise ValueError(f"{name}: not a source format ({', '.join(SOURCE_SUFFIXES)})")


def extract(name: str, data: bytes, limits: ExtractLimits | None = None) -> Extracted:
    """Extract a file's text by its name's suffix. Raises UnreadableDocument with the reason."""
    return extractor_for(name)(data, limits or ExtractLimits())


def decode_text(data: bytes) -> str:
    """UTF-8 text (a byte-order mark dropped), or UnreadableDocument saying how to fix it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableDocument(
            f"not valid UTF-8 (byte {error.start}); re-save it as UTF-8 to index it"
        ) from None
    if "\x00" in text:
        raise UnreadableDocument(
            "binary data (NUL bytes), not text: is the file name's ending right?"
        )
    return text
