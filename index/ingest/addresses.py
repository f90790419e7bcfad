"""Addresses of source documents, for links in citations: ``sources.toml`` in the source folder.

::

    # sources.toml: where each document can be read on the web
    [files]
    "faq.html" = "https://example.com/faq"            # `citebot add URL` writes these

    [folders]
    "docs" = { url = "https://docs.example.com/", suffix = ".html" }

A file listed under ``[files]`` has that address. A file under a listed folder has the folder's
``url`` followed by its path inside the folder (percent-encoded), its ending replaced by
``suffix`` when one is given (``""`` drops it). The deepest listed folder wins; ``""`` is the whole
source folder. A document's own address (``<link rel="canonical">``, front matter ``url:``)
comes between the two: an explicit file entry overrides it, a folder rule does not.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from index.errors import SourceError

ADDRESSES_FILE = "sources.toml"
MAX_ADDRESSES_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FolderAddress:
    """Base address of a folder's files, and the ending their addresses take."""

    url: str
    suffix: str | None = None


@dataclass(frozen=True, slots=True)
class SourceAddresses:
    """The addresses ``sources.toml`` gives: per file, and per folder."""

    files: Mapping[str, str] = field(default_factory=dict)
    folders: Mapping[str, FolderAddress] = field(default_factory=dict)

    def address(self, name: str, own: str | None = None) -> str | None:
        """The address of the document ``name`` (relative, forward slashes), given the address
        the document declares itself (``own``), or None."""
        if name in self.files:
            return self.files[name]
        if own:
            return own
        path = PurePosixPath(name)
        for folder in sorted(self.folders, key=len, reverse=True):
            inside = _inside(path, folder)
            if inside is None:
                continue
            rule = self.folders[folder]
            if rule.suffix is not None:
                inside = inside.with_suffix(rule.suffix) if rule.suffix else inside.with_suffix("")
            return rule.url.rstrip("/") + "/" + quote(str(inside))
        return None


def _inside(path: PurePosixPath, folder: str) -> PurePosixPath | None:
    folder = folder.strip("/")
    if not folder:
        return path
    try:
        return path.relative_to(folder)
    except ValueError:
        return None


