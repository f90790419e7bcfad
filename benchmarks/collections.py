"""Collections (issue 11): resident memory with N loaded, first-question latency of an evicted
collection, and warm latency next to the single (default) collection.

Builds ``--collections`` collections of ``--documents`` documents each (paragraphs of the bundled
article, rotated per collection, plus one sentence naming the collection) in a temporary folder,
all sharing one model through ``Collections``; the default collection is the bundled article.

- **evicted first question**: with ``max_loaded_collections = --loaded``, questions go round the
  collections in order, so every question lands on a collection that was unloaded; its latency
  includes loading the index from disk (the page cache is warm: a just-built index).
- **warm**: ``--repeats`` questions to one loaded collection, the same to the default
  collection alone, and to both merged as a server with its own documents asks (its collection
  plus the shared default one), interleaved; p50 of each.

Every question is new to the engine (a number is appended), so the query-embedding memory
(``RecentQueries``) never hides the cost of embedding: within the merged search the second
collection does reuse the first one's embedding, as it does in the bot.
- **memory**: resident set size (VmRSS) after loading 1 and then ``--loaded`` collections.

    .venv/bin/python benchmarks/collections.py [--collections 200] [--documents 5]
        [--loaded 8] [--repeats 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bot.core.collections import DEFAULT, Collections
from bot.core.engine import Engine
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "tests" / "data" / "article" / "north-korea-allied-coordination.txt"
QUESTION = "Which Russian official visited Seoul?"


def rss_mb() -> float:
    """This process's resident set size in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=200)
    parser.add_argument("--documents", type=int, default=5)
    parser.add_argument("--loaded", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    paragraphs = [p for p in ARTICLE.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    with tempfile.TemporaryDirectory() as temp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            source_dir=ROOT / "tests" / "data" / "article",
            index_dir=Path(temp) / "default-index",
            collections_dir=Path(temp) / "collections",
            max_loaded_collections=args.loaded,
        )
        # As in the bot: the default collection is served by the engine that owns the model.
        collections = Collections(
            settings, default_engine=Engine(settings, remember_queries=True)
        )
        collections.models.load(build_if_missing=True)  # the default index and the ONNX export
        started = time.perf_counter()
        names = [f"guild-{1000 + number}" for number in range(args.collections)]
        for number, name in enumerate(names):
            source = collections.settings_for(name).source_dir
            source.mkdir(parents=True)
            for document in range(args.documents):
                text = "\n\n".join(
                    paragraphs[(number + document * 3 + offset) % len(paragraphs)]
                    for offset in range(3)
                )
                (source / f"doc{document}.txt").write_text(
                    f"This is document {document} of collection {name}.\n\n{text}\n",
                    encoding="utf-8",
                )
            collections.engine_for(name).rebuild(wait=True)
        build_seconds = time.perf_counter() - started
        rss_start = rss_mb()
        asked = iter(range(10**9))

        def question() -> str:
            return f"{QUESTION} ({next(asked)})"

        collections.search(DEFAULT, question())
        rss_one = rss_mb()
        first: list[float] = []
        for round_number in range(2):  # the first round loads every one once; time the second
            for name in names:
                tick = time.perf_counter()
                collections.search(name, question())
                if round_number:
                    first.append((time.perf_counter() - tick) * 1000)
        rss_loaded = rss_mb()
        warm_one: list[float] = []
        warm_default: list[float] = []
        warm_merged: list[float] = []
        target = names[-1]
        for _ in range(args.repeats):
            for searched, bucket in (
                ([target], warm_one), ([DEFAULT], warm_default), ([target, DEFAULT], warm_merged)
            ):
                text = question()
                tick = time.perf_counter()
                collections.search_many(searched, text)
                bucket.append((time.perf_counter() - tick) * 1000)
    print(f"{args.collections} collections x {args.documents} documents, "
          f"max_loaded_collections={args.loaded}; built in {build_seconds:.0f} s")
    print(f"evicted first question: p50 {statistics.median(first):.1f} ms, "
          f"p95 {percentile(first, 0.95):.1f} ms (n={len(first)})")
    print(f"warm: collection p50 {statistics.median(warm_one):.1f} ms, default (single) p50 "
          f"{statistics.median(warm_default):.1f} ms, collection + default merged p50 "
          f"{statistics.median(warm_merged):.1f} ms (n={args.repeats} each)")
    print(f"RSS: model loaded {rss_start:.0f} MB, +default {rss_one:.0f} MB, "
          f"with {len(collections.loaded_names())} loaded {rss_loaded:.0f} MB")


if __name__ == "__main__":
    main()
