"""Who may do what, where: refusals, the channel allow-list and direct messages."""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.exts.replies import NO_DMS, NOT_HERE
from bot.settings import Settings


class Refusal(app_commands.CheckFailure):
    """A polite "no" whose message is shown to the user (ephemeral where possible)."""


def channel_allowed(
    settings: Settings, channel_id: int | None, parent_id: int | None = None
) -> bool:
    """True when no allow-list is set, or the channel (or a thread's parent) is on it."""
    allowed = settings.discord_allowed_channels
    return not allowed or channel_id in allowed or (parent_id is not None and parent_id in allowed)


def check_place(
    settings: Settings, guild_id: int | None, channel_id: int | None, channel: Any
) -> None:
    """Refuse DMs when they are off, and guild channels outside the allow-list."""
    if guild_id is None:
        if not settings.discord_allow_dms:
            raise Refusal(NO_DMS)
        return
    if not channel_allowed(settings, channel_id, getattr(channel, "parent_id", None)):
        raise Refusal(NOT_HERE)
