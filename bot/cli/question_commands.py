"""The question commands: ``ask``, ``console`` and ``eval``, each with its arguments."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.context import (
    EXIT_OK,
    Context,
    command,
    k_value,
    progress_bar,
    ready_engine,
    to_json,
)
from bot.core.safe_text import printable
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.core.engine import Engine
    from index.answer import Answer
    from index.build.corpus import Corpus
    from index.query.conversation import Turn
    from index.query.search import Searcher


def ask_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot ask QUESTION… [--k N] [--json] [--also NAME]… [--follow-up-of QUESTION]…``."""
    parser.add_argument("question", nargs="+", help="the question (quote it)")
    parser.add_argument("--k", type=k_value, help="number of passages (default CITEBOT_TOP_K)")
    parser.add_argument("--json", action="store_true", help="print JSON (schema in README)")
    parser.add_argument(
        "--also",
        metavar="NAME",
        action="append",
        default=[],
        help="also search collection NAME (repeatable), as a server searches its own "
        "documents and `default`; each passage then names its collection",
    )
    parser.add_argument(
        "--follow-up-of",
        metavar="QUESTION",
        action="append",
        default=[],
        help="an earlier question of the conversation (repeatable, oldest first): the "
        "question is read together with it when it depends on it (`context` in --json)",
    )


@command("ask", "answer one question with cited passages", ask_arguments)
def cmd_ask(ctx: Context) -> int:
    """Answer one question and exit."""
    from bot.cli.render import answer_to_plain, answer_to_rich
    from index.query.conversation import Turn

    question = " ".join(ctx.args.question)
    k = ctx.args.k or ctx.settings.top_k
    names = list(dict.fromkeys([ctx.collection, *ctx.args.also]))
    earlier, notices = _earlier_questions(ctx.args.follow_up_of, ctx.settings.max_question_chars)
    history = tuple(Turn(text) for text in earlier)
    if len(names) == 1:
        answer = ready_engine(ctx).search(question, k, history=history)
    else:
        answer = _search_collections(ctx, names, question, k, history)
    if notices:
        answer = replace(answer, notices=(*notices, *answer.notices))
    if ctx.args.json:
        ctx.out.out(to_json(answer.to_dict()), highlight=False)
    elif ctx.out.is_terminal:
        ctx.out.print(answer_to_rich(answer))
    else:
        ctx.out.out(answer_to_plain(answer), highlight=False, end="")
    return EXIT_OK


def _earlier_questions(
    raw: Sequence[str], max_chars: int
) -> tuple[list[str], list[str]]:
    """``--follow-up-of`` questions cleaned and cut like the question itself (they are searched
    and echoed back as ``context``), and a notice for each one that was cut."""
    from index.errors import QuestionError
    from index.query.question import prepare_question

    texts: list[str] = []
    notices: list[str] = []
    for number, text in enumerate(raw, start=1):
        option = "--follow-up-of" + (f" #{number}" if len(raw) > 1 else "")
        try:
            prepared = prepare_question(text, max_chars)
        except QuestionError as error:
            message = str(error).replace("the question", "the earlier question", 1)
            raise CitebotError(f"{option}: {message}") from None
        texts.append(prepared.text)
        notices.extend(
            notice.replace("Your question", f"Your earlier question ({option})", 1)
            for notice in prepared.notices
        )
    return texts, notices


def _search_collections(
    ctx: Context, names: list[str], question: str, k: int, history: tuple[Turn, ...]
) -> Answer:
    """One answer from several collections (each must have an index)."""
    from bot.core.collections import DEFAULT, Collections, validate_name

    collections = Collections(ctx.base_settings or ctx.settings)
    for name in names:
        if not collections.exists(validate_name(name)):
            build = "citebot build" if name == DEFAULT else f"citebot --collection {name} build"
            raise CitebotError(f"collection {name} has no index: build it with `{build}`")
    return collections.search_many(names, question, k, history=history)


