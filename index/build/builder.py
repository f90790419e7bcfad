"""Building a Corpus from source documents: load, chunk, embed (re-using unchanged vectors)."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from index.backends.base import IndexBackend, SearchIndex
from index.backends.local_store import FORMAT_VERSION
from index.build.build_lock import OnWait
from index.build.corpus import Corpus, DocumentRecord
from index.build.embedding import TextEncoder
from index.build.lexical import LexicalIndex
from index.build.onnx_encoder import CONTEXT_SHARE, FLOAT32
from index.build.question_types import sentence_types
from index.build.vector_index import make_vector_index
from index.errors import CitebotError
from index.ingest.chunking import Chunk, Chunker, chunk_search_text, normalize_for_search
from index.ingest.documents import (
    MAX_SOURCE_BYTES,
    DocumentSet,
    SkippedFile,
    load_documents,
    stamp_fields,
)
from index.ingest.formats import DEFAULT_EXTRACT_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as progress(done, total) while texts are embedded."""

# How sentence vectors were made (recorded in the manifest; a rebuild re-uses vectors only of
# an index made the same way): each sentence embedded alone, or pooled inside its chunk's pass.
ALONE = "alone"
# Pooled with index.build.onnx_encoder.CONTEXT_SHARE of the chunk's vector taken out (since the
# third round of issue 26); IN_CHUNK_PLAIN: pooled as they are (indexes built before it).
IN_CHUNK = f"in-chunk-less-{CONTEXT_SHARE}"
IN_CHUNK_PLAIN = "in-chunk"
# The weights that embedded an index's texts are recorded in the manifest when not FLOAT32;
# a rebuild re-uses vectors only of an index embedded with the same weights. Each build encoder
# says which (``build_weights``): onnx_encoder's FLOAT32 or INT8, bfloat16_encoder's BFLOAT16;
# one without it (sentence-transformers) embeds in float32.

_VERSIONED = ("citebot", "sentence-transformers", "transformers", "torch", "faiss-cpu", "numpy")


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    documents: int
    chunks: int
    sentences: int
    embedded: int
    reused: int
    seconds: float
    index_bytes: int
    skipped: tuple[SkippedFile, ...]
    build: str  # the id of the build made live (a directory name, or a Milvus collection)


def build_index(
    source_dir: Path,
    store: IndexBackend,
    embedder: TextEncoder,
    chunker: Chunker,
    progress: Progress | None = None,
    index_type: str = "auto",
    wait: bool = True,
    on_wait: OnWait | None = None,
    max_source_bytes: int = MAX_SOURCE_BYTES,
    extract_timeout_seconds: float = DEFAULT_EXTRACT_TIMEOUT_SECONDS,
) -> tuple[SearchIndex | Corpus, BuildReport]:
    """Build an index of every document under ``source_dir`` and make it live in ``store``.

    Vectors of texts that an existing index (same model) already holds are re-used, not
    re-embedded. The whole build holds the index's build lock: when another build is running,
    this one waits for it (``on_wait`` is told the other's pid), or with ``wait=False`` raises
    BuildInProgressError at once. Raises SourceError when there is nothing to index, and
    IndexWriteError when the index cannot be written (the previous one stays live). Files over
    ``max_source_bytes`` are skipped unread, and those whose text takes longer than
    ``extract_timeout_seconds`` to extract are skipped when it runs out.
    """
    started = time.perf_counter()
    with store.build_lock().hold(wait, on_wait):
        document_set = load_documents(source_dir, max_source_bytes, extract_timeout_seconds)
        built, embedded, reused = assemble_corpus(
            document_set, embedder, chunker, store, progress, index_type
        )
        store.save(built)
        # Serve what was written: memory-mapped (or in Milvus), and proven to load.
        loaded = store.load(embedder.spec, chunker.parameters)
        index_bytes = store.size_bytes()
        build = store.live_build_id()
    report = BuildReport(
        documents=len(built.documents),
        chunks=len(built.chunks),
        sentences=len(built.sentence_vectors),
        embedded=embedded,
        reused=reused,
        seconds=time.perf_counter() - started,
        index_bytes=index_bytes,
        skipped=document_set.skipped,
        build=build or "",
    )
    return loaded, report


def assemble_corpus(
    document_set: DocumentSet,
    embedder: TextEncoder,
    chunker: Chunker,
    previous: IndexBackend | None = None,
    progress: Progress | None = None,
    index_type: str = "auto",
) -> tuple[Corpus, int, int]:
    """Chunk and embed documents in memory; returns (corpus, texts embedded, texts re-used)."""
    chunks = [chunk for document in document_set.documents for chunk in chunker.chunk(document)]
    documents = {
        d.path: DocumentRecord(
            d.path, d.content_hash, d.text, d.format, d.title, d.url, d.pages, d.anchors
        )
        for d in document_set.documents
    }
    chunk_texts = [chunk_search_text(chunk) for chunk in chunks]  # heading prefix, if any
    sentence_texts = [
        normalize_for_search(documents[chunk.document].text[start:end])
        for chunk in chunks
        for start, end in chunk.sentences
    ]
    mode = sentence_vector_mode(embedder)
    weights = build_weights(embedder)
    known = _known_vectors(previous, embedder, mode, weights) if previous is not None else {}
    missing = list(dict.fromkeys(t for t in chunk_texts + sentence_texts if t not in known))
    reused = len(set(chunk_texts + sentence_texts)) - len(missing)
    if missing:
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, len(missing))

        if progress is not None:
            progress(0, len(missing))
        if mode == IN_CHUNK:
            _embed_in_context(chunks, chunk_texts, documents, embedder, known, advance)
        missing_now = [t for t in missing if t not in known]
        if missing_now:
            vectors = embedder.encode(missing_now, progress=advance)
            known.update(zip(missing_now, vectors, strict=True))
    dimension = embedder.spec.dimension
    chunk_matrix = _stack([known[t] for t in chunk_texts], dimension)
    sentence_matrix = _stack([known[t] for t in sentence_texts], dimension)
    vector_index, vector_parameters = make_vector_index(chunk_matrix, index_type)
    lexical = LexicalIndex.build(chunk_texts, sentence_texts)
    manifest = _manifest(document_set, chunker, embedder, len(chunks), len(sentence_texts))
    manifest["sentence_vectors"] = mode
    if weights != FLOAT32:  # absent: float (every build before int8 builds)
        manifest["build_weights"] = weights
    manifest["lexical"] = lexical.parameters
    manifest["vector_index"] = vector_parameters
    corpus = Corpus(
        documents,
        chunks,
        vector_index,
        sentence_matrix,
        sentence_types(sentence_texts),
        manifest,
        lexical,
        exact_chunk_vectors=chunk_matrix,
    )
    return corpus, len(missing), reused


