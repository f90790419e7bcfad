"""Putting a new document into the source folder: its file name, and an all-or-nothing write.

A document is written to a hidden temporary file in its folder (hidden: a build running at the
same time never lists it) and moved to its name only once it is complete and checked, so no
half-written file is ever left behind, whatever fails and even on Ctrl-C. A user's file is
never overwritten: only a file that ``sources.toml`` records for the same address is replaced.
"""

from __future__ import annotations

import filecmp
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from index.errors import SourceError
from index.ingest.addresses import load_addresses, record_address
from index.ingest.fetcher import Fetched, FetchLimits, Progress, check_address, fetch
from index.ingest.formats import SOURCE_SUFFIXES, is_source_name

MAX_NAME_BYTES = 120
"""Longest file name citebot makes, in UTF-8 bytes (file systems allow 255)."""

STAGING_PREFIX = ".citebot-add-"
# Characters that are not allowed (or mean something) in file names on some system.
_UNSAFE = re.compile(r'[\\/:*?"<>|]+')
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_BARE_NAMES = re.compile(r"^(index|default)(\.[a-z0-9]+)?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a document went: its name relative to the source folder (forward slashes), and
    whether it replaced the earlier copy from the same address."""

    name: str
    replaced: bool


def safe_file_name(raw: str) -> str:
    """``raw`` (percent-decoded) as a harmless file name: no path separators or characters other
    systems forbid, no control or invisible characters, no leading dot; '' if nothing is left.
    Not length-limited (see :func:`limit_length`)."""
    text = unicodedata.normalize("NFC", unquote(raw, errors="replace"))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    text = _UNSAFE.sub("-", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip().lstrip(".-_ ").rstrip(". ")


def name_from_url(url: str) -> str:
    """A readable file name (without a fixed ending) for the document at ``url``: the last
    segment of its path, or for a bare path (``/``, ``/docs/``, ``/index.html``) the host and
    the path, e.g. ``example.com`` or ``example.com-docs``."""
    parts = urlsplit(url)
    segments = [safe_file_name(s) for s in parts.path.split("/") if s]
    if segments and _BARE_NAMES.match(segments[-1]):
        segments.pop()  # /docs/index.html names the folder /docs/
    elif segments and segments[-1] and not parts.path.endswith("/"):
        return segments[-1]
    slug = [safe_file_name(parts.hostname or ""), *segments]
    return "-".join(part for part in slug if part) or "document"


def with_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    """``name`` when it ends with one of ``suffixes`` (any case), else with the first appended."""
    if name.lower().endswith(suffixes):
        return name
    return name + suffixes[0]


def limit_length(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name`` cut to ``max_bytes`` UTF-8 bytes, keeping its ending (``.pdf``)."""
    if len(name.encode()) <= max_bytes:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 10:
        stem, suffix = name, ""
    ending = f".{suffix}" if suffix else ""
    room = max_bytes - len(ending.encode())
    cut = stem.encode()[:room].decode(errors="ignore").rstrip(". ")
    return cut + ending


def check_user_name(name: str) -> str:
    """A file name given by the user (``--name``): a plain, visible file name, or SourceError."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or name.startswith(".")
        or any(unicodedata.category(ch) in _INVISIBLE for ch in name)
        or name != name.strip()
    ):
        raise SourceError(
            f"--name {name!r}: give a plain file name (no folders, not starting with '.', "
            "no control characters or surrounding spaces)"
        )
    if len(name.encode()) > MAX_NAME_BYTES:
        raise SourceError(f"--name: at most {MAX_NAME_BYTES} bytes long")
    return name


@contextmanager
def target_folder(source_dir: Path, subfolder: str | None) -> Iterator[Path]:
    """The folder inside the source folder that a document goes to, created when missing (and
    removed again, when still empty, if the block raises). ``subfolder`` must be relative,
    visible, and stay inside the source folder (links included); else SourceError."""
    parts = _subfolder_parts(subfolder) if subfolder else []
    created: list[Path] = []
    try:
        for depth in range(len(parts) + 1):
            folder = source_dir.joinpath(*parts[:depth])
            if not folder.exists():
                try:
                    folder.mkdir(parents=depth == 0)
                except (FileExistsError, NotADirectoryError):
                    raise SourceError(f"{folder}: a file of that name is in the way") from None
                created.append(folder)
            elif not folder.is_dir():
                raise SourceError(f"{folder}: a file of that name is in the way")
        root = source_dir.resolve()
        folder = root.joinpath(*parts)
        if not folder.resolve().is_relative_to(root):
            raise SourceError(
                f"--folder {subfolder!r} leads outside the source folder (a link); not used"
            )
        yield folder
    except BaseException:
        for made in reversed(created):
            try:
                made.rmdir()
            except OSError:
                break
        raise


def _subfolder_parts(subfolder: str) -> list[str]:
    path = PurePosixPath(subfolder.replace("\\", "/"))
    parts = [part for part in path.parts if part not in ("", ".")]
    if (
        path.is_absolute()
        or not parts
        or any(part == ".." or part.startswith(".") for part in parts)
        or any(unicodedata.category(ch) in _INVISIBLE for ch in subfolder)
    ):
        raise SourceError(
            f"--folder {subfolder!r}: give a folder inside the source folder, like docs or "
            "docs/guides (no '..', no absolute path, no hidden folders)"
        )
    return parts


@contextmanager
def staging_file(folder: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """A new hidden file in ``folder`` to write a document into; removed on leaving unless
    :func:`place` moved it to its name."""
    for _ in range(100):
        path = folder / f"{STAGING_PREFIX}{secrets.token_hex(6)}.part"
        try:
            handle = path.open("xb")  # permissions: what the umask allows, like any new file
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise SourceError(f"cannot create a temporary file in {folder}")
    try:
        with handle:
            yield path, handle
    finally:
        path.unlink(missing_ok=True)


def candidate_names(name: str) -> Iterator[str]:
    """``name``, then ``stem-2.ext``, ``stem-3.ext``, …"""
    yield name
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    ending = f".{suffix}" if suffix else ""
    for number in range(2, 10_000):
        yield limit_length(f"{stem}-{number}{ending}", MAX_NAME_BYTES + 6)


def place(
    staged: Path,
    folder: Path,
    source_dir: Path,
    name: str,
    recorded: Mapping[str, str],
    url: str | None = None,
) -> Placed:
    """Move the complete file ``staged`` into ``folder`` under ``name`` or the first free
    variant of it (``name-2.html``).

    A name is free when no file has it and ``sources.toml`` (``recorded``: name -> address)
    does not give it an address; a name recorded for ``url`` itself is taken over, replacing
    the file (an update of the same document). Nothing else is ever overwritten: the move
    fails rather than replace a file that appears meanwhile, and the next variant is tried.
    """
    root = source_dir.resolve()
    prefix = folder.relative_to(root).as_posix()
    for candidate in candidate_names(name):
        relative = f"{prefix}/{candidate}" if prefix != "." else candidate
        target = folder / candidate
        if url is not None and recorded.get(relative) == url:
            existed = os.path.lexists(target)
            os.replace(staged, target)
            return Placed(relative, replaced=existed)
        if relative in recorded or os.path.lexists(target):
            continue
        try:
            os.link(staged, target)  # fails if the name was taken meanwhile: never overwrites
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            if os.path.lexists(target):
                continue
            os.rename(staged, target)
            return Placed(relative, replaced=False)
        staged.unlink()
        return Placed(relative, replaced=False)
    raise SourceError(f"no free name like {name} in {folder}")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Added:
    """A document added to the source folder: its name there (forward slashes), its size, the
    address recorded for it and the one asked for (differs after a redirect); ``replaced``: an
    earlier copy from the same address was replaced; ``unchanged``: the same file was there."""

    name: str
    size: int
    url: str | None = None
    requested: str | None = None
    replaced: bool = False
    unchanged: bool = False


def add_url(
    source_dir: Path,
    url: str,
    limits: FetchLimits,
    *,
    name: str | None = None,
    folder: str | None = None,
    allow_private: bool = False,
    progress: Progress | None = None,
    user_agent: str = "citebot",
) -> Added:
    """Download ``url`` into the source folder (or its ``folder``) and record its address in
    ``sources.toml``. The file is named ``name`` or after the address, with the ending its
    content type implies. Raises FetchError or SourceError; nothing is left behind then.

    The address recorded is the one the document was finally fetched from: after a redirect,
    the final one, which is where the quoted text really is and what citation links open.
    """
    check_address(url)
    if name is not None:
        check_user_name(name)
    recorded = load_addresses(source_dir).files  # a broken sources.toml stops us before work
    with target_folder(source_dir, folder) as where, staging_file(where) as (staged, handle):
        fetched = fetch(
            url, handle, limits, allow_private=allow_private, progress=progress,
            user_agent=user_agent,
        )
        handle.flush()
        os.fsync(handle.fileno())
        address = fetched.final_url if fetched.redirected else fetched.url
        wanted = _download_name(name, fetched)
        placed = place(staged, where, source_dir, wanted, recorded, address)
        try:
            record_address(source_dir, placed.name, address)
        except BaseException:
            if not placed.replaced:
                (where / PurePosixPath(placed.name).name).unlink(missing_ok=True)
            raise
    return Added(
        placed.name,
        fetched.size,
        url=address,
        requested=fetched.url if fetched.redirected else None,
        replaced=placed.replaced,
    )


def _download_name(given: str | None, fetched: Fetched) -> str:
    if given is None:
        return limit_length(with_suffix(name_from_url(fetched.final_url), fetched.suffixes))
    if is_source_name(given) and not given.lower().endswith(fetched.suffixes):
        raise SourceError(
            f"--name {given}: the address sent {fetched.media_type}; give a name ending in "
            f"{' or '.join(fetched.suffixes)}, or none to have it added"
        )
    return with_suffix(given, fetched.suffixes)


def add_file(
    source_dir: Path,
    path: Path,
    max_bytes: int,
    *,
    name: str | None = None,
    folder: str | None = None,
) -> Added:
    """Copy the file ``path`` into the source folder (or its ``folder``) as ``name`` or its own
    name; a different file of that name is kept and the copy gets the next free name.
    Raises SourceError saying why a file cannot be added; nothing is left behind then."""
    if path.is_dir():
        raise SourceError(
            f"{path} is a folder: copy it into the source folder ({source_dir}) and run "
            "`citebot build`; `citebot add` takes one file or one web address"
        )
    if not path.is_file():
        raise SourceError(f"{path}: no such file (for a web page, give its full https:// address)")
    wanted = _copy_name(path, name)
    size = path.stat().st_size
    if size > max_bytes:
        raise SourceError(f"{path.name} is {size:,} bytes, over the {max_bytes / 1e6:g} MB limit")
    recorded = recorded_files(source_dir)
    with target_folder(source_dir, folder) as where:
        existing = where / wanted
        if existing.is_file() and filecmp.cmp(existing, path, shallow=False):
            relative = existing.relative_to(source_dir.resolve()).as_posix()
            return Added(relative, size, unchanged=True)
        with staging_file(where) as (staged, handle), path.open("rb") as original:
            copied = 0
            while piece := original.read(1024 * 1024):
                copied += len(piece)
                if copied > max_bytes:
                    raise SourceError(f"{path.name} grew over the {max_bytes / 1e6:g} MB limit")
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
            placed = place(staged, where, source_dir, wanted, recorded)
    return Added(placed.name, copied)


def recorded_files(source_dir: Path) -> Mapping[str, str]:
    """The ``[files]`` addresses of ``sources.toml`` (name -> address), for placing a copied
    file; none when the file is malformed (a copy needs no address, and the build reports
    what is wrong with it)."""
    try:
        return load_addresses(source_dir).files
    except SourceError:
        return {}


def _copy_name(path: Path, given: str | None) -> str:
    wanted = check_user_name(given) if given else limit_length(safe_file_name(path.name))
    if is_source_name(wanted):
        return wanted
    if given and is_source_name(path.name):
        own = next(s for s in SOURCE_SUFFIXES if path.name.lower().endswith(s))
        return wanted + own
    raise SourceError(
        f"{given or path.name}: citebot reads only files ending in {', '.join(SOURCE_SUFFIXES)}"
    )


def remove_document(source_dir: Path, name: str) -> None:
    """Delete the document ``name`` (relative to the source folder, forward slashes, as
    ``scan_sources`` names it) and its ``[files]`` address in ``sources.toml``, if any.

    Only a source document inside the folder is deleted (not ``sources.toml``, nothing hidden,
    nothing through a linked folder); else SourceError, and nothing is changed. The file goes
    first: should the address then fail to go, a stale address only names a file that is gone.
    """
    import tomlkit

    from index.ingest.addresses import ADDRESSES_FILE

    parts = PurePosixPath(name).parts
    if (
        not parts
        or PurePosixPath(name).is_absolute()
        or any(part in (".", "..") or part.startswith(".") for part in parts)
        or not is_source_name(name)
    ):
        raise SourceError(f"{name!r} is not the name of a document in the source folder")
    root = source_dir.resolve()
    target = root.joinpath(*parts)
    if not target.parent.resolve().is_relative_to(root) or not os.path.lexists(target):
        raise SourceError(f"{name}: no such document in the source folder")
    if target.is_dir() and not target.is_symlink():
        raise SourceError(f"{name} is a folder, not a document")
    target.unlink()
    path = root / ADDRESSES_FILE
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as error:
        raise SourceError(
            f"{name} was deleted, but {ADDRESSES_FILE} cannot be updated ({error}); fix it"
        ) from None
    files = document.get("files")
    key = PurePosixPath(*parts).as_posix()
    if files is None or key not in files:
        return
    del files[key]
    staging = path.with_name(f".{ADDRESSES_FILE}.{os.getpid()}.tmp")
    try:
        staging.write_text(tomlkit.dumps(document), encoding="utf-8")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
