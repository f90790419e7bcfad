"""``/glossary``: a stand-in feature with a command, a button and a listener."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.utils.feature import Feature, SlashCommand
from bot.discord.utils.places import everywhere, placed
from bot.discord.utils.replies import NO_MENTIONS


class TermButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:glossary:(?P<term>[a-z]{1,20})",
):
    """A persistent button that names its term."""

    def __init__(self, term: str) -> None:
        super().__init__(discord.ui.Button(label=term, custom_id=f"citebot:glossary:{term}"))
        self.term = term

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> TermButton:
        return cls(match["term"])


async def glossary_command(interaction: discord.Interaction[Any]) -> None:
    """/glossary: a fixed reply."""
    await interaction.response.send_message("No terms yet.", ephemeral=True,
                                            allowed_mentions=NO_MENTIONS)


class Glossary(Feature):
    """``/glossary``, its button, and a listener counting guild joins."""

    buttons = (TermButton,)

    def __init__(self, bot: Any) -> None:
        super().__init__(bot)
        self.joined: list[int] = []

    def slash_commands(self) -> list[SlashCommand]:
        command = app_commands.Command(
            name="glossary", description="The glossary", callback=glossary_command
        )
        return [placed(command, everywhere(self.bot.settings))]

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.joined.append(guild.id)
