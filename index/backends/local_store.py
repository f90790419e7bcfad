"""Persisting a Corpus: FAISS vectors + chunk records + manifest, swapped in atomically.

Layout of an index directory::

    CURRENT                 name of the live build (replaced atomically with os.replace)
    build.lock              locked (flock) by the build running now, with its pid; never deleted
    <build>/manifest.json   format, model (name, weights hash, dimension, max_seq_length),
                            chunker parameters, documents with content hashes, sizes and
                            mtimes, the size and xxh3-128 checksum of every other file of the
                            build (checked on load, see index/integrity.py), build time, versions
    <build>/chunks.faiss    one vector per chunk (searched; IVF-SQ8 above 50k chunks)
    <build>/chunk_vectors.npy  the same vectors exactly, float32 (for rebuilds; memory-mapped)
    <build>/sentence_codes.npy  one vector per sentence as int8 codes (searched; memory-mapped)
    <build>/sentence_scale.npy  per-dimension scale of the codes (vector = codes * scale)
    <build>/sentences.npy   the sentence vectors as float16 (for rebuilds; memory-mapped)
    <build>/sentence_types.npy  date / number / name flags per sentence
    <build>/documents.json  document paths, content hashes, byte ranges in texts.bin, and per
                            document its format, title, address and page starts
    <build>/texts.bin       every document's extracted text, UTF-8, concatenated
                            (memory-mapped on load)
    <build>/chunks/         chunk columns as .npy (memory-mapped on load) + sections.json
    <build>/lexical-*/      BM25 indexes over chunks and sentences (bm25s)

Everything large is memory-mapped on load (FAISS too), so a loaded index costs file-backed
pages the OS reads on demand rather than private heap, and loading takes well under a second
even at a million chunks.

A build is written to ``.tmp-<build>`` beside the live one and renamed into place; only then is
CURRENT switched (through a uniquely named temp file). A build that dies half-way, or fails for
want of space, leaves the previous build live. Builds hold the directory's build lock
(``build.lock``, see index/build_lock.py) from start to end, so a build never removes the files
of another one; loading reads CURRENT once, and loads again when a build swapped in meanwhile.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.answer import Citation
from index.backends.integrity import ALGORITHM, changed_files, file_digests
from index.build.build_lock import BuildLock
from index.build.chunk_table import ID_BYTES, ChunkTable, DocumentTable, TextBlob, map_array
from index.build.corpus import Corpus
from index.build.lexical import LexicalIndex
from index.build.model import ModelSpec
from index.build.vector_index import configure_for_queries
from index.errors import CitebotError, IndexCorruptError, IndexMismatchError, IndexMissingError
from index.ingest.documents import page_of
from index.ranker import model_record as ranker_model_record

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
# What answering a question reads (at 1M chunks ~3.6 GB of the 8.5 GB index); the float32
# chunk vectors and float16 sentence vectors are read only by rebuilds.
SEARCHED_FILES = (
    "chunks.faiss", "sentence_codes.npy", "lexical-chunks", "lexical-sentences", "chunks",
    "texts.bin", "sentence_types.npy",
)
PREFETCH_SHARE = 0.5
PREFETCH_INLINE = 64 << 20
PREFETCH_STEP = 8 << 20
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
_TMP_PREFIX = ".tmp-"
REBUILD_HINT = "run `citebot build` to rebuild it"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_LOW_SPACE_BYTES = 1 << 20


class IndexWriteError(CitebotError):
    """A build could not be written (no space, no permission); the previous index is intact."""


@dataclass(frozen=True)
class IndexStore:
    """An index directory on disk."""

    directory: Path

    def current_build(self) -> Path | None:
        """Directory of the live build, or None when there is none."""
        pointer = self.directory / CURRENT
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise IndexCorruptError(
                f"index at {self.directory} is unreadable ({error}): {REBUILD_HINT}"
            ) from None
        if not name or "/" in name or name.startswith("."):
            raise IndexCorruptError(
                f"index at {self.directory} has a damaged CURRENT file: {REBUILD_HINT}"
            )
        return self.directory / name

    def live_build_id(self) -> str | None:
        """Name of the live build (changes with every build made live), or None."""
        build = self.current_build()
        return build.name if build is not None else None

    def known_vectors(self, model: ModelSpec) -> dict[str, np.ndarray]:
        """Normalised text -> vector of every chunk and sentence of the live build when it was
        built with ``model``'s weights (else, or when there is none, empty): what a rebuild
        re-uses instead of embedding again."""
        from index.ingest.chunking import chunk_search_text, normalize_for_search

        if not self.exists():
            return {}
        manifest = self.read_manifest()
        if manifest.get("model", {}).get("weights_sha256") != model.weights_hash:
            return {}
        corpus = self.load(model, manifest.get("chunker", {}))
        known: dict[str, np.ndarray] = {}
        table = corpus.table
        for row, vector in enumerate(corpus.chunk_vectors()):
            known[chunk_search_text(table[row])] = vector
        sentences = (normalize_for_search(text) for text in table.sentence_texts())
        for text, vector in zip(sentences, corpus.sentence_floats(), strict=True):
            known[text] = np.array(vector, dtype=np.float32)
        return known

    def exists(self) -> bool:
        """Whether a build is live here."""
        build = self.current_build()
        return build is not None and build.is_dir()

    def read_manifest(self) -> dict[str, Any]:
        """The live build's manifest (raises IndexMissingError / IndexCorruptError)."""
        return self._read_manifest(self._live_build())

    def build_lock(self) -> BuildLock:
        """The lock that builds into this directory hold (see ``BuildLock.hold``)."""
        return BuildLock(self.directory)

    def _read_manifest(self, build: Path) -> dict[str, Any]:
        try:
            manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise IndexCorruptError(
                f"index at {self.directory} has an unreadable manifest ({type(error).__name__}): "
                f"{REBUILD_HINT}"
            ) from None
        if not isinstance(manifest, dict):
            raise IndexCorruptError(
                f"index at {self.directory} has an unreadable manifest (not an object): "
                f"{REBUILD_HINT}"
            )
        return manifest

    def size_bytes(self) -> int:
        """Bytes on disk of the live build."""
        build = self.current_build()
        if build is None or not build.is_dir():
            return 0
        return sum(f.stat().st_size for f in build.rglob("*") if f.is_file())

    def save(self, corpus: Corpus) -> Path:
        """Write ``corpus`` as a new build and make it live atomically; return its directory.

        Holds the build lock (waiting for another build to finish). Raises IndexWriteError
        when the files cannot be written (no space left, no permission): then nothing of the
        new build is left behind and the previous build stays live.
        """
        with self.build_lock().hold():
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                name = time.strftime("build-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:8]
                final = self.directory / name
                pointer = self.directory / f"{_TMP_PREFIX}{CURRENT}-{uuid.uuid4().hex}"
                staging = self.directory / f"{_TMP_PREFIX}{name}"
                live = False
                try:
                    staging.mkdir()
                    self._write_build(corpus, staging)
                    os.replace(staging, final)
                    pointer.write_text(name + "\n", encoding="utf-8")
                    _sync_path(pointer)
                    os.replace(pointer, self.directory / CURRENT)
                    live = True
                    _sync_path(self.directory)
                except BaseException:
                    if not live:
                        for leftover in (staging, final):
                            shutil.rmtree(leftover, ignore_errors=True)
                        pointer.unlink(missing_ok=True)
                    raise
            except (OSError, RuntimeError) as error:
                raise self._write_error(error) from None
            try:
                self._remove_old_builds(keep=name)
            except OSError as error:  # the new build is live; leftovers go next time
                log.warning("old index builds in %s not removed: %s", self.directory, error)
        return final

    def _write_build(self, corpus: Corpus, staging: Path) -> None:
        import faiss

        documents, table = corpus.documents, corpus.table
        assert isinstance(documents, DocumentTable)
        documents.blob.write(staging / "texts.bin")
        _sync_path(staging / "texts.bin")
        _write_json(
            staging / "documents.json",
            {"paths": documents.paths, "content_hashes": documents.hashes,
             "spans": documents.spans.tolist(), "details": documents.details},
        )
        table.save(staging / "chunks")
        _write_json(staging / "chunks" / "sections.json", table.sections)
        for column in (staging / "chunks").iterdir():
            _sync_path(column)
        _write_array(staging / "chunk_vectors.npy", corpus.chunk_vectors(), np.float32)
        sentences = corpus.sentence_floats()
        _write_array(staging / "sentences.npy", sentences, np.float16)
        scale = _code_scale(sentences)
        _write_array(
            staging / "sentence_codes.npy", sentences, np.int8,
            lambda rows: _codes(rows, scale),
        )
        np.save(staging / "sentence_scale.npy", scale, allow_pickle=False)
        _sync_path(staging / "sentence_scale.npy")
        with (staging / "sentence_types.npy").open("wb") as handle:
            np.save(handle, corpus.sentence_types, allow_pickle=False)
            _sync(handle)
        if corpus.lexical is not None:
            corpus.lexical.save(staging)
        faiss.write_index(corpus.vector_index, str(staging / "chunks.faiss"))
        _sync_path(staging / "chunks.faiss")
        sizes = {
            path.relative_to(staging).as_posix(): path.stat().st_size
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        checksums = {"algorithm": ALGORITHM, "files": file_digests(staging, sizes)}
        manifest = {**corpus.manifest, "files": sizes, "checksums": checksums}
        # the learned ranker's model shipped with the code that built it (CITEBOT_RANKER)
        manifest.setdefault("ranker_model", ranker_model_record())
        _write_json(staging / MANIFEST, manifest, indent=2)  # last: marks completion
        _sync_path(staging)

    def _write_error(self, error: OSError | RuntimeError) -> Exception:
        """The user's message for a failed write (an error this module does not recognise is
        returned as it is)."""
        unchanged = "the previous index is unchanged and still answers"
        try:
            free = shutil.disk_usage(self.directory).free
        except OSError:
            free = None
        no_space = (isinstance(error, OSError) and error.errno in _NO_SPACE) or (
            free is not None and free < _LOW_SPACE_BYTES
        )
        if no_space:
            needed = self.size_bytes()
            estimate = f"; the live index takes {needed / 2**20:.1f} MiB" if needed else ""
            room = f" ({free / 2**20:.1f} MiB free{estimate})" if free is not None else ""
            return IndexWriteError(
                f"no space left on the device of the index directory {self.directory}{room}: "
                "free some space (a new build needs about as much again as the live one while "
                "it is written) or set CITEBOT_INDEX_DIR to a disk with room, then run "
                f"`citebot build` again; {unchanged}"
            )
        if isinstance(error, OSError):
            return IndexWriteError(
                f"cannot write the index at {self.directory} ({error.strerror or error}): check "
                f"that the directory is writable, then run `citebot build` again; {unchanged}"
            )
        return error

    def load(self, model: ModelSpec, chunker_parameters: dict[str, Any]) -> Corpus:
        """Load the live build, refusing one built with another model or chunking.

        CURRENT is read once; when that build cannot be read because another process made a
        new build live (and removed the old one) meanwhile, the new one is loaded instead."""
        build = self.current_build()
        try:
            return self._load_build(self._checked(build), model, chunker_parameters)
        except IndexCorruptError:
            swapped = self.current_build()
            if build is None or swapped is None or swapped == build or build.exists():
                raise
            log.info("index build %s replaced while loading; loading %s", build.name, swapped)
            return self._load_build(self._checked(swapped), model, chunker_parameters)

    def _load_build(
        self, build: Path, model: ModelSpec, chunker_parameters: dict[str, Any]
    ) -> Corpus:
        import faiss

        manifest = self._read_manifest(build)
        check_manifest(manifest, model, chunker_parameters, self.directory)
        self._check_sizes(build, manifest)
        self._check_checksums(build, manifest)
        try:
            entries = json.loads((build / "documents.json").read_text(encoding="utf-8"))
            blob = TextBlob.open(build / "texts.bin")
            spans = np.asarray(entries["spans"], dtype=np.int64).reshape(-1, 2)
            documents = DocumentTable(
                entries["paths"], entries["content_hashes"], spans, blob, entries.get("details")
            )
            sections = json.loads((build / "chunks" / "sections.json").read_text(encoding="utf-8"))
            chunks = ChunkTable.load(build / "chunks", sections, documents)
            vector_index = faiss.read_index(str(build / "chunks.faiss"), faiss.IO_FLAG_MMAP_IFC)
            configure_for_queries(vector_index, manifest.get("vector_index"))
            exact_sentences = map_array(build / "sentences.npy")
            sentence_vectors = map_array(build / "sentence_codes.npy")
            sentence_scale = np.load(build / "sentence_scale.npy", allow_pickle=False)
            chunk_vectors = map_array(build / "chunk_vectors.npy")
            lexical = LexicalIndex.load(build) if "lexical" in manifest else None
            types = map_array(build / "sentence_types.npy")
            problem = _inconsistency(documents, chunks, len(blob))
        except (
            OSError, ValueError, KeyError, IndexError, TypeError, RuntimeError, EOFError
        ) as error:
            log.debug("index load failed", exc_info=True)
            raise IndexCorruptError(
                f"index at {self.directory} is damaged ({type(error).__name__}): {REBUILD_HINT}"
            ) from None
        if problem is not None:
            raise IndexCorruptError(
                f"index at {self.directory} is inconsistent ({problem}): {REBUILD_HINT}"
            )
        sentence_total = int(chunks.sentence_offsets[-1])
        if (
            vector_index.ntotal != len(chunks)
            or vector_index.d != model.dimension
            or sentence_vectors.shape != (sentence_total, model.dimension)
            or sentence_vectors.dtype != np.int8
            or exact_sentences.shape != sentence_vectors.shape
            or exact_sentences.dtype != np.float16
            or sentence_scale.shape != (model.dimension,)
            or sentence_scale.dtype != np.float32
            or chunk_vectors.shape != (len(chunks), model.dimension)
            or chunk_vectors.dtype != np.float32
        ):
            raise IndexCorruptError(
                f"index at {self.directory} is inconsistent (vector and chunk counts differ): "
                f"{REBUILD_HINT}"
            )
        if lexical is not None and (
            lexical.chunks.scores["num_docs"] != len(chunks)
            or lexical.sentences.scores["num_docs"] != sentence_total
        ):
            raise IndexCorruptError(
                f"index at {self.directory} is inconsistent (lexical index): {REBUILD_HINT}"
            )
        if types.shape != (sentence_total, 3):
            raise IndexCorruptError(
                f"index at {self.directory} is inconsistent (sentence types): {REBUILD_HINT}"
            )
        return Corpus(
            documents, chunks, vector_index, sentence_vectors, types, manifest, lexical,
            exact_chunk_vectors=chunk_vectors,
            sentence_scale=sentence_scale,
            exact_sentence_vectors=exact_sentences,
        )

    def citations(self, ids: Collection[str]) -> dict[str, Citation]:
        """The citation (with the document's address) of each chunk id of ``ids`` found in the
        live build, read from its small columns only (no model, vectors or checks): for reports
        on logged passage ids. Ids the build no longer has are left out; no build, or one that
        cannot be read, gives an empty result."""
        keys = sorted({key for key in ids if len(key) == ID_BYTES and key.isascii()})
        build = self.current_build()
        if not keys or build is None:
            return {}
        try:
            return _citations(build, keys)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
            log.warning("could not read the citations of %s (%s)", build, type(error).__name__)
            return {}

    def drop(self) -> None:
        """Delete the index directory (every build, the lock file and the model export)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def prefetch(self) -> bool:
        """Have the OS read the live build's searched files into its page cache (see
        ``prefetch``); for a process that is about to answer questions from it."""
        build = self.current_build()
        if build is None:
            return False
        return prefetch([build / name for name in SEARCHED_FILES])

    def _check_sizes(self, build: Path, manifest: dict[str, Any]) -> None:
        """Every file the manifest lists is there with the size it was written with (a cheap
        check that catches truncated and missing files before anything is mapped)."""
        files = manifest.get("files")
        if files is None:  # written before sizes were recorded
            return
        for name, size in files.items() if isinstance(files, dict) else [("files", -1)]:
            try:
                found = (build / name).stat().st_size
            except (OSError, TypeError, ValueError):
                found = None
            if found != size:
                raise IndexCorruptError(
                    f"index at {self.directory} is damaged ({name} is missing or not the size "
                    f"it was written with): {REBUILD_HINT}"
                )

    def verify(self) -> bool:
        """Check every file of the live build against the size and checksum its manifest
        records (what loading does, without loading): raises IndexCorruptError naming the
        damaged files. False for a build made before checksums were recorded (only sizes
        could be checked), True otherwise."""
        build = self._live_build()
        manifest = self._read_manifest(build)
        self._check_sizes(build, manifest)
        return self._check_checksums(build, manifest)

    def _check_checksums(self, build: Path, manifest: dict[str, Any]) -> bool:
        """Every file the manifest has a checksum of still has it: catches what keeps a file's
        size (a changed word in the texts, flipped bytes in vectors), so that damage is never
        searched or quoted. An index built before checksums were recorded is loaded unchecked
        (False); ``citebot info`` says so."""
        if "checksums" not in manifest:
            return False
        recorded = manifest["checksums"]
        files = recorded.get("files") if isinstance(recorded, dict) else None
        valid = (
            isinstance(files, dict) and recorded.get("algorithm") == ALGORITHM
            and set(files) == set(manifest.get("files") or ())
            and all(isinstance(value, str) for value in files.values())
        )
        # `valid` checked that files is a dict of str; mypy does not narrow through all().
        changed = changed_files(build, files) if valid else ["the checksums"]  # type: ignore[arg-type]
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3
                                              else "")
            raise IndexCorruptError(
                f"index at {self.directory} is damaged ({shown} changed since it was built): "
                f"{REBUILD_HINT}"
            )
        return True

    def _live_build(self) -> Path:
        return self._checked(self.current_build())

    def _checked(self, build: Path | None) -> Path:
        """``build`` when it is complete (raises IndexMissingError / IndexCorruptError)."""
        if build is None:
            raise IndexMissingError(f"no index at {self.directory}: run `citebot build` first")
        if not (build / MANIFEST).is_file():
            raise IndexCorruptError(f"index at {self.directory} is incomplete: {REBUILD_HINT}")
        return build

    def _remove_old_builds(self, keep: str) -> None:
        """Delete earlier builds and leftovers of builds that died. Called with the build lock
        held, so no other build is writing here; the live build is never touched."""
        live = self.current_build()
        for entry in self.directory.iterdir():
            if entry.name == keep or entry == live:
                continue
            if entry.name.startswith("build-") and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(_TMP_PREFIX):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


def check_manifest(
    manifest: dict[str, Any],
    model: ModelSpec,
    chunker_parameters: dict[str, Any],
    where: Path | str,
) -> None:
    """Raise IndexMismatchError when the index does not match the model or chunking in use."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {where} has format {version}, this citebot reads format {FORMAT_VERSION}: "
            f"{REBUILD_HINT}"
        )
    built_with = manifest.get("model", {})
    if built_with.get("weights_sha256") != model.weights_hash:
        raise IndexMismatchError(
            f"index at {where} was built with model {built_with.get('name')!r} "
            f"(weights {str(built_with.get('weights_sha256'))[:12]}) but the configured model is "
            f"{model.name!r} (weights {model.weights_hash[:12]}): {REBUILD_HINT}, "
            "or set CITEBOT_MODEL back"
        )
    built_chunker = manifest.get("chunker")
    if built_chunker != chunker_parameters:
        built = built_chunker if isinstance(built_chunker, dict) else {}
        if built.get("max_tokens") != chunker_parameters.get("max_tokens"):
            raise IndexMismatchError(
                f"index at {where} was chunked with {built.get('max_tokens')} tokens per chunk "
                f"but CITEBOT_CHUNK_TOKENS is {chunker_parameters.get('max_tokens')}: "
                f"{REBUILD_HINT}, or set CITEBOT_CHUNK_TOKENS back"
            )
        raise IndexMismatchError(
            f"index at {where} was chunked by another version of citebot "
            f"(chunker {built.get('version')}, this is {chunker_parameters.get('version')}): "
            f"{REBUILD_HINT}"
        )


