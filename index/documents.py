"""Source documents: finding them safely, loading, decoding and splitting into paragraphs under
section headings.

Only regular files inside the source directory are ever read: a link is followed only when its
target resolves inside the directory (and then a file is indexed once, under its own name), and a
file larger than ``MAX_SOURCE_BYTES`` is skipped unread. Every regular expression here matches in
linear time, whatever the input (no nested or overlapping quantifiers that can backtrack).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import SourceError
from index.sentences import trim_span

SOURCE_SUFFIXES = (".txt", ".md")
MAX_HEADING_CHARS = 120
MAX_HEADING_WORDS = 16
MAX_SOURCE_BYTES = 32 * 1024 * 1024
"""Largest source file indexed (32 MiB, ten times a long book); larger ones are skipped unread."""
RACY_WINDOW_NS = 2_000_000_000
"""A file modified this close to when it was read may change again within the same timestamp
tick, so its modification time is not trusted to detect changes (git's "racy" rule)."""
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
# Blank-line separators. The lookbehind starts a match only at the start of a run of horizontal
# whitespace, so a long run without two line ends is scanned once, not once per character; the
# atomic group keeps "\r\n" one line end (never "\r" then "\n", which would be a blank line).
_BLOCK_SEPARATOR = re.compile(r"(?<![ \t\f\v])(?:[ \t\f\v]*+(?>\r\n|\r|\n)){2,}")
# A line and its end: "\r\n", "\n" or a lone "\r" (old Mac files). Every match consumes at
# least one character until the end, so finditer never re-scans.
_LINE = re.compile(r"[^\r\n]*+(?:\r\n|\r|\n|$)")
# "#" to "######" and a space; the title (trailing spaces and "#"s are stripped in Python, as
# a lazy ``(.*?)[ \t#]*$`` backtracks quadratically on a long run of them).
_MARKDOWN_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.*)")
_FINAL_PUNCTUATION = tuple(".!?:;,…\"'”’)]}")


@dataclass(frozen=True, slots=True)
class FileStamp:
    """Size and modification time of a source file when it was read: a later check compares
    these first and reads (hashes) only files whose stamp differs. ``mtime_ns`` is None when
    the file was modified within ``RACY_WINDOW_NS`` of being read (then it is always hashed)."""

    size: int
    mtime_ns: int | None


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
    stamp: FileStamp | None = None

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
    """A source file that was not indexed, and why (the reason starts with its name)."""

    path: str
    reason: str
    content_hash: str = ""
    stamp: FileStamp | None = None


@dataclass(frozen=True, slots=True)
class DocumentSet:
    """The documents loaded from a source directory, and the files that were skipped."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A source file that may be read: ``name`` names it (relative, forward slashes), ``path``
    is where it really is (links resolved, always inside the source directory)."""

    name: str
    path: Path
    status: os.stat_result


@dataclass(frozen=True, slots=True)
class SourceScan:
    """What a source directory holds: the files to read, and the entries skipped unread."""

    files: tuple[SourceFile, ...]
    skipped: tuple[SkippedFile, ...] = ()


