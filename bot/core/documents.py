"""Changes to a collection's documents, for every front end: add (a file, received bytes or a web
address), remove, and forget a collection or a server.

An added document is *pending* until a build has read it: ``Pending.keep`` settles it, and
``Pending.undo`` takes it back when the build could not read it — putting back the earlier copy
it replaced (a new download from the same address), or deleting it and its address. So a bad
download never costs a document that was searchable. The command line and the Discord bot both
come through here; they never write into a source folder or delete a collection themselves.
All functions block (files, the state database): Discord runs them on threads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.core.collections import (
    CollectionMissingError,
    Collections,
    collection_for_guild,
    guild_of,
)
from bot.state.servers import ServerStore
from bot.state.sources import SourceStore
from bot.state.threads import ThreadSourceStore
from index.errors import SourceError
from index.ingest.addresses import load_addresses
from index.ingest.fetcher import FetchLimits, Progress
from index.ingest.formats import is_source_name
from index.ingest.intake import (
    Added,
    check_user_name,
    limit_length,
    place,
    recorded_files,
    remove_document,
    safe_file_name,
    staging_file,
    target_folder,
)
from index.ingest.intake import add_file as copy_file
from index.ingest.intake import add_url as download_url


@dataclass(frozen=True)
class Previous:
    """The copy of a document that a new download from the same address replaces: its name, its
    size, and a hidden backup (builds never read hidden files) kept until the new copy is read."""

    name: str
    size: int
    backup: Path


@dataclass
class Pending:
    """A document written into ``source_dir`` that no build has read yet, and the ``previous``
    copy it replaced (None: it replaced nothing)."""

    source_dir: Path
    added: Added
    previous: Previous | None = None

    @property
    def name(self) -> str:
        return self.added.name

    def keep(self) -> None:
        """The build read it: the earlier copy's backup is deleted."""
        if self.previous is not None:
            self.previous.backup.unlink(missing_ok=True)
            self.previous = None

    def undo(self) -> Literal["restored", "removed"]:
        """The build could not read it: put the earlier copy back ("restored"; it needs a build
        again) or delete the document and its address ("removed"; removed meanwhile is fine)."""
        if self.previous is not None:
            os.replace(self.previous.backup, self.source_dir / self.previous.name)
            self.previous = None
            return "restored"
        with contextlib.suppress(SourceError):  # removed meanwhile
            remove_document(self.source_dir, self.added.name)
        return "removed"


def upload_name(filename: str) -> str:
    """The name a received file (an attachment) gets in a source folder; SourceError when it
    has no usable name."""
    name = limit_length(safe_file_name(filename))
    check_user_name(name)
    return name


def add_file(
    source_dir: Path, path: Path, max_bytes: int, *, name: str | None = None,
    folder: str | None = None,
) -> Pending:
    """Copy the file ``path`` in (a different file of the same name is kept: the copy gets the
    next free name). SourceError says why it cannot be added; nothing is left behind then."""
    return Pending(source_dir, copy_file(source_dir, path, max_bytes, name=name, folder=folder))


def add_bytes(source_dir: Path, name: str, data: bytes) -> Pending:
    """Write ``data`` as ``name`` (or the next free variant), all-or-nothing."""
    recorded = recorded_files(source_dir)
    with target_folder(source_dir, None) as where, staging_file(where) as (staged, handle):
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        placed = place(staged, where, source_dir, name, recorded)
    return Pending(source_dir, Added(placed.name, len(data)))


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
) -> Pending:
    """Download ``url`` in and record its address. The same address again replaces its
    document, whose earlier copy is kept (``Pending.previous``) until the new one is read.
    Raises FetchError or SourceError; nothing is left behind then."""
    previous = previous_copy(source_dir, url)
    try:
        added = download_url(
            source_dir, url, limits, name=name, folder=folder, allow_private=allow_private,
            progress=progress, user_agent=user_agent,
        )
    except BaseException:
        if previous is not None:
            previous.backup.unlink(missing_ok=True)
        raise
    if previous is not None and previous.name != added.name:  # saved under another name
        previous.backup.unlink(missing_ok=True)
        previous = None
    return Pending(source_dir, added, previous)


