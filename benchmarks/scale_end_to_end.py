"""End-to-end scale benchmark: a whole citebot index at 100k and 1M chunks (issue 5, "Scale").

Unlike benchmarks/scale.py (the FAISS index alone), this writes a complete citebot index in the
real on-disk format (documents.json + texts.bin, chunks/*.npy, chunks.faiss, sentences.npy,
lexical-*/, manifest.json via ``IndexStore.save``) and measures a fresh process that serves it
through ``Engine(Settings(...)).load()`` and ``engine.search(q, k=5)``.

Corpus: the 48 SQuAD v1.1 dev articles (``--squad``, read in place, never copied into the
repo), parsed with ``parse_document``, chunked with the production chunker and embedded once
(chunks and their sentences) with citebot's ONNX encoder through ``assemble_corpus``; the
vectors are cached in ``--cache``. Larger sizes replicate the documents (``copy0001/<title>.txt``
...) until the chunk count is reached. Copy 0 keeps the real vectors; every other copy's chunk
and sentence vectors get Gaussian noise (``--noise`` per dimension, as benchmarks/scale.py does)
and are re-normalised, so no two vectors are equal. Texts are exact copies, so the BM25 indexes
hold the same statistics with postings N times longer: pessimistic for lexical query time.

Serving is measured in a fresh subprocess: load time, RSS after load, peak RSS, p50/p95 of 300
real SQuAD questions one at a time (after warm-up), recall@10 of the vector index against exact
search over the same chunk vectors (numpy, computed in the builder), and hit@5 of the gold
answers (any copy's passage counts). Then where query time and memory go.

    .venv/bin/python benchmarks/scale_end_to_end.py                      # 100k and 1M, ~20 min
    .venv/bin/python benchmarks/scale_end_to_end.py --sizes 100000 --keep
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import glob
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale import exact_top_k  # noqa: E402  (the same exact search as scale.py)

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
K = 10
SEARCH_K = 5
MiB = 1024 * 1024
GiB = 1024 * MiB


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def peak_rss() -> int:
    """VmHWM of this process (ru_maxrss would carry the parent's peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def anon_rss() -> int:
    """Resident memory that is not file-backed (mmap'd index files can be dropped by the OS)."""
    import psutil

    info = psutil.Process().memory_info()
    return info.rss - info.shared


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --------------------------------------------------------------------------------------------
# Builder side
# --------------------------------------------------------------------------------------------


def make_engine(index_dir: Path, source_dir: Path):
    from bot.core.engine import Engine
    from bot.settings import Settings

    return Engine(Settings(source_dir=source_dir, index_dir=index_dir))


def seed_onnx_export(index_dir: Path, spec) -> None:
    """Copy an existing ONNX export of the model into ``index_dir`` (saves the torch export)."""
    from index.build.onnx_encoder import ONNX_FILE, is_exported, model_dir_for

    target = model_dir_for(index_dir, spec)
    if is_exported(target / ONNX_FILE, spec):
        return
    pattern = f"models/{spec.weights_hash[:16]}"
    candidates = [*sorted(glob.glob(f"/tmp/*/{pattern}")), str(ROOT / ".citebot/index" / pattern)]
    for candidate in candidates:
        if is_exported(Path(candidate) / ONNX_FILE, spec):
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(candidate, target)
            return


def base_corpus(squad: Path, cache: Path, model_index: Path):
    """(engine, documents, chunks, chunk vectors, sentence vectors) of the 48 real articles."""
    from index.build.builder import assemble_corpus
    from index.build.onnx_encoder import ensure_onnx
    from index.evaluation import load_squad
    from index.ingest.documents import DocumentSet, parse_document

    engine = make_engine(model_index, model_index / "src")
    spec = engine.spec
    seed_onnx_export(model_index, spec)
    ensure_onnx(model_index, spec)
    chunker = engine.chunker()
    articles = load_squad(squad)
    documents = [parse_document(f"{a.title}.txt", a.text()) for a in articles]
    key = f"{squad.stat().st_size}-{spec.weights_hash[:16]}-{json.dumps(chunker.parameters)}-v1"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if str(stored["key"]) == key:
            chunks = [c for d in documents for c in chunker.chunk(d)]
            if len(chunks) == len(stored["chunks"]):
                log(f"base vectors from {cache}")
                return engine, documents, chunks, stored["chunks"], stored["sentences"]
    started = time.perf_counter()
    log(f"embedding {len(articles)} articles (chunks and sentences) with ONNX, once ...")
    corpus, embedded, _ = assemble_corpus(
        DocumentSet(tuple(documents)), engine.build_encoder, chunker
    )
    chunk_vectors = corpus.chunk_vectors()
    sentence_vectors = np.asarray(corpus.sentence_vectors, dtype=np.float32)
    log(f"  {embedded} texts in {time.perf_counter() - started:.0f} s; cached in {cache}")
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, key=np.array(key), chunks=chunk_vectors, sentences=sentence_vectors)
    os.replace(tmp, cache)
    return engine, documents, list(corpus.chunks), chunk_vectors, sentence_vectors