def content_hash(data: bytes) -> str:
    """Stable hash of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def scan_sources(source_dir: Path) -> SourceScan:
    """Every .txt and .md file under ``source_dir`` (recursively, hidden entries skipped), in
    name order, without reading any.

    Links are resolved: one whose target lies outside the directory (or is hidden, broken, or
    a loop) is skipped with a reason naming the link, and is never read; a linked folder is
    never descended into (its target is either outside, or inside and listed under its own
    name). A file reached under two names (a link to it, a hard link) is read once, under the
    name that is not a link.
    """
    if not source_dir.exists():
        raise SourceError(
            f"source directory {source_dir} does not exist: create it and put .txt or .md files "
            "in it, or set CITEBOT_SOURCE_DIR"
        )
    if not source_dir.is_dir():
        raise SourceError(f"source path {source_dir} is not a directory: set CITEBOT_SOURCE_DIR")
    root = source_dir.resolve()
    skipped: list[SkippedFile] = []
    candidates: list[tuple[bool, str, Path, os.stat_result]] = []
    folders = [(str(root), "")]
    while folders:  # os.scandir: one stat per source file, none per other entry
        folder, prefix = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            name = prefix.rstrip("/") or "."
            skipped.append(SkippedFile(name, f"{name}/: folder cannot be read ({error.strerror})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = prefix + entry.name
            try:
                is_link = entry.is_symlink()
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, name + "/"))
                    continue
                if is_link and entry.is_dir():
                    if not _resolves_inside(Path(entry.path), root):
                        skipped.append(SkippedFile(
                            name, f"{name}/: a link to a folder outside the source folder; not "
                            "followed (copy the files into the folder to index them)"
                        ))
                    continue
            except OSError:
                pass  # vanished, or unreadable: _resolve_source says which
            if not entry.name.lower().endswith(SOURCE_SUFFIXES):
                continue
            found = _resolve_source(Path(entry.path), name, root, entry)
            if isinstance(found, SkippedFile):
                skipped.append(found)
            elif found is not None:
                candidates.append((is_link, name, *found))
    files: list[SourceFile] = []
    seen: dict[tuple[int, int], str] = {}
    for _, name, real, status in sorted(candidates, key=lambda c: (c[0], c[1])):
        identity = (status.st_dev, status.st_ino)
        if identity in seen:
            skipped.append(
                SkippedFile(name, f"{name}: the same file as {seen[identity]}; indexed once")
            )
            continue
        seen[identity] = name
        files.append(SourceFile(name, real, status))
    files.sort(key=lambda f: f.name)
    skipped.sort(key=lambda s: s.path)
    return SourceScan(tuple(files), tuple(skipped))


def _resolves_inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def _resolve_source(
    path: Path, name: str, root: Path, entry: os.DirEntry[str]
) -> tuple[Path, os.stat_result] | SkippedFile | None:
    """(real path, status) of a listed file, a SkippedFile saying why it may not be read, or
    None for something that is not a file at all."""
    real = path
    if entry.is_symlink():
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, or a loop of links
            return SkippedFile(name, f"{name}: a broken link (or a loop of links); not read")
        if not real.is_relative_to(root):
            return SkippedFile(
                name, f"{name}: a link to a file outside the source folder; not read "
                "(copy the file into the folder to index it)"
            )
        if any(part.startswith(".") for part in real.relative_to(root).parts):
            return SkippedFile(name, f"{name}: a link to a hidden file; not read")
    try:
        status = real.stat() if real is not path else entry.stat(follow_symlinks=False)
    except OSError as error:
        return SkippedFile(name, f"{name}: cannot be read ({error.strerror or error})")
    if stat.S_ISDIR(status.st_mode):
        return None
    if not stat.S_ISREG(status.st_mode):
        return SkippedFile(name, f"{name}: not a regular file; not read")
    return real, status


def load_documents(source_dir: Path, max_bytes: int = MAX_SOURCE_BYTES) -> DocumentSet:
    """Load every source document; unreadable, non-UTF-8, empty, too large or unsafe files
    (see ``scan_sources``) are skipped with a reason.

    Raises SourceError when the directory is missing or holds no usable document.
    """
    scan = scan_sources(source_dir)
    documents = []
    skipped = list(scan.skipped)
    for source in scan.files:
        try:
            documents.append(read_document(source, max_bytes))
        except _Unusable as problem:
            skipped.append(SkippedFile(source.name, problem.reason, problem.digest, problem.stamp))
    skipped.sort(key=lambda s: s.path)
    if not documents:
        if not scan.files and not scan.skipped:
            raise SourceError(
                f"no .txt or .md files in {source_dir}: add source documents there, "
                "or set CITEBOT_SOURCE_DIR"
            )
        reasons = "; ".join(s.reason for s in skipped)
        raise SourceError(f"no usable documents in {source_dir}: {reasons}")
    return DocumentSet(tuple(documents), tuple(skipped))


class _Unusable(SourceError):
    """A source file that cannot be indexed, with what is known of it for change detection."""

    def __init__(self, reason: str, digest: str = "", stamp: FileStamp | None = None):
        super().__init__(reason)
        self.reason, self.digest, self.stamp = reason, digest, stamp


def read_document(source: SourceFile, max_bytes: int = MAX_SOURCE_BYTES) -> Document:
    """Read and parse one file. Raises SourceError naming the file when it cannot be used."""
    name = source.name
    data, stamp = _read_source(source, max_bytes)
    digest = content_hash(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _Unusable(
            f"{name}: not valid UTF-8 (byte {error.start}); re-save it as UTF-8 to index it",
            digest, stamp,
        ) from None
    document = parse_document(name, text, digest)
    if not document.paragraphs:
        raise _Unusable(f"{name}: has no text to index (empty or only headings)", digest, stamp)
    return Document(name, text, digest, document.paragraphs, stamp)


def _read_source(source: SourceFile, max_bytes: int) -> tuple[bytes, FileStamp]:
    """The bytes of a scanned file, read through a descriptor that is checked to be the file
    the scan found (not a link or a file swapped in since), and its stamp."""
    name = source.name
    size = source.status.st_size
    if size > max_bytes:
        raise _Unusable(_too_large(name, size, max_bytes), "", _stamp(source.status))
    try:
        descriptor = os.open(source.path, _READ_FLAGS)
    except OSError as error:
        raise _Unusable(f"{name}: cannot be read ({error.strerror or error})") from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(descriptor)
        if (status.st_dev, status.st_ino) != (source.status.st_dev, source.status.st_ino):
            raise _Unusable(f"{name}: replaced while being indexed; run the build again")
        if status.st_size > max_bytes:
            raise _Unusable(_too_large(name, status.st_size, max_bytes), "", _stamp(status))
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise _Unusable(f"{name}: cannot be read ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise _Unusable(_too_large(name, len(data), max_bytes))
    return data, _stamp(status)


def _too_large(name: str, size: int, max_bytes: int) -> str:
    return (
        f"{name}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB limit for one "
        "source file; split it into smaller files to index it"
    )


def _stamp(status: os.stat_result) -> FileStamp:
    trusted = time.time_ns() - status.st_mtime_ns > RACY_WINDOW_NS
    return FileStamp(status.st_size, status.st_mtime_ns if trusted else None)


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
                section = heading.group(2).rstrip(" \t#").strip() or section
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
    if not stripped or "\n" in stripped or "\r" in stripped:
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


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What an index recorded of a source file: its hash and, from newer builds, its stamp."""

    sha256: str
    stamp: FileStamp | None = None

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any]) -> FileRecord:
        """From a manifest's document or skipped entry (``sha256``, ``size``, ``mtime_ns``)."""
        size = entry.get("size")
        stamp = FileStamp(size, entry.get("mtime_ns")) if isinstance(size, int) else None
        return cls(str(entry.get("sha256", "")), stamp)


