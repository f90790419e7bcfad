"""``/docs add``, ``/docs remove`` and ``/docs reindex``: the commands that change a server's
documents and rebuild its index through the build queue, showing progress, then the result.

Only server managers (``permissions.require_manager``) may use them, only ever on the server's own
collection (``collection_for_guild``; never a name from the user, never ``default``). Every
outcome but a permission refusal is written to the server's audit log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.core import documents
from bot.core import sites as core_sites
from bot.core.builds import TIMED_OUT, BuildOutcome
from bot.core.collections import collection_for_guild
from bot.core.documents import Pending
from bot.discord.exts.docs import sites
from bot.discord.exts.docs import threads as thread_sources
from bot.discord.exts.docs.audit import Audit, manager_of, start
from bot.discord.exts.docs.uploads import (
    attachment_name,
    download,
    fetch_document,
    room_in,
    server_lock,
    shown,
)
from bot.discord.utils.checks import Refusal
from bot.discord.utils.progress import (
    deliver,
    public_message,
    queued_build,
    render_failure,
    render_rebuilt,
    skipped_of,
)
from bot.discord.utils.render import CONTENT_LIMIT, clip, escape_clipped, plain_name
from index.build.build_lock import BuildInProgressError

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

MAX_CHOICES = 25
CHOICE_CHARS = 100  # Discord's limit for a choice's name and value
MAX_URL_CHARS = 2000
ONE_SOURCE = (
    "Give one of a `file` (an attachment), a `url` or a `channel`, not several and not none."
)
NOTHING_TO_REBUILD = (
    "This server has no documents yet: nothing to rebuild. Add one with `/docs add`."
)
ONE_TO_REMOVE = "Give either a document's `name` or a source `channel`, not both and not neither."
CRAWL_NEEDS_URL = "`crawl:True` crawls a web site: give its address as `url`."
BUILD_RUNNING = (
    "This server's documents are being rebuilt right now; try again when that has finished."
)


async def build(
    bot: CitebotBot, interaction: discord.Interaction[Any], guild_id: int, title: str
) -> BuildOutcome:
    """Queue a build of the server's collection and show its progress until it ends."""
    return await queued_build(bot, interaction, title, collection_for_guild(guild_id))


# ----- /docs add ---------------------------------------------------------------------------------