def pick_questions(
    squad: Path, count: int, warm: int
) -> tuple[list[dict], list[str], list[dict]]:
    """``count`` answerable SQuAD dev questions (seeded), ``warm`` others for warm-up, and
    ``count`` more for a second pass."""
    from index.evaluation import load_squad

    pool = [
        {"question": q.question, "answers": list(q.answers)}
        for article in load_squad(squad)
        for q in article.questions
        if q.answers
    ]
    random.Random(5).shuffle(pool)
    return (
        pool[:count],
        [p["question"] for p in pool[count : count + warm]],
        pool[count + warm : 2 * count + warm],
    )


def noisy(rows: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    rows = rows + noise * rng.standard_normal(rows.shape, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


WORD = re.compile(r"[A-Za-z]{5,}")


def vary_copy(text: str, chunks, rows: list[int], copy: int, base_count: int) -> str:
    """``text`` with the first word of 5+ letters of each chunk replaced by a made-up word of
    the same length, unique to (copy, chunk): letters of copy * base_count + row in base 26."""
    pieces, last = [], 0
    for chunk, row in zip(chunks, rows, strict=True):
        found = WORD.search(text, chunk.start, chunk.end)
        if found is None or found.start() < last:
            continue
        number, letters = copy * base_count + row, []
        while number:
            number, digit = divmod(number, 26)
            letters.append(chr(ord("a") + digit))
        word = "".join(letters).ljust(len(found.group()), "q")[: len(found.group())]
        pieces += [text[last : found.start()], word]
        last = found.end()
    pieces.append(text[last:])
    return "".join(pieces)


def build_scaled_index(
    size: int, engine, documents, base_chunks, base_chunk_vectors, base_sentence_vectors,
    index_dir: Path, scratch: Path, noise: float, distinct_texts: bool = True,
) -> dict[str, Any]:
    """Replicate the base articles to ``size`` chunks and save a real citebot index.

    With ``distinct_texts`` every copy after the first has one word per chunk replaced by a
    copy-specific made-up word of the same length (offsets stay valid), so no two chunks have
    the same text, as in a real collection; otherwise copies are exact."""
    from index.backends.local_store import IndexStore
    from index.build.builder import _manifest
    from index.build.corpus import Corpus, DocumentRecord
    from index.build.lexical import LexicalIndex
    from index.build.vector_index import make_vector_index
    from index.ingest.chunking import Chunk, chunk_id, normalize_for_search
    from index.ingest.documents import DocumentSet

    timings: dict[str, float] = {}
    started = time.perf_counter()
    by_document: dict[str, list[int]] = {}
    for row, chunk in enumerate(base_chunks):
        by_document.setdefault(chunk.document, []).append(row)
    sentence_start = np.concatenate(
        [[0], np.cumsum([len(c.sentences) for c in base_chunks])]
    ).astype(np.int64)
    occurrence = []
    for rows in by_document.values():
        seen: dict[str, int] = {}
        for row in rows:
            text = base_chunks[row].text
            seen[text] = seen.get(text, 0) + 1
            occurrence.append(seen[text])
    occurrence_of = dict(zip([r for rows in by_document.values() for r in rows], occurrence,
                             strict=True))
    base_chunk_text = [normalize_for_search(c.text) for c in base_chunks]
    texts = {d.path: d.text for d in documents}
    base_sentence_text = [
        normalize_for_search(texts[c.document][s:e]) for c in base_chunks for s, e in c.sentences
    ]
    from index.build.question_types import sentence_types

    base_types = sentence_types(base_sentence_text)  # same text, same flags: computed once

    # Which (copy, document) pairs, in order, until ``size`` chunks.
    plan: list[tuple[int, Any]] = []
    total = 0
    copy = 0
    while total < size:
        for document in documents:
            if total >= size:
                break
            plan.append((copy, document))
            total += len(by_document.get(document.path, []))
        copy += 1
    copies = copy

    records: dict[str, DocumentRecord] = {}
    replicated_documents = []
    chunks: list[Chunk] = []
    chunk_source: list[int] = []
    chunk_copy: list[int] = []
    chunk_texts: list[str] = []
    sentence_texts: list[str] = []
    for copy, document in plan:
        path = f"copy{copy:04d}/{document.path}"
        rows = by_document.get(document.path, [])
        text = document.text
        if copy > 0 and distinct_texts:
            text = vary_copy(text, [base_chunks[r] for r in rows], rows, copy, len(base_chunks))
        records[path] = DocumentRecord(path, document.content_hash, text)
        replicated_documents.append(dataclasses.replace(document, path=path))
        for row in rows:
            base = base_chunks[row]
            piece = text[base.start : base.end]
            chunks.append(dataclasses.replace(
                base, id=chunk_id(path, piece, occurrence_of[row]), document=path, text=piece
            ))
            chunk_source.append(row)
            chunk_copy.append(copy)
            if text is document.text:
                chunk_texts.append(base_chunk_text[row])
                sentence_texts.extend(
                    base_sentence_text[sentence_start[row] : sentence_start[row + 1]]
                )
            else:
                chunk_texts.append(normalize_for_search(piece))
                sentence_texts.extend(normalize_for_search(text[s:e]) for s, e in base.sentences)
    source = np.asarray(chunk_source, dtype=np.int64)
    noise_mask = np.asarray(chunk_copy, dtype=np.int64) > 0
    sentence_source = np.concatenate(
        [np.arange(sentence_start[r], sentence_start[r + 1]) for r in chunk_source]
    )
    sentence_copy = np.repeat(noise_mask, [len(c.sentences) for c in chunks])
    timings["replicate records"] = time.perf_counter() - started

    started = time.perf_counter()
    rng = np.random.default_rng(11)
    dimension = base_chunk_vectors.shape[1]
    chunk_vectors = base_chunk_vectors[source]
    step = 200_000
    for first in range(0, len(chunks), step):
        block = slice(first, first + step)
        mask = noise_mask[block]
        if mask.any():
            part = chunk_vectors[block]
            part[mask] = noisy(part[mask], rng, noise)
    sentence_file = scratch / "sentences-scratch.npy"
    sentence_vectors = np.lib.format.open_memmap(
        sentence_file, mode="w+", dtype=np.float32, shape=(len(sentence_texts), dimension)
    )
    for first in range(0, len(sentence_texts), step):
        rows = base_sentence_vectors[sentence_source[first : first + step]]
        mask = sentence_copy[first : first + step]
        if mask.any():
            rows[mask] = noisy(rows[mask], rng, noise)
        sentence_vectors[first : first + step] = rows
    sentence_vectors.flush()
    timings["perturb vectors"] = time.perf_counter() - started

    started = time.perf_counter()
    vector_index, vector_parameters = make_vector_index(chunk_vectors, "auto")
    timings["vector index"] = time.perf_counter() - started
    started = time.perf_counter()
    lexical = LexicalIndex.build(chunk_texts, sentence_texts)
    timings["BM25 (chunks + sentences)"] = time.perf_counter() - started
    del chunk_texts, sentence_texts
    encoder = engine.build_encoder
    chunker = engine.chunker()
    manifest = _manifest(
        DocumentSet(tuple(replicated_documents)), chunker, encoder, len(chunks),
        len(sentence_vectors),
    )
    manifest["lexical"] = lexical.parameters
    manifest["vector_index"] = vector_parameters
    manifest["synthetic"] = {
        "benchmark": "benchmarks/scale_end_to_end.py", "copies": copies, "noise": noise
    }
    corpus = Corpus(
        records, chunks, vector_index, sentence_vectors,
        np.ascontiguousarray(base_types[sentence_source]), manifest, lexical,
        exact_chunk_vectors=chunk_vectors,
    )
    started = time.perf_counter()
    build = IndexStore(index_dir).save(corpus)
    timings["IndexStore.save"] = time.perf_counter() - started
    # The query encoder a real build leaves beside the index (else questions go through torch).
    from index.build.onnx_encoder import model_dir_for

    shutil.copytree(
        model_dir_for(engine.settings.index_dir, engine.spec),
        model_dir_for(index_dir, engine.spec),
        dirs_exist_ok=True,
    )
    del corpus, vector_index, lexical, sentence_vectors
    sentence_file.unlink()
    return {
        "chunk_vectors": chunk_vectors,
        "chunks": len(chunks),
        "sentences": len(sentence_source),
        "documents": len(records),
        "copies": copies,
        "vector_index": vector_parameters,
        "build": build,
        "timings": timings,
    }


# --------------------------------------------------------------------------------------------
# Serving side (fresh process)
# --------------------------------------------------------------------------------------------


def mapped_rss(part: str) -> int:
    """Resident bytes of the memory-mapped index files whose path contains ``part``."""
    import psutil

    return sum(m.rss for m in psutil.Process().memory_maps() if part in m.path)


def serve(index_dir: Path, data: Path) -> dict[str, Any]:
    """Load the index with the real Engine, answer the questions, measure; returns JSON."""
    from index.evaluation import contains_any

    rss_start = rss()
    payload = json.loads((data / "questions.json").read_text(encoding="utf-8"))
    arrays = np.load(data / "vectors.npz")
    from bot.core.engine import Engine
    from bot.settings import Settings

    started = time.perf_counter()
    engine = Engine(Settings(source_dir=index_dir / "no-sources", index_dir=index_dir))
    engine.load(build_if_missing=False)
    load_seconds = time.perf_counter() - started
    rss_loaded = rss()
    anon_loaded = anon_rss()
    peak_after_load = peak_rss()

    first_started = time.perf_counter()
    engine.search(payload["warm"][0], k=SEARCH_K)  # first query: lazy caches, model session
    first_query = time.perf_counter() - first_started
    rss_first = rss()
    for question in payload["warm"][1:]:
        engine.search(question, k=SEARCH_K)

    times, hits, returned = [], 0, []
    for item in payload["questions"]:
        t = time.perf_counter()
        answer = engine.search(item["question"], k=SEARCH_K)
        times.append(time.perf_counter() - t)
        if any(contains_any(p.text, item["answers"]) for p in answer.passages):
            hits += 1
        returned.append(len(answer.passages))
    rss_after = rss()
    anon_after = anon_rss()
    # A second pass over as many new questions: the pages every question needs (FAISS lists,
    # common terms' postings) are now resident, those of each question's candidates are not.
    second, second_hits = [], 0
    for item in payload.get("later", []):
        t = time.perf_counter()
        answer = engine.search(item["question"], k=SEARCH_K)
        second.append(time.perf_counter() - t)
        if any(contains_any(p.text, item["answers"]) for p in answer.passages):
            second_hits += 1

    corpus = engine.corpus
    found = []
    for vector in arrays["queries"]:
        found.append(corpus.vector_index.search(vector[None, :], K)[1][0])
    truth = arrays["exact"]
    recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K
                            for f, t in zip(found, truth, strict=True)]))

    breakdown = query_breakdown(engine, payload["questions"][:100])
    memory = memory_breakdown(corpus, rss_after)
    return {
        "load_s": load_seconds,
        "rss_start": rss_start,
        "rss_loaded": rss_loaded,
        "anon_loaded": anon_loaded,
        "anon_after": anon_after,
        "peak_after_load": peak_after_load,
        "rss_first": rss_first,
        "rss_after": rss_after,
        "peak": peak_rss(),
        "first_query_s": first_query,
        "times": times,
        "times_second": second,
        "hit5_second": second_hits / max(1, len(second)),
        "hit5": hits / len(payload["questions"]),
        "passages_mean": float(np.mean(returned)),
        "passages_short": sum(n < SEARCH_K for n in returned),
        "recall10": recall,
        "breakdown": breakdown,
        "memory": memory,
    }