def console_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot console [--k N]``."""
    parser.add_argument("--k", type=k_value, help="number of passages (default CITEBOT_TOP_K)")


@command("console", "ask questions interactively", console_arguments)
def cmd_console(ctx: Context) -> int:
    """Interactive questions (or one per line from a pipe)."""
    from bot.cli.console import run_console

    engine = ready_engine(ctx)
    return run_console(engine, ctx.out, ctx.args.k or ctx.settings.top_k)


def eval_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot eval PATH [--k N] [--articles N] [--json]``."""
    parser.add_argument(
        "path",
        help="a JSONL file of {question, answers} lines (evaluated against the current "
        "index; empty answers = not in the source) or a SQuAD-format JSON file (each "
        "article indexed on its own, in memory)",
    )
    parser.add_argument("--k", type=k_value, default=5, help="passages per question (5)")
    parser.add_argument("--articles", type=int, help="SQuAD: only the first N articles")
    parser.add_argument("--json", action="store_true", help="print JSON")


@command("eval", "measure retrieval quality on a question set or SQuAD file", eval_arguments)
def cmd_eval(ctx: Context) -> int:
    """Measure retrieval on a JSONL question set (current index) or a SQuAD file (in memory)."""
    from bot.core.engine import Engine
    from index.evaluation import (
        evaluate,
        evaluate_articles,
        is_dialogue_file,
        load_jsonl,
        load_squad,
    )

    path = Path(ctx.args.path)
    if not path.is_file():
        raise CitebotError(f"{path} does not exist: give a .jsonl question set or a SQuAD .json")
    k = ctx.args.k
    if path.suffix.lower() == ".jsonl" and is_dialogue_file(path):
        return _eval_dialogues(ctx, path, k)
    with progress_bar(ctx.err, "Evaluating") as progress:
        if path.suffix.lower() == ".jsonl":
            questions = load_jsonl(path)
            engine = ready_engine(ctx)
            tally = evaluate(engine.search, questions, k, progress)
        else:
            articles = load_squad(path)[: ctx.args.articles or None]
            engine = Engine(ctx.settings)
            with _article_searchers(ctx, engine) as make_searcher:
                tally = evaluate_articles(
                    articles, engine.build_encoder, engine.chunker(), make_searcher, k, progress
                )
    report = tally.report().to_dict()
    if ctx.args.json:
        ctx.out.out(json.dumps(report, indent=2), highlight=False)
        return EXIT_OK
    from rich.table import Table
    from rich.text import Text

    table = Table("metric", "value", title=Text(f"Retrieval on {printable(path.name)}"))
    for key, value in report.items():
        if value is not None:
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    ctx.out.print(table)
    return EXIT_OK


@contextlib.contextmanager
def _article_searchers(ctx: Context, engine: Engine) -> Iterator[Callable[[Corpus], Searcher]]:
    """Searchers over SQuAD articles indexed one at a time: in memory on the local backend;
    on Milvus each article is written to a scratch collection (dropped at the end), so the
    figures are Milvus's own."""
    if ctx.settings.backend != "milvus":
        yield engine.make_searcher
        return
    from bot.core.backends import milvus_store

    store = milvus_store(ctx.settings, "eval-scratch")
    parameters = engine.chunker().parameters

    def make_searcher(corpus: Corpus) -> Searcher:
        store.save(corpus)
        return engine.make_searcher(store.load(engine.spec, parameters))

    try:
        yield make_searcher
    finally:
        store.drop()


def _eval_dialogues(ctx: Context, path: Path, k: int) -> int:
    """``citebot eval`` on conversations: figures for first turns, follow-ups and topic
    changes side by side."""
    from rich.table import Table
    from rich.text import Text

    from index.evaluation import evaluate_dialogues, load_dialogues

    dialogues = load_dialogues(path)
    engine = ready_engine(ctx)
    with progress_bar(ctx.err, "Evaluating") as progress:
        tally = evaluate_dialogues(
            lambda question, size, history: engine.search(question, size, history=history),
            dialogues,
            k,
            progress,
        )
    report = tally.report()
    if ctx.args.json:
        ctx.out.out(json.dumps(report, indent=2), highlight=False)
        return EXIT_OK
    kinds = list(report)
    table = Table("metric", *(kind.replace("_", " ") for kind in kinds),
                  title=Text(f"Conversations in {printable(path.name)}"))
    for key in report[kinds[0]]:
        cells = []
        for kind in kinds:
            value = report[kind][key]
            cells.append("—" if value is None else
                         f"{value:.3f}" if isinstance(value, float) else str(value))
        table.add_row(key, *cells)
    ctx.out.print(table)
    return EXIT_OK