@app_commands.describe(
    file="A document to add (.txt, .md, .html, .pdf, .docx)",
    url="Or the web address of a document to add",
    crawl="With url: add the whole site under that address, and keep it in sync",
    channel="Or a forum or text channel whose solved threads become a source",
    solved="With channel: which threads count as solved (default: tag if given, else ✅)",
    tag="With channel and solved:tag, the forum tag that marks a thread solved",
    private="With a channel @everyone cannot view: accept it; its threads are quoted only in it",
)
@app_commands.choices(solved=[
    app_commands.Choice(name=words, value=value)
    for value, words in thread_sources.SOLVED_CHOICES.items()
])
async def add_command(
    interaction: discord.Interaction[CitebotBot],
    file: discord.Attachment | None = None,
    url: str | None = None,
    crawl: bool = False,
    channel: discord.TextChannel | discord.ForumChannel | None = None,
    solved: str | None = None,
    tag: str | None = None,
    private: bool = False,
) -> None:
    """/docs add: add a document (or a channel's threads) to this server's collection and
    rebuild its index."""
    bot = interaction.client
    guild_id = await manager_of(interaction)
    target = file.filename if file is not None else (url or "")
    if channel is not None:
        target = f"#{channel.name}"
    async with Audit(bot, guild_id, interaction.user.id, "add", target) as audit:
        if channel is not None:
            if file is not None or url is not None:
                raise Refusal(ONE_SOURCE)
            await thread_sources.add_channel(bot, interaction, guild_id, channel, solved, tag,
                                             audit, private=private)
            return
        if (file is None) == (url is None):
            raise Refusal(ONE_SOURCE)
        if url is not None and len(url) > MAX_URL_CHARS:
            raise Refusal(f"That address is over {MAX_URL_CHARS} characters long.")
        if crawl:
            if url is None:
                raise Refusal(CRAWL_NEEDS_URL)
            audit.action = "crawl"
            started = await start(interaction, f"Crawling {shown(url)}…")
            text = await sites.crawl_command_part(bot, interaction, guild_id, url, audit)
            await deliver(bot, interaction, text, started, "/docs add")
            return
        wanted = attachment_name(file.filename) if file is not None else None
        started = await start(interaction, f"Adding {shown(wanted or url or '')}…")
        collection = collection_for_guild(guild_id)
        source_dir = bot.collections.settings_for(collection).source_dir
        pending: Pending | None = None
        try:
            async with server_lock(bot, guild_id):
                room = await room_in(bot, collection)
                if file is not None and wanted is not None:
                    room.check(file.size)  # before a single byte is downloaded
                    data = await download(file.url, room.largest_download(), room,
                                          bot.settings.fetch_timeout_seconds)
                    room.check(len(data))
                    pending = await asyncio.to_thread(documents.add_bytes, source_dir, wanted,
                                                      data)
                else:
                    # The same address again replaces its document: kept until the new copy
                    # is read, and not counted twice against the limits.
                    replaced = await asyncio.to_thread(documents.size_for_address, source_dir,
                                                       cast(str, url))
                    if replaced is not None:
                        room = room.without(replaced)
                    room.check(0)  # the count, and bytes already full
                    pending = await asyncio.to_thread(fetch_document, bot.settings, collection,
                                                      cast(str, url), room.largest_download(),
                                                      room)
            log.info("server %s: %s added %s; rebuilding", guild_id, interaction.user.id,
                     pending.name)
            outcome = await build(bot, interaction, guild_id,
                                  f"Added **{shown(pending.name)}**; rebuilding…")
            text = await added_report(bot, audit, guild_id, pending, outcome, interaction)
        finally:
            if pending is not None:
                await asyncio.to_thread(pending.keep)
    await deliver(bot, interaction, text, started, "/docs add")


async def added_report(
    bot: CitebotBot,
    audit: Audit,
    guild_id: int,
    pending: Pending,
    outcome: BuildOutcome,
    interaction: discord.Interaction[Any],
) -> str:
    """What the user is told after the build of an added document (taking it back when the
    build could not read it or ran out of time, putting back the copy it replaced and
    rebuilding), and the audit entry."""
    collection = collection_for_guild(guild_id)
    name = pending.name
    if outcome.ok:
        reason = skipped_of(outcome).get(name)
    elif outcome.error_kind == TIMED_OUT:  # kept, it would stall every later build the same way
        reason = public_message(outcome.message, bot.settings, collection)
    else:
        reason = await asyncio.to_thread(unusable_alone, bot, outcome, collection, name)
    if reason is None:
        if not outcome.ok:
            await audit.record("failed", f"saved; rebuild failed: {outcome.error_kind}")
            return clip(
                f"**{shown(name)}** is saved.\n"
                f"{render_failure(outcome, bot.settings, collection)}"
                "\nIt will be included in the next rebuild (`/docs reindex`).",
                CONTENT_LIMIT,
            )
        report = outcome.report or {}
        await audit.record(
            "ok", f"{report.get('documents')} documents, {report.get('chunks')} chunks"
        )
        if pending.added.url is not None:  # a web address: a source the bot keeps current
            await asyncio.to_thread(
                core_sites.record_single_page, bot.sources, collection,
                pending.added.requested or pending.added.url, name, bot.settings.sync_default,
            )
        return clip(f"Added **{shown(name)}**.\n{render_rebuilt(outcome)}", CONTENT_LIMIT)
    async with server_lock(bot, guild_id):
        taken_back = await asyncio.to_thread(pending.undo)
        if taken_back == "removed" and not outcome.ok:  # the server's first document
            await asyncio.to_thread(documents.delete_if_empty, bot.collections, collection)
    if taken_back == "restored":
        await audit.record("refused", f"not readable, earlier copy kept: {reason}")
        again = await build(bot, interaction, guild_id,
                            f"Putting back the earlier **{shown(name)}**; rebuilding…")
        text = (
            f"**{shown(name)}** was not updated: {escape_clipped(reason, 500)}\n"
            "The earlier copy is kept."
        )
        if again.ok:
            text += "\n" + render_rebuilt(again)
        else:
            text += "\n" + render_failure(again, bot.settings, collection)
        return clip(text, CONTENT_LIMIT)
    await audit.record("refused", f"not readable: {reason}")
    text = (
        f"**{shown(name)}** was not added: {escape_clipped(reason, 500)}\n"
        "Nothing else changed."
    )
    if outcome.ok:
        text += "\n" + render_rebuilt(outcome, leave_out=name)
    return clip(text, CONTENT_LIMIT)


