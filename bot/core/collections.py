"""Collections: named sets of documents, each with its own index, loaded on demand.

``default`` is the operator's collection (``source_dir`` and ``index_dir``). Any other collection
``NAME`` keeps its documents in ``<collections_dir>/NAME/sources/`` and its index in
``<collections_dir>/NAME/index/``; a Discord server's is ``guild-<server id>``. All engines share
the default engine's model. At most ``max_loaded_collections`` are loaded at once (least recently
asked unloaded first), and a collection whose index was rebuilt on disk (its CURRENT pointer names
another build) is loaded again on the next question.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.backends import open_store
from bot.core.engine import Engine, parse_time
from bot.settings import Settings
from index import Answer, merge_answers
from index.backends.base import IndexBackend
from index.backends.local_store import CURRENT, IndexStore
from index.build.build_lock import BuildLock
from index.errors import CitebotError
from index.ingest.documents import scan_sources
from index.query.conversation import Turn

DEFAULT = "default"
GUILD_PREFIX = "guild-"
SOURCES, INDEX = "sources", "index"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_GUILD = re.compile(r"guild-([0-9]{1,20})")
RELOAD_CHECK_SECONDS = 1.0

log = logging.getLogger(__name__)


class CollectionNameError(CitebotError):
    """A collection name that is not allowed."""


class CollectionMissingError(CitebotError):
    """A collection that has no index (or no folder) yet."""


def validate_name(name: str) -> str:
    """``name`` when it is a valid collection name; else CollectionNameError saying why."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name)[:80]
        raise CollectionNameError(
            f"invalid collection name {shown}: use 1 to 63 lower-case letters, digits, '-' or "
            "'_', starting with a letter or digit (e.g. guild-123456789 or team-docs)"
        )
    return name


def collection_for_guild(guild_id: int) -> str:
    """The collection of a Discord server."""
    if not isinstance(guild_id, int) or isinstance(guild_id, bool) or guild_id <= 0:
        raise CollectionNameError(f"invalid server id {guild_id!r}")
    return f"{GUILD_PREFIX}{guild_id}"


def guild_of(name: str) -> int | None:
    """The server id of a ``guild-<id>`` collection, else None."""
    match = _GUILD.fullmatch(name)
    return int(match.group(1)) if match else None


def collection_settings(settings: Settings, name: str) -> Settings:
    """``settings`` with ``source_dir`` and ``index_dir`` of collection ``name``."""
    if validate_name(name) == DEFAULT:
        return settings
    folder = settings.collections_dir / name
    return settings.model_copy(
        update={"source_dir": folder / SOURCES, "index_dir": folder / INDEX}
    )


@dataclass(frozen=True)
class CollectionSummary:
    """One collection, as ``citebot collections`` lists it (read without loading a model)."""

    name: str
    documents: int
    chunks: int
    size_bytes: int
    built_at: str | None
    guild_id: int | None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "documents": self.documents,
            "chunks": self.chunks,
            "size_bytes": self.size_bytes,
            "built_at": self.built_at,
            "guild_id": self.guild_id,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class StoredDocument:
    """A document file of a collection: its name in the source folder and its size in bytes."""

    name: str
    size: int


@dataclass
class _Loaded:
    engine: Engine
    build: str | None
    checked_at: float