def prefetch(paths: list[Path]) -> bool:
    """Have the OS read the given files (or directories' files) into its page cache, when they
    take at most PREFETCH_SHARE of the available memory: questions then find their pages in
    memory instead of reading 4 KiB at a time from disk (at 1M chunks the first 300 questions
    took 65 ms p50 from a cold cache, 14–18 ms from a warm one). Large indexes are read ahead
    by a background thread, so loading does not wait for it."""
    if getattr(os, "posix_fadvise", None) is None:
        return False
    files = [f for p in paths for f in (sorted(p.rglob("*")) if p.is_dir() else [p]) if f.is_file()]
    total = sum(f.stat().st_size for f in files)
    if total > PREFETCH_SHARE * available_memory():
        log.info("index files (%d MiB) not prefetched: too little free memory", total >> 20)
        return False
    if total <= PREFETCH_INLINE:
        _read_ahead(files)
    else:
        threading.Thread(target=_read_ahead, args=(files,), name="citebot-prefetch",
                         daemon=True).start()
    return True


def _read_ahead(files: list[Path]) -> None:
    # One WILLNEED for a whole file reads only a few MiB ahead; 8 MiB steps read it all.
    for path in files:
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            size = os.fstat(descriptor).st_size
            for offset in range(0, size, PREFETCH_STEP):
                os.posix_fadvise(descriptor, offset, PREFETCH_STEP, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(descriptor)


def available_memory() -> int:
    """Bytes of memory available to this process: free physical memory, or less under a
    cgroup limit (v2 or v1)."""
    available = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):  # free + reclaimable page cache
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return 0
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        limit, usage = _cgroup_value(limit_file), _cgroup_value(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            available = min(available, max(0, limit - usage))
    return available


def _cgroup_value(name: str) -> int | None:
    path = Path(name)
    if not path.is_absolute():  # cgroup v1: under this process's memory cgroup
        try:
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                _, controllers, group = line.split(":", 2)
                if "memory" in controllers.split(","):
                    path = Path("/sys/fs/cgroup/memory") / group.lstrip("/") / name
                    break
            else:
                return None
        except (OSError, ValueError):
            return None
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _inconsistency(documents: DocumentTable, chunks: ChunkTable, blob_size: int) -> str | None:
    if len(documents.hashes) != len(documents) or len(documents.spans) != len(documents):
        return "document records"
    if len(documents) and (documents.spans.min() < 0 or documents.spans.max() > blob_size):
        return "document texts"
    return chunks.check(blob_size)


def _write_array(
    path: Path,
    rows: np.ndarray,
    dtype: type,
    convert: Callable[[np.ndarray], np.ndarray] | None = None,
    block: int = 200_000,
) -> None:
    """Save ``rows`` (optionally ``convert``-ed) as a .npy of ``dtype``, a block at a time, so
    a memory-mapped matrix of millions of rows is never copied whole. Written through the file,
    not a writable memory map: on a full disk that fails with ENOSPC instead of killing the
    process with SIGBUS."""
    kind = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(kind), "fortran_order": False,
              "shape": tuple(rows.shape)}
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for first in range(0, len(rows), block):
            part = rows[first : first + block]
            values = part if convert is None else convert(part)
            handle.write(np.ascontiguousarray(values, dtype=kind).data)
        _sync(handle)


