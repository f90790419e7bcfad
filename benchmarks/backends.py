"""Backends side by side (issue 13, "Measure"): the local index, embedded Milvus Lite (a file
URI, served inside this process) and a Milvus Lite server over loopback, in one run.

1. Quality on SQuAD v1.1 dev, as ``citebot eval`` does it: every ``--every``-th article is its
   own collection (``assemble_corpus`` of the one article, production chunker), searched with
   the production ``Searcher`` through ``LocalIndex(corpus)`` and through
   ``MilvusStore(...).save(corpus)`` then ``load(...)`` (embedded and server). Each article's
   corpus is built once and written to every backend; the questions are asked of each backend
   in turn (interleaved). hit@1, hit@5, highlight@1, "not in the source" share, p50/p95, and
   how often the five passages equal the local index's.
2. What no stemming costs: on the server, the same build with its BM25 scores taken from
   Milvus Lite's own BM25 function instead of citebot's weights (benchmarks/backends_lite.py:
   ``fn-stemmed``, ``fn-raw-stop``, ``fn-raw``), and what Lite answers to the ``english``
   analyzer that would stem server-side on real Milvus.
3. Scale: build (write) time of an already-embedded corpus (``IndexStore.save`` vs
   ``MilvusStore.save``, the same Corpus object for all three) and p50/p95 of full
   ``Searcher.search(k=5)`` at ``--sizes`` chunks. Embedding 100k chunks is far too slow here:
   the 48 SQuAD dev articles are embedded once (cached, as benchmarks/scale_end_to_end.py does,
   whose ``build_scaled_index`` makes the larger sizes: copies of the articles with one word per
   chunk varied and Gaussian noise on the copies' vectors).

The embeddings of the 48 articles (chunks and sentences, ~12.5k texts) are computed once and
cached in ``--cache`` (shared with scale_end_to_end.py); every corpus here re-uses them, so no
text is embedded during the measurements.

    .venv/bin/python benchmarks/backends.py                         # all three parts, ~12 min
    .venv/bin/python benchmarks/backends.py --parts quality --every 8 --questions 40
    .venv/bin/python benchmarks/backends.py --parts scale --sizes 10000 --scale-questions 100
    .venv/bin/python benchmarks/backends.py --json /tmp/backends.json   # figures as JSON too
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.backends_lite import (  # noqa: E402
    VARIANTS,
    AnalyzerBM25Index,
    LiteServer,
    english_analyzer_refusal,
)

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
K = 5
MiB = 1024 * 1024
QUESTION_S = 120.0
WRITE_S = 1800.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def percentile_ms(values: list[float], q: float) -> float:
    """Nearest-rank percentile of seconds, in ms."""
    from index.evaluation import percentile

    return 1000 * percentile(sorted(values), q)


class KnownVectors:
    """Stands in for a previous build in ``assemble_corpus``: hands over the cached vectors of
    every text, so nothing is embedded again."""

    def __init__(self, known: dict[str, np.ndarray]) -> None:
        self.known = known

    def known_vectors(self, spec: Any) -> dict[str, np.ndarray]:
        return dict(self.known)


def known_from_base(documents: list[Any], chunks: list[Any], chunk_vectors: np.ndarray,
                    sentence_vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Normalised text -> vector of every chunk and sentence of the cached base."""
    from index.ingest.chunking import normalize_for_search

    texts = {d.path: d.text for d in documents}
    known: dict[str, np.ndarray] = {}
    row = 0
    for chunk, vector in zip(chunks, chunk_vectors, strict=True):
        known[normalize_for_search(chunk.text)] = vector
        for start, end in chunk.sentences:
            known[normalize_for_search(texts[chunk.document][start:end])] = sentence_vectors[row]
            row += 1
    assert row == len(sentence_vectors)
    return known


