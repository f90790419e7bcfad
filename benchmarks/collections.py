"""Collections (issue 11): memory and latency with many collections and a loaded-collection cap.

``--collections`` collections of ``--documents`` documents each (SQuAD v1.1 dev paragraphs, one
per document, an article's paragraphs per collection) are built once into a temp folder. Then,
interleaved over ``--rounds``:

- cold: questions to the collections in turn with the cap below their number, so every question
  goes to a collection that was unloaded (first-question latency after eviction; target p50
  <= 300 ms);
- warm: the same questions with every collection loaded;
- single: the same questions, each against one collection holding all the documents.

Resident memory (RSS) is read after loading 1, N/2 and N collections.

    .venv/bin/python benchmarks/collections.py [--collections 40] [--documents 5] [--cap 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--collections", type=int, default=40)
    parser.add_argument("--documents", type=int, default=5)
    parser.add_argument("--cap", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    args = parser.parse_args()

    from bot.collections import LoadedCollections, collection_settings
    from bot.engine import Engine
    from bot.settings import Settings

    data = json.loads(args.squad.read_text(encoding="utf-8"))["data"]
    work = Path(tempfile.mkdtemp(prefix="citebot-collections-"))
    base = Settings(_env_file=None, collections_dir=work / "collections", use_onnx=False,
                    source_dir=work / "all", index_dir=work / "all-index")
    base.source_dir.mkdir()
    questions: list[tuple[str, str]] = []
    started = time.perf_counter()
    shared = None
    for number in range(args.collections):
        article = data[number % len(data)]
        name = f"guild-{1000 + number}"
        settings = collection_settings(base, name)
        settings.source_dir.mkdir(parents=True)
        for d, paragraph in enumerate(article["paragraphs"][: args.documents]):
            text = paragraph["context"].strip() + "\n"
            (settings.source_dir / f"doc{d}.txt").write_text(text, encoding="utf-8")
            (base.source_dir / f"{name}-doc{d}.txt").write_text(text, encoding="utf-8")
        questions.append((name, article["paragraphs"][0]["qas"][0]["question"]))
        engine = Engine(settings)
        if shared is not None:
            engine._spec, engine._embedder = shared
        engine.rebuild()
        shared = (engine.spec, engine.embedder)
    single = Engine(base)
    single._spec, single._embedder = shared
    single.rebuild()
    print(f"built {args.collections} collections of {args.documents} documents and one of all "
          f"in {time.perf_counter() - started:.0f} s\n")

    warm = LoadedCollections(base, max_loaded=args.collections)
    memory = {}
    for number, (name, _) in enumerate(questions, start=1):
        warm.engine(name)
        if number in (1, args.collections // 2, args.collections):
            memory[number] = rss_mib()
    cold = LoadedCollections(base, max_loaded=args.cap)
    cold._shared_encoder = warm._shared_encoder
    single._query_encoder = warm._shared_encoder[1]
    single.load(build_if_missing=False)

    timings: dict[str, list[float]] = {"cold": [], "warm": [], "single": []}
    for _ in range(args.rounds):
        for name, question in questions:
            for kind in ("cold", "warm", "single"):
                began = time.perf_counter()
                if kind == "single":
                    single.search(question)
                else:
                    (cold if kind == "cold" else warm).engine(name).search(question)
                timings[kind].append((time.perf_counter() - began) * 1000)

    def percentile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    print("| case | questions | p50 ms | p95 ms |")
    print("| --- | ---: | ---: | ---: |")
    for kind, label in (("cold", f"first question after eviction (cap {args.cap})"),
                        ("warm", "loaded collection"), ("single", "one collection of all")):
        values = timings[kind]
        print(f"| {label} | {len(values)} | {statistics.median(values):.1f} | "
              f"{percentile(values, 0.95):.1f} |")
    ratio = statistics.median(timings["warm"]) / statistics.median(timings["single"])
    print(f"\nwarm / single p50: {ratio:.2f}")
    print("RSS with N collections loaded: " + ", ".join(
        f"{n}: {mib:.0f} MiB" for n, mib in memory.items()))


if __name__ == "__main__":
    main()
