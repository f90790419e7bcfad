"""Scale benchmark: vector index kinds at 10k, 100k and 1M chunks (issue 5).

For each size and index kind: build time, resident memory of a process that loads the saved
index and answers questions, single-query latency p50/p95 and recall@10 against exact search.

Vectors: real all-MiniLM-L6-v2 embeddings of distinct SQuAD v1.1 dev sentences (``--base`` of
them, encoded once with citebot's ONNX encoder and cached in ``--cache``). Sizes above the base
are reached with copies of the base vectors plus Gaussian noise (``--noise`` per dimension,
~cos 0.9 to the original at 0.025), re-normalised: near-paraphrases, which makes neighbours
denser than in real text, not sparser. Queries: real SQuAD dev questions, embedded the same way.

    .venv/bin/python benchmarks/scale.py                       # 10k, 100k, 1M (~10-15 min)
    .venv/bin/python benchmarks/scale.py --sizes 10000,100000 --kinds flat,ivf
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
if not DEFAULT_SQUAD.is_file():
    DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
K = 10


def squad_texts(squad: Path, base: int, questions: int) -> tuple[list[str], list[str]]:
    """Distinct SQuAD dev sentences (a seeded sample of ``base``) and ``questions`` questions."""
    from index.ingest.sentences import split_sentences

    data = json.loads(squad.read_text(encoding="utf-8"))["data"]
    sentences: dict[str, None] = {}
    asked: list[str] = []
    for article in data:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for start, end in split_sentences(context):
                sentence = " ".join(context[start:end].split())
                if len(sentence.split()) >= 4:
                    sentences.setdefault(sentence)
            asked.extend(qa["question"].strip() for qa in paragraph["qas"])
    pool = list(sentences)
    random.Random(0).shuffle(pool)
    random.Random(1).shuffle(asked)
    return pool[:base], asked[:questions]


def real_embeddings(
    squad: Path, cache: Path, base: int, questions: int
) -> tuple[np.ndarray, np.ndarray]:
    """(base sentence vectors, question vectors), from ``cache`` when it matches the request."""
    key = f"{squad.stat().st_size}-{base}-{questions}-v1"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if str(stored["key"]) == key:
            return stored["base"], stored["queries"]
    from index.build.model import ModelSpec
    from index.build.onnx_encoder import OnnxEncoder, ensure_onnx

    spec = ModelSpec.resolve("all-MiniLM-L6-v2")
    sentences, asked = squad_texts(squad, base, questions)
    model_dir = cache.parent / f"citebot-onnx-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"
    encoder = OnnxEncoder(spec, ensure_onnx(model_dir, spec), threads=os.cpu_count())
    started = time.perf_counter()
    print(f"embedding {len(sentences)} sentences + {len(asked)} questions once ...", flush=True)
    vectors = encoder.encode(sentences)
    queries = encoder.encode(asked)
    print(f"  done in {time.perf_counter() - started:.0f} s; cached in {cache}", flush=True)
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, key=np.array(key), base=vectors, queries=queries)
    os.replace(tmp, cache)
    return vectors, queries


def scaled(base: np.ndarray, size: int, noise: float, seed: int = 7) -> np.ndarray:
    """``size`` unit vectors: the base vectors first, then noisy re-normalised copies."""
    if size <= len(base):
        return np.ascontiguousarray(base[:size])
    rng = np.random.default_rng(seed)
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    out[: len(base)] = base
    step = 100_000
    for first in range(len(base), size, step):
        last = min(size, first + step)
        rows = base[np.arange(first, last) % len(base)]
        rows = rows + rng.normal(0.0, noise, size=rows.shape).astype(np.float32)
        out[first:last] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Ids of the exact top-k by inner product (numpy, in blocks)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for first in range(0, len(vectors), 200_000):
        scores = queries @ vectors[first : first + 200_000].T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, top, axis=1)])
        best_ids = np.hstack([best_ids, top + first])
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
        best_ids = np.take_along_axis(best_ids, keep, axis=1)
    return best_ids


_SERVE = r"""
import json, sys, time, numpy as np, psutil, faiss
before = psutil.Process().memory_info().rss
from index.build.vector_index import configure_for_queries
index = faiss.read_index(sys.argv[1])
queries = np.load(sys.argv[2])
params = json.loads(sys.argv[3])
configure_for_queries(index, params)
loaded = psutil.Process().memory_info().rss
results = []
for setting in json.loads(sys.argv[4]):
    configure_for_queries(index, {**params, **setting})
    for q in queries[:20]:
        index.search(q[None, :], 10)  # warm-up
    times, ids = [], []
    for q in queries:
        t = time.perf_counter()
        _, row = index.search(q[None, :], 10)
        times.append(time.perf_counter() - t)
        ids.append(row[0])
    results.append({"setting": setting, "times": times, "ids": np.array(ids).tolist()})