class Collections:
    """Every collection on disk, with an engine per collection loaded on demand (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        reload_check_seconds: float = RELOAD_CHECK_SECONDS,
        default_engine: Any = None,
    ):
        """``default_engine``: the engine that serves ``default`` itself (the bot's, which
        ``/reindex`` rebuilds in place); without it ``default`` loads like any collection."""
        self.settings = settings
        self.reload_check_seconds = reload_check_seconds
        # The default collection's engine owns the shared model.
        self.models = default_engine if default_engine is not None else Engine(settings)
        self._serves_default = default_engine is not None
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}

    # Names and folders

    def settings_for(self, name: str) -> Settings:
        """The settings of collection ``name`` (its source and index folders)."""
        return collection_settings(self.settings, name)

    def names(self) -> list[str]:
        """``default`` and every collection folder under ``collections_dir``, sorted."""
        found = []
        root = self.settings.collections_dir
        if root.is_dir():
            found = sorted(
                entry.name
                for entry in root.iterdir()
                if entry.is_dir() and _NAME.fullmatch(entry.name) and entry.name != DEFAULT
            )
        return [DEFAULT, *found]

    def exists(self, name: str) -> bool:
        """Whether collection ``name`` has a built index."""
        return open_store(self.settings_for(name), name).exists()

    def engine_for(self, name: str) -> Engine:
        """A new, unloaded engine of collection ``name`` sharing the model (for builds)."""
        if validate_name(name) == DEFAULT:
            return self.models
        return Engine(self.settings_for(name), encoders_from=self.models, collection=name)

    # Loaded engines

    def engine(self, name: str) -> Engine:
        """Collection ``name``'s loaded engine: loaded on first use, reloaded when its index
        changed on disk, least recently used ones unloaded past ``max_loaded_collections``.

        Raises CollectionMissingError when it has no index, also when a loaded one was purged
        (here or by ``citebot collections purge`` in another process): its pointer file is
        looked at on every call, so deleted documents are never served again.
        """
        validate_name(name)
        if name == DEFAULT and self._serves_default:
            self.models.load(build_if_missing=False)  # a no-op once loaded
            self.models.refresh(self.reload_check_seconds)  # a build by another process
            return self.models
        entry = self._touch(name)
        if entry is not None and not _still_there(entry.engine.store):
            self.unload(name)
            raise CollectionMissingError(self._missing_message(name))
        if entry is not None and not self._changed(entry):
            return entry.engine
        with self._name_lock(name):
            with self._lock:
                current = self._loaded.get(name)
            if current is not None and current is not entry:
                return current.engine  # another thread loaded it meanwhile
            try:
                fresh = self._load(name)
            except CitebotError:
                if entry is None:
                    raise
                log.warning("collection %s: new index unusable; still serving the old one", name)
                return entry.engine
            with self._lock:
                self._loaded[name] = fresh
                self._loaded.move_to_end(name)
                while len(self._loaded) > self.settings.max_loaded_collections:
                    self._loaded.popitem(last=False)
            return fresh.engine

    def search(
        self,
        name: str,
        question: str,
        k: int | None = None,
        offset: int = 0,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer ``question`` from collection ``name``, read together with the earlier turns
        ``history`` of its conversation (blocking: call from a worker thread)."""
        engine = self.engine(name)
        if history:
            return engine.search(question, k, offset, history=history)
        return engine.search(question, k, offset)

    def search_many(
        self,
        names: list[str],
        question: str,
        k: int | None = None,
        offset: int = 0,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer ``question`` from every collection in ``names``: one collection's own answer,
        or the merged answer of several with each passage labelled with its collection."""
        if len(names) == 1:
            return self.search(names[0], question, k, offset, history)
        size = k or self.settings.top_k
        answers = [
            (name, self.search(name, question, offset + size, 0, history)) for name in names
        ]
        return merge_answers(question, answers, size, offset)

    def loaded_names(self) -> list[str]:
        """Names of the loaded collections, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def unload(self, name: str) -> None:
        """Forget collection ``name``'s loaded index (the next question loads it again)."""
        with self._lock:
            self._loaded.pop(name, None)

    def _touch(self, name: str) -> _Loaded | None:
        with self._lock:
            entry = self._loaded.get(name)
            if entry is not None:
                self._loaded.move_to_end(name)
            return entry

    def _changed(self, entry: _Loaded) -> bool:
        """Whether the index on disk is another build than the loaded one (checked at most once
        per ``reload_check_seconds``; a damaged pointer keeps the loaded index serving)."""
        now = time.monotonic()
        if now - entry.checked_at < self.reload_check_seconds:
            return False
        entry.checked_at = now
        try:
            return entry.engine.store.live_build_id() != entry.build
        except CitebotError:
            return False

    def _load(self, name: str) -> _Loaded:
        engine = Engine(self.settings_for(name), encoders_from=self.models, collection=name)
        build = engine.store.live_build_id()
        if build is None or not engine.index_exists():
            raise CollectionMissingError(self._missing_message(name))
        engine.load(build_if_missing=False)
        return _Loaded(engine, build, time.monotonic())

    def _name_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def _missing_message(self, name: str) -> str:
        if name == DEFAULT:
            return f"no index at {self.settings.index_dir}: run `citebot build` first"
        return (
            f"collection {name} does not exist (no index yet): create it with "
            f"`citebot --collection {name} add FILE`"
        )

    # Listing and erasing

    def documents(self, name: str) -> list[StoredDocument]:
        """The document files in collection ``name``'s source folder, by name (what is there
        now, built or not; an absent folder has none)."""
        folder = self.settings_for(name).source_dir
        if not folder.is_dir():
            return []
        return [
            StoredDocument(source.name, source.status.st_size)
            for source in scan_sources(folder).files
        ]

    def summaries(self) -> list[CollectionSummary]:
        """Every collection's counts, size and last build, read from the manifests."""
        return [self.summary(name) for name in self.names()]

    def summary(self, name: str) -> CollectionSummary:
        """Collection ``name``'s counts, size and last build (zeros when never built)."""
        store = open_store(self.settings_for(name), name)
        problem = None
        manifest: dict[str, Any] = {}
        size = 0
        try:
            if store.exists():
                manifest = store.read_manifest()
                size = store.size_bytes()
            else:
                problem = "not built"
        except CitebotError as error:
            problem = str(error)
        counts = manifest.get("counts") or {}
        built = parse_time(manifest.get("built_at"))
        return CollectionSummary(
            name,
            int(counts.get("documents", 0)),
            int(counts.get("chunks", 0)),
            size,
            built.isoformat(timespec="seconds") if built else None,
            guild_of(name),
            problem,
        )

    def purge(self, name: str) -> None:
        """Delete collection ``name``'s documents and index at once (not ``default``; refused
        while a build of it runs)."""
        if validate_name(name) == DEFAULT:
            raise CitebotError(
                "the default collection cannot be purged: delete its documents from "
                f"{self.settings.source_dir} and run `citebot build`"
            )
        folder = self.settings.collections_dir / name
        if not folder.is_dir():
            raise CollectionMissingError(f"collection {name} does not exist: nothing to delete")
        settings = self.settings_for(name)
        with self._name_lock(name), BuildLock(settings.index_dir).hold(wait=False):
            self.unload(name)
            if settings.backend != "local":
                open_store(settings, name).drop()
            shutil.rmtree(folder)


def _still_there(store: IndexBackend) -> bool:
    """Whether a loaded collection's index still exists (it was not purged). Asked on every
    question: a local pointer file, or one Milvus call; an unreadable pointer or a Milvus that
    does not answer keeps the loaded index serving (questions report the outage themselves)."""
    if isinstance(store, IndexStore):
        return (store.directory / CURRENT).is_file()
    try:
        return store.exists()
    except CitebotError:
        return True
