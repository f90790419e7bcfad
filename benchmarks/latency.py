"""Warm answer latency: in-process ``Engine.search`` next to the Discord ``/ask`` path (issue 5).

Two corpora, each indexed in a temporary directory with ``Engine(...).rebuild()``:

- **article**: the bundled article (``tests/data/article/``, a copy of ``source_docs/``'s);
  questions: ``tests/data/article_questions.jsonl``;
- **squad**: SQuAD v1.1 dev articles (``--squad``), each written out as one ``.txt`` document
  (title as file name, paragraphs separated by blank lines); the first ``--articles`` of the 48
  (default: all 48, the corpus of ``benchmarks/build.py``); questions: a seeded sample of
  ``--sample`` of those articles' questions.

Paths, measured side by side on the same engine, interleaved question by question (A B, B A, ...)
so that load from other processes on the shared machine hits both alike:

- **engine**: ``Engine.search(question)`` in-process (k = 3);
- **discord**: a real gateway INTERACTION_CREATE for ``/ask question:...`` fed to the bot made by
  ``create_bot(settings, engine)`` and dispatched through discord.py's real ``CommandTree``
  (HTTP edge recorded, as in ``tests/bot``), timed from dispatch to the moment the answer's
  follow-up request is issued (deferral, worker thread, search, rendering, payload building).

What-if (``--what-if``; doubles the timing part): the same two paths with the BLAS library
(OpenBLAS under numpy) limited to one thread through threadpoolctl, in alternating blocks of
questions (see ``measure``); citebot does not do this today. On 2 shared cores, multi-threaded
BLAS for the one-question matrix-vector products (and its threads spinning afterwards) can cost
more than it saves; these rows show by how much.

Each question is asked ``--repeats`` times per path after ``--warmup`` untimed ones; a
question's latency is the median of its repeats, and p50/p95 are over questions. The split:
the query embedding (``encode_query``, timed inside each search by a thin wrapper around the
searcher's encoder), the rest of ``Engine.search`` (retrieval, fusion, passages), and for the
Discord path what lies outside ``Engine.search``.

    .venv/bin/python benchmarks/latency.py [--squad PATH] [--articles 48] [--sample 300]
        [--repeats 3] [--what-if] [--index-dir DIR] [--json FILE]

``--index-dir DIR`` keeps the SQuAD index there: a later run with the same articles re-embeds
nothing (``rebuild`` re-uses every vector), which saves the build (minutes on 2 busy cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

for _key in [key for key in os.environ if key.startswith("CITEBOT_")]:
    del os.environ[_key]  # the benchmark uses its own settings only
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
ARTICLE_QUESTIONS = ROOT / "tests" / "data" / "article_questions.jsonl"
TARGET_ARTICLE_P50_MS = 10.0
K = 3
BLOCK = 10  # questions per block in the what-if comparison


def write_squad_corpus(squad: Path, articles: int, target: Path) -> list[list[str]]:
    """Write the first ``articles`` SQuAD articles as ``<title>.txt`` files into ``target``;
    returns each article's questions."""
    data = json.loads(squad.read_text(encoding="utf-8"))["data"][:articles]
    target.mkdir(parents=True, exist_ok=True)
    questions = []
    for article in data:
        paragraphs = [p["context"].strip() for p in article["paragraphs"]]
        text = "\n\n".join(paragraphs) + "\n"
        (target / f"{article['title']}.txt").write_text(text, encoding="utf-8")
        questions.append([qa["question"] for p in article["paragraphs"] for qa in p["qas"]])
    return questions


class TimedEncoder:
    """The searcher's query encoder, recording how long the last ``encode_query`` took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last = 0.0

    def encode_query(self, text: str) -> np.ndarray:
        started = time.perf_counter()
        vector = self.inner.encode_query(text)
        self.last = time.perf_counter() - started
        return vector


class TimedEngine:
    """The real engine, recording how long the last ``search`` took (what the bot is given)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.last = 0.0

    def search(self, question: str, k: int | None = None, offset: int = 0) -> Any:
        started = time.perf_counter()
        answer = self._engine.search(question, k=k, offset=offset)
        self.last = time.perf_counter() - started
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@dataclass
class Samples:
    """Per question: every repeat's total, encode and (Discord) engine.search seconds."""

    total: dict[int, list[float]] = field(default_factory=dict)
    encode: dict[int, list[float]] = field(default_factory=dict)
    search: dict[int, list[float]] = field(default_factory=dict)

    def add(self, question: int, total: float, encode: float, search: float) -> None:
        self.total.setdefault(question, []).append(total)
        self.encode.setdefault(question, []).append(encode)
        self.search.setdefault(question, []).append(search)

    @staticmethod
    def per_question(values: dict[int, list[float]]) -> np.ndarray:
        """Median over repeats of each question, in ms."""
        return np.array([statistics.median(v) * 1000 for v in values.values()])