class Milvus:
    """The two Milvus Lite modes of this run: an embedded file and a loopback server, each with
    one shared connection."""

    def __init__(self, workdir: Path) -> None:
        from index.backends.milvus.client import Connection

        self.workdir = workdir
        self.embedded_path = workdir / "embedded.db"
        self.server = LiteServer(workdir / "server-data")
        self.server_start_s = self.server.start()
        # Longer limits than the bot's (10 s a question, 120 s a build call): Milvus Lite is
        # pure Python, and a 100k-chunk build or question on 2 shared cores may take longer; a
        # question that still fails is counted, not fatal.
        self.connections = {
            "lite-embedded": Connection(str(self.embedded_path), None, QUESTION_S, WRITE_S),
            "lite-server": Connection(self.server.uri, None, QUESTION_S, WRITE_S),
        }
        started = time.perf_counter()
        self.connections["lite-embedded"].client  # noqa: B018 - connect (starts it in-process)
        self.embedded_start_s = time.perf_counter() - started

    def store(self, mode: str, name: str) -> Any:
        from index.backends.milvus import MilvusStore

        connection = self.connections[mode]
        return MilvusStore(connection.uri, None, name, self.workdir / "locks" / mode / name,
                           connection=connection)

    def data_bytes(self, mode: str) -> int:
        return dir_bytes(self.embedded_path if mode == "lite-embedded" else self.server.data_dir)

    def close(self) -> None:
        for connection in self.connections.values():
            client = getattr(connection, "_client", None)
            if client is not None:
                try:
                    client.close()
                except Exception as error:  # closing at exit: report, go on
                    log(f"closing {connection.uri}: {error}")
        self.server.stop()


# --------------------------------------------------------------------------------------------
# 1 + 2: quality on SQuAD articles
# --------------------------------------------------------------------------------------------


def quality(args: argparse.Namespace, engine: Any, base: tuple, milvus: Milvus) -> dict[str, Any]:
    """Each chosen article built once, written to every backend, its questions asked of each."""
    from index.backends.local import LocalIndex
    from index.build.builder import assemble_corpus
    from index.evaluation import Tally, load_squad
    from index.ingest.documents import DocumentSet, parse_document

    _, documents, chunks, chunk_vectors, sentence_vectors = base
    previous = KnownVectors(known_from_base(documents, chunks, chunk_vectors, sentence_vectors))
    articles = load_squad(args.squad)
    chosen = list(range(0, len(articles), args.every))[: args.articles or None]
    chunker = engine.chunker()
    spec = engine.spec
    names = ["local", "lite-embedded", "lite-server", *(f"server {v}" for v in args.variants)]
    tallies = {name: Tally() for name in names}
    same = dict.fromkeys(names, 0)
    saves: dict[str, list[float]] = {name: [] for name in names[1:]}
    totals = {"articles": 0, "chunks": 0, "sentences": 0, "embedded": 0}
    refusal = english_analyzer_refusal(milvus.connections["lite-server"].client, "bench_english")
    log(f"english analyzer on Milvus Lite: {refusal}")
    for number, index in enumerate(chosen, start=1):
        article = articles[index]
        document = parse_document(f"{article.title}.txt", article.text())
        corpus, embedded, _ = assemble_corpus(
            DocumentSet((document,)), engine.build_encoder, chunker, previous=previous
        )
        totals["articles"] += 1
        totals["chunks"] += len(corpus.chunks)
        totals["sentences"] += int(corpus.sentence_offsets[-1])
        totals["embedded"] += embedded
        name = f"squad{index:02d}"
        searchers: dict[str, Callable[[str, int], Any]] = {
            "local": engine.make_searcher(LocalIndex(corpus)).search
        }
        for mode in ("lite-embedded", "lite-server"):
            store = milvus.store(mode, name)
            started = time.perf_counter()
            store.save(corpus)
            saves[mode].append(time.perf_counter() - started)
            milvus_index = store.load(spec, chunker.parameters)
            searchers[mode] = engine.make_searcher(milvus_index).search
            if mode == "lite-server":
                for variant in args.variants:
                    started = time.perf_counter()
                    wrapped = AnalyzerBM25Index(
                        milvus_index, milvus.connections[mode].client, f"bench_{name}",
                        variant, corpus,
                    )
                    saves[f"server {variant}"].append(time.perf_counter() - started)
                    searchers[f"server {variant}"] = engine.make_searcher(wrapped).search
        questions = article.questions[: args.questions or None]
        log(f"article {number}/{len(chosen)} ({article.title}): {len(corpus.chunks)} chunks, "
            f"{len(questions)} questions")
        for turn, labelled in enumerate(questions):
            order = names[turn % len(names):] + names[: turn % len(names)]  # rotate who is first
            answers = {}
            for backend in order:
                started = time.perf_counter()
                answer = searchers[backend](labelled.question, K)
                seconds = time.perf_counter() - started
                tallies[backend].add(labelled, answer, seconds)
                answers[backend] = [p.chunk_id for p in answer.passages]
            for backend in names:
                same[backend] += answers[backend] == answers["local"]
    rows = {}
    for backend in names:
        report = tallies[backend].report()
        rows[backend] = {
            "questions": report.questions,
            "hit@1": report.hit_at_1,
            "hit@5": report.hit_at_5,
            "highlight@1": report.highlight_at_1,
            "not_found": tallies[backend].said_not_found / max(report.questions, 1),
            "p50_ms": report.latency_p50_ms,
            "p95_ms": report.latency_p95_ms,
            "same_passages_as_local": same[backend] / max(report.questions, 1),
            "save_s_median": statistics.median(saves[backend]) if saves.get(backend) else None,
        }
    return {"articles": chosen, "totals": totals, "rows": rows, "english_analyzer": refusal}