def size_for_address(source_dir: Path, url: str) -> int | None:
    """The size of the document ``sources.toml`` records for ``url`` (None: none), which a new
    download from that address would replace."""
    current = _recorded_for(source_dir, url)
    return None if current is None else current.stat().st_size


def _recorded_for(source_dir: Path, url: str) -> Path | None:
    if not source_dir.is_dir():
        return None
    try:
        recorded = load_addresses(source_dir).files
    except SourceError:
        return None
    name = next((name for name, address in recorded.items() if address == url), None)
    if name is None or not (source_dir / name).is_file():
        return None
    return source_dir / name


def previous_copy(source_dir: Path, url: str) -> Previous | None:
    """A backup of the document ``sources.toml`` records for ``url``, if there is one."""
    current = _recorded_for(source_dir, url)
    if current is None:
        return None
    backup = current.with_name(f".{current.name}.previous")
    shutil.copy2(current, backup)
    name = current.relative_to(source_dir).as_posix()
    return Previous(name, current.stat().st_size, backup)


def remove(collections: Collections, collection: str, name: str) -> Literal["removed", "deleted"]:
    """Delete the document ``name`` from ``collection``: "removed" (rebuild it next), or, when it
    was the last one, the whole collection with its index: "deleted". BuildInProgressError
    while a build of it runs; SourceError when there is no such document."""
    present = [document.name for document in collections.documents(collection)]
    if present == [name]:
        delete_collection(collections, collection)
        return "deleted"
    remove_document(collections.settings_for(collection).source_dir, name)
    return "removed"


def remove_file(source_dir: Path, name: str) -> None:
    """Delete the document ``name`` from the source folder ``source_dir`` with its address
    (``citebot remove``: the caller builds); SourceError when there is no such document."""
    remove_document(source_dir, name)


def delete_collection(collections: Collections, collection: str) -> None:
    """Delete the collection (documents and index); gone already is fine. BuildInProgressError
    while a build of it runs."""
    with contextlib.suppress(CollectionMissingError):
        collections.purge(collection)


def delete_if_empty(collections: Collections, collection: str) -> bool:
    """Delete the collection's folder when it has neither documents nor an index (a first
    document that could not be read leaves nothing behind); True when deleted."""
    if collections.documents(collection) or collections.exists(collection):
        return False
    delete_collection(collections, collection)
    return True


def forget_collection(
    collections: Collections, collection: str, servers: ServerStore | None,
    sources: SourceStore | None = None, threads: ThreadSourceStore | None = None,
) -> int | None:
    """Delete ``collection`` (CollectionMissingError when there is none), its sources (crawled
    sites) and, when it is a server's, what the state database keeps about that server (its
    source channels and their threads too); returns the server's id."""
    collections.purge(collection)
    if sources is not None:
        sources.forget_collection(collection)
    guild_id = guild_of(collection)
    if guild_id is not None and servers is not None:
        servers.forget(guild_id)
    if guild_id is not None and threads is not None:
        threads.forget_server(guild_id)
    return guild_id


def forget_server(
    collections: Collections, servers: ServerStore | None, guild_id: int,
    sources: SourceStore | None = None, threads: ThreadSourceStore | None = None,
) -> None:
    """Delete a server's documents and index, then what the state database keeps about it
    (settings, audit log, sources, source channels and their threads). When the documents
    cannot go yet (a build of them runs), nothing is forgotten and the error is raised, so a
    later attempt finds the server again."""
    delete_collection(collections, collection_for_guild(guild_id))
    if sources is not None:
        sources.forget_collection(collection_for_guild(guild_id))
    if threads is not None:
        threads.forget_server(guild_id)
    if servers is not None:
        servers.forget(guild_id)


def folder_usage(source_dir: Path) -> tuple[int, int]:
    """The documents in a collection's source folder and their bytes (hidden files aside), to
    keep what a crawl or a source channel writes within the server's limits."""
    documents = total = 0
    for root, folders, files in os.walk(source_dir):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            if not name.startswith(".") and is_source_name(name):
                documents += 1
                with contextlib.suppress(OSError):
                    total += (Path(root) / name).stat().st_size
    return documents, total
