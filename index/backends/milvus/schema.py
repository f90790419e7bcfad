"""How a citebot collection's builds are laid out in Milvus: names, fields, text pieces.

One citebot collection ``name`` has, per build ``b``, three Milvus collections and one alias::

    P_N                 alias -> the live build's chunks collection
    P_N_<b>_chunks      one row per chunk (pk = chunk row)
    P_N_<b>_sentences   one row per sentence (pk = sentence row)
    P_N_<b>_blobs       manifest, BM25 vocabulary, documents (JSON) and every document's
                        text, in VARCHAR pieces

Each chunk and blob row holds a digest of what passages and citations are made from
(CHUNK_DIGEST_FIELDS, BLOB_DIGEST_FIELDS), checked whenever such a row is read, so an altered
or damaged row is refused, never quoted (builds whose manifest has no "checksums" predate it).
Vectors and BM25 weights are not covered: Milvus keeps them, and they only rank.

(P: the escaped prefix, default ``citebot``; N: the escaped citebot name.)

Milvus names allow letters, digits and ``_`` only, so the citebot name is escaped (``_`` ->
``__``, ``-`` -> ``_d``) and so is the prefix (``_`` -> ``__``; it has no ``-``): in the result a
``__`` is an ``_``, ``_d`` in the name a ``-``, and the first other ``_`` separates prefix and
name, so no two (prefix, name) pairs share a Milvus name.

BM25 is computed by citebot (its tokenizer, stop words, Snowball stemmer, K1/B, one IDF over
the whole build) and stored as sparse vectors searched by inner product: scores equal the
local index's, on Milvus Lite (whose analyzer cannot stem and keeps IDF per segment) and on a
cluster alike. Term ids start at 1; dimension 0 marks a text without terms (Milvus refuses an
empty sparse vector) and is never queried.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
BUILD = re.compile(r"b\d{8}t\d{6}x[0-9a-f]{8}")
KINDS = ("chunks", "sentences", "blobs")
DEFAULT_PREFIX = "citebot"
# Real Milvus limits VARCHAR fields by bytes (1..65,535); Lite counts characters. Pieces are
# cut by bytes so what Lite accepts a cluster accepts too.
VARCHAR_BYTES = 65_535
PIECE_BYTES = 65_000
EMPTY_TERM = 0
SENTENCE_SPANS_BYTES = VARCHAR_BYTES
BLOB_VECTOR = [1.0, 0.0]  # Milvus wants a vector field in every collection
DIGEST_CHARS = 32  # hex blake2b-128 of a row's content (index/backends/integrity.row_digest)
# What a chunk's passage and citation are made from: its row's digest covers these, in order.
CHUNK_DIGEST_FIELDS = ("chunk_id", "document", "section", "has_section", "paragraph", "start",
                       "end", "sentences", "text", "text_in_blobs")
BLOB_DIGEST_FIELDS = ("kind", "item", "piece", "text")


def escape(name: str) -> str:
    """The Milvus form of a citebot collection name (checked)."""
    if not NAME.fullmatch(name):
        raise ValueError(f"invalid collection name {name!r}")
    return name.replace("_", "__").replace("-", "_d")


def alias_of(prefix: str, name: str) -> str:
    """The alias that names the live build of citebot collection ``name``."""
    if not PREFIX.fullmatch(prefix):
        raise ValueError(
            f"invalid Milvus prefix {prefix!r}: letters, digits and _, a letter first"
        )
    return f"{prefix.replace('_', '__')}_{escape(name)}"


def new_build_id() -> str:
    """A fresh build id, sortable by time."""
    return time.strftime("b%Y%m%dt%H%M%Sx", time.gmtime()) + uuid.uuid4().hex[:8]


def collection_of(alias: str, build: str, kind: str) -> str:
    """The Milvus collection of one kind of a build."""
    return f"{alias}_{build}_{kind}"


def build_of(alias: str, collection: str) -> str | None:
    """The build id of one of the alias's build collections, or None when it is not one."""
    head = f"{alias}_"
    if not collection.startswith(head):
        return None
    rest = collection[len(head):]
    for kind in KINDS:
        if rest.endswith(f"_{kind}"):
            build = rest[: -len(kind) - 1]
            return build if BUILD.fullmatch(build) else None
    return None


def pieces(text: str, limit: int = PIECE_BYTES) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-8 bytes, never inside a character
    (an empty text is one empty piece)."""
    data = text.encode("utf-8")
    found: list[str] = []
    start = 0
    while True:
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        found.append(data[start:end].decode("utf-8"))
        if end >= len(data):
            return found
        start = end


def fits(text: str) -> bool:
    """Whether ``text`` fits one VARCHAR field of real Milvus."""
    return len(text) <= VARCHAR_BYTES and len(text.encode("utf-8")) <= VARCHAR_BYTES


def chunk_schema(module: Any, dimension: int) -> Any:
    """Fields of a chunks collection."""
    types = module.DataType
    schema = module.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", types.INT64, is_primary=True)
    schema.add_field("dense", types.FLOAT_VECTOR, dim=dimension)
    schema.add_field("sparse", types.SPARSE_FLOAT_VECTOR)
    schema.add_field("text_key", types.INT64)  # uint64 hash stored as its int64 bit pattern
    schema.add_field("chunk_id", types.VARCHAR, max_length=64)
    schema.add_field("document", types.INT64)
    schema.add_field("section", types.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("has_section", types.BOOL)
    schema.add_field("paragraph", types.INT64)
    schema.add_field("start", types.INT64)
    schema.add_field("end", types.INT64)
    schema.add_field("sentence_first", types.INT64)
    schema.add_field("sentence_count", types.INT64)
    schema.add_field("sentences", types.VARCHAR, max_length=VARCHAR_BYTES)  # JSON spans
    schema.add_field("text", types.VARCHAR, max_length=VARCHAR_BYTES)  # "" when in blobs
    schema.add_field("text_in_blobs", types.BOOL)
    schema.add_field("digest", types.VARCHAR, max_length=DIGEST_CHARS)  # CHUNK_DIGEST_FIELDS
    return schema


def sentence_schema(module: Any, dimension: int) -> Any:
    """Fields of a sentences collection."""
    types = module.DataType
    schema = module.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", types.INT64, is_primary=True)
    schema.add_field("chunk", types.INT64)
    schema.add_field("dense", types.FLOAT_VECTOR, dim=dimension)
    schema.add_field("sparse", types.SPARSE_FLOAT_VECTOR)
    schema.add_field("types", types.INT64)  # bit i = question_types.TYPES[i]
    return schema


def blob_schema(module: Any) -> Any:
    """Fields of a blobs collection: (kind, item, piece) -> text piece."""
    types = module.DataType
    schema = module.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", types.INT64, is_primary=True)
    schema.add_field("kind", types.VARCHAR, max_length=64)
    schema.add_field("item", types.INT64)
    schema.add_field("piece", types.INT64)
    schema.add_field("text", types.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("unused", types.FLOAT_VECTOR, dim=len(BLOB_VECTOR))
    schema.add_field("digest", types.VARCHAR, max_length=DIGEST_CHARS)  # BLOB_DIGEST_FIELDS
    return schema


def index_params(client: Any, kind: str, dense_index: str = "FLAT") -> Any:
    """The search indexes of one kind of collection."""
    params = client.prepare_index_params()
    if kind == "blobs":
        params.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
        return params
    params.add_index(field_name="dense", index_type=dense_index, metric_type="COSINE")
    params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    return params
