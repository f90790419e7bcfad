"""The write side of the Milvus backend: one citebot collection's builds in Milvus.

``MilvusStore`` is the Milvus counterpart of ``local_store.IndexStore``: ``save`` writes a new
versioned set of collections, flushes and loads them, then switches the collection's alias in
one call (``alter_alias``), so a question sees the old build or the new one, never a mix. The
previous build is kept until the next save (questions in flight on it still finish); older
ones are dropped. Builds on one host are serialised by the build lock (Milvus Lite needs one
writer at a time).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from index.backends.integrity import ROW_ALGORITHM, row_digest
from index.backends.local_store import REBUILD_HINT, check_manifest
from index.backends.milvus import schema
from index.backends.milvus.client import QUESTION_TIMEOUT, Connection, pymilvus, redact
from index.backends.milvus.index import (
    Layout,
    MilvusIndex,
    blob_name,
    check_digest,
    checked_layout,
    read_blob,
    scan,
)
from index.build.build_lock import BuildLock
from index.build.chunk_table import DocumentRecord, DocumentTable, details_of
from index.build.corpus import Corpus
from index.build.lexical import LexicalIndex
from index.build.model import ModelSpec
from index.build.question_types import TYPES
from index.errors import BackendError, CitebotError, IndexMissingError
from index.ingest.chunking import Chunk, chunk_search_text, normalize_for_search
from index.ranker import model_record as ranker_model_record

log = logging.getLogger(__name__)

BATCH_ROWS = 1_000
BATCH_BYTES = 16 << 20
SCAN_ROWS = 2_000
_ROW_OVERHEAD = 64  # bytes per row for ids, offsets and flags in the size estimate


class MilvusStore:
    """One citebot collection (``name``) in the Milvus at ``uri``."""

    def __init__(
        self,
        uri: str,
        token: str | None,
        name: str,
        lock_directory: Path,
        prefix: str = schema.DEFAULT_PREFIX,
        dense_index: str = "FLAT",
        connection: Connection | None = None,
        timeout: float = QUESTION_TIMEOUT,
        full_scoring_limit: int | None = None,
    ) -> None:
        self.connection = connection or Connection(uri, token, timeout)
        self.name = name
        self.alias = schema.alias_of(prefix, name)
        self.lock_directory = Path(lock_directory)
        self.dense_index = dense_index
        self.full_scoring_limit = full_scoring_limit  # see MilvusIndex

    @property
    def _writes(self) -> float:
        """Seconds a build's call may take."""
        return self.connection.write_timeout

    @property
    def where(self) -> str:
        """How messages name this collection."""
        return f"collection {self.name!r} in Milvus at {redact(self.connection.uri)}"

    def current_build(self) -> str | None:
        """The live build's id (the build the alias points to), or None."""

        def describe(client: Any) -> str | None:
            try:
                found = client.describe_alias(self.alias, timeout=self.connection.timeout)
            except Exception as error:
                if "not exist" in str(error) or "not found" in str(error):
                    return None
                raise
            return schema.build_of(self.alias, found["collection_name"])

        return self.connection.call("look up the live build", describe)

    def live_build_id(self) -> str | None:
        """The live build's id (changes with every build made live), or None."""
        return self.current_build()

    def exists(self) -> bool:
        """Whether a build is live."""
        return self.current_build() is not None

    def prefetch(self) -> bool:
        """Have Milvus load the live build's collections into memory (a restarted server has
        them released); False when there is none or Milvus cannot be reached."""
        try:
            self._layout().load()
        except CitebotError as error:
            log.info("Milvus build of %s not loaded ahead: %s", self.where, error)
            return False
        return True

    def read_manifest(self) -> dict[str, Any]:
        """The live build's manifest (raises IndexMissingError)."""
        return self._layout().manifest()

    def size_bytes(self) -> int:
        """An estimate of the live build's size: the bytes of its rows as sent to Milvus
        (vectors at 4 bytes a float, sparse BM25 entries at 8, texts as UTF-8, 64 per row for
        the rest), recorded at save. Milvus's own footprint differs with its indexes."""
        if not self.exists():
            return 0
        backend = self.read_manifest().get("backend", {})
        return int(backend.get("bytes", 0))

    def verify(self) -> bool:
        """Check every chunk and blob row of the live build against its digest (raises
        IndexCorruptError naming the first that changed): what ``citebot info`` reports.
        Questions check only the rows they quote. False for a build made before digests."""
        layout = self._layout()
        manifest = layout.manifest()
        layout = checked_layout(layout, manifest)
        if not layout.checked:
            return False
        layout.load()
        chunk_total = int(manifest.get("counts", {}).get("chunks", 0))
        blob_total = int(manifest.get("backend", {}).get("blob_rows", 0))
        fields = ["row", *schema.CHUNK_DIGEST_FIELDS, "digest"]
        for row in scan(layout, "chunks", fields, chunk_total, SCAN_ROWS):
            check_digest(layout, row, schema.CHUNK_DIGEST_FIELDS, f"chunk {row['row']}")
        fields = ["id", *schema.BLOB_DIGEST_FIELDS, "digest"]
        for row in scan(layout, "blobs", fields, blob_total, 200, key="id"):
            what = blob_name(str(row.get("kind")), int(row.get("item") or 0))
            check_digest(layout, row, schema.BLOB_DIGEST_FIELDS, what)
        return True

    def build_lock(self) -> BuildLock:
        """The lock that builds of this collection on this host hold."""
        return BuildLock(self.lock_directory)

    def save(self, corpus: Corpus) -> str:
        """Write ``corpus`` as a new build, make it live atomically; return its build id."""
        client_module = pymilvus()
        with self.build_lock().hold():
            previous = self.current_build()
            build = schema.new_build_id()
            layout = Layout(self.connection, self.alias, build)
            try:
                self._write(client_module, corpus, layout)
                self._switch(layout, previous)
            except BaseException as error:
                self._drop_quietly(layout.names.values())
                if isinstance(error, CitebotError):
                    raise BackendError(
                        f"{error} (the new build of {self.where} was not made live; the "
                        "previous one is unchanged and still answers)"
                    ) from None
                raise
            self._drop_old_builds(keep={build, previous})
        return build

    def load(self, model: ModelSpec, chunker_parameters: dict[str, Any]) -> MilvusIndex:
        """The live build as a SearchIndex, refusing one built with another model or chunking.
        Loads its collections into memory (a restarted server has them released)."""
        layout = self._layout()
        manifest = layout.manifest()
        check_manifest(manifest, model, chunker_parameters, self.where)
        layout.load()
        return MilvusIndex(layout, manifest, self.full_scoring_limit)

    def known_vectors(self, spec: ModelSpec) -> dict[str, np.ndarray]:
        """Normalised text -> vector of every chunk and sentence of the live build, when it was
        built with the same model weights (else empty): a rebuild embeds only new texts."""
        try:
            if not self.exists():
                return {}
            layout = self._layout()
            manifest = layout.manifest()
            if manifest.get("model", {}).get("weights_sha256") != spec.weights_hash:
                return {}
            layout.load()
            contents = _Contents.read(layout, manifest)
        except CitebotError as error:
            log.info("previous Milvus build not re-used: %s", error)
            return {}
        known: dict[str, np.ndarray] = {}
        for chunk, vector in zip(contents.chunks, contents.chunk_vectors, strict=True):
            known[chunk_search_text(chunk)] = vector
        for text, vector in zip(
            contents.sentence_texts(), contents.sentence_vectors, strict=True
        ):
            known[normalize_for_search(text)] = vector
        return known

    def to_corpus(self, model: ModelSpec, chunker_parameters: dict[str, Any]) -> Corpus:
        """The live build as a local Corpus (documents, chunks, exact vectors, sentence types,
        BM25 rebuilt from the same texts, manifest): for ``citebot migrate --to local``."""
        from index.build.vector_index import make_vector_index

        layout = self._layout()
        manifest = layout.manifest()
        check_manifest(manifest, model, chunker_parameters, self.where)
        layout.load()
        contents = _Contents.read(layout, manifest)
        chunk_texts = [chunk_search_text(chunk) for chunk in contents.chunks]
        sentence_texts = [normalize_for_search(text) for text in contents.sentence_texts()]
        vector_index, vector_parameters = make_vector_index(contents.chunk_vectors, "auto")
        local_manifest = {k: v for k, v in manifest.items() if k != "backend"}
        local_manifest["vector_index"] = vector_parameters
        lexical = LexicalIndex.build(chunk_texts, sentence_texts)
        local_manifest["lexical"] = lexical.parameters
        return Corpus(
            {record.path: record for record in contents.documents},
            contents.chunks,
            vector_index,
            contents.sentence_vectors,
            contents.sentence_types,
            local_manifest,
            lexical,
            exact_chunk_vectors=contents.chunk_vectors,
        )

    def drop(self) -> None:
        """Delete every build of this collection and its alias."""
        with self.build_lock().hold():

            def drop_alias(client: Any) -> None:
                try:
                    client.drop_alias(self.alias, timeout=self._writes)
                except Exception as error:
                    if "not exist" not in str(error) and "not found" not in str(error):
                        raise

            self.connection.call("drop the alias", drop_alias)
            self._drop_old_builds(keep=set())

    # -- writing -------------------------------------------------------------------------

    def _layout(self) -> Layout:
        build = self.current_build()
        if build is None:
            raise IndexMissingError(f"no index for {self.where}: run `citebot build` first")
        return Layout(self.connection, self.alias, build)

    def _write(self, module: Any, corpus: Corpus, layout: Layout) -> None:
        dimension = int(corpus.manifest.get("model", {}).get("dimension") or 0) or int(
            np.asarray(corpus.chunk_vector(0)).shape[0] if len(corpus.chunks) else 1
        )
        schemas = {
            "chunks": schema.chunk_schema(module, dimension),
            "sentences": schema.sentence_schema(module, dimension),
            "blobs": schema.blob_schema(module),
        }
        for kind, fields in schemas.items():
            name = layout.names[kind]

            def create(
                client: Any, name: str = name, fields: Any = fields, kind: str = kind
            ) -> None:
                client.create_collection(
                    name, schema=fields, consistency_level="Strong", timeout=self._writes
                )
                # sync=False: pymilvus polls index creation every 0.5 s; load waits for it.
                client.create_index(
                    name, schema.index_params(client, kind, self.dense_index), sync=False,
                    timeout=self._writes,
                )

            self.connection.call("create a collection", create)
        lexical = corpus.lexical
        if lexical is None:
            table = corpus.table
            chunk_texts = [chunk_search_text(table[i]) for i in range(len(table))]
            sentence_texts = [normalize_for_search(t) for t in table.sentence_texts()]
            lexical = LexicalIndex.build(chunk_texts, sentence_texts)
        terms, chunk_terms, chunk_ids, sentence_ids = _vocabulary(lexical)
        sent = 0
        sent += self._insert(layout.names["chunks"], _chunk_rows(corpus, lexical, chunk_ids))
        sent += self._insert(
            layout.names["sentences"], _sentence_rows(corpus, lexical, sentence_ids)
        )
        manifest = {k: v for k, v in corpus.manifest.items()
                    if k not in ("files", "backend", "checksums")}
        manifest.setdefault("lexical", lexical.parameters)
        manifest.setdefault("ranker_model", ranker_model_record())
        manifest["checksums"] = {"algorithm": ROW_ALGORITHM, "rows": ["chunks", "blobs"]}
        blobs = _blob_rows(corpus, terms, chunk_terms)
        blob_rows = list(blobs)
        sent += sum(len(row["text"].encode("utf-8")) for row in blob_rows)
        # The manifest lists every document (~2,200 at 100k chunks: over one VARCHAR's 64 KiB),
        # so it is cut into pieces like the texts; its pieces take the first ids.
        count = 1
        while True:
            manifest["backend"] = {
                "name": "milvus",
                "build": layout.build,
                "bytes": int(sent),
                "blob_rows": len(blob_rows) + count,
            }
            parts = schema.pieces(json.dumps(manifest, ensure_ascii=False))
            if len(parts) == count:
                break
            count = len(parts)
        for row in blob_rows:
            row["id"] += count
        blob_rows[:0] = [_blob(n, "manifest", 0, n, part) for n, part in enumerate(parts)]
        self._insert(layout.names["blobs"], blob_rows)
        for name in layout.names.values():

            def flush(client: Any, name: str = name) -> None:
                client.flush(name, timeout=self._writes)

            self.connection.call("flush a build", flush)
        layout.load()
        counts = layout.counts()
        expected = (len(corpus.chunks), int(corpus.sentence_offsets[-1]), len(blob_rows))
        if counts != expected:
            raise BackendError(
                f"Milvus stored {counts} rows (chunks, sentences, blobs) of {expected}: "
                f"{REBUILD_HINT}"
            )

    def _insert(self, name: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows in batches of bounded size; returns the estimated bytes sent."""
        total = 0
        batch: list[dict[str, Any]] = []
        size = 0
        for row in rows:
            weight = _row_bytes(row)
            if batch and (len(batch) >= BATCH_ROWS or size + weight > BATCH_BYTES):
                self._send(name, batch)
                batch, size = [], 0
            batch.append(row)
            size += weight
            total += weight
        if batch:
            self._send(name, batch)
        return total

    def _send(self, name: str, batch: list[dict[str, Any]]) -> None:
        self.connection.call(
            "write a build", lambda client: client.insert(name, batch, timeout=self._writes)
        )

    def _switch(self, layout: Layout, previous: str | None) -> None:
        chunks = layout.names["chunks"]
        if previous is None:

            def create(client: Any) -> None:
                try:
                    client.create_alias(chunks, self.alias, timeout=self._writes)
                except Exception as error:
                    if "exist" not in str(error):
                        raise
                    client.alter_alias(chunks, self.alias, timeout=self._writes)

            self.connection.call("make the build live", create)
        else:
            self.connection.call(
                "make the build live",
                lambda client: client.alter_alias(chunks, self.alias, timeout=self._writes),
            )

    def _drop_old_builds(self, keep: set[str | None]) -> None:
        """Drop every build of this collection but ``keep`` (the alias never points to one
        dropped here: it is switched first)."""
        try:
            names = self.connection.call(
                "list collections", lambda client: client.list_collections(timeout=self._writes)
            )
        except BackendError as error:
            log.warning("old Milvus builds of %s not dropped: %s", self.where, error)
            return
        old = [n for n in names if (b := schema.build_of(self.alias, n)) and b not in keep]
        self._drop_quietly(old)

    def _drop_quietly(self, names: Iterable[str]) -> None:
        for name in names:

            def drop(client: Any, name: str = name) -> None:
                client.drop_collection(name, timeout=self._writes)

            try:
                self.connection.call("drop an old build", drop)
            except BackendError as error:  # left for the next save to drop
                log.warning("Milvus collection %s not dropped: %s", name, error)


def _vocabulary(
    lexical: LexicalIndex,
) -> tuple[list[str], int, np.ndarray, np.ndarray]:
    """One term-id space for chunks and sentences: chunk terms first (id = bm25s token + 1),
    then terms only sentences hold. Returns (terms by id - 1, number of chunk terms, and for
    each bm25s token column of chunks / sentences its id)."""
    chunk_vocabulary = lexical.chunks.vocab_dict
    chunk_columns = len(lexical.chunks.scores["indptr"]) - 1
    terms = [""] * chunk_columns
    chunk_ids = np.zeros(chunk_columns, dtype=np.int64)
    for term, token in chunk_vocabulary.items():
        if token < chunk_columns:
            terms[token] = term
            chunk_ids[token] = token + 1
    ids = {term: i + 1 for i, term in enumerate(terms)}
    sentence_columns = len(lexical.sentences.scores["indptr"]) - 1
    sentence_ids = np.zeros(sentence_columns, dtype=np.int64)
    for term, token in lexical.sentences.vocab_dict.items():
        if token >= sentence_columns:
            continue
        if term not in ids:
            terms.append(term)
            ids[term] = len(terms)
        sentence_ids[token] = ids[term]
    return terms, chunk_columns, chunk_ids, sentence_ids


def sparse_rows(retriever: Any, ids: np.ndarray) -> Iterator[dict[int, float]]:
    """Each document's BM25 contribution per term id, as bm25s computed them (its score matrix
    is term-major: regrouped here by document)."""
    scores = retriever.scores
    indptr = np.asarray(scores["indptr"])
    counts = np.diff(indptr)
    columns = np.repeat(np.arange(len(counts)), counts)
    documents = np.asarray(scores["indices"])
    order = np.argsort(documents, kind="stable")
    documents = documents[order]
    term_ids = ids[columns[order]]
    weights = np.asarray(scores["data"], dtype=np.float32)[order]
    bounds = np.searchsorted(documents, np.arange(int(scores["num_docs"]) + 1))
    for first, last in itertools.pairwise(bounds):
        keep = weights[first:last] > 0
        found = dict(
            zip(term_ids[first:last][keep].tolist(), weights[first:last][keep].tolist(),
                strict=True)
        )
        yield found or {schema.EMPTY_TERM: 1.0}


def _chunk_rows(
    corpus: Corpus, lexical: LexicalIndex, ids: np.ndarray
) -> Iterator[dict[str, Any]]:
    table = corpus.table
    keys = np.asarray(table.text_key, dtype=np.uint64).view(np.int64)
    offsets = table.sentence_offsets
    vectors = corpus.chunk_vectors()
    for row, sparse in enumerate(sparse_rows(lexical.chunks, ids)):
        chunk = table[row]
        spans = json.dumps([list(span) for span in chunk.sentences], separators=(",", ":"))
        if not schema.fits(spans):
            raise BackendError(f"chunk {chunk.id} has too many sentences for Milvus")
        inline = schema.fits(chunk.text)
        row_values = {
            "row": row,
            "dense": np.asarray(vectors[row], dtype=np.float32).tolist(),
            "sparse": sparse,
            "text_key": int(keys[row]),
            "chunk_id": chunk.id,
            "document": int(table.document[row]),
            "section": chunk.section or "",
            "has_section": chunk.section is not None,
            "paragraph": chunk.paragraph,
            "start": chunk.start,
            "end": chunk.end,
            "sentence_first": int(offsets[row]),
            "sentence_count": int(offsets[row + 1] - offsets[row]),
            "sentences": spans,
            "text": chunk.text if inline else "",
            "text_in_blobs": not inline,
        }
        row_values["digest"] = row_digest(
            *(row_values[name] for name in schema.CHUNK_DIGEST_FIELDS)
        )
        yield row_values


def _sentence_rows(
    corpus: Corpus, lexical: LexicalIndex, ids: np.ndarray
) -> Iterator[dict[str, Any]]:
    table = corpus.table
    chunk_of = np.repeat(np.arange(len(table)), np.diff(table.sentence_offsets))
    vectors = corpus.sentence_floats()
    types = np.asarray(corpus.sentence_types, dtype=np.int64)
    bits = (types * (1 << np.arange(len(TYPES)))).sum(axis=1) if len(types) else types
    for row, sparse in enumerate(sparse_rows(lexical.sentences, ids)):
        yield {
            "row": row,
            "chunk": int(chunk_of[row]),
            "dense": np.asarray(vectors[row], dtype=np.float32).tolist(),
            "sparse": sparse,
            "types": int(bits[row]),
        }


def _blob(identifier: int, kind: str, item: int, piece: int, text: str) -> dict[str, Any]:
    return {"id": identifier, "kind": kind, "item": item, "piece": piece, "text": text,
            "unused": schema.BLOB_VECTOR, "digest": row_digest(kind, item, piece, text)}


def _blob_rows(corpus: Corpus, terms: list[str], chunk_terms: int) -> Iterator[dict[str, Any]]:
    """Vocabulary, documents (JSON) and texts, each cut into pieces; ids from 0."""
    documents = corpus.documents
    assert isinstance(documents, DocumentTable)
    sections = corpus.sections
    counts = corpus.chunk_counts
    listing = {
        "paths": documents.paths,
        "hashes": documents.hashes,
        "details": documents.details,
        "sections": [list(sections[path]) for path in documents.paths],
        "chunks": [counts[path] for path in documents.paths],
    }
    items: list[tuple[str, int, str]] = [
        ("vocabulary", 0, json.dumps({"terms": terms, "chunk_terms": chunk_terms},
                                     ensure_ascii=False)),
        ("documents", 0, json.dumps(listing, ensure_ascii=False)),
    ]
    identifier = 0

    def texts() -> Iterator[tuple[str, int, str]]:
        yield from items
        for row, path in enumerate(documents.paths):
            yield "text", row, documents[path].text
        table = corpus.table
        for row in range(len(table)):
            start, end = table.byte_span[row]
            if end - start > schema.VARCHAR_BYTES:  # too long for the chunk's own row
                yield "chunk_text", row, table.text(row)

    for kind, item, text in texts():
        for piece, part in enumerate(schema.pieces(text)):
            yield _blob(identifier, kind, item, piece, part)
            identifier += 1


def _row_bytes(row: dict[str, Any]) -> int:
    size = _ROW_OVERHEAD
    for value in row.values():
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
        elif isinstance(value, list):
            size += 4 * len(value)
        elif isinstance(value, dict):
            size += 8 * len(value)
    return size


class _Contents:
    """Everything of a build read back (for rebuilds and migration)."""

    def __init__(self, documents: list[DocumentRecord], chunks: list[Chunk],
                 chunk_vectors: np.ndarray, sentence_vectors: np.ndarray,
                 sentence_types: np.ndarray) -> None:
        self.documents = documents
        self.chunks = chunks
        self.chunk_vectors = chunk_vectors
        self.sentence_vectors = sentence_vectors
        self.sentence_types = sentence_types
        self._texts = {record.path: record.text for record in documents}

    @classmethod
    def read(cls, layout: Layout, manifest: dict[str, Any]) -> _Contents:
        layout = checked_layout(layout, manifest)  # altered rows are neither re-used nor copied
        listing = json.loads(read_blob(layout, "documents", 0))
        texts = _all_texts(layout, manifest)
        documents = [
            DocumentRecord(path, digest, texts.get(row, ""), *_details(details))
            for row, (path, digest, details) in enumerate(
                zip(listing["paths"], listing["hashes"], listing["details"], strict=True)
            )
        ]
        counts = manifest.get("counts", {})
        chunk_total, sentence_total = layout.counts()[:2]
        if counts and (counts.get("chunks"), counts.get("sentences")) != (
            chunk_total, sentence_total
        ):
            raise BackendError(f"the Milvus build {layout.build} is incomplete: {REBUILD_HINT}")
        fields = ["row", "dense", *schema.CHUNK_DIGEST_FIELDS]
        if layout.checked:
            fields.append("digest")
        rows = scan(layout, "chunks", fields, chunk_total, SCAN_ROWS)
        dimension = int(manifest.get("model", {}).get("dimension") or 0)
        chunks: list[Chunk] = []
        vectors = np.zeros((chunk_total, dimension), dtype=np.float32)
        for i, row in enumerate(rows):
            check_digest(layout, row, schema.CHUNK_DIGEST_FIELDS, f"chunk {i}")
            path = listing["paths"][int(row["document"])]
            start, end = int(row["start"]), int(row["end"])
            text = texts.get(int(row["document"]), "")[start:end]
            chunks.append(Chunk(
                row["chunk_id"], path, row["section"] if row["has_section"] else None,
                int(row["paragraph"]), start, end, text,
                tuple((int(s), int(e)) for s, e in json.loads(row["sentences"])),
            ))
            if not row["text_in_blobs"] and row["text"] != text:
                raise BackendError(
                    f"the Milvus build {layout.build} is inconsistent (chunk {i}): {REBUILD_HINT}"
                )
            vectors[i] = row["dense"]
        sentence_rows = scan(layout, "sentences", ["row", "dense", "types"], sentence_total,
                             SCAN_ROWS)
        sentence_vectors = np.zeros((sentence_total, dimension), dtype=np.float32)
        types = np.zeros((sentence_total, len(TYPES)), dtype=np.uint8)
        for i, row in enumerate(sentence_rows):
            sentence_vectors[i] = row["dense"]
            bits = int(row["types"])
            types[i] = [(bits >> j) & 1 for j in range(len(TYPES))]
        return cls(documents, chunks, vectors, sentence_vectors, types)

    def sentence_texts(self) -> Iterator[str]:
        for chunk in self.chunks:
            text = self._texts[chunk.document]
            for start, end in chunk.sentences:
                yield text[start:end]


def _details(details: dict[str, Any]) -> tuple[
    str, str | None, str | None, tuple[int, ...], tuple[tuple[int, str], ...]
]:
    return details_of(details)


def _all_texts(layout: Layout, manifest: dict[str, Any]) -> dict[int, str]:
    """Every document's text, by document row."""
    total = int(manifest.get("backend", {}).get("blob_rows", 0))
    parts: dict[int, list[tuple[int, str]]] = {}
    fields = ["id", *schema.BLOB_DIGEST_FIELDS, *(["digest"] if layout.checked else [])]
    for row in scan(layout, "blobs", fields, total, 200, key="id", where='kind == "text"'):
        what = blob_name("text", int(row["item"]))
        check_digest(layout, row, schema.BLOB_DIGEST_FIELDS, what)
        parts.setdefault(int(row["item"]), []).append((int(row["piece"]), row["text"]))
    return {item: "".join(text for _, text in sorted(found)) for item, found in parts.items()}