# --------------------------------------------------------------------------------------------
# 3: build and latency at scale
# --------------------------------------------------------------------------------------------


def scale(
    args: argparse.Namespace, engine: Any, base: tuple, milvus: Milvus, results: list[dict]
) -> list[dict]:
    """Per size: write one already-embedded corpus to each backend (timed), then ask the same
    questions of each, interleaved."""
    import psutil

    from benchmarks.scale_end_to_end import build_scaled_index, pick_questions
    from index.backends.local_store import IndexStore
    from index.errors import CitebotError
    from index.evaluation import contains_any

    _, documents, chunks, chunk_vectors, sentence_vectors = base
    sizes = [int(s) for s in args.sizes.split(",") if s]
    counts = [int(c) for c in args.scale_questions.split(",")]
    counts += counts[-1:] * (len(sizes) - len(counts))
    pool, warm, _ = pick_questions(args.squad, max(counts), 10)
    chunker = engine.chunker()
    for size, count in zip(sizes, counts, strict=True):
        asked = pool[:count]
        log(f"{size:,} chunks: replicating the base (texts varied, vectors with noise) ...")
        source = args.workdir / f"scaled-{size}"
        built = build_scaled_index(
            size, engine, documents, chunks, chunk_vectors, sentence_vectors,
            source, args.workdir, args.noise,
        )
        corpus = IndexStore(source).load(engine.spec, chunker.parameters)
        result: dict[str, Any] = {
            "chunks": built["chunks"], "sentences": built["sentences"],
            "copies": built["copies"], "build_s": {}, "bytes": {},
            "vector_index": built["vector_index"], "parts": parts_of(corpus),
        }
        searchers: dict[str, Callable[[str, int], Any]] = {}
        local_copy = args.workdir / f"local-{size}"
        started = time.perf_counter()
        IndexStore(local_copy).save(corpus)
        result["build_s"]["local"] = time.perf_counter() - started
        result["bytes"]["local"] = dir_bytes(local_copy)
        shutil.rmtree(local_copy, ignore_errors=True)
        searchers["local"] = engine.make_searcher(corpus).search
        stores = {}
        # WORKAROUND (benchmark only): MilvusStore refuses a manifest over 64 KiB, and the
        # manifest lists every document (~2,200 here at 100k chunks): the Milvus copies get the
        # manifest without that list (the local index keeps it). Reported as a backend defect.
        milvus_corpus = corpus
        manifest_bytes = len(json.dumps(corpus.manifest, ensure_ascii=False).encode("utf-8"))
        if manifest_bytes > 60_000:
            milvus_corpus = copy.copy(corpus)
            milvus_corpus.manifest = {**corpus.manifest, "documents": []}
            result["manifest_trimmed_bytes"] = manifest_bytes
            log(f"  manifest of {manifest_bytes:,} bytes: its document list left out for Milvus")
        modes = ["lite-server"] if size > args.embedded_max else ["lite-server", "lite-embedded"]
        for mode in modes:
            if mode == "lite-embedded" and size > 10_000:
                # Lite holds a build in memory several times its size: a second copy in this
                # process only where the machine has room for what the server took, twice.
                room = psutil.virtual_memory().available
                if room < 2 * result["server_rss"]:
                    log(f"  embedded skipped: {room / MiB:,.0f} MiB available, the server holds "
                        f"{result['server_rss'] / MiB:,.0f} MiB")
                    result["embedded_skipped"] = room
                    continue
            before = milvus.data_bytes(mode)
            rss_before = psutil.Process().memory_info().rss
            store = milvus.store(mode, f"scale{size}")
            log(f"  writing {size:,} chunks to {mode} ...")
            started = time.perf_counter()
            store.save(milvus_corpus)
            result["build_s"][mode] = time.perf_counter() - started
            log(f"  ... {result['build_s'][mode]:.0f} s")
            result["bytes"][mode] = milvus.data_bytes(mode) - before
            result.setdefault("estimate_bytes", store.size_bytes())
            searchers[mode] = engine.make_searcher(
                store.load(engine.spec, chunker.parameters)
            ).search
            if mode == "lite-server":
                result["server_rss"] = milvus.server.rss()
            else:
                result["embedded_rss_delta"] = psutil.Process().memory_info().rss - rss_before
            stores[mode] = store
        names = list(searchers)
        for question in warm:
            for name in names:
                searchers[name](question, K)
        times: dict[str, list[float]] = {name: [] for name in names}
        hits = dict.fromkeys(names, 0)
        same = dict.fromkeys(names, 0)
        log(f"  {len(asked)} questions x {len(names)} backends ...")
        failed = dict.fromkeys(names, 0)
        for turn, item in enumerate(asked):
            order = names[turn % len(names):] + names[: turn % len(names)]
            passages = {}
            for name in order:
                started = time.perf_counter()
                try:
                    answer = searchers[name](item["question"], K)
                except CitebotError as error:
                    failed[name] += 1
                    log(f"  {name} failed a question: {error}")
                    passages[name] = None
                    continue
                times[name].append(time.perf_counter() - started)
                passages[name] = [p.chunk_id for p in answer.passages]
                hits[name] += any(contains_any(p.text, item["answers"]) for p in answer.passages)
            for name in names:
                same[name] += passages[name] == passages["local"]
        result["latency"] = {
            name: {"p50_ms": percentile_ms(times[name], 50),
                   "p95_ms": percentile_ms(times[name], 95),
                   "hit@5": hits[name] / len(asked),
                   "same_passages_as_local": same[name] / len(asked),
                   "failed": failed[name]}
            for name in names
        }
        result["questions"] = len(asked)
        results.append(result)
        for store in stores.values():
            store.drop()
        del searchers, corpus
        shutil.rmtree(source, ignore_errors=True)
    return results


