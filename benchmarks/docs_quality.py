"""Retrieval on documentation, side by side with the sets it must not make worse.

    .venv/bin/python benchmarks/docs_quality.py [--docs /usr/share/doc/python3.11/html]
        [--squad /work/shared/data/squad/dev-v1.1.json] [--squad-articles odd|even|none]
        [--variants baseline,current] [--json OUT]

- **docs**: ``tests/data/docs_questions.jsonl``, informal questions on 12 pages of Python's own
  Sphinx HTML documentation (``apt-get install python3.11-doc``), each judged by the section that
  answers it (``index.evaluation.LabelledQuestion.section``); fit and held-out halves apart.
- **article**: the bundled ``source_docs/`` and ``tests/data/article_questions.jsonl``; the
  dialogues of ``tests/data/article_dialogues.jsonl`` (first turns and follow-ups); the same
  article written as Markdown (``##`` headings: what section chunks change).
- **SQuAD**: v1.1 dev, odd- (or even-) numbered articles, each its own corpus.

Each variant is a set of the retrieval switches in ``index.ingest.chunking`` and
``index.query.search`` (``VARIANTS``, "search." names the latter); all
variants run in one process on the same machine, so their figures compare.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import index.ingest.chunking as chunking  # noqa: E402
import index.query.search as search  # noqa: E402
from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.build.builder import assemble_corpus  # noqa: E402
from index.evaluation import (  # noqa: E402
    evaluate,
    evaluate_articles,
    evaluate_dialogues,
    load_dialogues,
    load_jsonl,
    load_split,
    load_squad,
)
from index.ingest.documents import load_documents  # noqa: E402
from tests.index.formats.markdown_fixtures import write_article_markdown  # noqa: E402

DOCS = Path("/usr/share/doc/python3.11/html")
DOCS_QUESTIONS = ROOT / "tests" / "data" / "docs_questions.jsonl"
ARTICLE_QUESTIONS = ROOT / "tests" / "data" / "article_questions.jsonl"
ARTICLE_DIALOGUES = ROOT / "tests" / "data" / "article_dialogues.jsonl"
SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
K = 5
# name -> values of index.ingest.chunking's switches
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {
        "HEADINGS_IN_SEARCH": None, "SECTION_CHUNKS": False, "search.SECTION_DENSE_WEIGHT": 0.0,
    },
    "heading": {"HEADINGS_IN_SEARCH": "heading", "SECTION_CHUNKS": False},
    "path": {"HEADINGS_IN_SEARCH": "path", "SECTION_CHUNKS": False},
    "sections": {"HEADINGS_IN_SEARCH": None, "SECTION_CHUNKS": True},
    "heading+sections": {"HEADINGS_IN_SEARCH": "heading", "SECTION_CHUNKS": True},
    "path+sections": {"HEADINGS_IN_SEARCH": "path", "SECTION_CHUNKS": True},
    "path+sections+dense": {
        "HEADINGS_IN_SEARCH": "path", "SECTION_CHUNKS": True, "search.SECTION_DENSE_WEIGHT": 2.0,
    },
    "path+attach+dense": {
        "HEADINGS_IN_SEARCH": "path", "SECTION_CHUNKS": "attach",
        "search.SECTION_DENSE_WEIGHT": 2.0,
    },
    "path+attach": {"HEADINGS_IN_SEARCH": "path", "SECTION_CHUNKS": "attach"},
    "current": {},
}


@contextmanager
def variant(switches: dict[str, Any]) -> Iterator[None]:
    """index.ingest.chunking's switches set as ``switches`` say, for the duration."""
    targets = {
        name: (search, name.removeprefix("search.")) if name.startswith("search.")
        else (chunking, name)
        for name in switches
    }
    saved = {name: getattr(*targets[name]) for name in switches}
    for name, value in switches.items():
        setattr(*targets[name], value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(*targets[name], value)


def docs_pages(docs: Path, target: Path) -> Path:
    """The pages the docs questions are about, copied under their relative names."""
    pages = {json.loads(line)["document"] for line in DOCS_QUESTIONS.read_text().splitlines()}
    for page in pages:
        (target / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(docs / page, target / page)
    return target


def measure(engine: Engine, source: Path, questions: dict[str, Path | tuple[Path, str]]) -> dict:
    """Index ``source`` in memory and evaluate each named question file (or file and split)."""
    documents = load_documents(source)
    corpus, _, _ = assemble_corpus(documents, engine.build_encoder, engine.chunker())
    searcher = engine.make_searcher(corpus)
    figures: dict[str, Any] = {"chunks": len(corpus.chunks)}
    for name, spec in questions.items():
        path, split = spec if isinstance(spec, tuple) else (spec, None)
        if path == ARTICLE_DIALOGUES:
            tally = evaluate_dialogues(
                lambda q, k, h: searcher.search(q, k, history=h), load_dialogues(path), K
            )
            figures[name] = tally.report()
        else:
            loaded = load_split(path, split) if split else load_jsonl(path)
            figures[name] = evaluate(searcher.search, loaded, K).report().to_dict()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--squad-articles", choices=("odd", "even", "none"), default="odd")
    parser.add_argument("--variants", default="baseline,current")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    engine = Engine(Settings())
    engine.build_encoder  # noqa: B018 - the ONNX export, once
    engine.warm_up()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        pages = docs_pages(args.docs, Path(folder) / "docs")
        markdown = Path(folder) / "markdown"
        markdown.mkdir()
        write_article_markdown(markdown / "article.md")  # the same article, with ## headings
        for name in args.variants.split(","):
            with variant(VARIANTS[name]):
                started = time.perf_counter()
                row: dict[str, Any] = {
                    "docs": measure(engine, pages, {
                        "fit": (DOCS_QUESTIONS, "fit"), "heldout": (DOCS_QUESTIONS, "heldout"),
                    }),
                    "article": measure(engine, ROOT / "tests" / "data" / "article", {
                        "questions": ARTICLE_QUESTIONS, "dialogues": ARTICLE_DIALOGUES,
                    }),
                    "article_markdown": measure(engine, markdown, {
                        "questions": ARTICLE_QUESTIONS, "dialogues": ARTICLE_DIALOGUES,
                    }),
                }
                if args.squad_articles != "none":
                    first = 1 if args.squad_articles == "odd" else 0
                    articles = load_squad(args.squad)[first::2]
                    row["squad"] = evaluate_articles(
                        articles, engine.build_encoder, engine.chunker(), engine.make_searcher, K
                    ).report().to_dict()
                results[name] = row
                print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
                print(json.dumps({name: row}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print("\n| variant | set | hit@1 | hit@3 | hit@5 | MRR | highlight@1 | words | p50 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, row in results.items():
        for set_name, figures in (
            ("docs fit", row["docs"]["fit"]), ("docs held-out", row["docs"]["heldout"]),
            ("article", row["article"]["questions"]),
            ("article as Markdown", row["article_markdown"]["questions"]),
            ("Markdown follow-ups", row["article_markdown"]["dialogues"].get("follow_ups")),
            ("dialogue follow-ups", row["article"]["dialogues"].get("follow_ups")),
            ("SQuAD", row.get("squad")),
        ):
            if figures:
                print(f"| {name} | {set_name} | {figures['hit_at_1']:.3f} | "
                      f"{figures['hit_at_3']:.3f} | {figures['hit_at_5']:.3f} | "
                      f"{figures['mrr']:.3f} | {figures['highlight_at_1']:.3f} | "
                      f"{figures['mean_words_per_passage']:.1f} | "
                      f"{figures['latency_p50_ms']:.1f} |")


if __name__ == "__main__":
    main()