def unusable_alone(
    bot: CitebotBot, outcome: BuildOutcome, collection: str, name: str
) -> str | None:
    """Why ``name`` could not be read, when the build failed because the server's only
    document (``name``) is unusable; else None. Blocking: run in a thread."""
    if outcome.error_kind != "SourceError":
        return None
    source_dir = bot.collections.settings_for(collection).source_dir
    present = [d.name for d in bot.collections.documents(collection)]
    if present != [name]:
        return None
    message = public_message(outcome.message, bot.settings, collection)
    prefix = f"no usable documents in {public_message(str(source_dir), bot.settings, collection)}: "
    return message.removeprefix(prefix) if message.startswith(prefix) else None


# ----- /docs remove ------------------------------------------------------------------------------


async def document_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """This server's document names containing what was typed (at most 25)."""
    if interaction.guild_id is None:
        return []
    bot = cast("CitebotBot", interaction.client)
    present = await asyncio.to_thread(
        bot.collections.documents, collection_for_guild(interaction.guild_id)
    )
    typed = current.casefold()
    names = [d.name for d in present if typed in d.name.casefold()][:MAX_CHOICES]
    return [
        app_commands.Choice(name=clip(plain_name(n), CHOICE_CHARS) or "?", value=choice_value(n))
        for n in names
    ]


def choice_value(name: str) -> str:
    """A choice value for ``name`` (Discord allows 100 characters: longer names are cut, and
    found again by their beginning)."""
    return name if len(name) <= CHOICE_CHARS else name[: CHOICE_CHARS - 1] + "…"


def find_document(names: list[str], given: str) -> str | None:
    """The document ``given`` names: exactly, or by the beginning a cut choice value keeps."""
    if given in names:
        return given
    if given.endswith("…") and len(given) == CHOICE_CHARS:
        found = [n for n in names if n.startswith(given[:-1])]
        return found[0] if len(found) == 1 else None
    return None


def kept_out_of_syncs(site: str) -> str:
    """What a removal says when the page belongs to a crawled site."""
    return (
        f"It stays out of the syncs of **{shown(site)}**, though the site lists it; adding it "
        "again by its address (`/docs add url:`) or removing that source "
        "(`/docs sources remove`) lifts that."
    )


