"""The read side of the Milvus backend: one build of one citebot collection as a SearchIndex.

Retrieval happens inside Milvus, in the build's own collections (so filtered to this citebot
collection by construction): the chunks nearest the question (COSINE) and best by BM25 (inner
product with citebot's own BM25 weights, see schema.py), then, filtered to the candidates, the
score each candidate still lacks and every candidate sentence's two scores and type flags.
Fusion stays in index/query/search.py. A ``MilvusIndex`` keeps to its build even after the alias
moves on (the store keeps the previous build until the next save), so an answer never mixes
two builds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from index.answer import Citation
from index.backends.base import (
    Candidates,
    DocumentSummary,
    LexicalQuery,
    StoredChunk,
    sentence_groups,
)
from index.backends.integrity import ROW_ALGORITHM, row_digest
from index.backends.local_store import REBUILD_HINT
from index.backends.milvus import schema
from index.backends.milvus.client import Connection
from index.build.lexical import QUESTION_WORDS, query_terms
from index.errors import BackendError, IndexCorruptError
from index.ingest.chunking import Chunk
from index.ingest.documents import page_of
from index.links import anchor_at, passage_link

# Milvus returns at most this many hits per search (its topk limit).
MAX_HITS = 16_384
_CHUNK_FIELDS = ["text_key", "sentence_first", "sentence_count", "document", "has_section"]


@dataclass(frozen=True)
class Layout:
    """The collections of one build."""

    connection: Connection
    alias: str
    build: str
    checked: bool = False  # its chunk and blob rows carry digests, checked when read

    @property
    def names(self) -> dict[str, str]:
        """Milvus collection per kind."""
        return {kind: schema.collection_of(self.alias, self.build, kind) for kind in schema.KINDS}

    def call(self, what: str, action: Any) -> Any:
        """A call on this build's collections (loaded again once when the server released
        them, e.g. after a restart)."""
        return self.connection.call(what, action, reload=self.names.values())

    def load(self) -> None:
        """Load every collection of the build into the server's memory."""
        for name in self.names.values():

            def load(client: Any, name: str = name) -> None:
                client.load_collection(name, timeout=self.connection.write_timeout)

            self.connection.call("load the index", load)

    def manifest(self) -> dict[str, Any]:
        """The build's manifest."""
        try:
            manifest = json.loads(read_blob(self, "manifest", 0))
        except ValueError:
            manifest = None
        if not isinstance(manifest, dict):
            raise BackendError(f"the Milvus build {self.build} has no readable manifest: "
                               f"{REBUILD_HINT}")
        return manifest

    def counts(self) -> tuple[int, ...]:
        """Rows of each collection (chunks, sentences, blobs)."""
        found = []
        for name in self.names.values():
            rows = self.call(
                "count rows",
                lambda client, name=name: client.query(
                    name, filter="", output_fields=["count(*)"],
                    timeout=self.connection.timeout,
                ),
            )
            found.append(int(rows[0]["count(*)"]))
        return tuple(found)


def checked_layout(layout: Layout, manifest: dict[str, Any]) -> Layout:
    """``layout`` checking its rows' digests when the manifest says it has them (builds made
    before digests were recorded are read unchecked); a manifest whose record of them is not
    what this citebot writes is damage."""
    recorded = manifest.get("checksums")
    if recorded is None:
        return layout
    if not isinstance(recorded, dict) or recorded.get("algorithm") != ROW_ALGORITHM:
        raise IndexCorruptError(
            f"the Milvus build {layout.build} is damaged (its checksums): {REBUILD_HINT}"
        )
    return replace(layout, checked=True)


def check_digest(layout: Layout, row: dict[str, Any], fields: Sequence[str], what: str) -> None:
    """Raise IndexCorruptError when a row read from a checked build no longer matches the
    digest written with it: never quote an altered or damaged text."""
    if layout.checked and row.get("digest") != row_digest(*(row.get(f) for f in fields)):
        raise IndexCorruptError(
            f"the Milvus build {layout.build} is damaged ({what} changed since it was built): "
            f"{REBUILD_HINT}"
        )


