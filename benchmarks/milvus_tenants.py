"""Each Discord server in Milvus: one partition-key collection for all, or a collection each?
(issue 13, "collections per server: measure and choose").

Embedded Milvus Lite in a temporary folder; ``--tenants`` servers with ``--chunks`` chunks each
(random unit vectors of 384 dimensions, seeded: the figures compare layouts, not retrieval).
A: one collection with a ``collection`` partition-key field, searched with a filter on it
(Milvus applies it inside the search). B: one collection per server, created with
``create_index(sync=False)`` (pymilvus otherwise waits 0.5 s per index), as citebot does.
Reported: time to write everything, dense search p50/p95 (one server's question), disk, and
whether a server's rebuild can go live atomically.

    .venv/bin/python benchmarks/milvus_tenants.py [--tenants 200] [--chunks 10] [--questions 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

DIMENSION = 384


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return f"{statistics.median(ordered) * 1000:.1f} / {p95 * 1000:.1f}"


def disk(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def schema(client, partition_key: bool):
    from pymilvus import DataType

    fields = client.create_schema(auto_id=False)
    fields.add_field("row", DataType.INT64, is_primary=True)
    if partition_key:
        fields.add_field("collection", DataType.VARCHAR, max_length=64, is_partition_key=True)
    fields.add_field("dense", DataType.FLOAT_VECTOR, dim=DIMENSION)
    return fields


def index_params(client):
    params = client.prepare_index_params()
    params.add_index(field_name="dense", index_type="FLAT", metric_type="COSINE")
    return params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    from pymilvus import MilvusClient

    rng = np.random.default_rng(7)
    total = args.tenants * args.chunks
    vectors = rng.normal(size=(total, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    questions = rng.normal(size=(args.questions, DIMENSION)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="citebot-tenants-") as temp:
        folder = Path(temp)
        client = MilvusClient(str(folder / "a.db"))
        started = time.perf_counter()
        client.create_collection("shared", schema=schema(client, True))
        client.create_index("shared", index_params(client), sync=False)
        rows = [{"row": i, "collection": f"guild-{i // args.chunks}", "dense": vectors[i].tolist()}
                for i in range(total)]
        for start in range(0, total, 500):
            client.insert("shared", rows[start:start + 500])
        client.flush("shared")
        client.load_collection("shared")
        a_write = time.perf_counter() - started
        a_times = []
        for n, question in enumerate(questions):
            tenant = f"guild-{n % args.tenants}"
            began = time.perf_counter()
            hits = client.search("shared", data=[question.tolist()], anns_field="dense", limit=5,
                                 filter=f'collection == "{tenant}"',
                                 output_fields=["collection"])
            a_times.append(time.perf_counter() - began)
            assert all(h["entity"]["collection"] == tenant for h in hits[0])
        client.close()
        a_disk = disk(folder / "a.db")

        client = MilvusClient(str(folder / "b.db"))
        started = time.perf_counter()
        for tenant in range(args.tenants):
            name = f"guild_{tenant}"
            client.create_collection(name, schema=schema(client, False))
            client.create_index(name, index_params(client), sync=False)
            first = tenant * args.chunks
            client.insert(name, [{"row": i, "dense": vectors[i].tolist()}
                                 for i in range(first, first + args.chunks)])
            client.flush(name)
            client.load_collection(name)
        b_write = time.perf_counter() - started
        b_times = []
        for n, question in enumerate(questions):
            began = time.perf_counter()
            client.search(f"guild_{n % args.tenants}", data=[question.tolist()],
                          anns_field="dense", limit=5, output_fields=["row"])
            b_times.append(time.perf_counter() - began)
        client.close()
        b_disk = disk(folder / "b.db")
    print(f"\n{args.tenants} servers x {args.chunks} chunks, embedded Milvus Lite, "
          f"{args.questions} questions\n")
    print("| layout | write all | dense search p50 / p95 ms | disk | a server's rebuild |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| A. one collection, partition key, filtered search | {a_write:.1f} s | "
          f"{percentiles(a_times)} | {a_disk} | delete + insert in place: not atomic |")
    print(f"| B. one collection per server | {b_write:.1f} s | {percentiles(b_times)} | {b_disk} "
          "| new version + alias switch: atomic |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
