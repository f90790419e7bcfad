"""The ``reindex`` feature: ``/reindex`` rebuilds the shared index through the build queue (a
child process, as ``/docs`` builds), while the old index keeps answering; owners only, one at a
time, with progress in the reply and the result delivered even after the token expired."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.builds import BuildOutcome
from bot.discord.client import CitebotBot
from bot.discord.utils.checks import Refusal, owner_only
from bot.discord.utils.errors import build_failure_message
from bot.discord.utils.progress import deliver, queued_build
from bot.discord.utils.render import render_build_report
from bot.discord.utils.replies import REBUILD_RUNNING

log = logging.getLogger("citebot.discord")


class Reindex(commands.Cog):
    """``/reindex``; ``running`` is held while its build is queued or runs."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self.running = asyncio.Lock()

    # Global commands cannot be hidden per user: Discord shows /reindex to server
    # administrators only (no permissions = administrators) and the owner check decides.
    @app_commands.command(
        name="reindex", description="Rebuild the index from the source documents (bot owners only)"
    )
    @app_commands.default_permissions()
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @owner_only()
    async def reindex(self, interaction: discord.Interaction[CitebotBot]) -> None:
        """/reindex: rebuild the shared index from the sources, then report."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if self.running.locked():
            raise Refusal(REBUILD_RUNNING)
        async with self.running:
            started = self.bot.clock()
            await interaction.response.defer(thinking=True, ephemeral=True)
            outcome = await queued_build(
                self.bot, interaction, "Rebuilding the shared index…", collection=None
            )
            text = report_text(outcome)
            await deliver(self.bot, interaction, text, started, "/reindex")


def report_text(outcome: BuildOutcome) -> str:
    """The rebuild's summary, or a fixed text for why it failed (never its message: it names
    the operator's folders)."""
    if outcome.ok:
        report = outcome.report or {}
        log.info("index rebuilt: %s documents, %s chunks", report.get("documents"),
                 report.get("chunks"))
        return render_build_report(report)
    log.warning("/reindex failed: %s: %s", outcome.error_kind, outcome.message)
    return build_failure_message(outcome)
