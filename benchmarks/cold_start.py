"""Cold start: wall time of fresh ``citebot`` processes, side by side (issue 5).

Builds an index of ``--source-dir`` (default: the bundled article) in a temporary directory,
then runs each command ``--runs`` times, interleaved, and reports median / min / max wall time
from process start to exit. Reference rows show what the pieces cost on their own: a bare
Python start, importing sentence-transformers, and the ONNX query path (import onnxruntime +
tokenizers, open the session, embed one question) that ``ask`` can use instead of torch.

    .venv/bin/python benchmarks/cold_start.py [--runs 5] [--question "..."]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_ASK_S = 3.0

_ONNX_QUERY = """
import sys
from pathlib import Path
from index.model import ModelSpec
from index.onnx_encoder import OnnxEncoder, onnx_path_for
spec = ModelSpec.resolve("all-MiniLM-L6-v2")
encoder = OnnxEncoder.for_queries(spec, onnx_path_for(Path(sys.argv[1]), spec))
encoder.encode_query(sys.argv[2])
assert "torch" not in sys.modules
"""


def wall(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``command`` to its exit (output discarded; failure raises)."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--source-dir", type=Path, default=ROOT / "source_docs")
    parser.add_argument("--question", default="Which Russian official visited Seoul?")
    parser.add_argument(
        "--questions", type=int, default=20, help="warm encode latency questions (0: skip)"
    )
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env["TOKENIZERS_PARALLELISM"] = "false"
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="citebot-cold-") as tmp:
        index_dir = Path(tmp) / "index"
        where = ["--index-dir", str(index_dir), "--source-dir", str(args.source_dir)]
        cli = [python, "-m", "bot", *where]
        build_s = wall([*cli, "build"], env)
        from index.model import ModelSpec
        from index.onnx_encoder import ensure_onnx

        started = time.perf_counter()
        ensure_onnx(index_dir, ModelSpec.resolve("all-MiniLM-L6-v2"))  # what build will do
        export_s = time.perf_counter() - started
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "citebot --help": [*cli, "--help"],
            "citebot info": [*cli, "info"],
            "citebot ask": [*cli, "ask", args.question],
            "import sentence_transformers": [python, "-c", "import sentence_transformers"],
            "ONNX query path (import, session, 1 question)": [
                python,
                "-c",
                _ONNX_QUERY,
                str(index_dir),
                args.question,
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the page cache once, untimed
            wall(command, env)
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(wall(command, env))
    print(
        f"\n{os.cpu_count()} cores; index of {args.source_dir.name}/ built in {build_s:.1f} s "
        f"(+ ONNX export {export_s:.1f} s); {args.runs} interleaved runs each, after one "
        "untimed warm-up run; wall time from spawn to exit\n"
    )
    print("| command | median s | min s | max s | target |")
    print("| --- | --- | --- | --- | --- |")
    for name, found in times.items():
        target = f"≤ {TARGET_ASK_S:.0f} s" if name == "citebot ask" else ""
        print(
            f"| `{name}` | {statistics.median(found):.2f} | {min(found):.2f} | "
            f"{max(found):.2f} | {target} |"
        )
    if args.questions:
        warm_query_latency(args.questions)
    return 0


def warm_query_latency(count: int) -> None:
    """In-process: one question at a time, sentence-transformers vs ONNX (1 and 2 threads)."""
    from index.embedding import Embedder
    from index.model import ModelSpec
    from index.onnx_encoder import OnnxEncoder, ensure_onnx

    spec = ModelSpec.resolve("all-MiniLM-L6-v2")
    questions = [
        f"{stem} {topic}?"
        for topic in ("Seoul", "the alliance", "North Korea", "China", "Russia")
        for stem in ("Who visited", "What was said about", "When did talks start on", "Why")
    ][:count]
    with tempfile.TemporaryDirectory(prefix="citebot-onnx-") as tmp:
        path = ensure_onnx(Path(tmp), spec)
        encoders = {
            "sentence-transformers (Embedder.encode_query)": Embedder(spec).encode_query,
            "ONNX, 1 thread (OnnxEncoder.for_queries)": OnnxEncoder.for_queries(
                spec, path
            ).encode_query,
            "ONNX, 2 threads": OnnxEncoder(spec, path, threads=2).encode_query,
        }
        times: dict[str, list[float]] = {name: [] for name in encoders}
        for encode in encoders.values():
            encode("warm up")
        for question in questions * 3:
            for name, encode in encoders.items():
                started = time.perf_counter()
                encode(question)
                times[name].append((time.perf_counter() - started) * 1000)
    print(f"\nWarm single-question encode, {len(questions) * 3} questions each, interleaved\n")
    print("| encoder | p50 ms | p95 ms |")
    print("| --- | --- | --- |")
    for name, found in times.items():
        p95 = sorted(found)[int(0.95 * (len(found) - 1))]
        print(f"| {name} | {statistics.median(found):.1f} | {p95:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