def stamp_fields(stamp: FileStamp | None) -> dict[str, int | None]:
    """A stamp as manifest fields (``size``, ``mtime_ns``); empty when there is none."""
    return {} if stamp is None else {"size": stamp.size, "mtime_ns": stamp.mtime_ns}


def recorded_sources(manifest: Mapping[str, Any]) -> dict[str, FileRecord]:
    """The source files a manifest recorded, indexed and skipped ({path: record})."""
    entries = [*manifest.get("documents", []), *manifest.get("skipped", [])]
    return {entry["path"]: FileRecord.from_manifest(entry) for entry in entries}


def compare_sources(source_dir: Path, recorded: Mapping[str, FileRecord | str]) -> SourceChanges:
    """Compare the files under ``source_dir`` with what an index ``recorded`` (skipped files
    included, so a still-broken file does not count as a change).

    A file whose size and modification time match its record is unchanged without being read;
    only the others are hashed (a touched but unchanged file is not reported).
    """
    records = {
        path: FileRecord(record) if isinstance(record, str) else record
        for path, record in recorded.items()
    }
    try:
        scan = scan_sources(source_dir)
    except SourceError:
        return SourceChanges(removed=tuple(sorted(records)))
    current: set[str] = set()
    modified = []
    for skipped in scan.skipped:  # never read: a record of it counts if it was skipped too
        current.add(skipped.path)
        if skipped.path in records and records[skipped.path].sha256:
            modified.append(skipped.path)
    for source in scan.files:
        current.add(source.name)
        record = records.get(source.name)
        if record is None or _stamp_matches(record.stamp, source.status):
            continue
        try:
            digest = file_digest(source)
        except OSError:
            current.discard(source.name)
            continue
        if digest != record.sha256:
            modified.append(source.name)
    return SourceChanges(
        added=tuple(sorted(current - set(records))),
        removed=tuple(sorted(set(records) - current)),
        modified=tuple(sorted(modified)),
    )


def _stamp_matches(stamp: FileStamp | None, status: os.stat_result) -> bool:
    return (
        stamp is not None
        and stamp.mtime_ns is not None
        and stamp.size == status.st_size
        and stamp.mtime_ns == status.st_mtime_ns
    )


def file_digest(source: SourceFile) -> str:
    """SHA-256 of a scanned file's bytes, read in blocks (as ``content_hash`` of its bytes)."""
    descriptor = os.open(source.path, _READ_FLAGS)
    with os.fdopen(descriptor, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
