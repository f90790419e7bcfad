"""Where a slash command may run, declared on the command itself (Discord hides it elsewhere)."""

from __future__ import annotations

from typing import Any, TypeVar

from discord import app_commands

from bot.settings import Settings

C = TypeVar("C", app_commands.Command[Any, ..., Any], app_commands.Group)

SERVERS_ONLY = app_commands.AppCommandContext(guild=True)
GUILD_INSTALL = app_commands.AppInstallationType(guild=True, user=False)


def everywhere(settings: Settings) -> app_commands.AppCommandContext:
    """Servers, and direct messages with the bot when ``CITEBOT_DISCORD_ALLOW_DMS`` is on."""
    return app_commands.AppCommandContext(
        guild=True, dm_channel=settings.discord_allow_dms, private_channel=False
    )


def placed(command: C, contexts: app_commands.AppCommandContext) -> C:
    """``command``, allowed in ``contexts`` and installed to servers (not to users)."""
    command.allowed_contexts = contexts
    command.allowed_installs = GUILD_INSTALL
    return command


def channels_of(channel: object) -> tuple[int, ...]:
    """Where a question is asked, for what it may quote: the channel's id, and a thread's
    parent's (empty for none)."""
    ids = [getattr(channel, "id", None), getattr(channel, "parent_id", None)]
    return tuple(int(i) for i in ids if isinstance(i, int))
