"""``/reindex``: rebuild the index from the sources while the old one keeps answering."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.discord.monitoring.metrics import BUILD_OK
from bot.discord.utils.checks import Refusal, owner_only
from bot.discord.utils.errors import user_message
from bot.discord.utils.places import SERVERS_ONLY, placed
from bot.discord.utils.progress import deliver
from bot.discord.utils.render import render_build_report
from bot.discord.utils.replies import REBUILD_RUNNING
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

# Global commands cannot be hidden per user: Discord shows /reindex to server administrators
# only (no permissions = administrators) and the owner check decides who may run it.
@app_commands.default_permissions()
@app_commands.guild_only()
@owner_only()
async def reindex_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/reindex: rebuild the index from the sources, one rebuild at a time, then report."""
    bot = cast("CitebotBot", interaction.client)
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if bot.rebuild_lock.locked():
        raise Refusal(REBUILD_RUNNING)
    async with bot.rebuild_lock:
        started = bot.clock()
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            await bot.in_worker(bot.ensure_loaded)
            # Its own thread: the search worker keeps answering from the old index meanwhile.
            report = await asyncio.to_thread(bot.engine.rebuild)
        except Exception as error:
            bot.metrics.build(type(error).__name__)
            text = user_message(error, "/reindex", bot.metrics)
        else:
            bot.metrics.build(BUILD_OK)
            log.info("index rebuilt: %s documents, %s chunks", report.documents, report.chunks)
            text = render_build_report(report)
        await deliver_report(bot, interaction, text, started)


async def deliver_report(
    bot: CitebotBot, interaction: discord.Interaction[Any], text: str, started: float
) -> None:
    """Reply with the result while the interaction's token lives (15 minutes); after that, or
    when Discord refuses the follow-up, post it in the channel; failing that, log it."""
    await deliver(bot, interaction, text, started, "/reindex")


def commands(settings: Settings) -> list[app_commands.Command[Any, ..., Any]]:
    """This feature's slash commands (fresh objects: each bot gets its own), with where
    they may run."""
    return [
        placed(
            app_commands.Command(
                name="reindex",
                description="Rebuild the index from the source documents (bot owners only)",
                callback=reindex_command,
            ),
            SERVERS_ONLY,
        )
    ]
