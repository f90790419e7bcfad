"""Cold start: wall time of fresh ``citebot`` processes, side by side (issue 5).

Builds an index of ``--source-dir`` (default: the bundled article) in a temporary directory,
then runs each command ``--runs`` times, interleaved, and reports median / min / max wall time
from process start to exit. Reference rows show what the pieces cost on their own: a bare
Python start, importing sentence-transformers, and the ONNX query path (import onnxruntime +
tokenizers, open the session, embed one question) that ``ask`` can use instead of torch.

Then the step ``ask`` and ``info`` take to say whether the sources changed, on a corpus of
``--check-files`` files (issue 9, defect 11): comparing each file's size and modification time
with the manifest's (what they do now) against reading and hashing every file (what they did,
and still do for a manifest written before stamps were recorded).

    .venv/bin/python benchmarks/cold_start.py [--runs 5] [--question "..."] [--check-files 3000]
        [--against OTHER_TREE]

``--against`` runs the ``citebot`` commands from another checkout too (a worktree of an earlier
commit, with this one's virtual environment), interleaved with this tree's, so a change of
layout is measured side by side in one run.
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
from index.build.model import ModelSpec
from index.build.onnx_encoder import OnnxEncoder, onnx_path_for
spec = ModelSpec.resolve("all-MiniLM-L6-v2")
encoder = OnnxEncoder.for_queries(spec, onnx_path_for(Path(sys.argv[1]), spec))
encoder.encode_query(sys.argv[2])
assert "torch" not in sys.modules
"""


def wall(command: list[str], env: dict[str, str], tree: Path = ROOT, status: int = 0) -> float:
    """Seconds from spawning ``command`` in ``tree`` to its exit (output discarded; an exit
    status other than ``status`` raises)."""
    if tree != ROOT:
        env = {**env, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != status:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--source-dir", type=Path, default=ROOT / "tests" / "data" / "article")
    parser.add_argument("--question", default="Which Russian official visited Seoul?")
    parser.add_argument(
        "--questions", type=int, default=20, help="warm encode latency questions (0: skip)"
    )
    parser.add_argument(
        "--check-files", type=int, default=3000, help="sources-check corpus files (0: skip)"
    )
    parser.add_argument("--check-kib", type=int, default=20, help="KiB per sources-check file")
    parser.add_argument("--only-check", action="store_true", help="only the sources check")
    parser.add_argument(
        "--against", type=Path, help="another checkout whose citebot commands run interleaved"
    )
    args = parser.parse_args()
    if args.only_check:
        sources_check(args.check_files, args.check_kib, args.runs)
        return 0

    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env["TOKENIZERS_PARALLELISM"] = "false"
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="citebot-cold-") as tmp:
        index_dir = Path(tmp) / "index"
        where = ["--index-dir", str(index_dir), "--source-dir", str(args.source_dir)]
        cli = [python, "-m", "bot", *where]
        build_s = wall([*cli, "build"], env)
        from index.build.model import ModelSpec
        from index.build.onnx_encoder import ensure_onnx

        started = time.perf_counter()
        ensure_onnx(index_dir, ModelSpec.resolve("all-MiniLM-L6-v2"))  # what build will do
        export_s = time.perf_counter() - started
        citebot = {
            "citebot --help": [*cli, "--help"],
            "citebot info": [*cli, "info"],
            "citebot ask": [*cli, "ask", args.question],
            "citebot discord (no token: loads the bot, exits 2)": [*cli, "discord"],
        }
        # (command, checkout it runs in, exit status expected)
        commands: dict[str, tuple[list[str], Path, int]] = {
            "python -c pass": ([python, "-c", "pass"], ROOT, 0),
        }
        for name, command in citebot.items():
            status = 2 if "discord" in name else 0
            commands[name] = (command, ROOT, status)
            if args.against is not None:
                commands[f"{name} (against)"] = (command, args.against.resolve(), status)
        commands["import sentence_transformers"] = (
            [python, "-c", "import sentence_transformers"], ROOT, 0
        )
        commands["ONNX query path (import, session, 1 question)"] = (
            [python, "-c", _ONNX_QUERY, str(index_dir), args.question], ROOT, 0
        )
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command, tree, status in commands.values():  # warm the page cache once, untimed
            wall(command, env, tree, status)
        for _ in range(args.runs):
            for name, (command, tree, status) in commands.items():
                times[name].append(wall(command, env, tree, status))
    if args.against is not None:
        print(f"\n(against): the same command run from {args.against}")
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
    if args.check_files:
        sources_check(args.check_files, args.check_kib, args.runs)
    return 0


def sources_check(count: int, kib: int, runs: int) -> None:
    """``compare_sources`` over ``count`` unchanged files of ``kib`` KiB: by stamp vs hashing."""
    from index.ingest.documents import FileRecord, compare_sources, load_documents

    with tempfile.TemporaryDirectory(prefix="citebot-sources-") as tmp:
        folder = Path(tmp)
        paragraph = ("A sentence of the corpus with a few words in it. " * 20 + "\n\n").encode()
        body = paragraph * max(1, kib * 1024 // len(paragraph))
        past = time.time_ns() - 3600 * 10**9  # older than the racy window, as in real use
        for number in range(count):
            path = folder / f"folder-{number // 500}" / f"document-{number}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(body + str(number).encode())
            os.utime(path, ns=(past, past))
        documents = load_documents(folder).documents
        by_stamp = {d.path: FileRecord(d.content_hash, d.stamp) for d in documents}
        by_hash = {d.path: FileRecord(d.content_hash) for d in documents}
        times: dict[str, list[float]] = {"size + mtime (now)": [], "hash every file (before)": []}
        for _ in range(runs):
            for name, recorded in zip(times, (by_stamp, by_hash), strict=True):
                started = time.perf_counter()
                assert not compare_sources(folder, recorded)
                times[name].append((time.perf_counter() - started) * 1000)
    megabytes = count * len(body) / 1e6
    print(f"\nSources check of `ask` / `info`: {count} unchanged files, {megabytes:.0f} MB, "
          f"{runs} runs each, files in the page cache (a cold cache makes hashing slower)\n")
    print("| compare | median ms | min ms | max ms |")
    print("| --- | --- | --- | --- |")
    for name, found in times.items():
        print(f"| {name} | {statistics.median(found):.0f} | {min(found):.0f} | {max(found):.0f} |")


def warm_query_latency(count: int) -> None:
    """In-process: one question at a time, sentence-transformers vs ONNX (1 and 2 threads)."""
    from index.build.embedding import Embedder
    from index.build.model import ModelSpec
    from index.build.onnx_encoder import OnnxEncoder, ensure_onnx

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
