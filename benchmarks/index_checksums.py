"""Index checksums: what checking every index file on load costs a cold ``citebot ask``
(issue 20, item 5).

Two indexes, both written by this code (so their manifests record checksums): the bundled
article (``--source-dir``), and a replica of it to about ``--chunks`` chunks (the article's
documents copied, chunk and sentence vectors given Gaussian noise and re-normalised, BM25
rebuilt over the copies; saved with ``IndexStore.save``, nothing embedded). For each, fresh
``citebot ask`` processes run ``--runs`` times, interleaved, with this code and with the code
before checksums (``--before``, exported with ``git archive``; it reads the same index and
ignores the recorded checksums), after one untimed warm-up each: wall time, and CPU time
(user + system, of the process and its threads), which a busy machine disturbs less. Also:
hashing every file of the replica alone, in this process; and with ``--milvus``, the replica
saved into an embedded Milvus Lite file: what ``verify()`` (``citebot info``: every chunk and
blob row's digest) costs next to loading the build and answering one question.

    .venv/bin/python benchmarks/index_checksums.py [--runs 7] [--chunks 10000] [--before REV]
        [--milvus]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wall(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawning ``command`` to its exit, and the CPU seconds it used (failure
    raises)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0 or "Sergei Lavrov" not in result.stdout:
        raise SystemExit(f"{' '.join(command)} in {cwd} failed:\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def replicate(article: Path, target: Path, chunks: int, noise: float = 0.025) -> int:
    """Save a replica of the article index with about ``chunks`` chunks; returns the count."""
    from index.backends.local_store import IndexStore
    from index.build.chunk_table import DocumentRecord
    from index.build.corpus import Corpus
    from index.build.lexical import LexicalIndex
    from index.build.model import ModelSpec
    from index.build.vector_index import make_vector_index
    from index.ingest.chunking import normalize_for_search

    store = IndexStore(article)
    manifest = store.read_manifest()
    corpus = store.load(ModelSpec.resolve("all-MiniLM-L6-v2"), manifest["chunker"])
    table = corpus.table
    base = list(table)
    copies = max(1, round(chunks / len(base)))
    records: dict[str, DocumentRecord] = {}
    replicas = []
    for copy in range(copies):
        for path in corpus.documents:
            record = corpus.documents[path]
            records[f"copy{copy:04d}/{path}"] = dataclasses.replace(
                record, path=f"copy{copy:04d}/{path}"
            )
        for chunk in base:
            identifier = hashlib.blake2b(f"{copy}/{chunk.id}".encode(), digest_size=8)
            replicas.append(dataclasses.replace(
                chunk, id=identifier.hexdigest(), document=f"copy{copy:04d}/{chunk.document}"
            ))
    rng = np.random.default_rng(7)

    def noisy(rows: np.ndarray) -> np.ndarray:
        tiled = np.tile(np.asarray(rows, dtype=np.float32), (copies, 1))
        tiled[len(rows):] += rng.normal(0, noise, tiled[len(rows):].shape).astype(np.float32)
        return tiled / np.linalg.norm(tiled, axis=1, keepdims=True)

    chunk_vectors = noisy(corpus.chunk_vectors())
    sentence_vectors = noisy(corpus.sentence_floats())
    types = np.tile(np.asarray(corpus.sentence_types), (copies, 1))
    chunk_texts = [normalize_for_search(c.text) for c in replicas]
    texts = {path: record.text for path, record in records.items()}
    sentence_texts = [normalize_for_search(texts[c.document][s:e])
                      for c in replicas for s, e in c.sentences]
    vector_index, parameters = make_vector_index(chunk_vectors, "auto")
    lexical = LexicalIndex.build(chunk_texts, sentence_texts)
    saved = {k: v for k, v in manifest.items() if k not in ("files", "checksums")}
    saved["vector_index"] = parameters
    saved["counts"] = {**manifest.get("counts", {}), "chunks": len(replicas),
                       "sentences": len(sentence_texts)}
    IndexStore(target).save(Corpus(
        records, replicas, vector_index, sentence_vectors, types, saved, lexical,
        exact_chunk_vectors=chunk_vectors,
    ))
    shutil.copytree(article / "models", target / "models")  # the ONNX export
    return len(replicas)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--source-dir", type=Path, default=ROOT / "tests" / "data" / "article")
    parser.add_argument("--question", default="Which Russian official visited Seoul?")
    parser.add_argument("--before", default=None,
                        help="git revision of the code before (default: the parent of the "
                             "commit that added index/integrity.py)")
    parser.add_argument("--milvus", action="store_true", help="also time Milvus verify()")
    args = parser.parse_args()
    before = args.before or _before_checksums()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env["TOKENIZERS_PARALLELISM"] = "false"
    from index.backends.integrity import file_digests
    from index.backends.local_store import IndexStore

    with tempfile.TemporaryDirectory(prefix="citebot-checksums-") as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        archive = subprocess.run(["git", "archive", before], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        article = Path(tmp) / "article"
        python = sys.executable
        cli = [python, "-m", "bot", "--source-dir", str(args.source_dir)]
        subprocess.run([*cli, "--index-dir", str(article), "build"], cwd=ROOT, env=env,
                       capture_output=True, check=True)
        replica = Path(tmp) / "replica"
        count = replicate(article, replica, args.chunks)
        indexes = {"article": article, f"replica, {count} chunks": replica}
        codes = {"before (no checksums)": old, "this code (checksums)": ROOT}
        times = {(i, c): [] for i in indexes for c in codes}
        for index_name, index_dir in indexes.items():
            for code_dir in codes.values():  # warm-up: page cache, .pyc files
                wall([*cli, "--index-dir", str(index_dir), "ask", args.question], code_dir, env)
            for _ in range(args.runs):
                for code_name, code_dir in codes.items():
                    command = [*cli, "--index-dir", str(index_dir), "ask", args.question]
                    times[(index_name, code_name)].append(wall(command, code_dir, env))
        hashing = []
        build = IndexStore(replica).current_build()
        names = [p.relative_to(build).as_posix() for p in build.rglob("*")
                 if p.is_file() and p.name != "manifest.json"]
        size = sum((build / name).stat().st_size for name in names)
        for _ in range(args.runs):
            started = time.perf_counter()
            file_digests(build, names)
            hashing.append(time.perf_counter() - started)
        article_size = IndexStore(article).size_bytes()
        milvus = milvus_verify(replica, Path(tmp), args.question) if args.milvus else None
    print(f"\n{os.cpu_count()} cores; before = {before[:10]}; {args.runs} interleaved runs "
          "each after one untimed warm-up; wall time from spawn to exit of `citebot ask`\n")
    print("| index | measure | before: median s (min-max) | checksums: median s (min-max) "
          "| ratio of medians |")
    print("| --- | --- | --- | --- | --- |")
    for index_name in indexes:
        for column, measure in enumerate(("wall", "CPU")):
            found = [[run[column] for run in times[(index_name, code)]] for code in codes]
            cells = [f"{statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f})" for t in found]
            ratio = statistics.median(found[1]) / statistics.median(found[0])
            print(f"| {index_name} | {measure} | {cells[0]} | {cells[1]} | {ratio:.3f} |")
    seconds = statistics.median(hashing)
    print(f"\narticle index {article_size / 2**20:.1f} MiB; replica {size / 2**20:.1f} MiB in "
          f"{len(names)} files: hashing them all (xxh3-128, threads) median "
          f"{seconds * 1000:.0f} ms ({size / 2**20 / seconds:.0f} MiB/s)")
    if milvus is not None:
        print(f"\nMilvus Lite (embedded), the replica: {milvus}")
    return 0


def milvus_verify(replica: Path, tmp: Path, question: str, runs: int = 3) -> str:
    """Median seconds of ``MilvusStore.verify()`` and of load + one question, on the replica."""
    from index.backends.local_store import IndexStore
    from index.backends.milvus import MilvusStore
    from index.build.model import ModelSpec
    from index.build.onnx_encoder import OnnxEncoder, onnx_path_for
    from index.query.search import make_searcher

    spec = ModelSpec.resolve("all-MiniLM-L6-v2")
    local = IndexStore(replica)
    chunker = local.read_manifest()["chunker"]
    store = MilvusStore(str(tmp / "milvus.db"), None, "replica", tmp / "locks")
    started = time.perf_counter()
    store.save(local.load(spec, chunker))
    saved = time.perf_counter() - started
    encoder = OnnxEncoder.for_queries(spec, onnx_path_for(replica, spec))
    verify, answer = [], []
    for _ in range(runs):
        started = time.perf_counter()
        assert store.verify()
        verify.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = make_searcher(store.load(spec, chunker), encoder).search(question, 5)
        answer.append(time.perf_counter() - started)
        assert "Sergei Lavrov" in found.passages[0].text
    return (f"saved in {saved:.0f} s; verify() median {statistics.median(verify):.2f} s; "
            f"load + one question median {statistics.median(answer):.2f} s ({runs} runs)")


def _before_checksums() -> str:
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "-1", "--", "index/integrity.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    return subprocess.run(
        ["git", "rev-parse", f"{added}~1" if added else "HEAD"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()


if __name__ == "__main__":
    raise SystemExit(main())