PATHS = {
    "engine": "engine (`Engine.search`)",
    "discord": "discord (`/ask` via CommandTree)",
    "discord-log-off": "discord, the server's question log off",
    "engine-blas1": "what-if: engine, BLAS 1 thread",
    "discord-blas1": "what-if: discord, BLAS 1 thread",
    "discord-log-off-blas1": "what-if: discord, log off, BLAS 1 thread",
}


@dataclass
class Corpus:
    name: str
    engine: Any
    settings: Any
    questions: list[str]
    build_s: float
    report: Any
    samples: dict[str, Samples] = field(default_factory=dict)


def make_engine(
    name: str, source_dir: Path, index_dir: Path, models: Path, work: Path
) -> tuple[Any, Any, float, Any]:
    """An engine over ``source_dir`` with its index rebuilt in ``index_dir`` (the ONNX export
    copied in from ``models`` first, so the build does not export it again)."""
    from bot.core.engine import Engine
    from index.build.onnx_encoder import model_dir_for
    from tests.bot.conftest import make_settings

    settings = make_settings(work / name, source_dir=source_dir, index_dir=index_dir, top_k=K)
    engine = Engine(settings)
    exported = model_dir_for(index_dir, engine.spec)
    if not exported.exists():
        shutil.copytree(models, exported)
    started = time.perf_counter()
    report = engine.rebuild()
    return engine, settings, time.perf_counter() - started, report


async def ask_discord(
    harness: Any, question: str, user_id: int, where: dict[str, Any] | None = None
) -> float:
    """Dispatch ``/ask question:...`` (in the server of ``where``: its ``guild_id`` and
    ``channel_id``, else the harness's own); seconds from dispatch to the answer's follow-up
    call."""
    from bot.discord.utils.replies import GENERIC_ERROR

    recorder = harness.recorder
    recorder.calls.clear()
    started = time.monotonic()
    token = harness.slash("ask", question=question, who={"user_id": user_id, **(where or {})})

    def answered() -> bool:
        return any(call.is_followup for call in recorder.for_token(token))

    await recorder.wait_for(answered, timeout=120)
    followup = next(call for call in recorder.for_token(token) if call.is_followup)
    message = followup.message
    if message.get("content") == GENERIC_ERROR or not message.get("embeds"):
        raise SystemExit(f"/ask did not answer {question!r}: {message!r}"[:2000])
    return followup.at - started


