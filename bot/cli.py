"""The ``citebot`` command line: build, ask, console, info (and the Discord and eval commands).

Imports stay light here: torch and sentence-transformers load only for commands that embed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from bot import __version__
from bot.render import UNSAFE_ABOVE_C0, printable
from bot.settings import Settings, load_settings, setting_warnings
from index.errors import CitebotError
from index.formats import SOURCE_SUFFIXES

if TYPE_CHECKING:
    from bot.engine import Engine
    from index.answer import Answer
    from index.builder import BuildReport
    from index.conversation import Turn
    from index.corpus import Corpus
    from index.intake import Added
    from index.search import Searcher

log = logging.getLogger("citebot")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# What stderr lines about the run begin with (after "citebot: "), as argparse's own
# "citebot: error: …": one scheme, so a script or a person can tell them apart.
ERROR, WARNING, NOTE = "error", "warning", "note"


def say(err: Console, kind: str, message: str) -> None:
    """One line on stderr: ``citebot: KIND: message`` (the message made safe to print)."""
    err.print(f"citebot: {kind}: {printable(message)}", markup=False, highlight=False)


@dataclass(frozen=True)
class Context:
    """What every command gets: parsed arguments, settings and the two output consoles."""

    args: argparse.Namespace
    settings: Settings
    out: Console
    err: Console
    base_settings: Settings | None = None  # before --collection chose another collection's folders

    @property
    def collection(self) -> str:
        """The collection this command works on (``--collection``, else ``default``)."""
        return getattr(self.args, "collection", None) or "default"

    def new_engine(self) -> Engine:
        """An unloaded engine of this command's collection; other collections share the
        default collection's model (and its ONNX export)."""
        from bot.collections import Collections
        from bot.engine import Engine

        if self.collection == "default":
            return Engine(self.settings)
        return Collections(self.base_settings or self.settings).engine_for(self.collection)


Command = Callable[[Context], int]


def cmd_build(ctx: Context) -> int:
    """Rebuild the index from the source directory."""
    _build(ctx)
    return EXIT_OK


