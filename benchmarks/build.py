"""Build speed: a full build, then incremental rebuilds, with ``Engine.rebuild()`` (issue 5).

Two corpora, each copied or written into a temporary source directory:

- **article**: the bundled article (``tests/data/article/``, a copy of ``source_docs/``'s);
- **squad**: SQuAD v1.1 dev articles (``--squad``), one ``.txt`` per article (title as file
  name, paragraphs separated by blank lines): of the first ``--articles`` (default: all 48), all
  but the last form the initial corpus and the last is the document added in step 4.

Steps, in order, on one ``Engine`` per sequence (as ``/reindex`` would run them):

1. **full build**: ``rebuild()`` into a fresh, empty index directory;
2. **no change**: ``rebuild()`` again, ``--nochange-runs`` times (median reported);
3. **1 changed**: a new paragraph appended to one document, ``rebuild()``;
4. **1 added**: one more document written, ``rebuild()``: for squad the held-out SQuAD
   article, for the article the first paragraphs of that SQuAD article (as many as the
   bundled article has);
5. **1 removed**: that added document deleted, ``rebuild()``.

What each time includes: ``wall`` is ``Engine.rebuild()`` from call to return: read and parse
the sources, chunk, load the previous index's vectors (re-use), embed the texts not found there
with the engine's ``build_encoder`` (on CPU the ONNX export run by onnxruntime, else
sentence-transformers), build the FAISS and BM25 indexes, save (with fsync) and swap in a new
searcher; ``BuildReport.seconds`` is the engine's own measure of the same. ``embed`` is the part
spent in the build encoder's ``encode``. Not included, timed apart: the ONNX export (done once
per run and copied into each fresh index directory before its full build), opening the build
encoder and the query encoder (done before the full build, once per engine: a fresh
``citebot build`` process pays them on every build, changed or not).
chunks/s = chunks in the index after the step / wall.

The article sequence runs ``--repeats`` times (fresh index each time), squad
``--squad-repeats`` times; medians over them. One extra no-change rebuild per corpus is run under
cProfile (not timed above) to show where its time goes.

    .venv/bin/python benchmarks/build.py [--squad PATH] [--articles 48] [--repeats 3]
        [--squad-repeats 1] [--nochange-runs 3]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

for _key in [key for key in os.environ if key.startswith("CITEBOT_")]:
    del os.environ[_key]  # the benchmark uses its own settings only
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
TARGET_NOCHANGE_RATIO = 0.10
STEPS = ("full build", "no change", "1 changed", "1 added", "1 removed")


@dataclass
class Step:
    """One rebuild: wall seconds, seconds inside the build encoder, and the build report."""

    wall: float
    embed: float
    report: Any


@dataclass
class Sequence:
    """Everything measured on one fresh index directory."""

    setup: dict[str, float]
    steps: dict[str, list[Step]]


def article_text(article: dict[str, Any], paragraphs: int | None = None) -> str:
    """A SQuAD article as a plain-text document: paragraphs separated by blank lines."""
    chosen = article["paragraphs"][:paragraphs]
    return "\n\n".join(p["context"].strip() for p in chosen) + "\n"


def appended_paragraph(tag: str) -> str:
    return (
        f"Appended note {tag}. The review committee met again in the spring to compare the "
        "figures with the earlier reports. Its members agreed to publish a short summary of the "
        "results, and a further meeting was planned for the autumn."
    )


class EmbedClock:
    """Wraps an encoder's ``encode`` (instance attribute) and sums the seconds spent in it."""

    def __init__(self, embedder: Any) -> None:
        self.inner = embedder.encode
        self.seconds = 0.0
        embedder.encode = self.encode

    def encode(self, texts: Any, progress: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return self.inner(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - started


def run_sequence(
    label: str,
    sources: Path,
    index_dir: Path,
    models: Path,
    change: Path,
    add: tuple[str, str],
    nochange_runs: int,
) -> Sequence:
    """Full build into ``index_dir`` then the incremental steps (``sources`` is modified)."""
    from bot.core.engine import Engine
    from bot.settings import Settings
    from index.build.onnx_encoder import model_dir_for

    engine = Engine(Settings(_env_file=None, source_dir=sources, index_dir=index_dir))  # type: ignore[call-arg]
    setup: dict[str, float] = {}
    started = time.perf_counter()
    shutil.copytree(models, model_dir_for(index_dir, engine.spec))
    setup["copy ONNX export in"] = time.perf_counter() - started
    started = time.perf_counter()
    encoder = engine.build_encoder
    if hasattr(encoder, "model"):  # sentence-transformers loads its weights on first use
        _ = encoder.model
    setup[f"open build encoder ({type(encoder).__name__})"] = time.perf_counter() - started
    started = time.perf_counter()
    _ = engine.query_encoder
    setup[f"open query encoder ({type(engine.query_encoder).__name__})"] = (
        time.perf_counter() - started
    )
    clock = EmbedClock(encoder)
    steps: dict[str, list[Step]] = {name: [] for name in STEPS}

    def rebuild(step: str) -> None:
        clock.seconds = 0.0
        started = time.perf_counter()
        report = engine.rebuild()
        steps[step].append(Step(time.perf_counter() - started, clock.seconds, report))
        print(
            f"  {label} {step}: {steps[step][-1].wall:.2f} s, {report.chunks} chunks, "
            f"{report.embedded} embedded / {report.reused} re-used",
            flush=True,
        )

    rebuild("full build")
    for _ in range(nochange_runs):
        rebuild("no change")
    text = change.read_text(encoding="utf-8").rstrip()  # a new block after a blank line
    paragraph = appended_paragraph(f"{label}-{index_dir.name}")
    change.write_text(f"{text}\n\n{paragraph}\n", encoding="utf-8")
    rebuild("1 changed")
    added = sources / add[0]
    added.write_text(add[1], encoding="utf-8")
    rebuild("1 added")
    added.unlink()
    rebuild("1 removed")
    return Sequence(setup, steps)


def open_encoders(engine: Any) -> Any:
    """Open the engine's build encoder now (its model loaded), then its query encoder (opening
    the build encoder may export the model and reset the query encoder); returns the former."""
    encoder = engine.build_encoder
    if hasattr(encoder, "model"):  # sentence-transformers loads its weights on first use
        _ = encoder.model
    _ = engine.query_encoder
    return encoder


def profile_nochange(sources: Path, index_dir: Path, top: int) -> list[tuple[str, float, float]]:
    """cProfile one no-change rebuild in a fresh engine (encoders opened first, not profiled);
    returns (function, cumulative s, own s) of the project's functions, by cumulative time."""
    from bot.core.engine import Engine
    from bot.settings import Settings

    engine = Engine(Settings(_env_file=None, source_dir=sources, index_dir=index_dir))  # type: ignore[call-arg]
    open_encoders(engine)
    profiler = cProfile.Profile()
    profiler.enable()
    engine.rebuild()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_, _, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        path = Path(filename)
        if ROOT in path.parents and ".venv" not in path.parts:
            where = f"{path.relative_to(ROOT).as_posix()}:{line} {name}"
            rows.append((where, cumulative, own))
    rows.sort(key=lambda row: -row[1])
    return rows[:top]


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_tables(results: dict[str, list[Sequence]], export_s: float) -> None:
    print(
        "\n### Build and rebuild (`Engine.rebuild()`, in-process; medians over sequences; "
        f"ONNX export {export_s:.1f} s excluded, timed once)\n"
    )
    print(
        "| corpus | step | wall s | of which embed s | `BuildReport.seconds` | documents | chunks "
        "| chunks/s | texts embedded | texts re-used | embedded texts/s (of embed s) "
        "| wall / full build |"
    )
    print("| --- " * 12 + "|")
    for corpus, sequences in results.items():
        full = median([s.wall for seq in sequences for s in seq.steps["full build"]])
        for step in STEPS:
            runs = [s for seq in sequences for s in seq.steps[step]]
            wall = median([s.wall for s in runs])
            report = runs[-1].report
            embedded = sorted({s.report.embedded for s in runs})
            reused = sorted({s.report.reused for s in runs})
            embed_s = median([s.embed for s in runs])
            texts = median([s.report.embedded for s in runs])
            rate = f"{texts / embed_s:,.0f}" if texts and embed_s > 0 else "—"
            print(
                f"| {corpus} | {step} (n={len(runs)}) | {wall:.2f} | "
                f"{embed_s:.2f} | "
                f"{median([s.report.seconds for s in runs]):.2f} | {report.documents} | "
                f"{report.chunks} | {report.chunks / wall:,.0f} | "
                f"{'/'.join(map(str, embedded))} | {'/'.join(map(str, reused))} | "
                f"{rate} | {wall / full:.1%} |"
            )

    print("\n### No-change rebuild vs full build (target ≤ 10%)\n")
    print("| corpus | full build s | no-change rebuild s | ratio | target met |")
    print("| --- | --- | --- | --- | --- |")
    for corpus, sequences in results.items():
        full = median([s.wall for seq in sequences for s in seq.steps["full build"]])
        nochange = median([s.wall for seq in sequences for s in seq.steps["no change"]])
        ratio = nochange / full
        print(
            f"| {corpus} | {full:.2f} | {nochange:.2f} | {ratio:.1%} | "
            f"{'yes' if ratio <= TARGET_NOCHANGE_RATIO else 'no'} |"
        )

    print("\n### Set-up, not in the rows above (median s per fresh engine)\n")
    print("| corpus | " + " | ".join(next(iter(results.values()))[0].setup) + " |")
    print("| --- " * (1 + len(next(iter(results.values()))[0].setup)) + "|")
    for corpus, sequences in results.items():
        cells = [median([seq.setup[key] for seq in sequences]) for key in sequences[0].setup]
        print(f"| {corpus} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    print(f"\nONNX export (`ensure_onnx`, torch; once per run, then copied): {export_s:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="SQuAD v1.1 dev JSON")
    parser.add_argument(
        "--articles",
        type=int,
        default=48,
        help="SQuAD articles in the large corpus (default: all 48): all but the last are built "
        "first, the last is the added document (0: skip the large corpus)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="article sequences")
    parser.add_argument("--squad-repeats", type=int, default=1, help="squad sequences")
    parser.add_argument("--nochange-runs", type=int, default=3, help="no-change rebuilds per seq.")
    parser.add_argument("--profile-top", type=int, default=12, help="rows of the profile (0: off)")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from index.build.model import ModelSpec
    from index.build.onnx_encoder import ensure_onnx, model_dir_for
    from index.ingest.documents import load_documents

    data = json.loads(args.squad.read_text(encoding="utf-8"))["data"]
    articles = max(min(args.articles, len(data)) - 1, 0)  # built first; then one is added
    held_out = data[max(articles, 1)]  # the added document (never in the initial squad corpus)
    started_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="citebot-build-") as tmp:
        work = Path(tmp)
        spec = ModelSpec.resolve("all-MiniLM-L6-v2")
        started = time.perf_counter()
        ensure_onnx(work / "models-source", spec)
        export_s = time.perf_counter() - started
        models = model_dir_for(work / "models-source", spec)
        print(f"ONNX export: {export_s:.1f} s", flush=True)

        def article_sources(target: Path) -> tuple[Path, tuple[str, str]]:
            target.mkdir(parents=True)
            for path in sorted((ROOT / "tests" / "data" / "article").rglob("*")):
                if path.is_file():  # bytes, not copy: the originals are read-only
                    (target / path.name).write_bytes(path.read_bytes())
            document_set = load_documents(target)
            first = document_set.documents[0]
            add_text = article_text(held_out, len(first.paragraphs))
            return target / first.path, (f"{held_out['title']}.txt", add_text)

        def squad_sources(target: Path) -> tuple[Path, tuple[str, str]]:
            target.mkdir(parents=True)
            for article in data[:articles]:
                (target / f"{article['title']}.txt").write_text(
                    article_text(article), encoding="utf-8"
                )
            first = target / f"{data[0]['title']}.txt"
            return first, (f"{held_out['title']}.txt", article_text(held_out))

        corpora: dict[str, tuple[Callable[[Path], tuple[Path, tuple[str, str]]], int]] = {
            "article": (article_sources, args.repeats)
        }
        if articles > 0:
            corpora[f"squad ({articles} articles)"] = (squad_sources, args.squad_repeats)
        results: dict[str, list[Sequence]] = {}
        profiles: dict[str, list[tuple[str, float, float]]] = {}
        for number, (corpus, (make_sources, repeats)) in enumerate(corpora.items()):
            results[corpus] = []
            for repeat in range(repeats):
                base = work / f"c{number}-r{repeat}"
                change, add = make_sources(base / "sources")
                print(f"{corpus}, sequence {repeat + 1}/{repeats}:", flush=True)
                results[corpus].append(
                    run_sequence(
                        corpus,
                        base / "sources",
                        base / "index",
                        models,
                        change,
                        add,
                        args.nochange_runs,
                    )
                )
            if args.profile_top:
                profiles[corpus] = profile_nochange(
                    base / "sources", base / "index", args.profile_top
                )

        whole_s = time.perf_counter() - started_all
        print(
            f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
            f"whole run {whole_s:.0f} s; SQuAD added document: {held_out['title']} "
            f"({len(held_out['paragraphs'])} paragraphs)"
        )
        print_tables(results, export_s)
        for corpus, rows in profiles.items():
            print(
                f"\n### Where a no-change rebuild's time goes: {corpus} (one extra rebuild "
                "under cProfile, which inflates Python-heavy parts; project functions by "
                "cumulative time)\n"
            )
            print("| function | cumulative s | own s |")
            print("| --- | --- | --- |")
            for where, cumulative, own in rows:
                print(f"| `{where}` | {cumulative:.3f} | {own:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