peak = psutil.Process().memory_info().rss
print(json.dumps({"rss_base": before, "rss_loaded": loaded, "rss_after": peak, "runs": results}))
"""


def serve(
    path: Path, queries: np.ndarray, params: dict, settings: list[dict], workdir: Path
) -> dict:
    """Load the index in a fresh process and time single queries there (RSS is that process's)."""
    query_file = workdir / "queries.npy"
    np.save(query_file, queries)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _SERVE,
            str(path),
            str(query_file),
            json.dumps(params),
            json.dumps(settings),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(result.stdout)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the exact top-k found."""
    pairs = zip(found.tolist(), truth.tolist(), strict=True)
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in pairs]))


def settings_for(kind: str, params: dict) -> list[dict]:
    """Search settings to sweep: IVF nprobe and HNSW efSearch around the default."""
    if params["type"].startswith("ivf"):
        default = params["nprobe"]
        values = sorted({max(1, default // 2), default, default * 2, default * 4})
        return [{"nprobe": v} for v in values if v <= params["nlist"]]
    if params["type"] == "hnsw_flat":
        return [{"efSearch": v} for v in (48, 96, 192)]
    return [{}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citebot-scale-embeddings.npz"))
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--kinds", default="flat,ivf,hnsw")
    parser.add_argument(
        "--hnsw-max", type=int, default=100_000, help="skip HNSW above this size (slow build)"
    )
    parser.add_argument("--base", type=int, default=20_000, help="distinct real sentences")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--noise", type=float, default=0.025)
    args = parser.parse_args()

    import faiss
    import psutil

    from index.build.vector_index import make_vector_index

    base, queries = real_embeddings(args.squad, args.cache, args.base, args.queries)
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",")]
    print(
        f"\nmachine: {os.cpu_count()} cores; faiss {faiss.__version__}; {len(base)} real sentence "
        f"vectors (SQuAD v1.1 dev), copies + N(0, {args.noise}) noise re-normalised above that; "
        f"{len(queries)} real questions, single queries, 1 FAISS thread\n",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="citebot-scale-") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            vectors = scaled(base, size, args.noise)
            truth = exact_top_k(vectors, queries)
            for kind in kinds:
                if kind == "hnsw" and size > args.hnsw_max:
                    rows.append(f"| {size:,} | hnsw | skipped (> --hnsw-max) | | | | | |")
                    continue
                rss = psutil.Process().memory_info().rss
                started = time.perf_counter()
                index, params = make_vector_index(vectors, kind)
                build = time.perf_counter() - started
                build_rss = psutil.Process().memory_info().rss - rss
                path = workdir / f"{kind}-{size}.faiss"
                faiss.write_index(index, str(path))
                del index
                served = serve(path, queries, params, settings_for(kind, params), workdir)
                path.unlink()
                resident = served["rss_after"] / 2**20
                index_mb = (served["rss_loaded"] - served["rss_base"]) / 2**20
                for run in served["runs"]:
                    times = np.array(run["times"]) * 1000
                    got = recall(np.array(run["ids"]), truth)
                    setting = ", ".join(f"{k}={v}" for k, v in run["setting"].items())
                    label = params["type"] + (f" ({setting})" if setting else "")
                    if params["type"].startswith("ivf"):
                        label += f" nlist={params['nlist']}"
                    rows.append(
                        f"| {size:,} | {label} | {build:.1f} | {build_rss / 2**20:.0f} | "
                        f"{index_mb:.0f} / {resident:.0f} | {statistics.median(times):.2f} | "
                        f"{np.percentile(times, 95):.2f} | {got:.4f} |"
                    )
                    print(rows[-1], flush=True)
            del vectors
    print(
        "\n| vectors | index | build s | build RSS Δ MiB | serve RSS: index / process MiB "
        "| query p50 ms | query p95 ms | recall@10 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
