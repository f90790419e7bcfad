"""Which backend holds a collection's index: the local folder (default) or Milvus.

Settings decide (``CITEBOT_BACKEND``, ``CITEBOT_MILVUS_URI``, ``CITEBOT_MILVUS_TOKEN``); the
engine only sees an ``IndexBackend``. The local index folder is still used with Milvus: it holds
the build lock and the model's ONNX export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from index.backends.base import IndexBackend
from index.backends.local_store import IndexStore

if TYPE_CHECKING:
    from bot.settings import Settings
    from index.backends.milvus import MilvusStore

DEFAULT = "default"


def open_store(settings: Settings, collection: str = DEFAULT) -> IndexBackend:
    """The store of ``collection`` on the configured backend (nothing is contacted yet)."""
    if settings.backend == "milvus":
        return milvus_store(settings, collection)
    return IndexStore(settings.index_dir)


def milvus_store(settings: Settings, collection: str = DEFAULT) -> MilvusStore:
    """The Milvus store of ``collection`` at ``CITEBOT_MILVUS_URI`` (whatever CITEBOT_BACKEND
    says: ``citebot migrate`` uses both)."""
    from index.backends.milvus import MilvusStore

    token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
    return MilvusStore(
        settings.milvus_uri, token, collection, settings.index_dir,
        prefix=settings.milvus_prefix, full_scoring_limit=settings.milvus_full_scoring_chunks,
    )


def uri_for_children(settings: Settings) -> str:
    """The Milvus URI a build child of this process should use. An embedded Milvus Lite file
    can be open in one process only; pymilvus serves it from this process on a loopback port,
    which a child can reach (the same server the bot's own client talks to)."""
    if settings.backend != "milvus":
        return settings.milvus_uri
    from index.backends.milvus.client import is_embedded

    if not is_embedded(settings.milvus_uri):
        return settings.milvus_uri
    from milvus_lite.server_manager import server_manager_instance

    address: str | None = server_manager_instance.start_and_get_uri(settings.milvus_uri)
    if address is None:
        from index.errors import CitebotError

        raise CitebotError(
            f"cannot open the Milvus Lite file {settings.milvus_uri}: is another process using "
            "it? Run one Milvus Lite server (`milvus-lite server --data-dir PATH`) and set "
            "CITEBOT_MILVUS_URI=http://127.0.0.1:PORT for several processes"
        )
    return address
