"""The ``reindex`` feature."""

from __future__ import annotations

from bot.discord.exts.reindex import rebuild
from bot.discord.utils.feature import Feature, SlashCommand


class Reindex(Feature):
    """``/reindex``."""

    def slash_commands(self) -> list[SlashCommand]:
        return list(rebuild.commands(self.bot.settings))
