"""The ``sources`` feature: ``/sources`` and its page buttons."""

from __future__ import annotations

from bot.discord.exts.sources import pages
from bot.discord.utils.feature import Feature, SlashCommand


class Sources(Feature):
    """``/sources`` with Previous / Next."""

    buttons = (pages.SourcesPageButton,)

    def slash_commands(self) -> list[SlashCommand]:
        return list(pages.commands(self.bot.settings))
