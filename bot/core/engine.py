"""The application's engine: settings turned into a loaded index and a searcher, shared by the
console, the CLI and Discord. Thread-safe: searches may run while a rebuild is under way."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core.backends import open_store
from bot.settings import Settings
from index import (
    Answer,
    Chunker,
    Corpus,
    Embedder,
    IndexMissingError,
    ModelSpec,
    Searcher,
    build_index,
)
from index.backends.base import IndexBackend, SearchIndex
from index.build.bfloat16_encoder import (
    BFloat16Encoder,
    BFloat16Refused,
    ensure_bfloat16,
    has_native_bfloat16,
)
from index.build.build_lock import BuildInProgressError, OnWait
from index.build.builder import BuildReport, Progress
from index.build.embedding import TextEncoder
from index.build.onnx_encoder import (
    BUILD_BATCH_TOKENS,
    OnnxEncoder,
    OnnxExportRefused,
    ensure_onnx,
    has_token_output,
    is_exported,
    onnx_path_for,
    refused_export,
)
from index.errors import CitebotError
from index.ingest.documents import load_documents, scan_sources
from index.query.conversation import Turn
from index.query.search import QueryEncoder, RecentQueries, make_searcher

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


# One error for "a build of this index is running", whether in this process or another.
RebuildInProgressError = BuildInProgressError


@dataclass(frozen=True)
class SourceInfo:
    """One indexed document, as listed to users."""

    document: str
    sections: tuple[str, ...]
    chunks: int
    url: str | None = None


class Engine:
    """Loads the model and index once; answers questions; rebuilds off to the side and swaps."""

    def __init__(
        self,
        settings: Settings,
        encoders_from: Engine | None = None,
        remember_queries: bool = False,
        collection: str = "default",
    ):
        """``encoders_from``: another engine whose model (and its ONNX export) this one uses,
        so that many collections share one loaded model. ``remember_queries``: keep the
        embeddings of recent questions (``RecentQueries``), for the bot, where one question is
        searched in several collections and asked again for More. ``collection``: the name
        its index has on the backend (Milvus keeps every collection in one place)."""
        self.settings = settings
        self.collection = collection
        self._encoders_from = encoders_from
        self._remember_queries = remember_queries
        self.store: IndexBackend = open_store(settings, collection)
        self._spec: ModelSpec | None = None
        self._embedder: Embedder | None = None
        self._query_encoder: QueryEncoder | None = None
        self._build_encoder: TextEncoder | None = None
        self._searcher: Searcher | None = None
        self._load_lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._live_build: str | None = None  # the build directory the searcher serves
        self._checked_at = 0.0
        self.on_build_start: Callable[[], None] | None = None

    @property
    def spec(self) -> ModelSpec:
        """The configured model (resolved, not loaded)."""
        if self._encoders_from is not None:
            return self._encoders_from.spec
        if self._spec is None:
            self._spec = ModelSpec.resolve(self.settings.model)
            if self.settings.chunk_tokens > self._spec.max_seq_length:
                raise CitebotError(
                    f"invalid setting CITEBOT_CHUNK_TOKENS: {self.settings.chunk_tokens} is "
                    f"more than the model's max_seq_length ({self._spec.max_seq_length}); "
                    "chunks would be truncated. Set it to at most that"
                )
        return self._spec

    @property
    def embedder(self) -> Embedder:
        """The embedding model (loaded on first encode)."""
        if self._encoders_from is not None:
            return self._encoders_from.embedder
        if self._embedder is None:
            self._embedder = Embedder(self.spec, self.settings.device, self.settings.batch_size)
        return self._embedder

    @property
    def query_encoder(self) -> QueryEncoder:
        """What embeds questions: the ONNX export when there is one (no torch import needed),
        else the sentence-transformers model."""
        if self._encoders_from is not None:
            return self._encoders_from.query_encoder
        if self._query_encoder is None:
            encoder: QueryEncoder = self.embedder
            if self.settings.use_onnx:
                path = onnx_path_for(self.settings.index_dir, self.spec)
                if is_exported(path, self.spec):
                    try:
                        encoder = OnnxEncoder.for_queries(self.spec, path)
                    except Exception:  # a damaged export must not stop answers
                        log.warning("ONNX model at %s unusable; using torch", path, exc_info=True)
            self._query_encoder = RecentQueries(encoder) if self._remember_queries else encoder
        return self._query_encoder

    @property
    def build_encoder(self) -> TextEncoder:
        """What embeds texts when building: on CPU the ONNX export (exported on first use,
        about 3x the throughput of sentence-transformers here), else sentence-transformers."""
        if self._encoders_from is not None:
            return self._encoders_from.build_encoder
        if self._build_encoder is None:
            encoder: TextEncoder = self.embedder
            if self.settings.use_onnx and self.settings.device == "cpu":
                try:
                    late, int8 = self.settings.late_chunking, self.settings.build_int8
                    path = ensure_onnx(
                        self.settings.index_dir, self.spec, quantized=int8, token_output=late
                    )
                    cores = os.cpu_count() or 1
                    encoder = self._bfloat16_encoder(cores) or OnnxEncoder(
                        self.spec, path, threads=cores, batch_size=1 if int8 else 8,
                        late_chunking=late, concurrent_runs=cores,
                        # int8: one text per batch (its vector must not depend on batch-mates)
                        batch_tokens=None if int8 else BUILD_BATCH_TOKENS,
                    )
                    current = getattr(self._query_encoder, "encoder", self._query_encoder)
                    if not isinstance(current, OnnxEncoder):
                        self._query_encoder = None  # the export now exists: use it for questions
                except OnnxExportRefused:  # ensure_onnx logged why; sentence-transformers it is
                    pass
                except Exception:  # builds still work through torch; say so in the log
                    log.warning("ONNX export unusable; embedding with torch", exc_info=True)
            self._build_encoder = encoder
        return self._build_encoder

    def _bfloat16_encoder(self, cores: int) -> BFloat16Encoder | None:
        """The bfloat16 build encoder when ``build_bfloat16`` asks for it (auto: on a CPU with
        native bfloat16) and the build is neither int8 nor late chunking; else None (float32).
        A refused or unusable bfloat16 export is logged and the build goes on in float32."""
        chosen = self.settings.build_bfloat16
        if (
            chosen == "false"
            or self.settings.build_int8
            or self.settings.late_chunking
            or (chosen == "auto" and not has_native_bfloat16())
        ):
            return None
        try:
            path = ensure_bfloat16(self.settings.index_dir, self.spec)
            return BFloat16Encoder(self.spec, path, threads=cores, concurrent_runs=cores)
        except BFloat16Refused:  # logged by ensure_bfloat16
            return None
        except Exception:  # builds still work in float32; say so in the log
            log.warning("bfloat16 export unusable; building in float32", exc_info=True)
            return None

    def chunker(self) -> Chunker:
        """A chunker for the configured model and chunk size."""
        spec = self.spec
        return Chunker(spec.count_tokens, spec.token_offsets, self.settings.chunk_tokens)

    @property
    def loaded(self) -> bool:
        """Whether an index is loaded and ready to answer."""
        return self._searcher is not None

    @property
    def corpus(self) -> Corpus:
        """The loaded local corpus (loads it on first use; AttributeError on Milvus)."""
        return self.searcher.corpus

    @property
    def index(self) -> SearchIndex:
        """The loaded index, on any backend (loads it on first use)."""
        return self.searcher.index

    @property
    def searcher(self) -> Searcher:
        """The live searcher (loads the index on first use, without building)."""
        if self._searcher is None:
            self.load(build_if_missing=False)
        assert self._searcher is not None
        return self._searcher

    def index_exists(self) -> bool:
        """Whether a built index is on disk."""
        return self.store.exists()

    def load(
        self,
        build_if_missing: bool = True,
        progress: Progress | None = None,
        on_wait: OnWait | None = None,
    ) -> BuildReport | None:
        """Load the index (building it first when there is none and that is allowed; that
        build waits for another process's build, telling ``on_wait``).

        Returns the build report when a build happened. Raises CitebotError subclasses.
        """
        with self._load_lock:
            if self._searcher is not None:
                return None
            if not self.store.exists():
                if not build_if_missing:
                    raise IndexMissingError(f"no index {self._where()}: run `citebot build` first")
                return self._build(progress, wait=True, on_wait=on_wait)
            self._searcher = self._load_live()
            return None

    def _load_live(self) -> Searcher:
        """A searcher over the live build, remembering which build it is."""
        build = self.store.live_build_id()
        index = self.store.load(self.spec, self.chunker().parameters)
        self.store.prefetch()  # a fresh build leaves its files cached already
        self._live_build = build
        return self.make_searcher(index)

    def _where(self) -> str:
        if self.settings.backend == "milvus":
            return f"for collection {self.collection} in Milvus at {self.settings.milvus_uri}"
        return f"at {self.settings.index_dir}"

    def refresh(self, min_interval: float = 1.0) -> bool:
        """Serve the live build if another process (``citebot build``) made a new one live
        since this engine loaded; checked at most every ``min_interval`` seconds. The loaded
        index keeps answering when the new one cannot be loaded. True when it reloaded."""
        now = time.monotonic()
        if self._searcher is None or now - self._checked_at < min_interval:
            return False
        self._checked_at = now
        try:
            build = self.store.live_build_id()
            if build is None or build == self._live_build:
                return False
            with self._load_lock:
                if build == self._live_build:
                    return False
                self._searcher = self._load_live()
        except CitebotError as error:
            log.warning("new index at %s unusable (%s); still serving the old one",
                        self.settings.index_dir, error)
            return False
        log.info("index at %s changed on disk; now serving build %s",
                 self.settings.index_dir, self._live_build)
        return True

    def warm_up(self) -> None:
        """Load the model weights now, so the first question is not slow."""
        self.query_encoder.encode_query("warm up")

    def search(
        self,
        question: str,
        k: int | None = None,
        offset: int = 0,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer a question with the top ``k`` passages after ``offset`` (blocking).

        ``history``: the conversation's earlier turns, most recent last (``Answer.context`` says
        when the question was read together with them)."""
        return self.searcher.search(question, k or self.settings.top_k, offset, history)

    def rebuild(
        self,
        progress: Progress | None = None,
        wait: bool = False,
        on_wait: OnWait | None = None,
    ) -> BuildReport:
        """Rebuild from the sources; questions keep using the old index until the swap.

        When another build of the same index is running, in this process or another, raise
        RebuildInProgressError at once; or with ``wait=True`` (``citebot build``) wait for it
        (``on_wait`` is told its pid first, when known) and then build.
        """
        if not self._rebuild_lock.acquire(blocking=False):
            raise RebuildInProgressError("a rebuild is already running: wait for it to finish")
        try:
            return self._build(progress, wait, on_wait)
        finally:
            self._rebuild_lock.release()

    def sources(self) -> list[SourceInfo]:
        """The indexed documents with their sections and chunk counts."""
        return [
            SourceInfo(d.path, d.sections, d.chunks, d.url)
            for d in self.index.documents_overview()
        ]

    @property
    def built_at(self) -> datetime | None:
        """When the loaded index was built."""
        if self._searcher is None:
            return None
        return parse_time(self._searcher.index.manifest.get("built_at"))

    def needs_export(self) -> bool:
        """Whether the next build first exports the model to ONNX (once per model, slow)."""
        if self._encoders_from is not None:
            return self._encoders_from.needs_export()
        if not self.settings.use_onnx or self.settings.device != "cpu":
            return False
        if refused_export(self.settings.index_dir, self.spec) is not None:
            return False  # refused before: builds use sentence-transformers, no export
        path = onnx_path_for(self.settings.index_dir, self.spec)
        if self.settings.late_chunking and not has_token_output(path, self.spec):
            return True  # an export from before issue 26: exported again with token outputs
        return not is_exported(path, self.spec)

    def check_sources(self) -> None:
        """Raise SourceError at once when the source folder is missing or holds no document:
        a build would otherwise load (and on first use export) the model before finding out.
        Lists the folder without reading a file."""
        source_dir = self.settings.source_dir
        if not scan_sources(source_dir).files:
            load_documents(source_dir, self.settings.max_source_bytes)  # raises, with why

    def _build(
        self, progress: Progress | None, wait: bool, on_wait: OnWait | None = None
    ) -> BuildReport:
        self.check_sources()
        if self.on_build_start is not None:
            self.on_build_start()
        started = time.perf_counter()
        corpus, report = build_index(
            self.settings.source_dir,
            self.store,
            self.build_encoder,
            self.chunker(),
            progress,
            self.settings.index_type,
            wait=wait,
            on_wait=on_wait,
            max_source_bytes=self.settings.max_source_bytes,
            extract_timeout_seconds=self.settings.extract_timeout_seconds,
        )
        self._searcher = self.make_searcher(corpus)  # atomic reference swap
        self._live_build = report.build
        return replace(report, seconds=time.perf_counter() - started)

    def make_searcher(self, index: SearchIndex | Corpus) -> Searcher:
        """The production searcher over ``index`` with this engine's model and settings.

        Its questions go to ``query_encoder`` when asked, which starts the encoder on the first
        question (``warm_up`` starts it sooner): a process that only builds, like `citebot
        build`, never loads it (0.15 s of its 8.5 s here)."""
        return make_searcher(
            index, _QuestionsOf(self), self.settings.max_question_chars, self.settings.ranker
        )


class _QuestionsOf:
    """An engine's query encoder, looked up at each question (made on the first one)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def encode_query(self, text: str) -> np.ndarray:
        """float32[1, d], unit length: the engine's query encoder's vector of ``text``."""
        return self._engine.query_encoder.encode_query(text)


def parse_time(value: Any) -> datetime | None:
    """An ISO time from a manifest, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
