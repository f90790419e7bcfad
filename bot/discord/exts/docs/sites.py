"""Crawled sites on Discord: ``/docs add url:… crawl:True``, ``/docs sync``, ``/docs sources
list|schedule|remove``, and the scheduler that runs due syncs by itself.

Every change goes through :mod:`bot.core.sites` (the command line's too) and ONE build of the
server's collection through the build queue. Only server managers change sources, only of their
own server (``collection_for_guild``; a source id from another server finds nothing). Progress
edits come at most every ``PROGRESS_EDIT_SECONDS``: pages found / fetched / skipped. Messages
are fixed texts, counts, and the fetcher's own one-line reasons (folders named in words), never
an exception's text.

The scheduler runs in every bot process, but only the one holding the ``sync`` lease row in
the state database works (not shard 0's say-so: a dead holder's lease expires and another takes
over); it syncs due sources one at a time, renewing the lease while a sync runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot import __version__
from bot.core import documents, sites
from bot.core.builds import BuildOutcome
from bot.core.collections import collection_for_guild, guild_of
from bot.discord.exts.docs.audit import Audit, manager_of, start
from bot.discord.exts.docs.uploads import room_in, server_lock, shown
from bot.discord.utils.checks import Refusal
from bot.discord.utils.progress import (
    DEFAULT_BUILD_KEY,
    BuildProgress,
    deliver,
    public_message,
    queued_build,
    render_failure,
    render_rebuilt,
    serve_new_default,
)
from bot.discord.utils.render import (
    COLOUR_FOUND,
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    clip,
    escape_clipped,
)
from bot.discord.utils.replies import NO_MENTIONS
from index.errors import SourceError
from index.ingest.crawler import CrawlLimits, CrawlProgress
from index.ingest.fetcher import FetchError, FetchLimits

if TYPE_CHECKING:
    from bot.core.sites import SiteChange
    from bot.discord.client import CitebotBot
    from bot.state.sources import Source

log = logging.getLogger("citebot.discord")

PROBLEM_CHARS = 500
CHANGE_TEXT_CHARS = 1_400  # of a message's 2,000: the build's result follows
LISTED_NOTES = 4  # what the crawl cut or could not read (a few kinds, one line each)
LISTED_REASONS = 3  # failed and skipped pages shown with their reasons, each
REASON_CHARS = 120
NO_SOURCES = (
    "This server has no crawled sites yet. A manager can add one with "
    "`/docs add url:<address> crawl:True`."
)
UNKNOWN_SOURCE = "This server has no such source: `/docs sources list` shows them."
SCHEDULE_SECONDS = 300.0  # how often the scheduler looks for due syncs
LEASE_NAME = "sync"
LEASE_SECONDS = 30 * 60.0  # renewed before and during each sync; a dead holder's expires
LEASE_RENEW_SECONDS = LEASE_SECONDS / 3  # how often a sync in progress renews it


def _pages_line(seen: CrawlProgress) -> str:
    return f"Pages found: {seen.found}, fetched: {seen.fetched}, skipped: {seen.skipped}"


async def fetch_site(
    bot: CitebotBot,
    guild_id: int | None,
    collection: str,
    url: str,
    *,
    crawl_site: bool,
    progress: BuildProgress | None,
    title: str,
) -> SiteChange:
    """Crawl or sync ``url`` into ``collection`` within the server's limits (a thread does the
    work); Refusal with the reason when the start address cannot be used."""
    settings = bot.settings
    limits = sites.crawl_limits(settings)
    folder_limits = sites.FolderLimits()
    if guild_id is not None:
        room = await room_in(bot, collection)
        room.check(0)  # the count, and bytes already full
        left_everywhere = room.all_servers_max_bytes - room.all_servers_bytes
        folder_limits = sites.FolderLimits(
            room.limits.max_documents,
            min(room.limits.max_bytes, room.total_bytes + left_everywhere),
        )
        page_bytes = min(settings.max_source_bytes, room.limits.max_file_bytes)
        limits = CrawlLimits(
            FetchLimits(page_bytes, limits.page.timeout_seconds, limits.page.max_redirects),
            max_pages=limits.max_pages, delay_seconds=limits.delay_seconds,
            concurrency=limits.concurrency, max_sitemap_bytes=limits.max_sitemap_bytes,
        )
    loop = asyncio.get_running_loop()

    def tell(seen: CrawlProgress) -> None:
        if progress is not None:
            loop.call_soon_threadsafe(progress.show, f"{title}\n{_pages_line(seen)}")

    source_dir = bot.collections.settings_for(collection).source_dir
    try:
        return await asyncio.to_thread(
            sites.fetch_source, source_dir, bot.sources, collection, url, limits,
            crawl_site=crawl_site, schedule=settings.sync_default, folder_limits=folder_limits,
            allow_private=settings.fetch_private_addresses,
            user_agent=f"citebot/{__version__}", progress=tell,
        )
    except (FetchError, SourceError) as error:
        reason = public_message(str(error), settings, collection)
        raise Refusal(
            f"I couldn't fetch that site: {escape_clipped(reason, PROBLEM_CHARS)}"
        ) from None


def change_text(change: SiteChange, scrub: Callable[[str], str] = str) -> str:
    """What a crawl or sync did, for a message: counts, what was bounded (the crawl's notes),
    the first few pages that failed or were skipped with the fetcher's one-line reasons
    (``scrub`` names the bot's folders in words), then the names of what changed; within
    ``CHANGE_TEXT_CHARS``, problems first."""
    text = f"Pages: {change.summary()}."
    if change.over_limit:
        text += f"\n{len(change.over_limit)} page(s) were not added: {change.limit_note}."
    notes = change.report.notes
    if notes:
        text += f"\n{len(notes)} note(s):" + _first(notes, scrub, LISTED_NOTES)
    if change.failed:
        text += f"\n{len(change.failed)} page(s) could not be fetched this time:" + _first(
            [_reason(url, why) for url, why in change.failed], scrub
        )
    if change.skipped:
        text += f"\n{len(change.skipped)} page(s) skipped:" + _first(
            [_reason(url, why) for url, why in change.skipped], scrub
        )
    for what, names, count in change.named(5):
        more = f" and {count - len(names)} more" if count > len(names) else ""
        text += f"\n{what.capitalize()}: " + ", ".join(shown(name) for name in names) + more
    return clip(text, CHANGE_TEXT_CHARS)


def _reason(url: str, why: str) -> str:
    """A page's reason, naming the page when the reason does not."""
    return why if url in why else f"{url}: {why}"


def _first(lines: list[str], scrub: Callable[[str], str], count: int = 0) -> str:
    """The first ``count`` (``LISTED_REASONS``) lines as escaped bullet lines, and how many
    more there are."""
    count = count or LISTED_REASONS
    shown_lines = "".join(
        f"\n• {escape_clipped(scrub(line), REASON_CHARS)}" for line in lines[:count]
    )
    more = len(lines) - count
    return shown_lines + (f"\n… and {more} more" if more > 0 else "")


async def settle(
    bot: CitebotBot, change: SiteChange, outcome: BuildOutcome | None, collection: str
) -> tuple[bool, str]:
    """Keep the change after a good build (or none needed), undo it after a failed one; the
    result and the text for the user."""
    def scrub(message: str) -> str:
        return public_message(message, bot.settings, collection)

    if outcome is None or outcome.ok:
        await asyncio.to_thread(change.keep)
        text = change_text(change, scrub)
        if outcome is not None:
            text += "\n" + render_rebuilt(outcome)
        return True, text
    await asyncio.to_thread(change.undo, f"the build failed: {outcome.error_kind}")
    text = (
        change_text(change, scrub) + "\nNone of it was kept: every page is as it was.\n"
        + render_failure(outcome, bot.settings, collection)
    )
    return False, text


async def crawl_command_part(
    bot: CitebotBot, interaction: discord.Interaction[Any], guild_id: int, url: str,
    audit: Any,
) -> str:
    """``/docs add url:… crawl:True`` after the first answer: crawl, build once, settle; the
    text of the result. Refusals propagate (the audit records them)."""
    collection = collection_for_guild(guild_id)
    title = f"Crawling **{shown(url)}**…"
    progress = BuildProgress(bot, interaction, title)
    try:
        async with server_lock(bot, guild_id):
            change = await fetch_site(bot, guild_id, collection, url, crawl_site=True,
                                      progress=progress, title=title)
    finally:
        await progress.finish()
    outcome = None
    if change.any_change:
        outcome = await queued_build(bot, interaction, f"{title}\n{change.summary()}; rebuilding…",
                                     collection)
    ok, text = await settle(bot, change, outcome, collection)
    await audit.record("ok" if ok else "failed", change.audit_detail())
    return clip(f"Crawled **{shown(url)}**.\n{text}", CONTENT_LIMIT)


# ----- /docs sync --------------------------------------------------------------------------------


async def sync_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/docs sync: fetch this server's sites again now (only what changed is embedded)."""
    bot = interaction.client
    guild_id = await manager_of(interaction)
    collection = collection_for_guild(guild_id)
    async with Audit(bot, guild_id, interaction.user.id, "sync", collection) as audit:
        found = await asyncio.to_thread(bot.sources.of_collection, collection)
        if not found:
            raise Refusal(NO_SOURCES)
        started = await start(interaction, f"Syncing {len(found)} source(s)…")
        texts = []
        for source in found:  # each source's sync is an audit entry of its own
            _, text = await sync_one(bot, source, interaction)
            texts.append(f"**{shown(source.url)}**: {text}")
        audit.done = True
    await deliver(bot, interaction, clip("\n".join(texts), CONTENT_LIMIT), started, "/docs sync")


async def sync_one(
    bot: CitebotBot, source: Source, interaction: discord.Interaction[Any] | None
) -> tuple[bool, str]:
    """Sync one source and build its collection once (through the queue); (ok, text). Used by
    ``/docs sync`` and by the scheduler (no interaction: no progress shown)."""
    collection = source.collection
    guild_id = guild_of(collection)
    title = f"Syncing **{shown(source.url)}**…"
    progress = BuildProgress(bot, interaction, title) if interaction is not None else None
    try:
        lock = server_lock(bot, guild_id) if guild_id is not None else contextlib.nullcontext()
        async with lock:
            change = await fetch_site(bot, guild_id, collection, source.url,
                                      crawl_site=source.crawl, progress=progress, title=title)
    except Refusal as refusal:
        await asyncio.to_thread(bot.sources.finish_sync, source.id, "failed", str(refusal), None)
        if guild_id is not None:
            await _audit(bot, guild_id, interaction, source, "failed", str(refusal))
        return False, str(refusal)
    finally:
        if progress is not None:
            await progress.finish()
    outcome = None
    if change.any_change:
        outcome = await _build(bot, interaction, collection, f"{title}\n{change.summary()}")
    ok, text = await settle(bot, change, outcome, collection)
    if guild_id is not None:
        await _audit(bot, guild_id, interaction, source, "ok" if ok else "failed",
                     change.audit_detail())
    return ok, text


async def _audit(
    bot: CitebotBot, guild_id: int, interaction: discord.Interaction[Any] | None,
    source: Source, result: str, detail: str,
) -> None:
    """A sync's audit entry: by the manager who ran ``/docs sync``, or by the bot itself."""
    if interaction is not None:
        who = interaction.user.id
    else:
        who = bot.user.id if bot.user is not None else 0
    await asyncio.to_thread(bot.servers.record, guild_id, who, "sync", source.url, result,
                            detail)


async def _build(
    bot: CitebotBot, interaction: discord.Interaction[Any] | None, collection: str, title: str
) -> BuildOutcome:
    if interaction is not None:
        return await queued_build(bot, interaction, title, collection)
    if collection == "default":
        outcome = await bot.builds.submit(key=DEFAULT_BUILD_KEY, settings=bot.engine.settings)
        if outcome.ok:
            await bot.in_worker(serve_new_default, bot)
        return outcome
    outcome = await bot.builds.submit(key=collection, settings=bot.settings,
                                      collection=collection)
    if outcome.ok:
        bot.collections.unload(collection)
    return outcome


# ----- /docs sources -----------------------------------------------------------------------------


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_sources(found: list[Source]) -> discord.Embed:
    """This server's sources with their schedule and last sync, within an embed's limits."""
    if not found:
        return discord.Embed(title="Sources", description=NO_SOURCES, colour=COLOUR_FOUND)
    lines = []
    for source in found:
        kind = "site" if source.crawl else "page"
        result = source.result or "not synced yet"
        lines.append(
            f"`{source.id}` {kind} {escape_clipped(source.url, 200)} — {source.schedule}; "
            f"last sync {_when(source.synced_at)}: {escape_clipped(result, 20)}"
            + (f" ({escape_clipped(source.detail, 150)})" if source.detail else "")
        )
    return discord.Embed(title="Sources", description=clip("\n".join(lines), DESCRIPTION_LIMIT),
                         colour=COLOUR_FOUND)


async def sources_list_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/docs sources list: this server's crawled sites, their schedules and last syncs."""
    guild_id = interaction.guild_id
    if guild_id is None:
        raise Refusal("This command works in a server.")
    found = await asyncio.to_thread(interaction.client.sources.of_collection,
                                    collection_for_guild(guild_id))
    await interaction.response.send_message(embed=render_sources(found), ephemeral=True,
                                            allowed_mentions=NO_MENTIONS)


async def _own_source(bot: CitebotBot, guild_id: int, source_id: int) -> Source:
    found = await asyncio.to_thread(bot.sources.by_id, collection_for_guild(guild_id), source_id)
    if found is None:
        raise Refusal(UNKNOWN_SOURCE)
    return found


@app_commands.describe(source="The source's number (`/docs sources list`)",
                       every="How often the bot syncs it")
@app_commands.choices(every=[app_commands.Choice(name=value, value=value)
                             for value in ("never", "daily", "weekly")])
async def sources_schedule_command(
    interaction: discord.Interaction[CitebotBot],
    source: int,
    every: str,
) -> None:
    """/docs sources schedule: how often one source is synced (never, daily, weekly)."""
    bot = interaction.client
    guild_id = await manager_of(interaction)
    async with Audit(bot, guild_id, interaction.user.id, "sources", f"schedule {source}") as audit:
        if every not in ("never", "daily", "weekly"):
            raise Refusal("Choose never, daily or weekly.")
        found = await _own_source(bot, guild_id, source)
        audit.target = found.url
        await asyncio.to_thread(bot.sources.set_schedule, found.id, every)
        await audit.record("ok", f"schedule {every}")
    await interaction.response.send_message(
        f"**{shown(found.url)}** is now synced {every}." if every != "never"
        else f"**{shown(found.url)}** is no longer synced by itself (`/docs sync` still does).",
        ephemeral=True, allowed_mentions=NO_MENTIONS,
    )


@app_commands.describe(source="The source's number (`/docs sources list`)")
async def sources_remove_command(interaction: discord.Interaction[CitebotBot], source: int) -> None:
    """/docs sources remove: remove a source and all its pages, then rebuild."""
    bot = interaction.client
    guild_id = await manager_of(interaction)
    collection = collection_for_guild(guild_id)
    async with Audit(bot, guild_id, interaction.user.id, "sources", f"remove {source}") as audit:
        found = await _own_source(bot, guild_id, source)
        audit.target = found.url
        started = await start(interaction, f"Removing **{shown(found.url)}** and its pages…")
        source_dir = bot.collections.settings_for(collection).source_dir
        async with server_lock(bot, guild_id):
            removed = await asyncio.to_thread(sites.remove_source, source_dir, bot.sources, found)
        present = await asyncio.to_thread(bot.collections.documents, collection)
        if not present:
            await asyncio.to_thread(documents.delete_collection, bot.collections, collection)
            await audit.record("ok", f"{len(removed)} page(s) removed; no documents left")
            text = (f"Removed **{shown(found.url)}** and its {len(removed)} page(s); "
                    "no documents left.")
        else:
            outcome = await queued_build(bot, interaction, "Rebuilding…", collection)
            await audit.record("ok" if outcome.ok else "failed", f"{len(removed)} page(s) removed")
            text = (f"Removed **{shown(found.url)}** and its {len(removed)} page(s).\n"
                    + (render_rebuilt(outcome) if outcome.ok
                       else render_failure(outcome, bot.settings, collection)))
    await deliver(bot, interaction, clip(text, CONTENT_LIMIT), started, "/docs sources remove")


def register(group: app_commands.Group) -> None:
    """Add ``sync`` and the ``sources`` subgroup to ``/docs``."""
    group.add_command(app_commands.Command(
        name="sync", description="Fetch this server's crawled sites again now (managers only)",
        callback=sync_command,
    ))
    sources = app_commands.Group(name="sources", description="This server's crawled sites")
    sources.add_command(app_commands.Command(
        name="list", description="This server's crawled sites: schedule and last sync",
        callback=sources_list_command,
    ))
    sources.add_command(app_commands.Command(
        name="schedule", description="How often the bot syncs a source (managers only)",
        callback=sources_schedule_command,
    ))
    sources.add_command(app_commands.Command(
        name="remove", description="Remove a source and its pages (managers only)",
        callback=sources_remove_command,
    ))
    group.add_command(sources)


# ----- the scheduler -----------------------------------------------------------------------------


def holder_name() -> str:
    """This process's name on the lease: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def run_due_syncs(bot: CitebotBot, holder: str) -> int:
    """Sync every due source, one at a time, while this process holds the lease; how many
    were synced (0 when another process holds it)."""
    done = 0
    while True:
        if not await asyncio.to_thread(bot.sources.acquire_lease, LEASE_NAME, holder,
                                       LEASE_SECONDS):
            return done
        due = await asyncio.to_thread(bot.sources.due)
        if not due:
            return done
        source = due[0]
        try:
            async with holding_lease(bot, holder):
                ok, _ = await sync_one(bot, source, None)
        except Exception:
            log.exception("the scheduled sync of source %s failed", source.id)
            await asyncio.to_thread(bot.sources.finish_sync, source.id, "failed",
                                    "unexpected error", None)
        else:
            log.info("scheduled sync of source %s (%s): %s", source.id, source.collection,
                     "ok" if ok else "failed")
        done += 1


@contextlib.asynccontextmanager
async def holding_lease(bot: CitebotBot, holder: str) -> AsyncIterator[None]:
    """Keep the sync lease while the block runs (a sync can outlast the lease): renew it every
    ``LEASE_RENEW_SECONDS``, so no other process starts syncing meanwhile; a renewal that finds
    the lease taken (this process stalled past its expiry) is logged."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_RENEW_SECONDS)
            try:
                kept = await asyncio.to_thread(
                    bot.sources.acquire_lease, LEASE_NAME, holder, LEASE_SECONDS
                )
            except Exception:
                log.exception("could not renew the sync lease; retrying")
                continue
            if not kept:
                log.warning("the sync lease was taken by another process during a sync")

    task = asyncio.create_task(renew(), name="citebot-sync-lease")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def schedule_forever(bot: CitebotBot, every: float = SCHEDULE_SECONDS) -> None:
    """Run due syncs now, then every ``every`` seconds, until cancelled."""
    holder = holder_name()
    try:
        while True:
            try:
                await run_due_syncs(bot, holder)
            except Exception:
                log.exception("looking for due syncs failed; retrying in %g s", every)
            await asyncio.sleep(every)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(bot.sources.release_lease, LEASE_NAME, holder)