def _build(ctx: Context) -> BuildReport:
    """Rebuild incrementally, with progress, skipped-file warnings and the summary line."""
    _create_collection_folder(ctx)
    engine = ctx.new_engine()
    engine.check_sources()  # before the model loads (or is exported): seconds, for nothing
    _announce_export(ctx, engine)
    with _progress(ctx.err, "Embedding") as progress:
        report = engine.rebuild(progress=progress, wait=True, on_wait=_waiting_line(ctx))
    _warn_skipped(ctx.err, report.skipped)
    ctx.out.print(
        f"Indexed {report.documents} document(s): {report.chunks} chunks, "
        f"{report.sentences} sentences; embedded {report.embedded} text(s), re-used "
        f"{report.reused}; {report.seconds:.1f} s; index {report.index_bytes / 1024:.0f} KiB "
        f"{printable(_index_place(ctx))}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return report


def _index_place(ctx: Context) -> str:
    """Where this command's index lives, for messages."""
    if ctx.settings.backend == "milvus":
        return f"in Milvus at {ctx.settings.milvus_uri} (collection {ctx.collection})"
    return f"at {ctx.settings.index_dir}"


def cmd_add(ctx: Context) -> int:
    """Download a web page or copy a file into the source folder, then rebuild."""
    from pathlib import Path

    from index.fetcher import FetchLimits, FetchTimeout, FetchTooLarge
    from index.intake import add_file, add_url

    settings, source = ctx.settings, ctx.args.source
    _create_collection_folder(ctx)
    try:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", source):
            limits = FetchLimits(
                settings.max_source_bytes,
                settings.fetch_timeout_seconds,
                settings.fetch_max_redirects,
            )
            with _progress(ctx.err, "Downloading") as progress:
                added = add_url(
                    settings.source_dir,
                    source,
                    limits,
                    name=ctx.args.name,
                    folder=ctx.args.folder,
                    allow_private=True,  # the operator's own machine: local servers are fine
                    progress=progress,
                    user_agent=f"citebot/{__version__}",
                )
        else:
            added = add_file(
                settings.source_dir,
                Path(source).expanduser(),
                settings.max_source_bytes,
                name=ctx.args.name,
                folder=ctx.args.folder,
            )
    except FetchTimeout as error:
        raise CitebotError(f"{error} (CITEBOT_FETCH_TIMEOUT_SECONDS)") from None
    except FetchTooLarge as error:
        raise CitebotError(f"{error} (CITEBOT_MAX_SOURCE_MB)") from None
    ctx.out.print(_added_line(added, settings), markup=False, highlight=False, soft_wrap=True)
    report = _build(ctx)
    skipped = [item for item in report.skipped if item.path == added.name]
    if skipped:
        raise CitebotError(
            f"{added.name} was added to {settings.source_dir} but cannot be searched: "
            f"{skipped[0].reason}"
        )
    return EXIT_OK


def _added_line(added: Added, settings: Settings) -> str:
    folder = printable(str(settings.source_dir))
    name = printable(added.name)
    size = f"{added.size / 1000:,.1f} kB"
    if added.unchanged:
        return f"{name} is already in {folder} (the same file); nothing copied"
    if added.url is None:
        return f"Copied {name} into {folder} ({size})"
    origin = printable(added.url)
    if added.requested:
        origin += f", redirected from {printable(added.requested)}"
    verb = "Updated" if added.replaced else "Added"
    return f"{verb} {name} in {folder} from {origin} ({size}); its address is in sources.toml"


def cmd_ask(ctx: Context) -> int:
    """Answer one question and exit."""
    from bot.render import answer_to_plain, answer_to_rich
    from index.conversation import Turn

    question = " ".join(ctx.args.question)
    k = ctx.args.k or ctx.settings.top_k
    names = list(dict.fromkeys([ctx.collection, *ctx.args.also]))
    earlier, notices = _earlier_questions(ctx.args.follow_up_of, ctx.settings.max_question_chars)
    history = tuple(Turn(text) for text in earlier)
    if len(names) == 1:
        answer = _ready_engine(ctx).search(question, k, history=history)
    else:
        answer = _search_collections(ctx, names, question, k, history)
    if notices:
        answer = replace(answer, notices=(*notices, *answer.notices))
    if ctx.args.json:
        ctx.out.out(_json(answer.to_dict()), highlight=False)
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
    from index.question import prepare_question

    texts, notices = [], []
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


def cmd_console(ctx: Context) -> int:
    """Interactive questions (or one per line from a pipe)."""
    from bot.console import run_console

    engine = _ready_engine(ctx)
    return run_console(engine, ctx.out, ctx.args.k or ctx.settings.top_k)


def cmd_info(ctx: Context) -> int:
    """What is indexed, with which model, when, and whether the sources changed since."""
    from bot.status import index_status

    _require_collection(ctx)
    status = index_status(ctx.settings, ctx.collection)
    if ctx.args.json:
        ctx.out.out(_json(status.to_dict()), highlight=False)
    else:
        ctx.out.print(status.to_rich())
    # A damaged or unreadable index is a failure for scripts too; "no index yet" is not.
    return EXIT_ERROR if status.problem else EXIT_OK


def cmd_migrate(ctx: Context) -> int:
    """Copy a collection's index to the other backend, without embedding anything again."""
    from bot.migrate import migrate

    _require_collection(ctx)
    report = migrate(ctx.settings, ctx.collection, ctx.args.to)
    ctx.out.print(
        f"Copied {report.documents} document(s), {report.chunks} chunks and "
        f"{report.sentences} sentences of {report.collection} to {report.target} at "
        f"{printable(report.where)} in {report.seconds:.1f} s; nothing was embedded again. "
        f"Set CITEBOT_BACKEND={report.target} to answer from it.",
        markup=False, highlight=False, soft_wrap=True,
    )
    return EXIT_OK


def cmd_eval(ctx: Context) -> int:
    """Measure retrieval on a JSONL question set (current index) or a SQuAD file (in memory)."""
    from pathlib import Path

    from bot.engine import Engine
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
    with _progress(ctx.err, "Evaluating") as progress:
        if path.suffix.lower() == ".jsonl":
            questions = load_jsonl(path)
            engine = _ready_engine(ctx)
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
    from bot.backends import milvus_store

    store = milvus_store(ctx.settings, "eval-scratch")
    parameters = engine.chunker().parameters

    def make_searcher(corpus: Corpus) -> Searcher:
        store.save(corpus)
        return engine.make_searcher(store.load(engine.spec, parameters))

    try:
        yield make_searcher
    finally:
        store.drop()


def _eval_dialogues(ctx: Context, path, k: int) -> int:
    """``citebot eval`` on conversations: figures for first turns, follow-ups and topic
    changes side by side."""
    from rich.table import Table
    from rich.text import Text

    from index.evaluation import evaluate_dialogues, load_dialogues

    dialogues = load_dialogues(path)
    engine = _ready_engine(ctx)
    with _progress(ctx.err, "Evaluating") as progress:
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


def cmd_collections(ctx: Context) -> int:
    """List the collections, or (``citebot collections purge NAME``) delete one."""
    from bot.collections import Collections

    collections = Collections(ctx.base_settings or ctx.settings)
    if getattr(ctx.args, "action", None) == "purge":
        return _purge(ctx, collections)
    summaries = collections.summaries()
    if ctx.args.json:
        ctx.out.out(_json([summary.to_dict() for summary in summaries]), highlight=False)
        return EXIT_OK
    from rich.table import Table

    table = Table(
        "collection", "documents", "chunks", "index size", "last build", "server id",
        title="Collections",
    )
    for summary in summaries:
        table.add_row(
            summary.name,
            str(summary.documents),
            str(summary.chunks),
            f"{summary.size_bytes / 1024:,.0f} KiB",
            summary.built_at or printable(summary.problem or "never"),
            str(summary.guild_id) if summary.guild_id is not None else "",
        )
    ctx.out.print(table)
    return EXIT_OK


def _purge(ctx: Context, collections) -> int:
    from bot.collections import guild_of, validate_name

    name = validate_name(ctx.args.name)
    if not ctx.args.yes:
        if not sys.stdin.isatty():
            raise CitebotError(
                f"not purging {name} without confirmation: add --yes to delete it from a script"
            )
        reply = ctx.err.input(
            f"Delete collection {name} (its documents and index) for good? [y/N] ",
            markup=False,
        )
        if reply.strip().lower() not in {"y", "yes"}:
            ctx.err.print("Nothing deleted.", markup=False)
            return EXIT_ERROR
    collections.purge(name)
    ctx.out.print(f"Deleted collection {name}.", markup=False, highlight=False)
    guild_id = guild_of(name)
    from bot.state.database import is_url, location_of

    state = location_of(collections.settings)
    if guild_id is not None and (is_url(state) or collections.settings.state_db.is_file()):
        from bot.state.servers import ServerStore

        store = ServerStore(state)
        try:
            store.forget(guild_id)  # its settings and audit log (user ids) go too
        finally:
            store.close()
        ctx.out.print(
            f"Deleted what the bot kept about server {guild_id} (settings, audit log).",
            markup=False,
            highlight=False,
        )
    return EXIT_OK


def _search_collections(
    ctx: Context, names: list[str], question: str, k: int, history: tuple[Turn, ...]
) -> Answer:
    """One answer from several collections (each must have an index)."""
    from bot.collections import DEFAULT, Collections, validate_name

    collections = Collections(ctx.base_settings or ctx.settings)
    for name in names:
        if not collections.exists(validate_name(name)):
            build = "citebot build" if name == DEFAULT else f"citebot --collection {name} build"
            raise CitebotError(f"collection {name} has no index: build it with `{build}`")
    return collections.search_many(names, question, k, history=history)


def _create_collection_folder(ctx: Context) -> None:
    """``build`` and ``add`` create a named collection's source folder."""
    if ctx.collection != "default":
        ctx.settings.source_dir.mkdir(parents=True, exist_ok=True)


def _require_collection(ctx: Context) -> None:
    """``ask``, ``console`` and ``info`` on a named collection that was never created say so."""
    if ctx.collection == "default":
        return
    from bot.backends import open_store

    if ctx.settings.source_dir.is_dir() or open_store(ctx.settings, ctx.collection).exists():
        return
    name = ctx.collection
    raise CitebotError(
        f"collection {name} does not exist: create it with `citebot --collection {name} add FILE`"
    )


def cmd_discord(ctx: Context) -> int:
    """Run the Discord bot, register its commands globally (``sync``) or print its invite
    address (``invite``)."""
    from bot.discord_app import run_discord, show_invite, sync_commands

    if ctx.args.action == "sync":
        return sync_commands(ctx.settings)
    if ctx.args.action == "invite":
        return show_invite(ctx.settings)
    return run_discord(ctx.settings)


def cmd_feedback(ctx: Context) -> int:
    """Summarise the 👍 / 👎 feedback given on Discord."""
    from bot.feedback import print_summary

    return print_summary(ctx.settings)


def cmd_db(ctx: Context) -> int:
    """Bring the state database's schema up to date, or copy a SQLite state file into
    PostgreSQL (CITEBOT_DATABASE_URL)."""
    from bot.state.database import describe, location_of

    location = location_of(ctx.base_settings or ctx.settings)
    if ctx.args.action == "upgrade":
        from bot.state.upgrade import upgrade_location

        before, now = upgrade_location(location)
        change = f"upgraded from {before or 'nothing'} to {now}" if before != now else "at " + now
        line = f"State database {describe(location)}: {change}."
        ctx.out.print(line, markup=False, soft_wrap=True)
        return EXIT_OK
    from bot.state.transfer import copy_sqlite_state

    copied = copy_sqlite_state(ctx.args.path, location)
    counts = ", ".join(f"{rows} {table}" for table, rows in copied.items())
    line = f"Copied into {describe(location)}: {counts} rows."
    ctx.out.print(line, markup=False, soft_wrap=True)
    ctx.out.print(
        f"Votes keep their hashes only with the key of {ctx.args.path}: give every process the "
        f"file {ctx.args.path}.key as <CITEBOT_STATE_DB>.key (chmod 600).",
        markup=False,
        soft_wrap=True,
    )
    return EXIT_OK


COMMANDS: dict[str, tuple[Command, str]] = {
    "build": (cmd_build, "build (or rebuild) the index from the source documents"),
    "add": (cmd_add, "add a web page or file to the source documents, then build"),
    "ask": (cmd_ask, "answer one question with cited passages"),
    "console": (cmd_console, "ask questions interactively"),
    "info": (cmd_info, "show what is indexed and whether the sources changed since"),
    "eval": (cmd_eval, "measure retrieval quality on a question set or SQuAD file"),
    "migrate": (cmd_migrate, "copy the index to the other backend (`--to milvus` or `--to local`)"),
    "collections": (cmd_collections, "list the collections (`collections purge NAME`: delete one)"),
    "discord": (cmd_discord, "run the Discord bot (`citebot discord sync`: register commands)"),
    "feedback": (cmd_feedback, "summarise the feedback given on Discord answers"),
    "db": (cmd_db, "the state database: `db upgrade`, `db migrate-from-sqlite PATH`"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all commands."""
    parser = argparse.ArgumentParser(
        prog="citebot",
        description="Answers questions with passages quoted from your documents, each cited. "
        "Settings come from CITEBOT_* environment variables or a .env file "
        "(see settings.example.env).",
    )
    parser.add_argument("--version", action="version", version=f"citebot {__version__}")
    parser.add_argument(
        "--source-dir",
        help=f"folder of the source documents, {', '.join(SOURCE_SUFFIXES)} files, read "
        "recursively (CITEBOT_SOURCE_DIR)",
    )
    parser.add_argument("--index-dir", help="where the index is kept (CITEBOT_INDEX_DIR)")
    parser.add_argument(
        "--collection",
        metavar="NAME",
        help="work on collection NAME (default: the `default` collection, i.e. the source and "
        "index directories above; a Discord server's is guild-<server id>)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        _add_arguments(name, sub)
    return parser


def _add_arguments(name: str, sub: argparse.ArgumentParser) -> None:
    if name == "add":
        sub.add_argument(
            "source",
            metavar="PATH_OR_URL",
            help="an http:// or https:// address to download, or a file to copy",
        )
        sub.add_argument("--name", help="file name to save it as (default: from the address)")
        sub.add_argument("--folder", help="subfolder of the source folder to put it in")
    elif name == "ask":
        sub.add_argument("question", nargs="+", help="the question (quote it)")
        sub.add_argument("--k", type=_k_value, help="number of passages (default CITEBOT_TOP_K)")
        sub.add_argument("--json", action="store_true", help="print JSON (schema in README)")
        sub.add_argument(
            "--also",
            metavar="NAME",
            action="append",
            default=[],
            help="also search collection NAME (repeatable), as a server searches its own "
            "documents and `default`; each passage then names its collection",
        )
        sub.add_argument(
            "--follow-up-of",
            metavar="QUESTION",
            action="append",
            default=[],
            help="an earlier question of the conversation (repeatable, oldest first): the "
            "question is read together with it when it depends on it (`context` in --json)",
        )
    elif name == "console":
        sub.add_argument("--k", type=_k_value, help="number of passages (default CITEBOT_TOP_K)")
    elif name == "info":
        sub.add_argument("--json", action="store_true", help="print JSON")
    elif name == "eval":
        sub.add_argument(
            "path",
            help="a JSONL file of {question, answers} lines (evaluated against the current "
            "index; empty answers = not in the source) or a SQuAD-format JSON file (each "
            "article indexed on its own, in memory)",
        )
        sub.add_argument("--k", type=_k_value, default=5, help="passages per question (5)")
        sub.add_argument("--articles", type=int, help="SQuAD: only the first N articles")
        sub.add_argument("--json", action="store_true", help="print JSON")
    elif name == "migrate":
        sub.add_argument(
            "--to", choices=["milvus", "local"], required=True,
            help="milvus: copy the local index to CITEBOT_MILVUS_URI; local: copy it back",
        )
    elif name == "collections":
        sub.add_argument("--json", action="store_true", help="print JSON")
        actions = sub.add_subparsers(dest="action", metavar="ACTION")
        purge = actions.add_parser(
            "purge", help="delete a collection's documents and index at once"
        )
        purge.add_argument("name", metavar="NAME", help="the collection, e.g. guild-123456789")
        purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        purge.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    elif name == "db":
        actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
        actions.add_parser(
            "upgrade", help="bring the schema up to date (also done when the bot starts)"
        )
        copy = actions.add_parser(
            "migrate-from-sqlite",
            help="copy a SQLite state file into the empty PostgreSQL of CITEBOT_DATABASE_URL",
        )
        copy.add_argument("path", metavar="PATH", type=Path, help="the SQLite state file")
    elif name == "discord":
        sub.add_argument(
            "action",
            nargs="?",
            choices=["run", "sync", "invite"],
            default="run",
            help="run (default): start the bot; sync: register the slash commands globally; "
            "invite: print the address that adds the bot to a server",
        )


def _k_value(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 20, got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``citebot`` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    overrides = {}
    if args.source_dir:
        overrides["source_dir"] = args.source_dir
    if args.index_dir:
        overrides["index_dir"] = args.index_dir
    try:
        base_settings = load_settings(**overrides)
        settings = _collection_settings(args, base_settings)
    except CitebotError as error:
        say(err, ERROR, str(error))
        return EXIT_USAGE
    for warning in setting_warnings():
        say(err, WARNING, warning)
    _configure_logging("DEBUG" if args.verbose else settings.log_level)
    ctx = Context(args, settings, Console(highlight=False), err, base_settings)
    command = COMMANDS[args.command][0]
    try:
        return command(ctx)
    except CitebotError as error:
        _report(ctx, str(error))
        return EXIT_ERROR
    except KeyboardInterrupt:
        say(err, NOTE, "interrupted")
        return EXIT_INTERRUPTED
    except Exception as error:  # last resort: never a traceback for the user
        log.debug("unexpected error", exc_info=True)
        _report(
            ctx,
            f"unexpected error ({type(error).__name__}); run again with -v for details "
            "and report it if it persists",
        )
        return EXIT_ERROR


def _collection_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings of ``--collection NAME`` (its own source and index folders)."""
    from bot.collections import DEFAULT, collection_settings, validate_name

    name = args.collection
    if name is None or validate_name(name) == DEFAULT:
        return settings
    if args.source_dir or args.index_dir:
        raise CitebotError(
            "--source-dir and --index-dir apply to the default collection only: a named "
            "collection keeps its folders under CITEBOT_COLLECTIONS_DIR"
        )
    return collection_settings(settings, name)


def _report(ctx: Context, message: str) -> None:
    if getattr(ctx.args, "json", False):
        ctx.out.out(_json({"error": message}, indent=None), highlight=False)
    say(ctx.err, ERROR, message)


# What json.dumps(ensure_ascii=False) leaves raw but a terminal must not get (it escapes C0
# controls itself). JSON structure is ASCII, so these can only be inside strings, where a
# \uXXXX escape means the same character.
_JSON_UNSAFE = re.compile(f"[{UNSAFE_ABOVE_C0}]")


def _json(data: object, indent: int | None = 2) -> str:
    """JSON for stdout: readable non-ASCII text, but nothing that can drive the terminal."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _ready_engine(ctx: Context):
    """An engine with its index loaded, building it first (and saying so) when there is none."""
    from bot.status import source_changes

    _require_collection(ctx)
    engine = ctx.new_engine()
    if engine.index_exists():
        engine.load(build_if_missing=False)
        changes = source_changes(ctx.settings, engine.index.manifest)
        if changes:
            say(
                ctx.err,
                NOTE,
                f"the sources changed since the index was built ({changes.describe()}): "
                "run `citebot build` to include the changes",
            )
        return engine
    engine.check_sources()
    ctx.err.print(
        f"No index yet: building one from {ctx.settings.source_dir} (first use, takes a moment)…",
        markup=False,
    )
    _announce_export(ctx, engine)
    with _progress(ctx.err, "Embedding") as progress:
        report = engine.load(
            build_if_missing=True, progress=progress, on_wait=_waiting_line(ctx)
        )
    if report is not None:
        _warn_skipped(ctx.err, report.skipped)
        ctx.err.print(
            f"Indexed {report.documents} document(s), {report.chunks} chunks in "
            f"{report.seconds:.1f} s.",
            markup=False,
        )
    return engine


def _waiting_line(ctx: Context) -> Callable[[int | None], None]:
    """What a build that waits for another one prints (once)."""

    def say(pid: int | None) -> None:
        holder = f" (process {pid})" if pid else ""
        ctx.err.print(
            f"Another build of the index at {ctx.settings.index_dir} is running{holder}: "
            "waiting for it to finish…",
            markup=False,
        )

    return say


def _announce_export(ctx: Context, engine) -> None:
    if engine.needs_export():
        ctx.err.print(
            "Exporting the embedding model to ONNX for fast answers (once per model)…",
            markup=False,
        )


def _warn_skipped(err: Console, skipped: Sequence[object]) -> None:
    for item in skipped:
        say(err, WARNING, f"skipped {item.reason}")  # type: ignore[attr-defined]


class _progress:
    """A rich progress bar on a terminal; silent otherwise. Used as a Progress callback."""

    def __init__(self, console: Console, label: str):
        self.console = console
        self.label = label
        self.bar = None
        self.task = None

    def __enter__(self) -> Callable[[int, int], None]:
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level != "DEBUG":
        for noisy in ("sentence_transformers", "transformers", "faiss", "bm25s", "huggingface_hub"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


if __name__ == "__main__":
    sys.exit(main())
