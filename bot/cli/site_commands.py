"""Crawled sites on the command line: ``citebot add URL --crawl``, ``citebot sync`` and
``citebot sources`` (list, schedule, remove).

Both fetch through :mod:`bot.core.sites` (the same document change the Discord bot makes), then
run one incremental build; a build that fails puts the folder back as it was.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot import __version__
from bot.cli.context import (
    EXIT_ERROR,
    EXIT_OK,
    NOTE,
    WARNING,
    Context,
    build,
    command,
    create_collection_folder,
    progress_bar,
    say,
    to_json,
)
from bot.core.safe_text import printable
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.core.sites import SiteChange
    from bot.state.sources import Source, SourceStore


def crawl_add(ctx: Context, url: str) -> int:
    """``citebot add URL --crawl``: crawl the site under ``url`` into the collection, build,
    and register it as a source."""
    from index.ingest.crawler import CrawlError

    if ctx.args.name:
        raise CitebotError("--name does not go with --crawl: each page is named after its address")
    if ctx.args.folder:
        raise CitebotError("--folder does not go with --crawl: a site gets a folder of its own")
    create_collection_folder(ctx)
    store = _open_store(ctx)
    try:
        try:
            change = _fetch(ctx, store, url, crawl_site=True)
        except CrawlError as error:
            raise CitebotError(f"{error}; nothing was added") from None
        return _settle(ctx, change, "Crawled")
    finally:
        store.close()


def sync_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot sync [--collection NAME]``."""
    parser.add_argument(
        "--collection", metavar="NAME", default=argparse.SUPPRESS,
        help="sync the sources of collection NAME (default: the default collection)",
    )


@command(
    "sync",
    "re-fetch the collection's crawled sites and added addresses (conditional requests), "
    "then build",
    sync_arguments,
)
def cmd_sync(ctx: Context) -> int:
    """Sync every source of the collection: only changed pages are downloaded and embedded,
    pages gone twice in a row are removed."""
    store = _open_store(ctx)
    try:
        found = store.of_collection(ctx.collection)
        if not found:
            raise CitebotError(
                f"collection {ctx.collection} has no sources to sync: add a site with "
                "`citebot add URL --crawl`"
            )
        status = EXIT_OK
        for source in found:
            try:
                change = _fetch(ctx, store, source.url, crawl_site=source.crawl, source=source)
            except CitebotError as error:
                store.finish_sync(source.id, "failed", str(error), None)
                say(ctx.err, WARNING, f"{source.url} was not synced: {error}")
                status = EXIT_ERROR
                continue
            status = max(status, _settle(ctx, change, "Synced"))
        return status
    finally:
        store.close()


