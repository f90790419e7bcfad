"""Source documents: finding them safely, reading them, and their extracted text split into
paragraphs under section headings (the extraction itself is per format, in ``index.formats``).

Only regular files inside the source directory are ever read: a link is followed only when its
target resolves inside the directory (and then a file is indexed once, under its own name), and a
file larger than the limit (``MAX_SOURCE_BYTES`` by default) is skipped unread.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import SourceError
from index.ingest.addresses import ADDRESSES_FILE, SourceAddresses, load_addresses
from index.ingest.formats import (
    DEFAULT_EXTRACT_TIMEOUT_SECONDS,
    DEFAULT_MAX_FILE_BYTES,
    SOURCE_SUFFIXES,
    Extracted,
    ExtractLimits,
    UnreadableDocument,
    extract,
    is_source_name,
)

MAX_SOURCE_BYTES = DEFAULT_MAX_FILE_BYTES
"""Largest source file indexed by default (50 MB); larger ones are skipped unread."""
RACY_WINDOW_NS = 2_000_000_000
"""A file modified this close to when it was read may change again within the same timestamp
tick, so its modification time is not trusted to detect changes (git's "racy" rule)."""
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
@dataclass(frozen=True, slots=True)
class FileStamp:
    """Size and modification time of a source file when it was read: a later check compares
    these first and reads (hashes) only files whose stamp differs. ``mtime_ns`` is None when
    the file was modified within ``RACY_WINDOW_NS`` of being read (then it is always hashed)."""

    size: int
    mtime_ns: int | None


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of body text: ``document.text[start:end]``, numbered from 1 per document
    (per page, in a document with pages)."""

    number: int
    section: str | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """A source file's extracted text and its paragraphs.

    ``path`` is relative to the source directory, with forward slashes; it names the document
    in citations. Offsets in paragraphs (and in chunks) index ``text``, the text extracted from
    the file (the file itself for plain text). ``content_hash`` is the hash of the file's bytes.
    ``pages[i]`` is where page i + 1 starts in ``text`` (empty without pages); ``url`` is the
    document's address, when known; ``headings`` are spans of ``text`` that only name sections;
    ``anchors`` give parts of the text addresses of their own (``Extracted.anchors``).
    """

    path: str
    text: str
    content_hash: str
    paragraphs: tuple[Paragraph, ...]
    stamp: FileStamp | None = None
    format: str = "text"
    title: str | None = None
    url: str | None = None
    pages: tuple[int, ...] = ()
    headings: tuple[tuple[int, int], ...] = ()
    anchors: tuple[tuple[int, str], ...] = ()

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
    """The documents loaded from a source directory, the files that were skipped, and what was
    read of ``sources.toml`` (for change detection; None when there is none)."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...] = field(default_factory=tuple)
    addresses: FileRecord | None = None


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
    """Every source file (by suffix, see ``SOURCE_SUFFIXES``) under ``source_dir`` (recursively,
    hidden entries skipped), in name order, without reading any.

    Links are resolved: one whose target lies outside the directory (or is hidden, broken, or
    a loop) is skipped with a reason naming the link, and is never read; a linked folder is
    never descended into (its target is either outside, or inside and listed under its own
    name). A file reached under two names (a link to it, a hard link) is read once, under the
    name that is not a link.
    """
    if not source_dir.exists():
        raise SourceError(
            f"source directory {source_dir} does not exist: create it and put documents (.txt, "
            ".md, .html, .pdf, .docx) in it, or set CITEBOT_SOURCE_DIR"
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
            name = shown_name(prefix.rstrip("/") or ".")
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
                        shown = shown_name(name)
                        skipped.append(SkippedFile(
                            shown, f"{shown}/: a link to a folder outside the source folder; not "
                            "followed (copy the files into the folder to index them)"
                        ))
                    continue
            except OSError:
                pass  # vanished, or unreadable: _resolve_source says which
            if not is_source_name(entry.name):
                continue
            if shown_name(name) != name:  # bytes that are not UTF-8 (surrogate escapes)
                skipped.append(SkippedFile(shown_name(name), _not_utf8_reason(name)))
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


def shown_name(name: str) -> str:
    """A file name as it can always be written (UTF-8, JSON, a terminal, Discord): itself, or,
    when its bytes are not UTF-8 (Python holds them as surrogate escapes), those bytes written
    as ``\\xff`` escapes."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return os.fsencode(name).decode("utf-8", "backslashreplace")
        except UnicodeError:  # a surrogate that no file name's bytes give
            return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name


def _not_utf8_reason(name: str) -> str:
    return (
        f"{shown_name(name)}: the file name is not valid UTF-8 (its bytes are shown as \\x "
        "escapes); rename the file to index it"
    )


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


def load_documents(
    source_dir: Path,
    max_bytes: int = MAX_SOURCE_BYTES,
    timeout_seconds: float = DEFAULT_EXTRACT_TIMEOUT_SECONDS,
) -> DocumentSet:
    """Load every source document; unreadable, undecodable, empty, too large or unsafe files
    (see ``scan_sources``), and files whose extraction takes over ``timeout_seconds``, are
    skipped with a reason. Addresses come from each document and from ``sources.toml`` (a
    malformed one is reported as skipped, and gives no addresses).

    Raises SourceError when the directory is missing or holds no usable document.
    """
    scan = scan_sources(source_dir)
    skipped = list(scan.skipped)
    addresses, addresses_record = _addresses(source_dir, skipped)
    documents = []
    for source in scan.files:
        try:
            documents.append(read_document(source, max_bytes, addresses, timeout_seconds))
        except _Unusable as problem:
            skipped.append(SkippedFile(source.name, problem.reason, problem.digest, problem.stamp))
    skipped.sort(key=lambda s: s.path)
    if not documents:
        if not scan.files and not scan.skipped:
            raise SourceError(
                f"no source documents ({', '.join(SOURCE_SUFFIXES)}) in {source_dir}: add "
                "documents there, or set CITEBOT_SOURCE_DIR"
            )
        reasons = "; ".join(s.reason for s in skipped)
        raise SourceError(f"no usable documents in {source_dir}: {reasons}")
    return DocumentSet(tuple(documents), tuple(skipped), addresses_record)


def _addresses(
    source_dir: Path, skipped: list[SkippedFile]
) -> tuple[SourceAddresses, FileRecord | None]:
    """``sources.toml`` and its record; a problem with it is added to ``skipped``."""
    source = addresses_file(source_dir)
    if source is None:
        return SourceAddresses(), None
    try:
        record = FileRecord(file_digest(source), _stamp(source.status))
    except OSError as error:
        reason = f"{ADDRESSES_FILE}: cannot be read ({error.strerror or error})"
        skipped.append(SkippedFile(ADDRESSES_FILE, reason))
        return SourceAddresses(), None
    try:
        return load_addresses(source_dir), record
    except SourceError as error:
        reason = f"{error}; no addresses from it"
        skipped.append(SkippedFile(ADDRESSES_FILE, reason, record.sha256, record.stamp))
        return SourceAddresses(), None


def addresses_file(source_dir: Path) -> SourceFile | None:
    """``sources.toml`` in the source folder, when it is a regular file (links are not read)."""
    path = source_dir / ADDRESSES_FILE
    try:
        status = path.lstat()
    except OSError:
        return None
    return SourceFile(ADDRESSES_FILE, path, status) if stat.S_ISREG(status.st_mode) else None


class _Unusable(SourceError):
    """A source file that cannot be indexed, with what is known of it for change detection."""

    def __init__(self, reason: str, digest: str = "", stamp: FileStamp | None = None):
        super().__init__(reason)
        self.reason, self.digest, self.stamp = reason, digest, stamp


def read_document(
    source: SourceFile,
    max_bytes: int = MAX_SOURCE_BYTES,
    addresses: SourceAddresses | None = None,
    timeout_seconds: float = DEFAULT_EXTRACT_TIMEOUT_SECONDS,
) -> Document:
    """Read one file and extract its text (within ``timeout_seconds``). Raises SourceError
    naming the file when it cannot be used."""
    name = source.name
    data, stamp = _read_source(source, max_bytes)
    digest = content_hash(data)
    try:
        extracted = extract(name, data, ExtractLimits(max_bytes, timeout_seconds))
    except UnreadableDocument as problem:
        raise _Unusable(f"{name}: {problem}", digest, stamp) from None
    except Exception as error:  # a parser's own bug on a hostile file must not stop the build
        raise _Unusable(
            f"{name}: could not be read as {name.rsplit('.', 1)[-1].upper()} "
            f"({type(error).__name__}); is the file damaged?", digest, stamp,
        ) from None
    document = document_from(name, extracted, digest, stamp, addresses)
    if not document.paragraphs:
        raise _Unusable(f"{name}: has no text to index (empty or only headings)", digest, stamp)
    return document


def document_from(
    name: str,
    extracted: Extracted,
    digest: str,
    stamp: FileStamp | None = None,
    addresses: SourceAddresses | None = None,
) -> Document:
    """A Document of extracted text: paragraphs numbered per document (per page when paged),
    and the document's address."""
    paragraphs: list[Paragraph] = []
    page, number = 0, 0
    for block in extracted.blocks:
        if extracted.pages:
            block_page = page_of(extracted.pages, block.start)
            if block_page != page:
                page, number = block_page, 0
        number += 1
        paragraphs.append(Paragraph(number, block.section, block.start, block.end))
    url = (addresses or SourceAddresses()).address(name, extracted.url)
    return Document(
        name, extracted.text, digest, tuple(paragraphs), stamp, extracted.format,
        extracted.title, url, extracted.pages, extracted.headings, extracted.anchors,
    )


def page_of(pages: tuple[int, ...] | list[int], offset: int) -> int:
    """The page (from 1) that the text offset lies on, given where each page starts."""
    return max(1, bisect.bisect_right(pages, offset))


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
        f"{name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:g} MB limit for one source "
        "file (CITEBOT_MAX_SOURCE_MB); split it into smaller files to index it"
    )


def _stamp(status: os.stat_result) -> FileStamp:
    trusted = time.time_ns() - status.st_mtime_ns > RACY_WINDOW_NS
    return FileStamp(status.st_size, status.st_mtime_ns if trusted else None)


def parse_document(name: str, text: str, digest: str | None = None) -> Document:
    """A Document of text given as a string, extracted as its name's format says (for text
    formats: .txt, .md)."""
    data = text.encode("utf-8")
    extracted = extract(name, data)
    return document_from(name, extracted, digest or content_hash(data))


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
    """The source files a manifest recorded, indexed and skipped, and ``sources.toml``
    ({path: record})."""
    entries = [*manifest.get("documents", []), *manifest.get("skipped", [])]
    addresses = manifest.get("addresses")
    if isinstance(addresses, Mapping):
        entries.append({"path": ADDRESSES_FILE, **addresses})
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
    addresses = addresses_file(source_dir)
    for source in (*scan.files, *([addresses] if addresses else [])):
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