def _code_scale(rows: np.ndarray, block: int = 200_000) -> np.ndarray:
    """Per-dimension scale of int8 codes: the largest magnitude maps to 127 (cosine error
    ~0.0004; the stored and in-memory indexes answer the same)."""
    peak = np.zeros(rows.shape[1], dtype=np.float32)
    for first in range(0, len(rows), block):
        part = np.abs(np.asarray(rows[first : first + block], dtype=np.float32))
        peak = np.maximum(peak, part.max(axis=0, initial=0.0))
    return (np.maximum(peak, 1e-12) / 127).astype(np.float32)


def _codes(rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """int8 codes of float rows: round(row / scale), within +-127."""
    codes: np.ndarray = np.clip(np.rint(np.asarray(rows, dtype=np.float32) / scale), -127, 127)
    return codes


def _write_json(path: Path, data: Any, indent: int | None = None) -> None:
    with path.open("w", encoding="utf-8") as handle:
        separators = None if indent else (",", ":")
        json.dump(data, handle, ensure_ascii=False, indent=indent, separators=separators)
        _sync(handle)


def _sync(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _sync_path(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _citations(build: Path, keys: list[str]) -> dict[str, Citation]:
    entries = json.loads((build / "documents.json").read_text(encoding="utf-8"))
    paths: list[str] = entries["paths"]
    details: list[dict[str, Any]] = entries.get("details") or [{} for _ in paths]
    chunks = build / "chunks"
    ids = np.load(chunks / "id.npy", mmap_mode="r", allow_pickle=False)
    wanted = np.array([key.encode("ascii") for key in keys], dtype=f"S{ID_BYTES}")
    rows = np.flatnonzero(np.isin(ids, wanted))
    if rows.size == 0:
        return {}
    sections: list[str] = json.loads((chunks / "sections.json").read_text(encoding="utf-8"))
    document = np.load(chunks / "document.npy", mmap_mode="r", allow_pickle=False)
    section = np.load(chunks / "section.npy", mmap_mode="r", allow_pickle=False)
    paragraph = np.load(chunks / "paragraph.npy", mmap_mode="r", allow_pickle=False)
    span = np.load(chunks / "span.npy", mmap_mode="r", allow_pickle=False)
    found: dict[str, Citation] = {}
    for row in rows.tolist():
        number = int(document[row])
        extra = details[number] if number < len(details) else {}
        start, end = (int(value) for value in span[row])
        pages = [int(page) for page in extra.get("pages") or ()]
        section_number = int(section[row])
        url = extra.get("url")
        found[ids[row].decode("ascii")] = Citation(
            paths[number],
            sections[section_number] if section_number >= 0 else None,
            int(paragraph[row]),
            start,
            end,
            page_of(pages, start) if pages else None,
            page_of(pages, max(start, end - 1)) if pages else None,
            url if isinstance(url, str) else None,
        )
    return found