def blob_name(kind: str, item: int) -> str:
    """How messages name a blob."""
    if kind == "text":
        return f"the text of document {int(item)}"
    if kind == "chunk_text":
        return f"the text of chunk {int(item)}"
    return f"its {kind}"


def read_blob(layout: Layout, kind: str, item: int) -> str:
    """The text stored under (kind, item), its pieces joined (each checked against its
    digest in a checked build)."""
    fields = [*schema.BLOB_DIGEST_FIELDS, "digest"] if layout.checked else ["piece", "text"]
    rows = layout.call(
        "read the index",
        lambda client: client.query(
            layout.names["blobs"], filter=f'kind == "{kind}" and item == {int(item)}',
            output_fields=fields, limit=MAX_HITS,
            timeout=layout.connection.timeout,
        ),
    )
    if not rows:
        raise BackendError(f"the Milvus build {layout.build} lacks its {kind}: {REBUILD_HINT}")
    for row in rows:
        check_digest(layout, row, schema.BLOB_DIGEST_FIELDS, blob_name(kind, item))
    return "".join(row["text"] for row in sorted(rows, key=lambda row: int(row["piece"])))


def scan(
    layout: Layout, kind: str, fields: list[str], total: int, batch: int,
    key: str = "row", where: str = "",
) -> Iterator[dict[str, Any]]:
    """Rows with keys 0..total-1 in key order, ``batch`` at a time."""
    name = layout.names[kind]
    extra = f" and ({where})" if where else ""
    for first in range(0, total, batch):
        last = min(first + batch, total)
        rows = layout.call(
            "read the index",
            lambda client, first=first, last=last: client.query(
                name, filter=f"{key} >= {first} and {key} < {last}{extra}",
                output_fields=fields, limit=last - first,
                timeout=layout.connection.write_timeout,
            ),
        )
        rows.sort(key=lambda row: int(row[key]))
        if not where and len(rows) != last - first:
            raise BackendError(f"the Milvus build {layout.build} is incomplete: {REBUILD_HINT}")
        yield from rows


