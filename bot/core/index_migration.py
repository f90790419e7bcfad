"""`citebot migrate --to milvus|local`: copy a collection's live index between backends.

Nothing is embedded again: chunks, offsets, vectors, sentence vectors and the manifest are
copied as they are (the BM25 index is rebuilt from the stored texts on the way to a local
folder). The target's build is made live atomically, like any build, and checked by loading it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from bot.core.backends import milvus_store
from bot.settings import Settings
from index.backends.local_store import IndexStore
from index.build.model import ModelSpec
from index.errors import CitebotError, IndexMissingError
from index.ingest.chunking import Chunker

Backend = Literal["local", "milvus"]


@dataclass(frozen=True)
class MigrateReport:
    """What a migration copied."""

    collection: str
    target: Backend
    documents: int
    chunks: int
    sentences: int
    seconds: float
    where: str


def migrate(settings: Settings, collection: str, target: Backend) -> MigrateReport:
    """Copy ``collection``'s live index to ``target`` (from the other backend) and make it live
    there. The source is left as it is. Raises CitebotError subclasses with the remedy."""
    started = time.perf_counter()
    local = IndexStore(settings.index_dir)
    milvus = milvus_store(settings, collection)
    source, destination = (local, milvus) if target == "milvus" else (milvus, local)
    where = settings.milvus_uri if target == "milvus" else str(settings.index_dir)
    if not source.exists():
        origin = str(settings.index_dir) if target == "milvus" else settings.milvus_uri
        raise IndexMissingError(
            f"collection {collection} has no index at {origin} to migrate: build it there first"
        )
    spec = ModelSpec.resolve(settings.model)
    parameters = Chunker(spec.count_tokens, spec.token_offsets, settings.chunk_tokens).parameters
    with destination.build_lock().hold(wait=False):
        if target == "milvus":
            corpus = local.load(spec, parameters)
        else:
            corpus = milvus.to_corpus(spec, parameters)
        destination.save(corpus)
        destination.load(spec, parameters)  # proven to load before saying so
    counts = corpus.manifest.get("counts") or {}
    if not isinstance(counts, dict):
        raise CitebotError("the migrated index has no counts in its manifest")
    return MigrateReport(
        collection,
        target,
        len(corpus.documents),
        len(corpus.chunks),
        int(counts.get("sentences", len(corpus.sentence_vectors))),
        time.perf_counter() - started,
        where,
    )
