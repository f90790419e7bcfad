"""``/docs``: a server's own documents, managed from Discord (issue 11).

Subcommands live in modules by what they do: ``changes`` (add, remove, reindex: they build,
with ``uploads`` and ``progress``) and ``overview`` (list, settings, log); each has
``register(group)``. ``permissions`` holds the one rule for who may change a server's documents.
"""

from __future__ import annotations

from discord import app_commands


def commands() -> list[app_commands.Group]:
    """The ``/docs`` group (a fresh object: each bot gets its own)."""
    from bot.exts.docs import changes, overview

    group = app_commands.Group(
        name="docs",
        description="This server's own documents: add, list, remove, settings, log",
        guild_only=True,
    )
    for module in (changes, overview):
        module.register(group)
    return [group]
