"""``Feature``: the cog each extension adds, bringing its slash commands and persistent buttons.

A feature declares its commands in a function next to their callbacks (``commands(settings)``,
fresh objects for each bot, with the places they may run declared on them) and lists its
buttons; the feature adds them to the bot when loaded and takes them away when unloaded.
Listeners are ordinary ``commands.Cog.listener`` methods of the subclass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

SlashCommand = app_commands.Command[Any, ..., Any] | app_commands.Group


class Feature(commands.Cog):
    """A cog that registers ``slash_commands()`` and ``buttons`` with the bot it is loaded in."""

    buttons: ClassVar[tuple[type[discord.ui.DynamicItem[Any]], ...]] = ()

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self._registered = self.slash_commands()

    def slash_commands(self) -> list[SlashCommand]:
        """This feature's slash commands (fresh objects: each bot gets its own)."""
        return []

    async def cog_load(self) -> None:
        for command in self._registered:
            self.bot.tree.add_command(command)
        if self.buttons:
            self.bot.add_dynamic_items(*self.buttons)

    async def cog_unload(self) -> None:
        for command in self._registered:
            self.bot.tree.remove_command(command.name)
        if self.buttons:
            self.bot.remove_dynamic_items(*self.buttons)