def is_web_address(url: str) -> bool:
    """An absolute http(s) address with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def load_addresses(source_dir: Path) -> SourceAddresses:
    """Read ``sources.toml`` from the source folder (no file: no addresses).

    Raises SourceError naming the file, the entry and the fix when it is malformed.
    """
    path = source_dir / ADDRESSES_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return SourceAddresses()
    except OSError as error:
        raise SourceError(f"{ADDRESSES_FILE}: cannot be read ({error.strerror or error})") from None
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(MAX_ADDRESSES_BYTES + 1)
    if len(data) > MAX_ADDRESSES_BYTES:
        raise SourceError(f"{ADDRESSES_FILE}: over {MAX_ADDRESSES_BYTES // 2**20} MiB; not read")
    try:
        text = data.decode("utf-8")
        table = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SourceError(
            f"{ADDRESSES_FILE}: not valid TOML ({error}); fix it or remove it"
        ) from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise SourceError(
            f"{ADDRESSES_FILE}: not valid TOML (arrays or tables nested too deeply"
            f"{_nesting_place(text)}); fix it or remove it"
        ) from None
    return parse_addresses(table)


MAX_SHOWN_NESTING = 100
"""Nesting deeper than this is where a too-deeply nested ``sources.toml`` is said to go wrong
(tomllib itself gives up somewhat deeper, where Python's recursion limit is)."""


def _nesting_place(text: str) -> str:
    """`` at line L, column C``: where ``[`` and ``{`` outside strings and comments first nest
    deeper than ``MAX_SHOWN_NESTING``; empty when they never do."""
    depth, line, line_start = 0, 1, 0
    quote: str | None = None  # while in a string: the quotes that end it (' " ''' or """)
    index, length = 0, len(text)
    while index < length:
        character = text[index]
        step = 1
        if character == "\n":
            line, line_start = line + 1, index + 1
        elif quote is not None:
            if character == "\\" and quote[0] == '"' and text[index + 1 : index + 2] != "\n":
                step = 2  # an escaped character (a line end still counts as one)
            elif text.startswith(quote, index):
                step, quote = len(quote), None
        elif character == "#":
            end = text.find("\n", index)
            step = (length if end < 0 else end) - index
        elif character in "\"'":
            quote = character * 3 if text.startswith(character * 3, index) else character
            step = len(quote)
        elif character in "[{":
            depth += 1
            if depth > MAX_SHOWN_NESTING:
                return f" at line {line}, column {index - line_start + 1}"
        elif character in "]}":
            depth = max(0, depth - 1)
        index += step
    return ""


def parse_addresses(table: Mapping[str, object]) -> SourceAddresses:
    """Check and convert a parsed ``sources.toml``."""
    unknown = sorted(set(table) - {"files", "folders"})
    if unknown:
        raise SourceError(
            f"{ADDRESSES_FILE}: unknown table {unknown[0]!r}; only [files] and [folders] are read"
        )
    files_table = table.get("files", {})
    folders_table = table.get("folders", {})
    if not isinstance(files_table, Mapping) or not isinstance(folders_table, Mapping):
        raise SourceError(f"{ADDRESSES_FILE}: [files] and [folders] must be tables")
    files: dict[str, str] = {}
    for name, url in files_table.items():
        files[_name(name)] = _address(f"files.{name!r}", url)
    folders: dict[str, FolderAddress] = {}
    for name, rule in folders_table.items():
        where = f"folders.{name!r}"
        if isinstance(rule, str):
            rule = {"url": rule}
        if not isinstance(rule, Mapping) or set(rule) - {"url", "suffix"} or "url" not in rule:
            raise SourceError(
                f'{ADDRESSES_FILE}: {where} must be an address or {{ url = "https://…", '
                'suffix = ".html" }'
            )
        suffix = rule.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or "/" in suffix):
            raise SourceError(f'{ADDRESSES_FILE}: {where}.suffix must be an ending like ".html"')
        folders[_name(name)] = FolderAddress(_address(where, rule["url"]), suffix)
    return SourceAddresses(files, folders)


def _name(name: str) -> str:
    return "/".join(part for part in name.replace("\\", "/").split("/") if part not in ("", "."))


def _address(where: str, url: object) -> str:
    if not isinstance(url, str) or not is_web_address(url):
        raise SourceError(
            f"{ADDRESSES_FILE}: {where} must be an http:// or https:// address, got {url!r}"
        )
    return url


def record_address(source_dir: Path, name: str, url: str) -> None:
    """Set ``[files] name = url`` in ``sources.toml``, keeping everything else in it (comments
    included); written to a temporary file and renamed, so it is never half-written."""
    record_addresses(source_dir, {name: url})


def record_addresses(
    source_dir: Path, addresses: Mapping[str, str], *, remove: tuple[str, ...] = ()
) -> None:
    """Set ``[files] name = url`` for each of ``addresses`` and drop the ``remove`` names, in
    one rewrite of ``sources.toml`` (a crawl records hundreds of pages at once)."""
    import tomlkit

    path = source_dir / ADDRESSES_FILE
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = tomlkit.document()
        document.add(tomlkit.comment("Where each source document can be read; see the README."))
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as error:
        raise SourceError(f"{ADDRESSES_FILE}: cannot be updated ({error}); fix it first") from None
    files = document.get("files")
    if files is None:
        files = tomlkit.table()
        document["files"] = files
    for name, url in addresses.items():
        files[_name(name)] = _address(f"files.{name!r}", url)
    for name in remove:
        if _name(name) in files:
            del files[_name(name)]
    staging = path.with_name(f".{ADDRESSES_FILE}.{os.getpid()}.tmp")
    try:
        text = tomlkit.dumps(document)
        staging.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
