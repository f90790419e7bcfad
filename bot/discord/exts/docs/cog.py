"""The ``docs`` feature: the ``/docs`` group and the buttons of its pages.

Subcommands live in modules by what they do: ``changes`` (add, remove, reindex: they build,
with ``uploads``), ``overview`` (list, settings, log), ``sites`` (crawled sites and their syncs),
``stats`` (the usage chart) and ``gaps`` (the knowledge gaps); each has ``register(group)``.
``permissions`` holds the one rule for who may change a server's documents.
"""

from __future__ import annotations

import asyncio
import contextlib

from discord import app_commands

from bot.discord.exts.docs import changes, gaps, overview, sites, stats
from bot.discord.utils.feature import Feature, SlashCommand
from bot.discord.utils.places import SERVERS_ONLY, placed


class Docs(Feature):
    """``/docs add|remove|reindex|list|settings|log|sync|sources|stats|gaps``."""

    buttons = (overview.DocsListButton,)

    def slash_commands(self) -> list[SlashCommand]:
        group = app_commands.Group(
            name="docs",
            description="This server's own documents: add, list, remove, settings, log",
            guild_only=True,
        )
        for module in (changes, overview, sites, stats, gaps):
            module.register(group)
        return [placed(group, SERVERS_ONLY)]

    scheduler: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.run_at_start(self.start_scheduler)

    async def cog_unload(self) -> None:
        if self.scheduler is not None and not self.scheduler.done():
            self.scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.scheduler
        await super().cog_unload()

    async def start_scheduler(self) -> None:
        """Start running due syncs (at start-up, once the index is loaded)."""
        self.scheduler = asyncio.get_running_loop().create_task(
            sites.schedule_forever(self.bot), name="citebot-sync-scheduler"
        )