def query_breakdown(engine, items: list[dict]) -> dict[str, float]:
    """Median ms of each stage of Searcher.search, timed stage by stage."""
    from index.query.question import prepare_question
    from index.query.search import CANDIDATES, Query

    searcher = engine.searcher
    corpus = searcher.corpus
    lexical = corpus.lexical
    stages: dict[str, list[float]] = {}

    def timed(name: str, func, *args):
        t = time.perf_counter()
        result = func(*args)
        stages.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return result

    for item in items:
        text = prepare_question(item["question"], engine.settings.max_question_chars).text
        vector = timed("query embedding", engine.query_encoder.encode_query, text)
        query = Query(text, vector)
        timed("vector candidates (FAISS, 200)", corpus.vector_index.search, vector, CANDIDATES)
        terms = timed("BM25 query terms", lexical.query_terms, text)
        timed("BM25 chunks (all chunks)", lexical.chunk_scores, terms)
        ranking = timed("Searcher.rank total", searcher.rank, query)
        lexical_query = timed("  of which BM25 terms", searcher.lexical_query, query.text)
        found = timed("  of which candidates (FAISS + BM25 top-200 + their sentences' scores)",
                      searcher.index.candidates, vector[0], lexical_query, CANDIDATES)
        rows, sentence_rows = found.rows, found.sentence_rows
        timed("  reconstruct candidate chunk vectors (batch)",
              corpus.vector_index.reconstruct_batch, rows)
        timed("  BM25 of the candidates' sentences", lexical.sentence_scores, terms,
              sentence_rows)
        timed("  candidate sentence cosines (int8 codes, mmap, 2nd touch)",
              corpus.sentence_similarities, sentence_rows, vector[0])
        stages.setdefault("candidates (count)", []).append(len(rows))
        keys = corpus.table.text_key
        stages.setdefault("distinct chunk texts among candidates (count)", []).append(
            len({int(keys[i]) for i in rows}))
        stages.setdefault("candidate sentences (count)", []).append(len(sentence_rows))
        timed("dedupe + passages", lambda r=ranking, q=query: searcher._passages(
            q, r, searcher._distinct(r, SEARCH_K)))
    result = {name: statistics.median(values) for name, values in stages.items()}
    bm25 = result["BM25 query terms"] + result["BM25 chunks (all chunks)"]
    result["rank rest: selection, fusion, sentence gather (rank - FAISS - chunk BM25)"] = (
        result["Searcher.rank total"] - result["vector candidates (FAISS, 200)"] - bm25
    )
    return result


