"""The ``docs`` feature: the ``/docs`` group and the buttons of its pages.

Subcommands live in modules by what they do: ``changes`` (add, remove, reindex: they build,
with ``uploads``) and ``overview`` (list, settings, log); each has ``register(group)``.
``permissions`` holds the one rule for who may change a server's documents.
"""

from __future__ import annotations

from discord import app_commands

from bot.discord.exts.docs import changes, overview
from bot.discord.utils.feature import Feature, SlashCommand
from bot.discord.utils.places import SERVERS_ONLY, placed


class Docs(Feature):
    """``/docs add|remove|reindex|list|settings|log``."""

    buttons = (overview.DocsListButton,)

    def slash_commands(self) -> list[SlashCommand]:
        group = app_commands.Group(
            name="docs",
            description="This server's own documents: add, list, remove, settings, log",
            guild_only=True,
        )
        for module in (changes, overview):
            module.register(group)
        return [placed(group, SERVERS_ONLY)]