@app_commands.describe(
    name="The document to remove (start typing to choose)",
    channel="Or a source channel: its threads stop being a source",
)
@app_commands.autocomplete(name=document_choices)
async def remove_command(
    interaction: discord.Interaction[CitebotBot], name: str | None = None,
    channel: discord.TextChannel | discord.ForumChannel | None = None,
) -> None:
    """/docs remove: delete one of this server's documents (or a source channel's threads) and
    rebuild its index."""
    bot = interaction.client
    guild_id = await manager_of(interaction)
    collection = collection_for_guild(guild_id)
    if (name is None) == (channel is None):
        raise Refusal(ONE_TO_REMOVE)
    if channel is not None:
        target = f"#{channel.name}"
        async with Audit(bot, guild_id, interaction.user.id, "channel", target) as audit:
            await thread_sources.remove_channel(bot, interaction, guild_id, channel, audit)
        return
    assert name is not None
    async with Audit(bot, guild_id, interaction.user.id, "remove", name) as audit:
        async with server_lock(bot, guild_id):
            present = await asyncio.to_thread(bot.collections.documents, collection)
            found = find_document([d.name for d in present], name)
            if found is None:
                raise Refusal(
                    f"This server has no document named **{shown(name)}**. `/docs list` shows "
                    "their names (or pick one while typing the name)."
                )
            audit.target = found
            started = await start(interaction, f"Removing **{shown(found)}**…")
            try:
                removed = await asyncio.to_thread(
                    documents.remove, bot.collections, collection, found
                )
            except BuildInProgressError:
                raise Refusal(BUILD_RUNNING) from None
            site = await asyncio.to_thread(
                core_sites.forget_document, bot.sources, collection, found
            )
            kept_out = "" if site is None else "\n" + kept_out_of_syncs(site.url)
            if removed == "deleted":
                await audit.record("ok", "last document: collection deleted")
                text = (
                    f"Removed **{shown(found)}**. It was this server's last document, so its "
                    "index is deleted too: questions here answer from the bot's shared "
                    f"documents only, if this server uses them.{kept_out}"
                )
                await deliver(bot, interaction, clip(text, CONTENT_LIMIT), started,
                              "/docs remove")
                return
        log.info("server %s: %s removed %s; rebuilding", guild_id, interaction.user.id, found)
        title = f"Removed **{shown(found)}**; rebuilding…"
        outcome = await build(bot, interaction, guild_id, title)
        if outcome.ok:
            await audit.record("ok", "rebuilt")
            text = f"Removed **{shown(found)}**.{kept_out}\n{render_rebuilt(outcome)}"
        else:
            await audit.record("failed", f"removed; rebuild failed: {outcome.error_kind}")
            text = (
                f"Removed **{shown(found)}**.{kept_out}\n"
                f"{render_failure(outcome, bot.settings, collection)}"
                "\nUntil a rebuild succeeds (`/docs reindex`), answers may still quote it."
            )
    await deliver(bot, interaction, clip(text, CONTENT_LIMIT), started, "/docs remove")


# ----- /docs reindex -----------------------------------------------------------------------------


async def reindex_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/docs reindex: rebuild this server's index from its documents."""
    bot = interaction.client
    guild_id = await manager_of(interaction)
    collection = collection_for_guild(guild_id)
    async with Audit(bot, guild_id, interaction.user.id, "reindex", collection) as audit:
        present = await asyncio.to_thread(bot.collections.documents, collection)
        if not present:
            raise Refusal(NOTHING_TO_REBUILD)
        started = await start(interaction, "Rebuilding this server's index…")
        outcome = await build(bot, interaction, guild_id, "Rebuilding this server's index…")
        if outcome.ok:
            await audit.record("ok", "rebuilt")
            text = f"Rebuilt.\n{render_rebuilt(outcome)}"
        else:
            await audit.record("failed", f"rebuild failed: {outcome.error_kind}")
            text = render_failure(outcome, bot.settings, collection)
    await deliver(bot, interaction, clip(text, CONTENT_LIMIT), started, "/docs reindex")


def register(group: app_commands.Group) -> None:
    """Add ``add``, ``remove`` and ``reindex`` to the ``/docs`` group (fresh command objects)."""
    for name, description, callback in (
        ("add", "Add a document (a file or a web address) to this server's documents",
         add_command),
        ("remove", "Remove one of this server's documents", remove_command),
        ("reindex", "Rebuild this server's index from its documents", reindex_command),
    ):
        group.add_command(
            app_commands.Command(name=name, description=description, callback=callback)
        )