def memory_breakdown(corpus, rss_now: int) -> dict[str, int]:
    """Resident bytes of each memory-mapped part of the index (file-backed), and the rest."""
    parts = {
        "document texts (texts.bin, mmap)": mapped_rss("texts.bin"),
        "chunk columns (chunks/*.npy, mmap)": mapped_rss("/chunks/"),
        "FAISS vector index (chunks.faiss, mmap)": mapped_rss("chunks.faiss"),
        "exact chunk vectors (chunk_vectors.npy, mmap)": mapped_rss("chunk_vectors.npy"),
        "BM25 indexes (lexical-*/, mmap)": mapped_rss("/lexical-"),
        "sentence vectors, int8 codes (sentence_codes.npy, mmap)": mapped_rss(
            "sentence_codes.npy"),
        "sentence vectors, float16 for rebuilds (sentences.npy, mmap)": mapped_rss(
            "sentences.npy"),
        "sentence types (sentence_types.npy, mmap)": mapped_rss("sentence_types.npy"),
    }
    parts["rest (interpreter, onnxruntime + model, libs, heap)"] = rss_now - sum(parts.values())
    return parts


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def run_size(args, size: int, base, questions, query_vectors) -> dict[str, Any]:
    engine, documents, chunks, chunk_vectors, sentence_vectors = base
    index_dir = args.workdir / f"index-{size}"
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    log(f"size {size:,}: building the index in {index_dir} ...")
    built = build_scaled_index(
        size, engine, documents, chunks, chunk_vectors, sentence_vectors, index_dir,
        args.workdir, args.noise, not args.exact_copies,
    )
    built["distinct_texts"] = not args.exact_copies
    built["build_s"] = time.perf_counter() - started
    log(f"  built in {built['build_s']:.0f} s: " + ", ".join(
        f"{k} {v:.0f} s" for k, v in built["timings"].items()))
    exact = exact_top_k(built.pop("chunk_vectors"), query_vectors)
    gc.collect()
    data = args.workdir / f"serve-{size}"
    data.mkdir(exist_ok=True)
    (data / "questions.json").write_text(json.dumps(questions), encoding="utf-8")
    np.savez(data / "vectors.npz", queries=query_vectors, exact=exact)
    build = built["build"]
    built["disk"] = {
        f.name: (dir_bytes(f) if f.is_dir() else f.stat().st_size) for f in build.iterdir()
    }
    log(f"  serving in a fresh process ({len(questions['questions'])} questions), index files "
        "evicted from the page cache first ...")
    evict_from_page_cache(index_dir)  # as after a reboot: the build left them cached
    served = serve_in_subprocess(args, index_dir, data)
    if args.memory_cap:
        log(f"  serving again under a {args.memory_cap / GiB:.1f} GiB memory cgroup, index "
            "files evicted from the page cache first ...")
        served["capped"] = serve_capped(args, index_dir, data)
    if not args.keep:
        shutil.rmtree(index_dir, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    return {**built, **served}


def serve_in_subprocess(args, index_dir: Path, data: Path, preexec=None) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--serve", str(index_dir), str(data)],
        capture_output=True, text=True, cwd=ROOT, timeout=args.serve_timeout, preexec_fn=preexec,
    )
    if result.returncode != 0:
        raise RuntimeError(f"serving process failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def evict_from_page_cache(directory: Path) -> None:
    """Drop the cached pages of every file under ``directory`` (so the next reader pays for
    them, and they are charged to its cgroup)."""
    for path in directory.rglob("*"):
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def serve_capped(args, index_dir: Path, data: Path) -> dict[str, Any] | None:
    """Serve in a memory cgroup (v1) limited to ``args.memory_cap`` bytes: everything the
    process keeps resident, its heap and the pages of the mapped index files it reads, counts
    against the limit, and the kernel reclaims pages (or kills the process) past it."""
    root = Path("/sys/fs/cgroup/memory")
    group = root / f"citebot-scale-{os.getpid()}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(args.memory_cap))
    except OSError as error:
        log(f"  no memory cgroup here ({error}): capped run skipped")
        return None
    try:
        evict_from_page_cache(index_dir)
        procs = group / "cgroup.procs"
        served = serve_in_subprocess(
            args, index_dir, data, preexec=lambda: procs.write_text(str(os.getpid()))
        )
        served["cgroup_max_usage"] = int((group / "memory.max_usage_in_bytes").read_text())
        served["cgroup_failcnt"] = int((group / "memory.failcnt").read_text())
        served["cgroup_limit"] = args.memory_cap
        return served
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def percentile(times: list[float], q: float) -> float:
    """The q-quantile of ``times`` in ms (nearest rank), 0 when empty."""
    if not times:
        return 0.0
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(results: list[dict[str, Any]]) -> None:
    print("\n## Whole citebot index, end to end (fresh process, Engine.load + engine.search k=5)\n")
    print("| chunks | sentences | docs | index (auto) | on disk MiB | load s | RSS after load MiB "
          "| RSS after questions MiB (anon) | peak RSS MiB | first query s | p50 ms | p95 ms "
          "| recall@10 | hit@5 | 300 new questions after: p50 ms | p95 ms | hit@5 |")
    print("| " + " | ".join(["---"] * 17) + " |")
    for r in results:
        v = r["vector_index"]
        kind = v["type"] + (f", nlist {v['nlist']}, nprobe {v['nprobe']}" if "nlist" in v else "")
        p50, p95 = percentile(r["times"], 0.5), percentile(r["times"], 0.95)
        print(f"| {r['chunks']:,} | {r['sentences']:,} | {r['documents']:,} | {kind} "
              f"| {sum(r['disk'].values()) / MiB:,.0f} | {r['load_s']:.1f} "
              f"| {r['rss_loaded'] / MiB:,.0f} "
              f"| {r['rss_after'] / MiB:,.0f} ({r['anon_after'] / MiB:,.0f}) "
              f"| {r['peak'] / MiB:,.0f} "
              f"| {r['first_query_s']:.1f} | {p50:.1f} | {p95:.1f} | {r['recall10']:.3f} "
              f"| {r['hit5']:.3f} | {percentile(r['times_second'], 0.5):.1f} "
              f"| {percentile(r['times_second'], 0.95):.1f} | {r['hit5_second']:.3f} |")
    capped = [r for r in results if r.get("capped")]
    if capped:
        print("\n## The same, served under a hard memory limit (cgroup v1 memory.limit_in_bytes; "
              "index pages evicted from the page cache first)\n")
        print("| chunks | limit MiB | max usage MiB (heap + resident index pages) | limit hits "
              "| load s | p50 ms | p95 ms | hit@5 | recall@10 | 300 new questions after: p50 ms "
              "| p95 ms |")
        print("| " + " | ".join(["---"] * 11) + " |")
        for r in capped:
            c = r["capped"]
            p50, p95 = percentile(c["times"], 0.5), percentile(c["times"], 0.95)
            print(f"| {r['chunks']:,} | {c['cgroup_limit'] / MiB:,.0f} "
                  f"| {c['cgroup_max_usage'] / MiB:,.0f} | {c['cgroup_failcnt']:,} "
                  f"| {c['load_s']:.1f} | {p50:.1f} | {p95:.1f} | {c['hit5']:.3f} "
                  f"| {c['recall10']:.3f} | {percentile(c['times_second'], 0.5):.1f} "
                  f"| {percentile(c['times_second'], 0.95):.1f} |")
    for r in results:
        print(f"\n### {r['chunks']:,} chunks ({r['copies']} copies of the 48 articles, "
              f"{'made distinct' if r['distinct_texts'] else 'exact copies'})\n")
        print("Build (synthetic, not the target): " + ", ".join(
            f"{k} {v:.0f} s" for k, v in r["timings"].items()) + f"; total {r['build_s']:.0f} s")
        print("\nOn disk: " + ", ".join(
            f"{name} {size / MiB:,.0f} MiB" for name, size in sorted(r["disk"].items())))
        print(f"\nRSS: process start {r['rss_start'] / MiB:,.0f} MiB, after load "
              f"{r['rss_loaded'] / MiB:,.0f}, peak during load {r['peak_after_load'] / MiB:,.0f}, "
              f"after first query {r['rss_first'] / MiB:,.0f}, after all questions "
              f"{r['rss_after'] / MiB:,.0f}, peak {r['peak'] / MiB:,.0f}")
        print(f"\nPassages returned per question: mean {r['passages_mean']:.2f} of {SEARCH_K}; "
              f"{r['passages_short']} questions got fewer than {SEARCH_K}.")
        print("\n| where query time goes (median of 100 questions) | ms |\n| --- | --- |")
        for name, value in r["breakdown"].items():
            value_text = f"{value:,.0f}" if name.endswith("(count)") else f"{value:.2f}"
            print(f"| {name} | {value_text} |")
        print("\n| where memory goes (after all questions, resident) | MiB |\n| --- | --- |")
        for name, value in r["memory"].items():
            print(f"| {name} | {value / MiB:,.0f} |")
        print(f"| **RSS** | **{r['rss_after'] / MiB:,.0f}** |")
        print(f"\nOf which anonymous (not file-backed): after load {r['anon_loaded'] / MiB:,.0f} "
              f"MiB, after all questions {r['anon_after'] / MiB:,.0f} MiB; the rest is mmap'd "
              "sentence vectors and libraries, which the OS can drop under pressure.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/citebot-scale-e2e"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citebot-scale-e2e-base.npz"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.025)
    parser.add_argument("--serve-timeout", type=int, default=1200)
    parser.add_argument("--keep", action="store_true", help="keep the indexes in --workdir")
    parser.add_argument("--exact-copies", action="store_true",
                        help="copies keep the exact text (default: one word per chunk varied)")
    parser.add_argument("--memory-cap", type=float, default=2.5,
                        help="GiB for a second, capped serving run (0: skip it)")
    parser.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(*args.serve)))
        return 0
    args.memory_cap = int(args.memory_cap * GiB)

    wall = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = base_corpus(args.squad, args.cache, args.workdir / "model-index")
    engine = base[0]
    log(f"base: {len(base[1])} articles, {len(base[2]):,} chunks, {len(base[4]):,} sentences")
    asked, warm, later = pick_questions(args.squad, args.queries, args.warm)
    from index.build.onnx_encoder import OnnxEncoder, onnx_path_for
    from index.query.question import prepare_question

    query_encoder = OnnxEncoder.for_queries(
        engine.spec, onnx_path_for(engine.settings.index_dir, engine.spec)
    )
    query_vectors = np.vstack([
        query_encoder.encode_query(prepare_question(a["question"]).text) for a in asked
    ])
    questions = {"questions": asked, "warm": warm, "later": later}
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        try:
            results.append(run_size(args, size, base, questions, query_vectors))
        except (RuntimeError, MemoryError, subprocess.TimeoutExpired) as error:
            log(f"size {size:,} failed: {error}")
            break
    report(results)
    print(f"\nTotal wall time {time.perf_counter() - wall:.0f} s on {os.cpu_count()} cores.")
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
