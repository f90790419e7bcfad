"""BM25 (bm25s) at scale: build time, memory and per-question latency of citebot's lexical index
at 10k, 100k and 1M chunks, next to the dense candidate search it runs beside.

    .venv/bin/python benchmarks/lexical_scale.py [--sizes 10000,100000,1000000] [--squad PATH]

Chunks are real SQuAD v1.1 dev sentences, repeated in groups of three consecutive sentences
(real text, real term statistics) until the size is reached; repeats are exact copies, which
makes posting lists longer than in a real 1M-chunk collection, not shorter. Questions: 300 real
SQuAD dev questions, one at a time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.build.lexical import LexicalIndex  # noqa: E402
from index.evaluation import percentile  # noqa: E402
from index.ingest.sentences import split_sentences  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"


def load(path: Path) -> tuple[list[str], list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    sentences, questions = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            sentences.extend(text[s:e] for s, e in split_sentences(text))
            questions.extend(qa["question"] for qa in paragraph["qas"])
    return sentences, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    args = parser.parse_args()
    sentences, questions = load(args.squad)
    groups = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
    sample = random.Random(7).sample(questions, 300)
    process = psutil.Process()
    print("| chunks | build s | RSS growth MiB | query p50 ms | p95 ms | mean terms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in (int(s) for s in args.sizes.split(",")):
        chunks = [groups[i % len(groups)] for i in range(size)]
        before = process.memory_info().rss
        started = time.perf_counter()
        lexical = LexicalIndex.build(chunks, chunks[:1000])
        build = time.perf_counter() - started
        grown = (process.memory_info().rss - before) / 2**20
        timings, terms = [], []
        for question in sample:
            started = time.perf_counter()
            query_terms = lexical.query_terms(question)
            lexical.chunk_scores(query_terms)
            lexical.sentence_scores(query_terms)
            timings.append(time.perf_counter() - started)
            terms.append(len(query_terms))
        timings.sort()
        print(f"| {size:,} | {build:.1f} | {grown:.0f} | {1000 * percentile(timings, 50):.2f} | "
              f"{1000 * percentile(timings, 95):.2f} | {statistics.fmean(terms):.1f} |",
              flush=True)
        del lexical, chunks


if __name__ == "__main__":
    main()
