"""The bot's life in servers: removal and return, and deleting the documents of servers that
removed the bot more than ``removed_server_grace_days`` ago.

Removing the bot from a server keeps its documents for the grace period (the admins may have
removed it by mistake); inviting it back within the period keeps them for good. An hourly sweep
deletes the rest: the collection folder (documents and index) and everything the state database
keeps about the server. A deletion refused because a build of that collection runs is retried at
the next sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord

from bot.core import documents
from bot.core.collections import guild_of
from bot.state.database import StateError
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

SWEEP_SECONDS = 3600.0


async def guild_removed(bot: CitebotBot, guild: discord.Guild) -> None:
    """The bot was removed from ``guild``: its documents are kept for the grace period."""
    await asyncio.to_thread(bot.servers.mark_removed, guild.id)
    log.info(
        "removed from server %s; its documents are deleted in %d day(s) unless invited back",
        guild.id,
        bot.settings.removed_server_grace_days,
    )


async def guild_joined(bot: CitebotBot, guild: discord.Guild) -> None:
    """The bot joined ``guild`` (again): none of its documents is due for deletion any more."""
    await asyncio.to_thread(bot.servers.mark_returned, guild.id)
    log.info("joined server %s", guild.id)


def reconcile(bot: CitebotBot, present: list[int]) -> None:
    """On connecting (blocking): the servers in ``present`` are not removed; a server with a
    collection on disk that is not among them removed the bot while it was offline (no event
    came), so its grace period starts now."""
    here = set(present)
    for present_id in here:
        bot.servers.mark_returned(present_id)
    for name in bot.collections.names():
        guild_id = guild_of(name)
        if guild_id is not None and guild_id not in here and served_here(bot, guild_id):
            bot.servers.mark_removed(guild_id)
            log.warning(
                "collection %s belongs to server %s, which the bot is not in: it is deleted "
                "after the grace period unless the bot is invited there",
                name,
                guild_id,
            )


def served_here(bot: CitebotBot, guild_id: int) -> bool:
    """Whether this process's gateway shard(s) (CITEBOT_DISCORD_SHARD_COUNT and _IDS) would
    see server ``guild_id`` (Discord's rule: ``(id >> 22) % shard_count``). Another shard's
    server is not missing from this one's list: it must never be taken for a server that
    removed the bot."""
    count = bot.settings.discord_shard_count or 1
    if count <= 1:
        return True
    return (guild_id >> 22) % count in bot.settings.shards_here


async def on_connected(bot: CitebotBot) -> None:
    """``on_ready``: reconcile the removal marks with the servers the bot is in now."""
    if not bot.intents.guilds:  # without the guilds intent the list would be empty
        return
    try:
        await asyncio.to_thread(reconcile, bot, [guild.id for guild in bot.guilds])
    except StateError:
        if not bot.is_closed():
            raise
        # Closed meanwhile (a shutdown right after connecting): its stores are closed, and the
        # next start reconciles again.
        log.info("stopped before the servers were reconciled; the next start does it")


def sweep(bot: CitebotBot) -> list[int]:
    """Delete the documents and state of every server past its grace period (blocking); returns
    the servers deleted. A server whose collection is being built is kept for the next sweep."""
    deleted = []
    for guild_id in bot.servers.due_for_deletion(bot.settings.removed_server_grace_days):
        try:
            documents.forget_server(bot.collections, bot.servers, guild_id, bot.sources,
                                    bot.thread_sources)
        except StateError:
            raise
        except (CitebotError, OSError) as error:  # a build runs (BuildInProgressError), ...
            log.warning("server %s: documents not deleted yet (%s); retry later", guild_id, error)
            continue
        log.warning(
            "deleted the documents and settings of server %s (removed the bot more than %d day(s) "
            "ago)",
            guild_id,
            bot.settings.removed_server_grace_days,
        )
        deleted.append(guild_id)
    return deleted


async def sweep_forever(bot: CitebotBot, every: float = SWEEP_SECONDS) -> None:
    """Sweep now, then every ``every`` seconds, until cancelled; a failed sweep is logged."""
    while True:
        try:
            await asyncio.to_thread(sweep, bot)
        except Exception:
            log.exception("the sweep of removed servers failed; retrying in %g s", every)
        await asyncio.sleep(every)


def start_sweeper(bot: CitebotBot) -> asyncio.Task[None]:
    """Start the hourly sweep on the running loop."""
    return asyncio.get_running_loop().create_task(sweep_forever(bot), name="citebot-sweeper")


async def stop_sweeper(task: asyncio.Task[None] | None) -> None:
    """Cancel the sweep (a sweep in progress finishes its current server on its thread)."""
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