def parts_of(corpus: Any) -> dict[str, int]:
    """What one build holds, counted: rows, sparse BM25 entries, text bytes."""
    lexical = corpus.lexical
    documents = corpus.documents
    return {
        "chunks": len(corpus.chunks),
        "sentences": int(corpus.sentence_offsets[-1]),
        "dimension": int(corpus.chunk_vectors().shape[1]),
        "chunk_bm25_entries": len(lexical.chunks.scores["data"]),
        "sentence_bm25_entries": len(lexical.sentences.scores["data"]),
        "chunk_text_bytes": sum(
            len(corpus.table.text(i).encode("utf-8")) for i in range(len(corpus.chunks))
        ),
        "document_text_bytes": sum(
            len(documents[path].text.encode("utf-8")) for path in documents.paths
        ),
    }


def sizing(parts: dict[str, int]) -> list[tuple[str, float]]:
    """GiB per million chunks of each part of a Milvus build, from one build's counts: float32
    vectors, sparse entries at 8 bytes (uint32 term, float32 weight), texts as UTF-8, and the
    scalar fields at their widths (int64s, booleans, the chunk id, JSON sentence spans)."""
    per_chunk = 1_000_000 / parts["chunks"]
    sentences = parts["sentences"] * per_chunk
    vector = 4 * parts["dimension"]
    scalar_chunk = 8 * 8 + 2 + 16 + 24 + 12 * parts["sentences"] / parts["chunks"]
    rows = [
        ("chunk vectors", 1_000_000 * vector),
        ("sentence vectors", sentences * vector),
        ("chunk BM25 (sparse)", 8 * parts["chunk_bm25_entries"] * per_chunk),
        ("sentence BM25 (sparse)", 8 * parts["sentence_bm25_entries"] * per_chunk),
        ("chunk texts", parts["chunk_text_bytes"] * per_chunk),
        ("document texts (blobs)", parts["document_text_bytes"] * per_chunk),
        ("other fields", 1_000_000 * scalar_chunk + 24 * sentences),
    ]
    rows.append(("total", sum(size for _, size in rows)))
    return [(name, size / 2**30) for name, size in rows]


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> None:
    print(f"\n# Backends, {figures['when']} ({figures['machine']})\n")
    found = figures.get("quality")
    if found:
        t = found["totals"]
        print(f"## Quality: {t['articles']} SQuAD v1.1 dev articles (every "
              f"{figures['args']['every']}th: {', '.join(map(str, found['articles']))}), "
              f"{t['chunks']} chunks, {t['sentences']} sentences, "
              f"{found['rows']['local']['questions']} questions; {t['embedded']} texts embedded "
              "during the run (cached vectors)\n")
        print("| backend | hit@1 | hit@5 | highlight@1 | not found | same 5 passages as local "
              "| p50 ms | p95 ms | write s (median per article) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, row in found["rows"].items():
            save = "" if row["save_s_median"] is None else f"{row['save_s_median']:.2f}"
            print(f"| {name} | {row['hit@1']:.4f} | {row['hit@5']:.4f} | "
                  f"{row['highlight@1']:.4f} | {row['not_found']:.4f} | "
                  f"{row['same_passages_as_local']:.4f} | {row['p50_ms']:.1f} | "
                  f"{row['p95_ms']:.1f} | {save} |")
        print(f"\nMilvus Lite asked for the `english` analyzer: {found['english_analyzer']}")
    sizes = figures.get("scale")
    if sizes:
        print("\n## Scale: write an embedded corpus, then Searcher.search(k=5) one question at "
              "a time\n")
        print("| chunks | sentences | backend | write s | rows/s | on disk MiB | p50 ms | p95 ms "
              "| hit@5 | same 5 passages as local |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in sizes:
            for name, lat in r["latency"].items():
                rate = (r["chunks"] + r["sentences"]) / r["build_s"][name]
                print(f"| {r['chunks']:,} | {r['sentences']:,} | {name} | "
                      f"{r['build_s'][name]:.1f} | {rate:,.0f} | {r['bytes'][name] / MiB:,.0f} | "
                      f"{lat['p50_ms']:.1f} | {lat['p95_ms']:.1f} | {lat['hit@5']:.3f} | "
                      f"{lat['same_passages_as_local']:.3f} |"
                      + (f" ({lat['failed']} questions failed)" if lat["failed"] else ""))
        for r in sizes:
            print(f"\n{r['chunks']:,} chunks ({r['copies']} copies of the 48 articles), "
                  f"{r['questions']} questions: server RSS after load "
                  f"{r.get('server_rss', 0) / MiB:,.0f} MiB; this process grew "
                  f"{r.get('embedded_rss_delta', 0) / MiB:,.0f} MiB writing and loading the "
                  f"embedded build; MilvusStore.size_bytes estimate "
                  f"{r.get('estimate_bytes', 0) / MiB:,.0f} MiB; local vector index "
                  f"{r['vector_index'].get('type')}; contents: "
                  + ", ".join(f"{k} {v:,}" for k, v in r["parts"].items()))
    if sizes:
        parts = sizes[-1]["parts"]
        print(f"\n## Sizing per million chunks (from the {parts['chunks']:,}-chunk build: "
              f"{parts['sentences'] / parts['chunks']:.2f} sentences, "
              f"{parts['chunk_text_bytes'] / parts['chunks']:.0f} text bytes, "
              f"{parts['chunk_bm25_entries'] / parts['chunks']:.1f} + "
              f"{parts['sentence_bm25_entries'] / parts['chunks']:.1f} BM25 entries per chunk)\n")
        print("| part | GiB |\n| --- | --- |")
        for name, size in sizing(parts):
            print(f"| {name} | {size:.2f} |")
    if figures.get("error"):
        print(f"\n**The run stopped early**: {figures['error']}")
    print(f"\nServer started in {figures['server_start_s']:.2f} s; embedded connect "
          f"{figures['embedded_start_s']:.2f} s. Total wall time {figures['wall_s']:.0f} s.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--parts", default="quality,scale", help="quality, scale or both")
    parser.add_argument("--every", type=int, default=4, help="every N-th SQuAD article")
    parser.add_argument("--articles", type=int, default=0, help="at most N of them (0: all)")
    parser.add_argument("--questions", type=int, default=0, help="per article (0: all)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="Lite BM25-function variants on the server ('' for none)")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--scale-questions", default="100,20",
                        help="questions per size (the last repeats)")
    parser.add_argument("--embedded-max", type=int, default=100_000,
                        help="embedded Lite only up to this many chunks (memory, time)")
    parser.add_argument("--noise", type=float, default=0.025)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citebot-scale-e2e-base.npz"))
    parser.add_argument("--workdir", type=Path, help="scratch (default: a new temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    parts = set(args.parts.split(","))

    from benchmarks.scale_end_to_end import base_corpus
    from index.backends.milvus.client import pymilvus

    pymilvus()  # imported, its RPC error logging silenced
    wall = time.perf_counter()
    own_workdir = args.workdir is None
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="citebot-backends-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = base_corpus(args.squad, args.cache, args.workdir / "model-index")
    engine = base[0]
    engine.warm_up()
    milvus = Milvus(args.workdir / "milvus")
    figures: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, load average "
                   f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} at start, "
                   f"{platform.python_implementation()} {platform.python_version()}",
        "args": {k: str(v) for k, v in vars(args).items()} | {"every": args.every},
        "server_start_s": milvus.server_start_s,
        "embedded_start_s": milvus.embedded_start_s,
    }
    try:
        if "quality" in parts:
            figures["quality"] = quality(args, engine, base, milvus)
        if "scale" in parts:
            figures["scale"] = []
            scale(args, engine, base, milvus, figures["scale"])
    except Exception as error:  # report what was measured before it
        log(f"stopped: {type(error).__name__}: {error}")
        figures["error"] = f"{type(error).__name__}: {error}"
    finally:
        milvus.close()
        if own_workdir:
            shutil.rmtree(args.workdir, ignore_errors=True)
    figures["wall_s"] = time.perf_counter() - wall
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
