"""Which backend holds a collection's index: the local folder (default) or Milvus.

Settings decide (``CITEBOT_BACKEND``, ``CITEBOT_MILVUS_URI``, ``CITEBOT_MILVUS_TOKEN``); the
engine only sees an ``IndexBackend``. The local index folder is still used with Milvus: it holds
the build lock and the model's ONNX export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from index.backends.base import IndexBackend
from index.store import IndexStore

if TYPE_CHECKING:
    from bot.settings import Settings

DEFAULT = "default"


def open_store(settings: Settings, collection: str = DEFAULT) -> IndexBackend:
    """The store of ``collection`` on the configured backend (nothing is contacted yet)."""
    if settings.backend == "milvus":
        return milvus_store(settings, collection)
    return IndexStore(settings.index_dir)


def milvus_store(settings: Settings, collection: str = DEFAULT) -> IndexBackend:
    """The Milvus store of ``collection`` at ``CITEBOT_MILVUS_URI`` (whatever CITEBOT_BACKEND
    says: ``citebot migrate`` uses both)."""
    from index.backends.milvus import MilvusStore

    token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
    return MilvusStore(settings.milvus_uri, token, collection, settings.index_dir)
