"""The ``servers`` feature: guild events, the allow-list and the hourly sweep."""

from __future__ import annotations

import asyncio

import discord
from discord.ext import commands

from bot.discord.exts.servers import lifecycle
from bot.discord.utils import allowed_servers, onboarding
from bot.discord.utils.feature import Feature


class Servers(Feature):
    """Leaves servers not allowed, keeps removed servers' documents for the grace period and
    sweeps them after it."""

    sweeper: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.run_at_start(self.start_sweeper)

    async def cog_unload(self) -> None:
        await lifecycle.stop_sweeper(self.sweeper)
        await super().cog_unload()

    async def start_sweeper(self) -> None:
        """Start the hourly sweep (at start-up, once the index is loaded)."""
        self.sweeper = lifecycle.start_sweeper(self.bot)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Say how to invite the bot when it is in no server, leave servers not allowed, and
        reconcile the servers the bot is in with the state database."""
        onboarding.announce_if_alone(self.bot)
        await allowed_servers.leave_others(self.bot)
        await lifecycle.on_connected(self.bot)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: keep its documents for the grace period."""
        await lifecycle.guild_removed(self.bot, guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Joined a server (maybe again): leave it when it is not allowed, else its documents
        are not due for deletion."""
        if await allowed_servers.leave_if_not_allowed(self.bot, guild):
            return
        await lifecycle.guild_joined(self.bot, guild)
