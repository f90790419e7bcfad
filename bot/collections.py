"""Collections: a set of documents with its own index. ``default`` is the operator's
(``CITEBOT_SOURCE_DIR`` and ``CITEBOT_INDEX_DIR``); any other collection NAME keeps its documents
in ``<CITEBOT_COLLECTIONS_DIR>/NAME/sources`` and its index in ``.../NAME/index``. A Discord
server's collection is named ``guild-<server id>``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from index.errors import CitebotError
from index.store import IndexStore

DEFAULT = "default"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_GUILD = re.compile(r"guild-([0-9]{1,20})")


class CollectionError(CitebotError):
    """A collection name is not allowed, or a collection is missing; the message says why."""


def check_name(name: str) -> str:
    """``name`` when it may name a collection: lower-case letters, digits, ``-`` and ``_``, at
    most 63 characters, starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CollectionError(
            f"{name!r} cannot name a collection: use lower-case letters, digits, - and _ "
            "(at most 63 characters, starting with a letter or digit)"
        )
    return name


def collection_for_guild(guild_id: int) -> str:
    """The collection of a Discord server."""
    return f"guild-{int(guild_id)}"


def guild_of(name: str) -> int | None:
    """The server id of a ``guild-<id>`` collection, else None."""
    match = _GUILD.fullmatch(name)
    return int(match.group(1)) if match else None


def collection_settings(settings: Settings, name: str) -> Settings:
    """The settings of collection ``name``: the same model and options, its own folders."""
    if check_name(name) == DEFAULT:
        return settings
    folder = settings.collections_dir / name
    return settings.model_copy(
        update={"source_dir": folder / "sources", "index_dir": folder / "index"}
    )


def collection_exists(settings: Settings, name: str) -> bool:
    """Whether the collection has a folder (``default`` always exists)."""
    return check_name(name) == DEFAULT or (settings.collections_dir / name).is_dir()


@dataclass(frozen=True)
class CollectionInfo:
    """What ``citebot collections`` shows of one collection."""

    name: str
    guild_id: int | None
    documents: int | None
    chunks: int | None
    index_bytes: int
    built_at: str | None
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "guild_id": self.guild_id, "documents": self.documents,
            "chunks": self.chunks, "index_bytes": self.index_bytes, "built_at": self.built_at,
            "problem": self.problem,
        }


def names(settings: Settings) -> list[str]:
    """Every collection: ``default`` first, then the others by name."""
    found = []
    if settings.collections_dir.is_dir():
        found = sorted(
            entry.name for entry in settings.collections_dir.iterdir()
            if entry.is_dir() and not entry.is_symlink() and _NAME.fullmatch(entry.name)
            and entry.name != DEFAULT
        )
    return [DEFAULT, *found]


def describe(settings: Settings, name: str) -> CollectionInfo:
    """Documents, chunks, size and build time of a collection's index (None when not built)."""
    store = IndexStore(collection_settings(settings, name).index_dir)
    if not store.exists():
        return CollectionInfo(name, guild_of(name), None, None, 0, None, "not built yet")
    try:
        manifest = store.read_manifest()
        counts = manifest.get("counts", {})
        return CollectionInfo(
            name, guild_of(name), counts.get("documents"), counts.get("chunks"),
            store.size_bytes(), manifest.get("built_at"),
        )
    except CitebotError as error:
        return CollectionInfo(name, guild_of(name), None, None, 0, None, str(error))


def purge(settings: Settings, name: str) -> None:
    """Delete a collection's documents and index at once (data erasure). Refused for
    ``default`` and while the collection is being built."""
    if check_name(name) == DEFAULT:
        raise CollectionError("the default collection cannot be purged (it is CITEBOT_SOURCE_DIR)")
    folder = settings.collections_dir / name
    if not folder.is_dir() or folder.is_symlink():
        raise CollectionError(f"there is no collection {name!r}: `citebot collections` lists them")
    store = IndexStore(folder / "index")
    if (folder / "index").is_dir():
        with store.build_lock().hold(wait=False):  # BuildInProgressError while one builds
            _remove(folder)
    else:
        _remove(folder)


def _remove(folder: Path) -> None:
    try:
        shutil.rmtree(folder)
    except OSError as error:
        raise CollectionError(
            f"could not delete {folder} completely ({error.strerror or error}): check its "
            "permissions and run the purge again"
        ) from None