class MilvusIndex:
    """One build in Milvus, read-only; safe to share across threads."""

    def __init__(
        self, layout: Layout, manifest: dict[str, Any], full_scoring_limit: int | None = None
    ) -> None:
        self.layout = checked_layout(layout, manifest)
        self.manifest = manifest
        # Up to this many chunks every chunk and sentence is scored, as the local index does
        # (None: the local index's limit, so both rank alike). In Milvus Lite that costs ~35 us
        # per returned hit: 0.57 s a question at 2,000 chunks against 0.17 s for candidates
        # (benchmarks/milvus_sentence_scores.py); a lower limit trades agreement for speed.
        self.full_scoring_limit = full_scoring_limit
        counts = manifest.get("counts", {})
        self._chunks = int(counts.get("chunks", 0))
        self._sentences = int(counts.get("sentences", 0))
        from bm25s.stopwords import STOPWORDS_EN

        from index.build.lexical import _stemmer

        self._stemmer = _stemmer()
        self._stopwords = list(STOPWORDS_EN) + QUESTION_WORDS

    @property
    def build(self) -> str:
        """The build this index reads."""
        return self.layout.build

    @property
    def chunk_count(self) -> int:
        """Number of chunks."""
        return self._chunks

    @property
    def has_lexical(self) -> bool:
        """Whether the build has BM25."""
        return "lexical" in self.manifest

    @cached_property
    def _vocabulary(self) -> tuple[dict[str, int], int]:
        found = json.loads(read_blob(self.layout, "vocabulary", 0))
        terms = found["terms"]
        return {term: i + 1 for i, term in enumerate(terms)}, int(found["chunk_terms"])

    @cached_property
    def _documents(self) -> dict[str, Any]:
        documents: dict[str, Any] = json.loads(read_blob(self.layout, "documents", 0))
        return documents

    def query_terms(self, text: str) -> list[str]:
        """BM25 terms of a question (as the local index makes them)."""
        return query_terms(text, self._stemmer, self._stopwords)

    def known_terms(self, terms: Sequence[str]) -> list[bool]:
        """For each term, whether some chunk holds it."""
        ids, chunk_terms = self._vocabulary
        return [0 < ids.get(term, 0) <= chunk_terms for term in terms]

    # -- candidates ----------------------------------------------------------------------

    def candidates(
        self, vector: np.ndarray, lexical: LexicalQuery | None, width: int
    ) -> Candidates:
        """Candidates for a unit query vector: up to ``width`` nearest chunks and ``width`` best
        by BM25 (every chunk of a small index, as the local index does), with every score fusion
        needs."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        from index.backends import local  # its limit, read at call time (tests lower it)

        use_lexical = lexical is not None and bool(lexical.parts) and self.has_lexical
        chunk_query = self._sparse_query(lexical, weighted=True) if use_lexical else {}
        total = self._chunks
        if total == 0:
            return _no_candidates(use_lexical)
        limit = local.FULL_SCORING_LIMIT if self.full_scoring_limit is None else (
            self.full_scoring_limit
        )
        complete = total <= limit or width >= total
        if complete:
            rows = np.arange(total, dtype=np.int64)
            found = self._dense_of(rows, vector, everything=True)
            dense = found.scores(rows)
            details = found.fields
            lexical_scores = (
                self._sparse_of(rows, chunk_query, everything=True).scores(rows)
                if use_lexical else None
            )
        else:
            rows, dense, lexical_scores, details = self._pool(
                vector, chunk_query, width, use_lexical
            )
        keys = np.array([details[int(r)]["text_key"] for r in rows], dtype=np.int64)
        firsts = np.array([details[int(r)]["sentence_first"] for r in rows], dtype=np.int64)
        counts = np.array([details[int(r)]["sentence_count"] for r in rows], dtype=np.int64)
        sentence_rows, starts = sentence_groups(firsts, counts)
        sentence_dense, sentence_types = self._sentence_dense(rows, counts, sentence_rows, vector)
        sentence_lexical = None
        if use_lexical:
            sentence_query = self._sparse_query(lexical, weighted=False)
            sentence_lexical = self._sentence_sparse(rows, counts, sentence_rows, sentence_query)
        return Candidates(
            rows=rows,
            text_keys=keys.view(np.uint64),
            dense=dense,
            lexical=lexical_scores,
            sentence_rows=sentence_rows,
            starts=starts,
            sentence_dense=sentence_dense,
            sentence_lexical=sentence_lexical,
            sentence_types=sentence_types,
            complete=complete,
            in_section=self._in_section(rows, details),
        )

    def _in_section(self, rows: np.ndarray, details: dict[int, dict[str, Any]]) -> np.ndarray:
        """Which chunks are under a heading of an HTML or Markdown document (as the local
        index says: ``Candidates.in_section``)."""
        structured = self._structured_documents
        return np.array(
            [bool(details[int(r)]["has_section"]) and structured[int(details[int(r)]["document"])]
             for r in rows],
            dtype=bool,
        )

    @cached_property
    def _structured_documents(self) -> list[bool]:
        from index.ingest.chunking import SECTION_FORMATS

        return [
            str(details.get("format") or "text") in SECTION_FORMATS
            for details in self._documents["details"]
        ]

    def _pool(
        self, vector: np.ndarray, query: dict[int, float], width: int, use_lexical: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[int, dict[str, Any]]]:
        """Top ``width`` by each retriever, one chunk per distinct text (the closest by vector,
        else the best by BM25), each with both scores."""
        name = self.layout.names["chunks"]
        limit = min(width, MAX_HITS)
        dense_hits = self._search(name, "dense", vector.tolist(), limit, "", _CHUNK_FIELDS)
        lexical_hits = (
            self._search(name, "sparse", query, limit, "", _CHUNK_FIELDS) if query else []
        )
        lexical_hits = [hit for hit in lexical_hits if hit[1] > 0]
        details: dict[int, dict[str, Any]] = {}
        seen: set[int] = set()
        chosen: list[int] = []
        for row, _, fields in dense_hits + lexical_hits:
            details.setdefault(row, fields)
            if fields["text_key"] in seen:
                continue
            seen.add(fields["text_key"])
            chosen.append(row)
        rows = np.array(sorted(chosen), dtype=np.int64)
        dense_found = _Scores({row: score for row, score, _ in dense_hits}, details)
        missing = np.array([r for r in rows if int(r) not in dense_found.values], np.int64)
        if len(missing):
            dense_found.update(self._dense_of(missing, vector))
        lexical_scores = None
        if use_lexical:
            lexical_found = _Scores({row: score for row, score, _ in lexical_hits}, details)
            if len(lexical_hits) >= limit:  # more chunks hold a term: score the others too
                missing = np.array(
                    [r for r in rows if int(r) not in lexical_found.values], np.int64
                )
                if len(missing):
                    lexical_found.update(self._sparse_of(missing, query))
            lexical_scores = lexical_found.scores(rows)
        return rows, dense_found.scores(rows), lexical_scores, details

    def _dense_of(self, rows: np.ndarray, vector: np.ndarray, everything: bool = False
                  ) -> _Scores:
        return self._scores_of("chunks", "dense", vector.tolist(), rows, everything)

    def _sparse_of(self, rows: np.ndarray, query: dict[int, float], everything: bool = False
                   ) -> _Scores:
        if not query:
            return _Scores({}, {})
        return self._scores_of("chunks", "sparse", query, rows, everything)

    def _scores_of(self, kind: str, field: str, data: Any, rows: np.ndarray, everything: bool
                   ) -> _Scores:
        """Scores of chunk ``rows`` (all chunks when ``everything``), searched in slices."""
        name = self.layout.names[kind]
        found = _Scores({}, {})
        for first in range(0, len(rows), MAX_HITS):
            part = rows[first : first + MAX_HITS]
            if everything:
                where = "" if len(rows) <= MAX_HITS else (
                    f"row >= {int(part[0])} and row <= {int(part[-1])}"
                )
            else:
                where = f"row in {_list(part)}"
            for row, score, fields in self._search(name, field, data, len(part), where,
                                                   _CHUNK_FIELDS):
                found.values[row] = score
                found.fields.setdefault(row, fields)
        return found

    def _sentence_dense(
        self, rows: np.ndarray, counts: np.ndarray, sentence_rows: np.ndarray, vector: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cosine and type flags of the sentences of chunks ``rows``."""
        found: dict[int, tuple[float, int]] = {}
        for where, limit in self._sentence_slices(rows, counts):
            for row, score, fields in self._search(
                self.layout.names["sentences"], "dense", vector.tolist(), limit, where,
                ["types"],
            ):
                found[row] = (score, int(fields["types"]))
        missing = [int(r) for r in sentence_rows if int(r) not in found]
        if missing:  # not returned by the search (should not happen): compute from vectors
            vectors = self._sentence_vectors(np.array(missing, dtype=np.int64), ["types"])
            for row, (values, fields) in vectors.items():
                found[row] = (float(np.dot(values, vector)), int(fields["types"]))
        scores = np.array([found[int(r)][0] for r in sentence_rows], dtype=np.float32)
        bits = np.array([found[int(r)][1] for r in sentence_rows], dtype=np.int64)
        types = ((bits[:, None] >> np.arange(3)) & 1).astype(np.uint8)
        return scores, types.reshape(len(sentence_rows), 3)

    def _sentence_sparse(
        self, rows: np.ndarray, counts: np.ndarray, sentence_rows: np.ndarray,
        query: dict[int, float],
    ) -> np.ndarray:
        found: dict[int, float] = {}
        if query:
            for where, limit in self._sentence_slices(rows, counts):
                for row, score, _ in self._search(
                    self.layout.names["sentences"], "sparse", query, limit, where, []
                ):
                    found[row] = score
        return np.array([max(found.get(int(r), 0.0), 0.0) for r in sentence_rows],
                        dtype=np.float32)

    def _sentence_slices(self, rows: np.ndarray, counts: np.ndarray) -> Iterator[tuple[str, int]]:
        """Filters on the sentences of ``rows``, each matching at most MAX_HITS sentences."""
        if len(rows) == self._chunks and self._sentences <= MAX_HITS:
            yield "", max(self._sentences, 1)
            return
        first = 0
        while first < len(rows):
            last, total = first, 0
            while last < len(rows) and total + int(counts[last]) <= MAX_HITS:
                total += int(counts[last])
                last += 1
            yield f"chunk in {_list(rows[first:last])}", total
            first = last

    def _search(
        self, name: str, field: str, data: Any, limit: int, where: str, fields: list[str]
    ) -> list[tuple[int, float, dict[str, Any]]]:
        """(row, score, fields) of the hits of one search, best first."""
        metric = "COSINE" if field == "dense" else "IP"
        # No output fields would mean every field, vectors included: 3-4x slower in Lite.
        fields = fields or ["row"]

        def search(client: Any) -> Any:
            return client.search(
                name, data=[data], anns_field=field, limit=max(1, min(limit, MAX_HITS)),
                filter=where, output_fields=fields, search_params={"metric_type": metric},
                timeout=self.layout.connection.timeout,
            )

        hits = self.layout.call("search the index", search)[0]
        return [
            (int(hit["row"]), float(hit["distance"]), dict(hit.get("entity") or {}))
            for hit in hits
        ]

    def _sparse_query(self, lexical: LexicalQuery | None, weighted: bool) -> dict[int, float]:
        """The BM25 query as a sparse vector: each known term's count (times its part's weight
        for chunks; sentences are scored on every term at weight 1, as the local index does)."""
        if lexical is None:
            return {}
        ids, _ = self._vocabulary
        query: dict[int, float] = {}
        parts = lexical.parts if weighted else ((tuple(lexical.terms), 1.0),)
        for terms, weight in parts:
            for term, count in Counter(terms).items():
                term_id = ids.get(term)
                if term_id:
                    query[term_id] = query.get(term_id, 0.0) + float(weight) * count
        return {term: value for term, value in query.items() if value > 0}

    # -- vectors and passages ------------------------------------------------------------

    def chunk_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The exact vectors of chunks ``rows``."""
        found = self._get("chunks", np.asarray(rows, dtype=np.int64), ["dense"])
        return np.array([found[int(r)]["dense"] for r in rows], dtype=np.float32).reshape(
            len(rows), -1
        )

    def sentence_similarities(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Cosine of sentences ``rows`` to a unit vector."""
        rows = np.asarray(rows, dtype=np.int64)
        found = self._sentence_vectors(rows, [])
        matrix = np.array([found[int(r)][0] for r in rows], dtype=np.float32)
        return (matrix.reshape(len(rows), -1) @ np.asarray(vector, np.float32).reshape(-1)
                ).astype(np.float32)

    def _sentence_vectors(self, rows: np.ndarray, fields: list[str]
                          ) -> dict[int, tuple[np.ndarray, dict[str, Any]]]:
        found = self._get("sentences", rows, ["dense", *fields])
        return {row: (np.asarray(values["dense"], np.float32), values)
                for row, values in found.items()}

    def _get(self, kind: str, rows: np.ndarray, fields: list[str]) -> dict[int, dict[str, Any]]:
        name = self.layout.names[kind]
        found: dict[int, dict[str, Any]] = {}
        unique = np.unique(rows)
        for first in range(0, len(unique), MAX_HITS):
            part = unique[first : first + MAX_HITS]
            result = self.layout.call(
                "read the index",
                lambda client, part=part: client.query(
                    name, filter=f"row in {_list(part)}", output_fields=["row", *fields],
                    limit=len(part), timeout=self.layout.connection.timeout,
                ),
            )
            for row in result:
                found[int(row["row"])] = row
        if len(found) != len(unique):
            raise BackendError(
                f"the Milvus build {self.layout.build} lacks rows it should hold: {REBUILD_HINT}"
            )
        return found

    def stored_chunks(self, rows: Sequence[int]) -> list[StoredChunk]:
        """The chunks ``rows`` with their citations, in that order."""
        wanted = np.asarray(list(rows), dtype=np.int64)
        fields = list(schema.CHUNK_DIGEST_FIELDS)
        if self.layout.checked:
            fields.append("digest")
        found = self._get("chunks", wanted, fields) if len(wanted) else {}
        documents = self._documents
        result = []
        for row in wanted:
            values = found[int(row)]
            check_digest(self.layout, values, schema.CHUNK_DIGEST_FIELDS, f"chunk {int(row)}")
            document = int(values["document"])
            text = values["text"]
            if values["text_in_blobs"]:
                text = read_blob(self.layout, "chunk_text", int(row))
            chunk = Chunk(
                id=values["chunk_id"],
                document=documents["paths"][document],
                section=values["section"] if values["has_section"] else None,
                paragraph=int(values["paragraph"]),
                start=int(values["start"]),
                end=int(values["end"]),
                text=text,
                sentences=tuple((int(s), int(e)) for s, e in json.loads(values["sentences"])),
            )
            result.append(StoredChunk(chunk, self._citation(document, chunk)))
        return result

    def _citation(self, document: int, chunk: Chunk) -> Citation:
        details = self._documents["details"][document]
        pages = tuple(int(page) for page in details.get("pages") or ())
        page = page_end = None
        if pages:
            page = page_of(pages, chunk.start)
            page_end = page_of(pages, max(chunk.start, chunk.end - 1))
        anchors = tuple((int(o), str(a)) for o, a in details.get("anchors") or ())
        url = anchor_at(anchors, chunk.start) or passage_link(
            details.get("url"), str(details.get("format") or "text"), chunk.text, page
        )
        return Citation(chunk.document, chunk.section, chunk.paragraph, chunk.start, chunk.end,
                        page, page_end, url)

    def documents_overview(self) -> list[DocumentSummary]:
        """Every document, in index order."""
        documents = self._documents
        return [
            DocumentSummary(path, tuple(sections), int(chunks), details.get("url"))
            for path, sections, chunks, details in zip(
                documents["paths"], documents["sections"], documents["chunks"],
                documents["details"], strict=True,
            )
        ]


@dataclass
class _Scores:
    """Scores found so far, by row, and the fields each hit carried."""

    values: dict[int, float]
    fields: dict[int, dict[str, Any]]

    def update(self, other: _Scores) -> None:
        self.values.update(other.values)
        for row, fields in other.fields.items():
            self.fields.setdefault(row, fields)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """float32 score per row (0 where none was found: no shared BM25 term)."""
        return np.array([self.values.get(int(r), 0.0) for r in rows], dtype=np.float32)


def _no_candidates(lexical: bool) -> Candidates:
    """The candidates of an index without chunks."""
    rows = np.zeros(0, dtype=np.int64)
    scores = np.zeros(0, dtype=np.float32)
    return Candidates(rows, rows.astype(np.uint64), scores, scores if lexical else None, rows,
                      rows, scores, scores if lexical else None,
                      np.zeros((0, 3), dtype=np.uint8), True)


def _list(rows: np.ndarray) -> str:
    return "[" + ",".join(str(int(r)) for r in rows) + "]"
