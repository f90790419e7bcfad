"""``/sources``: the indexed documents, their sections and chunk counts, and the build time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.discord_render import render_sources
from bot.exts.replies import NO_MENTIONS

if TYPE_CHECKING:
    from bot.discord_app import CitebotBot


async def sources_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/sources: the indexed documents, their sections and chunk counts, and when it was built."""
    bot = cast("CitebotBot", interaction.client)
    await interaction.response.defer(thinking=True, ephemeral=True)

    def collect() -> tuple[list[Any], Any]:
        bot.ensure_loaded()
        return list(bot.engine.sources()), bot.engine.built_at

    sources, built_at = await bot.in_worker(collect)
    await interaction.followup.send(
        embed=render_sources(sources, built_at), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


def commands() -> list[app_commands.Command[Any, ..., Any]]:
    """This feature's slash commands (fresh objects: each bot gets its own)."""
    return [
        app_commands.Command(
            name="sources", description="List the indexed documents", callback=sources_command
        )
    ]
