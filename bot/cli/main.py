"""The ``citebot`` entry point: the parser (global options, then each command group's own
declarations), settings, logging and the one place errors become exit statuses.

Imports stay light here: torch and sentence-transformers load only for commands that embed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from rich.console import Console

from bot import __version__
from bot.cli import (
    admin_commands,
    gaps_commands,
    index_commands,
    question_commands,
    report_commands,
    site_commands,
)
from bot.cli.context import (
    ERROR,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    NOTE,
    WARNING,
    Command,
    Context,
    say,
    to_json,
)
from bot.settings import Settings, load_settings, setting_warnings
from index.errors import CitebotError
from index.ingest.formats import SOURCE_SUFFIXES

log = logging.getLogger("citebot")

# Every command, in the order of `citebot --help`.
COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        index_commands.cmd_build,
        index_commands.cmd_add,
        index_commands.cmd_remove,
        site_commands.cmd_sync,
        site_commands.cmd_sources,
        question_commands.cmd_ask,
        question_commands.cmd_console,
        index_commands.cmd_info,
        question_commands.cmd_eval,
        index_commands.cmd_migrate,
        admin_commands.cmd_collections,
        admin_commands.cmd_discord,
        admin_commands.cmd_feedback,
        gaps_commands.cmd_gaps,
        report_commands.cmd_report,
        admin_commands.cmd_db,
    )
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
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.summary, description=command.summary)
        command.arguments(sub)
    return parser


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
    command = COMMANDS[args.command]
    try:
        return command.run(ctx)
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
    from bot.core.collections import DEFAULT, collection_settings, validate_name

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
    """An error on stderr, and as ``{"error": …}`` on stdout for a ``--json`` command."""
    if getattr(ctx.args, "json", False):
        ctx.out.out(to_json({"error": message}, indent=None), highlight=False)
    say(ctx.err, ERROR, message)


def _configure_logging(level: str) -> None:
    """Log to stderr at ``level``; the libraries' chatter only with ``-v``."""
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
