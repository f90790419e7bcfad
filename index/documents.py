"""Source documents: loading, decoding and splitting into paragraphs under section headings."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import SourceError
from index.sentences import trim_span

SOURCE_SUFFIXES = (".txt", ".md")
MAX_HEADING_CHARS = 120
MAX_HEADING_WORDS = 16
_BLOCK_SEPARATOR = re.compile(r"(?:[ \t\f\v]*\r?\n){2,}")
_LINE = re.compile(r"[^\r\n]*(?:\r?\n|$)")
_MARKDOWN_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FINAL_PUNCTUATION = tuple(".!?:;,…\"'”’)]}")


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of body text: ``document.text[start:end]``, numbered from 1 per document."""

    number: int
    section: str | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """A source file's original text (UTF-8 decoded) and its paragraphs.

    ``path`` is relative to the source directory, with forward slashes; it names the document
    in citations. Offsets in paragraphs (and in chunks) index ``text``.
    """

    path: str
    text: str
    content_hash: str
    paragraphs: tuple[Paragraph, ...]

    @property
    def sections(self) -> tuple[str, ...]:
        """Section headings in order of appearance, each once."""
        seen: dict[str, None] = {}
        for paragraph in self.paragraphs:
            if paragraph.section:
                seen.setdefault(paragraph.section, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A source file that was not indexed, and why."""

    path: str
    reason: str
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class DocumentSet:
    """The documents loaded from a source directory, and the files that were skipped."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...] = field(default_factory=tuple)


def content_hash(data: bytes) -> str:
    """Stable hash of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def source_files(source_dir: Path) -> list[Path]:
    """Every .txt and .md file under ``source_dir`` (recursively, hidden entries skipped)."""
    if not source_dir.exists():
        raise SourceError(
            f"source directory {source_dir} does not exist: create it and put .txt or .md files "
            "in it, or set CITEBOT_SOURCE_DIR"
        )
    if not source_dir.is_dir():
        raise SourceError(f"source path {source_dir} is not a directory: set CITEBOT_SOURCE_DIR")
    files = []
    for path in source_dir.rglob("*"):
        relative = path.relative_to(source_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in SOURCE_SUFFIXES and path.is_file():
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(source_dir).as_posix())


def load_documents(source_dir: Path) -> DocumentSet:
    """Load every source document; unreadable, non-UTF-8 or empty files are skipped with a reason.

    Raises SourceError when the directory is missing or holds no usable document.
    """
    documents = []
    skipped = []
    files = source_files(source_dir)
    for path in files:
        name = path.relative_to(source_dir).as_posix()
        try:
            documents.append(read_document(path, name))
        except SourceError as error:
            try:
                digest = content_hash(path.read_bytes())
            except OSError:
                digest = ""
            skipped.append(SkippedFile(name, str(error), digest))
    if not documents:
        if not files:
            raise SourceError(
                f"no .txt or .md files in {source_dir}: add source documents there, "
                "or set CITEBOT_SOURCE_DIR"
            )
        reasons = "; ".join(s.reason for s in skipped)
        raise SourceError(f"no usable documents in {source_dir}: {reasons}")
    return DocumentSet(tuple(documents), tuple(skipped))


def read_document(path: Path, name: str) -> Document:
    """Read and parse one file. Raises SourceError naming the file when it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"{name}: cannot be read ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{name}: not valid UTF-8 (byte {error.start}); re-save it as UTF-8 to index it"
        ) from None
    document = parse_document(name, text, content_hash(data))
    if not document.paragraphs:
        raise SourceError(f"{name}: has no text to index (empty or only headings)")
    return document


def parse_document(name: str, text: str, digest: str | None = None) -> Document:
    """Split text into paragraphs (blank-line separated) and attach each to its section heading.

    Headings are markdown ``#`` lines, and short single-line blocks without final punctuation
    (the plain-text article style). Headings become section metadata, not paragraphs.
    """
    if digest is None:
        digest = content_hash(text.encode("utf-8"))
    paragraphs: list[Paragraph] = []
    section: str | None = None
    for start, end in _blocks(text):
        body_start: int | None = None
        body_end = start
        for line_start, line_end in _lines(text, start, end):
            line = text[line_start:line_end]
            heading = _MARKDOWN_HEADING.match(line)
            if heading:
                if body_start is not None:
                    paragraphs.append(_paragraph(paragraphs, section, body_start, body_end))
                    body_start = None
                section = heading.group(2).strip() or section
                continue
            if body_start is None:
                body_start = line_start
            body_end = line_end
        if body_start is None:
            continue
        block = text[body_start:body_end]
        if is_plain_heading(block):
            section = block.strip()
            continue
        paragraphs.append(_paragraph(paragraphs, section, body_start, body_end))
    return Document(name, text, digest, tuple(paragraphs))


def is_plain_heading(block: str) -> bool:
    """A short single line with no final punctuation, starting with a capital or digit."""
    stripped = block.strip()
    if not stripped or "\n" in stripped:
        return False
    if len(stripped) > MAX_HEADING_CHARS or len(stripped.split()) > MAX_HEADING_WORDS:
        return False
    if stripped.endswith(_FINAL_PUNCTUATION):
        return False
    return stripped[0].isupper() or stripped[0].isdigit()


def _paragraph(existing: list[Paragraph], section: str | None, start: int, end: int) -> Paragraph:
    return Paragraph(len(existing) + 1, section, start, end)


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    """Spans of blank-line separated blocks, trimmed of surrounding whitespace."""
    position = 0
    for separator in _BLOCK_SEPARATOR.finditer(text):
        yield from _trimmed(text, position, separator.start())
        position = separator.end()
    yield from _trimmed(text, position, len(text))


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the non-blank lines in ``text[start:end]``, trimmed."""
    for match in _LINE.finditer(text, start, end):
        if match.start() == match.end():
            break
        yield from _trimmed(text, match.start(), match.end())


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    yield from trim_span(text, start, end)


@dataclass(frozen=True, slots=True)
class SourceChanges:
    """How the source directory differs from what an index recorded."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)

    def describe(self) -> str:
        """One line, e.g. 'added a.txt; modified b.md'."""
        parts = []
        for label, paths in (
            ("added", self.added),
            ("removed", self.removed),
            ("modified", self.modified),
        ):
            if paths:
                parts.append(f"{label} {', '.join(paths)}")
        return "; ".join(parts) if parts else "no changes"


def compare_sources(source_dir: Path, recorded: dict[str, str]) -> SourceChanges:
    """Compare the files under ``source_dir`` with ``recorded`` {path: sha256} (skipped files
    included, so a still-broken file does not count as a change)."""
    try:
        files = source_files(source_dir)
    except SourceError:
        return SourceChanges(removed=tuple(sorted(recorded)))
    current = {}
    for path in files:
        try:
            current[path.relative_to(source_dir).as_posix()] = content_hash(path.read_bytes())
        except OSError:
            continue
    return SourceChanges(
        added=tuple(sorted(set(current) - set(recorded))),
        removed=tuple(sorted(set(recorded) - set(current))),
        modified=tuple(sorted(p for p in current if p in recorded and recorded[p] != current[p])),
    )
