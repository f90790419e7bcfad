"""The index commands: ``build``, ``add``, ``remove``, ``info`` and ``migrate``, each with its
arguments."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, NoReturn

from bot import __version__
from bot.cli.context import (
    EXIT_ERROR,
    EXIT_OK,
    Context,
    build,
    command,
    create_collection_folder,
    progress_bar,
    require_collection,
    to_json,
)
from bot.core.safe_text import printable
from bot.settings import Settings
from index.errors import CitebotError, SourceError

if TYPE_CHECKING:
    from bot.core.documents import Pending


@command("build", "build (or rebuild) the index from the source documents")
def cmd_build(ctx: Context) -> int:
    """Rebuild the index from the source directory."""
    build(ctx)
    return EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot add PATH_OR_URL [--name NAME] [--folder FOLDER]``."""
    parser.add_argument(
        "source",
        metavar="PATH_OR_URL",
        help="an http:// or https:// address to download, or a file to copy",
    )
    parser.add_argument("--name", help="file name to save it as (default: from the address)")
    parser.add_argument("--folder", help="subfolder of the source folder to put it in")
    parser.add_argument(
        "--crawl", action="store_true",
        help="fetch the whole site under the address (its sitemap.xml, else its links), then "
        "keep it as a source that `citebot sync` re-fetches",
    )


@command("add", "add a web page or file to the source documents, then build", add_arguments)
def cmd_add(ctx: Context) -> int:
    """Download a web page or copy a file into the source folder, then rebuild. A document the
    build cannot read is taken back out (or its earlier copy put back), so nothing is lost."""
    from pathlib import Path

    from bot.core import documents
    from index.ingest.fetcher import FetchLimits, FetchTimeout, FetchTooLarge

    settings, source = ctx.settings, ctx.args.source
    if ctx.args.crawl:
        from bot.cli.site_commands import crawl_add

        if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", source):
            raise CitebotError(f"--crawl takes a web address (https://…), not {source!r}")
        return crawl_add(ctx, source)
    create_collection_folder(ctx)
    try:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", source):
            limits = FetchLimits(
                settings.max_source_bytes,
                settings.fetch_timeout_seconds,
                settings.fetch_max_redirects,
            )
            with progress_bar(ctx.err, "Downloading") as progress:
                pending = documents.add_url(
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
            pending = documents.add_file(
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
    ctx.out.print(_added_line(pending, settings), markup=False, highlight=False, soft_wrap=True)
    try:
        try:
            report = build(ctx)
        except SourceError as error:  # it was the only document, and unreadable
            _take_back(ctx, pending, str(error))
        skipped = [item for item in report.skipped if item.path == pending.name]
        if skipped:
            _take_back(ctx, pending, skipped[0].reason)
    finally:
        pending.keep()
    if pending.added.url is not None:  # a web address: kept current by `citebot sync`
        from bot.cli.site_commands import register_page

        register_page(ctx, pending.added.requested or pending.added.url, pending.name)
    return EXIT_OK


def remove_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot remove NAME``."""
    parser.add_argument(
        "name", help="the document's name in the source folder, e.g. guide/install.html "
        "(as `citebot info` and answers' citations name it)",
    )


@command("remove", "remove a document from the source documents, then build", remove_arguments)
def cmd_remove(ctx: Context) -> int:
    """Delete one document (and its address in sources.toml), then rebuild. A page of a crawled
    site stays out of the site's syncs (``citebot sync`` would bring it back otherwise)."""
    from bot.cli.site_commands import forget_page
    from bot.core import documents

    name = ctx.args.name.replace("\\", "/")
    documents.remove_file(ctx.settings.source_dir, name)  # SourceError (one line) when not
    ctx.out.print(f"Removed {printable(name)} from {printable(str(ctx.settings.source_dir))}",
                  markup=False, highlight=False, soft_wrap=True)
    forget_page(ctx, name)
    build(ctx)
    return EXIT_OK


def _take_back(ctx: Context, pending: Pending, reason: str) -> NoReturn:
    """Undo an added document the build could not read (putting back the copy it replaced and
    building again), then fail saying why."""
    name, folder = printable(pending.name), printable(str(ctx.settings.source_dir))
    if pending.undo() == "restored":
        build(ctx)
        raise CitebotError(
            f"{name} was not updated: {printable(reason)}; the earlier copy in {folder} is kept"
        )
    raise CitebotError(
        f"{name} was not added to {folder}: {printable(reason)}; nothing else changed"
    )


def _added_line(pending: Pending, settings: Settings) -> str:
    """What ``add`` did: copied, downloaded, updated, or nothing (the same file)."""
    added = pending.added
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


def info_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot info [--json]``."""
    parser.add_argument("--json", action="store_true", help="print JSON")


@command("info", "show what is indexed and whether the sources changed since", info_arguments)
def cmd_info(ctx: Context) -> int:
    """What is indexed, with which model, when, and whether the sources changed since."""
    from bot.core.status import index_status

    require_collection(ctx)
    status = index_status(ctx.settings, ctx.collection)
    if ctx.args.json:
        ctx.out.out(to_json(status.to_dict()), highlight=False)
    else:
        ctx.out.print(status.to_rich())
    # A damaged or unreadable index is a failure for scripts too; "no index yet" is not.
    return EXIT_ERROR if status.problem else EXIT_OK


def migrate_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot migrate --to milvus|local``."""
    parser.add_argument(
        "--to", choices=["milvus", "local"], required=True,
        help="milvus: copy the local index to CITEBOT_MILVUS_URI; local: copy it back",
    )


@command(
    "migrate",
    "copy the index to the other backend (`--to milvus` or `--to local`)",
    migrate_arguments,
)
def cmd_migrate(ctx: Context) -> int:
    """Copy a collection's index to the other backend, without embedding anything again."""
    from bot.core.index_migration import migrate

    require_collection(ctx)
    report = migrate(ctx.settings, ctx.collection, ctx.args.to)
    ctx.out.print(
        f"Copied {report.documents} document(s), {report.chunks} chunks and "
        f"{report.sentences} sentences of {report.collection} to {report.target} at "
        f"{printable(report.where)} in {report.seconds:.1f} s; nothing was embedded again. "
        f"Set CITEBOT_BACKEND={report.target} to answer from it.",
        markup=False, highlight=False, soft_wrap=True,
    )
    return EXIT_OK