def sources_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot sources [--json]``, ``citebot sources schedule ID never|daily|weekly`` and
    ``citebot sources remove ID``, each with ``--collection NAME``."""
    from bot.state.schedules import SCHEDULES  # not bot.state.sources: every command parses these

    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--collection", metavar="NAME", default=argparse.SUPPRESS,
        help="the sources of collection NAME (default: the default collection)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    schedule = actions.add_parser("schedule", help="change how often a source is synced")
    schedule.add_argument("id", type=int, metavar="ID", help="the source's number (see the list)")
    schedule.add_argument("every", choices=SCHEDULES, help="never, daily or weekly")
    remove = actions.add_parser("remove", help="remove a source and its pages, then build")
    remove.add_argument("id", type=int, metavar="ID", help="the source's number (see the list)")
    for action in (schedule, remove):
        action.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
        action.add_argument("--collection", metavar="NAME", default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)


@command(
    "sources",
    "list the collection's crawled sites and added addresses, change a schedule, remove one",
    sources_arguments,
)
def cmd_sources(ctx: Context) -> int:
    """The sources ``citebot sync`` and the bot keep current, and what the operator may change."""
    from datetime import UTC, datetime

    from bot.core import sites

    store = _open_store(ctx)
    try:
        action = getattr(ctx.args, "action", None)
        if action is not None:
            source = store.by_id(ctx.collection, ctx.args.id)
            if source is None:
                raise CitebotError(
                    f"collection {ctx.collection} has no source {ctx.args.id}: "
                    "`citebot sources` lists them"
                )
            if action == "schedule":
                store.set_schedule(source.id, ctx.args.every)
                ctx.out.print(f"{printable(source.url)} is synced {ctx.args.every} now"
                              if ctx.args.every != "never"
                              else f"{printable(source.url)} is no longer synced by itself",
                              markup=False, highlight=False, soft_wrap=True)
                return EXIT_OK
            removed = sites.remove_source(ctx.settings.source_dir, store, source)
            ctx.out.print(f"Removed {printable(source.url)} and its {len(removed)} page(s)",
                          markup=False, highlight=False, soft_wrap=True)
            build(ctx)
            return EXIT_OK
        found = store.of_collection(ctx.collection)
    finally:
        store.close()

    def when(stamp: float | None) -> str:
        return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC") if stamp else ""

    rows = [
        {
            "id": source.id, "url": source.url, "kind": "site" if source.crawl else "page",
            "schedule": source.schedule, "synced": when(source.synced_at),
            "result": source.result, "detail": source.detail,
        }
        for source in found
    ]
    if ctx.args.json:
        ctx.out.out(to_json(rows), highlight=False)
        return EXIT_OK
    if not rows:
        ctx.out.print(f"Collection {ctx.collection} has no sources: add a site with "
                      "`citebot add URL --crawl`.", markup=False, highlight=False)
        return EXIT_OK
    from rich.table import Table

    table = Table("id", "address", "kind", "schedule", "last sync", "result",
                  title=f"Sources of {ctx.collection}")
    for row in rows:
        table.add_row(str(row["id"]), printable(str(row["url"])), str(row["kind"]),
                      str(row["schedule"]), str(row["synced"]) or "never",
                      printable(f"{row['result']} {row['detail']}".strip()))
    ctx.out.print(table)
    return EXIT_OK


def register_page(ctx: Context, url: str, name: str) -> None:
    """Record an added web address as a source (a warning, not a failure, when the state
    database cannot be written: the document is added either way)."""
    from bot.core import sites
    from bot.state.database import StateError

    try:
        store = _open_store(ctx)
        try:
            sites.record_single_page(store, ctx.collection, url, name,
                                     (ctx.base_settings or ctx.settings).sync_default)
        finally:
            store.close()
    except StateError as error:
        say(ctx.err, WARNING, f"{name} is added, but not as a source for `citebot sync`: {error}")


def forget_page(ctx: Context, name: str) -> None:
    """A document was removed by hand: a single address whose page it was stops being a source;
    a crawled site's page stays out of its syncs (said on stdout). A warning when the state
    database cannot be written."""
    from bot.core import sites
    from bot.state.database import StateError

    try:
        store = _open_store(ctx)
        try:
            site = sites.forget_document(store, ctx.collection, name)
        finally:
            store.close()
    except StateError as error:
        say(ctx.err, WARNING, f"{printable(name)} is removed, but the sources could not be "
            f"updated: {error}; `citebot sync` may add it again")
        return
    if site is not None:
        ctx.out.print(
            f"It stays out of the syncs of {printable(site.url)}, though the site lists it; "
            "adding it again by its address (`citebot add URL`) or removing the source "
            "(`citebot sources remove ID`) lifts that.",
            markup=False, highlight=False, soft_wrap=True,
        )


def _open_store(ctx: Context) -> SourceStore:
    from bot.state.database import location_of
    from bot.state.sources import SourceStore

    return SourceStore(location_of(ctx.base_settings or ctx.settings))


def _fetch(
    ctx: Context, store: SourceStore, url: str, *, crawl_site: bool, source: Source | None = None
) -> SiteChange:
    from bot.core import sites

    settings = ctx.base_settings or ctx.settings
    with progress_bar(ctx.err, "Fetching pages") as progress:
        return sites.fetch_source(
            ctx.settings.source_dir, store, ctx.collection, url, sites.crawl_limits(settings),
            crawl_site=crawl_site, schedule=settings.sync_default,
            allow_private=True,  # the operator's own machine: local servers are fine
            user_agent=f"citebot/{__version__}",
            progress=lambda seen: progress(seen.fetched + seen.skipped, max(1, seen.found)),
        )


def _settle(ctx: Context, change: SiteChange, verb: str) -> int:
    """Build when anything changed, then record the sync (or undo it when the build fails)."""
    report = change.report
    for note in report.notes:
        say(ctx.err, NOTE, note)
    for url, reason in change.failed:
        say(ctx.err, WARNING, f"{url}: {reason}; the earlier copy is kept")
    for url, reason in change.skipped[:20]:
        say(ctx.err, NOTE, f"skipped {url}: {reason}")
    if len(change.skipped) > 20:
        say(ctx.err, NOTE, f"… and {len(change.skipped) - 20} more skipped")
    if change.over_limit:
        say(ctx.err, WARNING, f"{len(change.over_limit)} page(s) not added: {change.limit_note}")
    ctx.out.print(
        f"{verb} {printable(change.url)} ({report.mode}) in {report.seconds:.1f} s: "
        f"{change.summary()}",
        markup=False, highlight=False, soft_wrap=True,
    )
    for what, names, count in change.named(20):
        more = f" (and {count - len(names)} more)" if count > len(names) else ""
        ctx.out.print(f"  {what}: {printable(', '.join(names))}{more}", markup=False,
                      highlight=False, soft_wrap=True)
    if change.any_change:
        try:
            build(ctx)
        except BaseException as error:
            change.undo(f"the build failed: {type(error).__name__}")
            raise
    change.keep()
    return EXIT_OK
