"""The Milvus backend: a citebot collection's builds in Milvus (a server, a cluster, or an
embedded Milvus Lite file). pymilvus is imported only when the backend is used."""

from index.backends.milvus.index import MilvusIndex
from index.backends.milvus.store import MilvusStore

__all__ = ["MilvusIndex", "MilvusStore"]
