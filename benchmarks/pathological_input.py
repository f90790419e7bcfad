"""Pathological input: seconds to load and chunk files of 1, 2 and 5 MB of dots, of spaces, and
of mixed whitespace (issue 9, defect 15). Linear code roughly doubles from 1 to 2 MB and takes
about 5x at 5 MB; quadratic backtracking takes 4x and 25x (hours at 5 MB).

Two steps per file, each in a fresh subprocess with a time limit (a quadratic step is reported
as "> limit" instead of running for hours):

- ``load``: ``load_documents`` on a folder holding the file: read, decode, split into
  paragraphs under headings (index/ingest/documents.py);
- ``chunk``: the same, then ``Chunker.chunk`` with the bundled model's tokenizer, which splits
  paragraphs into sentences (index/ingest/sentences.py) and cuts over-long ones by word pieces.

    .venv/bin/python benchmarks/pathological_input.py [--sizes 1 2 5] [--limit 120]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_STEP = """
import sys, time
from pathlib import Path
from index.ingest.documents import load_documents
started = time.perf_counter()
documents = load_documents(Path(sys.argv[1])).documents
if sys.argv[2] == "chunk":
    from index.ingest.chunking import Chunker
    from index.build.model import ModelSpec
    spec = ModelSpec.resolve("all-MiniLM-L6-v2")
    spec.count_tokens(["warm up"])  # the tokenizer's load is not the chunker's time
    started = time.perf_counter()
    documents = load_documents(Path(sys.argv[1])).documents
    chunker = Chunker(spec.count_tokens, spec.token_offsets, 256)
    count = sum(len(chunker.chunk(document)) for document in documents)
else:
    count = sum(len(document.paragraphs) for document in documents)
print(f"{time.perf_counter() - started:.3f} {count}")
"""


def make_text(kind: str, size: int) -> str:
    """A sentence, then ``size`` characters of dots (to the end of the file, as dots never
    followed by whitespace backtrack most), or of spaces, or of whitespace of every kind with
    line ends, then a last word (so the file is indexed, not skipped as empty)."""
    return "Pathological input. " + _run(kind, size) + ("" if kind == "dots" else " end.")


def _run(kind: str, size: int) -> str:
    if kind == "dots":
        return "." * size
    if kind == "spaces":
        return " " * size
    generator = random.Random(9)
    pieces = []
    total = 0
    while total < size:  # runs of 1..5000 horizontal spaces, then 1..3 line ends
        piece = "".join(generator.choice(" \t\f\v") for _ in range(generator.randint(1, 5000)))
        piece += "".join(generator.choice(["\n", "\r\n", "\r"]) for _ in range(
            generator.randint(1, 3)))
        pieces.append(piece)
        total += len(piece)
    return "".join(pieces)[:size]


def run_step(folder: Path, step: str, limit: float) -> str:
    """The step's seconds (and its paragraph or chunk count), or "> limit"."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    try:
        result = subprocess.run(
            [sys.executable, "-c", _STEP, str(folder), step], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return f"> {limit:.0f}"
    if result.returncode != 0:
        return "error: " + (result.stderr.strip().splitlines() or ["?"])[-1][:60]
    seconds, count = result.stdout.split()
    return f"{float(seconds):.2f} ({count})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 5], help="MB")
    parser.add_argument("--limit", type=float, default=120, help="seconds per step")
    parser.add_argument("--kinds", nargs="+", default=["dots", "spaces", "mixed whitespace"])
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="citebot-pathological-") as tmp:
        for kind in args.kinds:
            for megabytes in args.sizes:
                folder = Path(tmp) / f"{kind}-{megabytes}".replace(" ", "-")
                folder.mkdir()
                (folder / "big.txt").write_text(make_text(kind, int(megabytes * 1_000_000)),
                                                encoding="utf-8")
                rows.append((kind, megabytes, *(run_step(folder, step, args.limit)
                                                 for step in ("load", "chunk"))))
                print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; whole run "
          f"{time.perf_counter() - started:.0f} s; each step in a fresh process, limit "
          f"{args.limit:.0f} s; (n) = paragraphs after load, chunks after chunk\n")
    print("| input | MB | load + paragraphs s | load + chunk s |")
    print("| --- | --- | --- | --- |")
    for kind, megabytes, load, chunk in rows:
        print(f"| {kind} | {megabytes:g} | {load} | {chunk} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