def sentence_vector_mode(embedder: TextEncoder) -> str:
    """How sentence vectors are made with ``embedder``: ALONE (each sentence its own pass) or
    IN_CHUNK (pooled from its chunk's pass; an encoder with ``late_chunking`` on)."""
    return IN_CHUNK if getattr(embedder, "late_chunking", False) else ALONE


def build_weights(embedder: TextEncoder) -> str:
    """The model weights that embed with ``embedder`` (its ``build_weights``; FLOAT32 when it
    does not say); questions are always embedded with the float model."""
    return str(getattr(embedder, "build_weights", FLOAT32))


def _embed_in_context(
    chunks: list[Chunk],
    chunk_texts: list[str],
    documents: dict[str, DocumentRecord],
    embedder: TextEncoder,
    known: dict[str, np.ndarray],
    advance: Callable[[int], None],
) -> None:
    """Embed each chunk not in ``known`` once, taking its sentences' vectors from the same pass.

    Sentences already known keep their vector; a sentence whose span cannot be found in its
    chunk's embedded text (Unicode normalisation changed the text) is left for its own pass.
    """
    todo: dict[str, Chunk] = {}  # each chunk text to embed -> its first chunk
    for chunk, text in zip(chunks, chunk_texts, strict=True):
        if text not in known:
            todo.setdefault(text, chunk)
    if not todo:
        return
    texts = list(todo)
    spans: list[list[tuple[int, int]]] = []
    for text in texts:
        chunk = todo[text]
        exact = text == chunk.text  # offsets inside the chunk hold for its embedded text
        spans.append(
            [(start - chunk.start, end - chunk.start) for start, end in chunk.sentences]
            if exact
            else []
        )
    # Not part of TextEncoder: only a late-chunking encoder has it (mode IN_CHUNK, above).
    in_context = embedder.encode_in_context  # type: ignore[attr-defined]
    vectors, pooled = in_context(texts, spans, progress=advance)
    for text, vector, sentence_vectors in zip(texts, vectors, pooled, strict=True):
        known[text] = vector
        chunk = todo[text]
        document_text = documents[chunk.document].text
        for (start, end), sentence_vector in zip(chunk.sentences, sentence_vectors, strict=False):
            sentence = normalize_for_search(document_text[start:end])
            if sentence_vector is not None and sentence not in known:
                known[sentence] = sentence_vector


def _known_vectors(
    store: IndexBackend, embedder: TextEncoder, mode: str, weights: str = FLOAT32
) -> dict[str, np.ndarray]:
    """Vectors an existing index holds for each text it embedded, when built with this model,
    the same way of making sentence vectors and the same weights (none when it cannot be read:
    the build then embeds everything)."""
    try:
        manifest = store.read_manifest() if store.exists() else {}
        if store.exists() and (
            manifest.get("sentence_vectors", ALONE) != mode
            or manifest.get("build_weights", FLOAT32) != weights
        ):
            log.info("previous index made its vectors another way: not re-used")
            return {}
        return store.known_vectors(embedder.spec)
    except CitebotError as error:
        log.info("previous index not re-used: %s", error)
        return {}


def _stack(rows: list[np.ndarray], dimension: int) -> np.ndarray:
    if not rows:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)


def _manifest(
    document_set: DocumentSet, chunker: Chunker, embedder: TextEncoder, chunks: int, sentences: int
) -> dict[str, Any]:
    spec = embedder.spec
    return {
        "format_version": FORMAT_VERSION,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "name": spec.name,
            "weights_sha256": spec.weights_hash,
            "dimension": spec.dimension,
            "max_seq_length": spec.max_seq_length,
        },
        "chunker": chunker.parameters,
        "counts": {
            "documents": len(document_set.documents),
            "chunks": chunks,
            "sentences": sentences,
        },
        "documents": [
            {
                "path": d.path,
                "sha256": d.content_hash,
                "format": d.format,
                "paragraphs": len(d.paragraphs),
                **stamp_fields(d.stamp),
            }
            for d in document_set.documents
        ],
        "skipped": [
            {"path": s.path, "sha256": s.content_hash, "reason": s.reason, **stamp_fields(s.stamp)}
            for s in document_set.skipped
        ],
        "addresses": None
        if document_set.addresses is None
        else {
            "sha256": document_set.addresses.sha256,
            **stamp_fields(document_set.addresses.stamp),
        },
        "versions": {"python": platform.python_version(), **_versions()},
    }


def _versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
