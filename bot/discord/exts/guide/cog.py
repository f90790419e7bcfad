"""The ``guide`` feature."""

from __future__ import annotations

from bot.discord.exts.guide import help
from bot.discord.utils.feature import Feature, SlashCommand


class Guide(Feature):
    """``/help``."""

    def slash_commands(self) -> list[SlashCommand]:
        return list(help.commands(self.bot.settings))
