"""The admin commands: ``collections``, ``db``, ``feedback`` and ``discord``, each with its
arguments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.context import EXIT_ERROR, EXIT_OK, Context, command, to_json
from bot.core.safe_text import printable
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.core.collections import Collections


def collections_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot collections [--json]`` and ``citebot collections purge NAME [--yes]``."""
    parser.add_argument("--json", action="store_true", help="print JSON")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    purge = actions.add_parser(
        "purge", help="delete a collection's documents and index at once"
    )
    purge.add_argument("name", metavar="NAME", help="the collection, e.g. guild-123456789")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.add_argument("--json", action="store_true", help=argparse.SUPPRESS)


@command(
    "collections",
    "list the collections (`collections purge NAME`: delete one)",
    collections_arguments,
)
def cmd_collections(ctx: Context) -> int:
    """List the collections, or (``citebot collections purge NAME``) delete one."""
    from bot.core.collections import Collections

    collections = Collections(ctx.base_settings or ctx.settings)
    if getattr(ctx.args, "action", None) == "purge":
        return _purge(ctx, collections)
    summaries = collections.summaries()
    if ctx.args.json:
        ctx.out.out(to_json([summary.to_dict() for summary in summaries]), highlight=False)
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


def _purge(ctx: Context, collections: Collections) -> int:
    """Delete a collection (after confirmation) and what the bot kept about its server."""
    from bot.core.collections import guild_of, validate_name

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
    from bot.core import documents
    from bot.state.database import is_url, location_of
    from bot.state.servers import ServerStore
    from bot.state.sources import SourceStore
    from bot.state.threads import ThreadSourceStore

    state = location_of(collections.settings)
    guild_id = guild_of(name)
    servers = sources = threads = None
    if is_url(state) or collections.settings.state_db.is_file():
        sources = SourceStore(state)
        if guild_id is not None:
            servers = ServerStore(state)
            threads = ThreadSourceStore(state)
    try:
        documents.forget_collection(collections, name, servers, sources, threads)
    finally:
        for store in (servers, sources, threads):
            if store is not None:
                store.close()
    ctx.out.print(f"Deleted collection {name}.", markup=False, highlight=False)
    if servers is not None:
        ctx.out.print(
            f"Deleted what the bot kept about server {guild_id} (settings, audit log, source "
            "channels).",
            markup=False,
            highlight=False,
        )
    return EXIT_OK


def discord_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot discord [run|sync|invite]``."""
    parser.add_argument(
        "action",
        nargs="?",
        choices=["run", "sync", "invite"],
        default="run",
        help="run (default): start the bot; sync: register the slash commands globally; "
        "invite: print the address that adds the bot to a server",
    )


@command(
    "discord",
    "run the Discord bot (`citebot discord sync`: register commands)",
    discord_arguments,
)
def cmd_discord(ctx: Context) -> int:
    """Run the Discord bot, register its commands globally (``sync``) or print its invite
    address (``invite``)."""
    # The one import from the command line into the Discord front end (see .importlinter).
    from bot.discord.launcher import run_discord, show_invite, sync_commands

    if ctx.args.action == "sync":
        return sync_commands(ctx.settings)
    if ctx.args.action == "invite":
        return show_invite(ctx.settings)
    return run_discord(ctx.settings)


@command("feedback", "summarise the feedback given on Discord answers")
def cmd_feedback(ctx: Context) -> int:
    """Summarise the 👍 / 👎 feedback given on Discord."""
    from bot.cli.feedback_report import print_summary

    return print_summary(ctx.settings)


def db_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot db upgrade`` and ``citebot db migrate-from-sqlite PATH``."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser(
        "upgrade", help="bring the schema up to date (also done when the bot starts)"
    )
    copy = actions.add_parser(
        "migrate-from-sqlite",
        help="copy a SQLite state file into the empty PostgreSQL of CITEBOT_DATABASE_URL",
    )
    copy.add_argument("path", metavar="PATH", type=Path, help="the SQLite state file")


@command("db", "the state database: `db upgrade`, `db migrate-from-sqlite PATH`", db_arguments)
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