def blas_limiter() -> Any:
    """A function giving a context that limits BLAS to one thread (threadpoolctl), or None
    when threadpoolctl is not installed."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")


async def measure(
    corpora: list[Corpus], what_if: bool, repeats: int, warmup: int, seed: int,
    log_off_too: bool = False,
) -> None:
    """Ask every question on both paths, interleaved (which path goes first alternates).

    With ``what_if``, the shuffled questions go in blocks of ``BLOCK``, each block asked once as
    is and once with BLAS limited to one thread (which of the two first alternates), with one
    untimed ask after each switch: BLAS threads keep spinning for a while after a call, so
    switching per question would let one mode's threads slow the other's asks.

    With ``log_off_too``, a third path asks through Discord in a second server whose question
    log is off (issue 23: the log is written after the answer is sent; this shows whether that
    work slows the answers that follow).
    """
    from contextlib import AsyncExitStack, nullcontext

    from tests.bot.conftest import OTHER_GUILD_ID, USER_ID, harness_for, in_guild

    limit_blas = blas_limiter() if what_if else None
    modes = ["", "-blas1"] if limit_blas is not None else [""]
    users = iter(range(USER_ID + 1, USER_ID + 10_000_000))
    async with AsyncExitStack() as stack:
        for corpus in corpora:
            timed_engine = TimedEngine(corpus.engine)
            harness = await stack.enter_async_context(harness_for(corpus.settings, timed_engine))
            encoder = TimedEncoder(corpus.engine.searcher.embedder)
            corpus.engine.searcher.embedder = encoder
            all_paths = ["engine", "discord"] + (["discord-log-off"] if log_off_too else [])
            if log_off_too:
                harness.bot.servers.update_settings(OTHER_GUILD_ID, log_questions=False)
            corpus.samples = {path + mode: Samples() for mode in modes for path in all_paths}

            async def ask(path: str, question: str) -> tuple[float, float]:
                """(total, Engine.search) seconds of one question on ``path``."""
                if path == "engine":
                    started = time.perf_counter()
                    corpus.engine.search(question, k=K)  # noqa: B023
                    total = time.perf_counter() - started
                    return total, total
                where = in_guild(OTHER_GUILD_ID) if path == "discord-log-off" else None
                total = await ask_discord(harness, question, next(users), where)  # noqa: B023
                return total, timed_engine.last  # noqa: B023

            for question in corpus.questions[:warmup]:
                for path in all_paths:
                    await ask(path, question)
            order = list(range(len(corpus.questions)))
            rng = random.Random(seed)
            for repeat in range(repeats):
                rng.shuffle(order)
                blocks = [order[i : i + BLOCK] for i in range(0, len(order), BLOCK)]
                for number, block in enumerate(blocks):
                    flip = (repeat + number) % 2 == 1
                    for mode in reversed(modes) if flip else modes:
                        limit = limit_blas() if mode and limit_blas else nullcontext()
                        with limit:
                            if len(modes) > 1:  # untimed: let the other mode's threads settle
                                await ask("engine", corpus.questions[block[0]])
                            for position, index in enumerate(block):
                                paths = list(all_paths)
                                if (repeat + number + position) % 2:
                                    paths.reverse()
                                for path in paths:
                                    total, search = await ask(path, corpus.questions[index])
                                    corpus.samples[path + mode].add(
                                        index, total, encoder.last, search
                                    )


def pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q))


def part(samples: Samples, of: Any) -> tuple[np.ndarray, float]:
    """``of(total, search, encode)`` in ms: per question the median over its repeats (for the
    percentiles), and the mean over every sample (means add up; medians of parts need not)."""
    per_question = []
    every = []
    for i in samples.total:
        values = [
            of(t, s, e) * 1000
            for t, s, e in zip(samples.total[i], samples.search[i], samples.encode[i], strict=True)
        ]
        per_question.append(statistics.median(values))
        every.extend(values)
    return np.array(per_question), float(np.mean(every))


def print_tables(corpora: list[Corpus], repeats: int) -> None:
    print(
        "\n### Warm answer latency (ms; per-question median of repeats, then p50/p95 over "
        "questions)\n"
    )
    print("| corpus | path | questions | p50 ms | p95 ms | p50 / engine p50 | target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for corpus in corpora:
        engine_p50 = pct(Samples.per_question(corpus.samples["engine"].total), 50)
        for path, samples in corpus.samples.items():
            values = Samples.per_question(samples.total)
            target = ""
            if corpus.name == "article" and path == "engine":
                met = "met" if pct(values, 50) <= TARGET_ARTICLE_P50_MS else "not met"
                target = f"≤ {TARGET_ARTICLE_P50_MS:g} ms p50 ({met})"
            print(
                f"| {corpus.name} | {PATHS[path]} | {len(values)} | {pct(values, 50):.2f} | "
                f"{pct(values, 95):.2f} | {pct(values, 50) / engine_p50:.2f} | {target} |"
            )

    print(
        "\n### Where the time goes (ms, p50 / mean of each part: p50 over questions of each "
        "question's median over its repeats, mean over all samples; means add up, p50s need "
        "not)\n"
    )
    print(
        "| corpus | path | query embedding | rest of `Engine.search` | outside `Engine.search` "
        "| total | embedding share of mean |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for corpus in corpora:
        for path, samples in corpus.samples.items():
            encode = part(samples, lambda t, s, e: e)
            rest = part(samples, lambda t, s, e: s - e)
            outside = part(samples, lambda t, s, e: t - s)
            total = part(samples, lambda t, s, e: t)

            def cell(values: tuple[np.ndarray, float]) -> str:
                return f"{pct(values[0], 50):.2f} / {values[1]:.2f}"

            print(
                f"| {corpus.name} | {PATHS[path]} | {cell(encode)} | {cell(rest)} | "
                f"{cell(outside) if path.startswith('discord') else '—'} | {cell(total)} | "
                f"{encode[1] / total[1]:.0%} |"
            )

    print("\n### Corpora\n")
    print(
        "| corpus | documents | chunks | sentences | questions timed | index build s "
        "(`Engine.rebuild`, ONNX export excluded) | texts embedded / re-used |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for corpus in corpora:
        r = corpus.report
        print(
            f"| {corpus.name} | {r.documents} | {r.chunks} | {r.sentences} | "
            f"{len(corpus.questions)} × {repeats} per path | {corpus.build_s:.1f} | "
            f"{r.embedded} / {r.reused} |"
        )


def blas_threads() -> str:
    """The BLAS libraries loaded and their thread counts (threadpoolctl), or the env."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    found = [
        f"{Path(info['filepath']).name.split('-')[0].split('.')[0]}={info['num_threads']}"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    return ", ".join(found) or "none loaded"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="SQuAD v1.1 dev JSON")
    parser.add_argument(
        "--articles",
        type=int,
        default=48,
        help="SQuAD articles in the large corpus (default: all 48; 0: skip it)",
    )
    parser.add_argument("--sample", type=int, default=300, help="SQuAD questions timed")
    parser.add_argument("--repeats", type=int, default=3, help="timed asks per question and path")
    parser.add_argument("--warmup", type=int, default=5, help="untimed asks per path first")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="keep the SQuAD index here (re-used by later runs); default: temp",
    )
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also time both paths with BLAS limited to one thread (threadpoolctl)",
    )
    parser.add_argument(
        "--log-off-too",
        action="store_true",
        help="also time /ask in a server whose question log is off (issue 23)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write every raw sample (s) to this file"
    )
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)  # no voice-support warnings
    from index.build.model import ModelSpec
    from index.build.onnx_encoder import ensure_onnx, model_dir_for

    started_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="citebot-latency-") as tmp:
        work = Path(tmp)
        spec = ModelSpec.resolve("all-MiniLM-L6-v2")
        started = time.perf_counter()
        ensure_onnx(work / "models-source", spec)
        export_s = time.perf_counter() - started
        models = model_dir_for(work / "models-source", spec)
        print(f"ONNX export (once, copied into each index dir): {export_s:.1f} s", flush=True)

        corpora: list[Corpus] = []
        article_questions = [
            json.loads(line)["question"]
            for line in ARTICLE_QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        engine, settings, build_s, report = make_engine(
            "article", ROOT / "tests" / "data" / "article", work / "article-index", models, work
        )
        print(f"article index: {report.chunks} chunks in {build_s:.1f} s", flush=True)
        corpora.append(Corpus("article", engine, settings, article_questions, build_s, report))

        if args.articles > 0:
            per_article = write_squad_corpus(args.squad, args.articles, work / "squad-docs")
            pool = [q for questions in per_article for q in questions]
            sample = random.Random(args.seed).sample(pool, min(args.sample, len(pool)))
            index_dir = args.index_dir or work / "squad-index"
            engine, settings, build_s, report = make_engine(
                "squad", work / "squad-docs", index_dir, models, work
            )
            print(
                f"squad index ({len(per_article)} articles): {report.chunks} chunks, "
                f"{report.sentences} sentences in {build_s:.1f} s "
                f"({report.embedded} texts embedded, {report.reused} re-used)",
                flush=True,
            )
            corpora.append(
                Corpus(
                    f"squad ({len(per_article)} articles)",
                    engine,
                    settings,
                    sample,
                    build_s,
                    report,
                )
            )

        started = time.perf_counter()
        asyncio.run(
            measure(
                corpora, args.what_if, args.repeats, args.warmup, args.seed, args.log_off_too
            )
        )
        measure_s = time.perf_counter() - started
        whole_s = time.perf_counter() - started_all
        print(
            f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
            f"k = {K}; timing {measure_s:.0f} s, whole run {whole_s:.0f} s; BLAS threads "
            f"{blas_threads()}"
        )
        print_tables(corpora, args.repeats)
        if args.json is not None:
            raw = {
                corpus.name: {
                    path: {
                        "questions": [corpus.questions[i] for i in samples.total],
                        "total": list(samples.total.values()),
                        "encode": list(samples.encode.values()),
                        "search": list(samples.search.values()),
                    }
                    for path, samples in corpus.samples.items()
                }
                for corpus in corpora
            }
            args.json.write_text(json.dumps(raw), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
