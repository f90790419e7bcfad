"""Who may do what, where: refusals, the channel allow-list, direct messages and owners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import discord
from discord import app_commands

from bot.discord.utils.allowed_servers import SERVER_NOT_ALLOWED, server_allowed
from bot.discord.utils.replies import NO_DMS, NOT_HERE, OWNERS_ONLY
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

T = TypeVar("T")

# Team members with these roles count as owners (discord.py's ``Bot.is_owner`` does the same).
OWNER_ROLES = (discord.TeamMemberRole.admin, discord.TeamMemberRole.developer)


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
    """Refuse DMs when they are off, servers and guild channels outside their allow-lists."""
    if guild_id is None:
        if not settings.discord_allow_dms:
            raise Refusal(NO_DMS)
        return
    if not server_allowed(settings, guild_id):
        raise Refusal(SERVER_NOT_ALLOWED)
    if not channel_allowed(settings, channel_id, getattr(channel, "parent_id", None)):
        raise Refusal(NOT_HERE)


def application_owners(app: discord.AppInfo) -> frozenset[int]:
    """The user ids Discord names as the application's owners: its team's owner, admins and
    developers for a team-owned application, else its owner."""
    if app.team is not None:
        ids = {member.id for member in app.team.members if member.role in OWNER_ROLES}
        if app.team.owner_id is not None:
            ids.add(app.team.owner_id)
        return frozenset(ids)
    return frozenset({app.owner.id})


def owner_only() -> Callable[[T], T]:
    """The one rule for owner-only commands: the application's owners (as Discord reports them)
    and ``CITEBOT_OWNER_IDS`` may run it; everyone else gets a short ephemeral refusal.
    Both are logged with the user and server ids."""

    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        bot = cast("CitebotBot", interaction.client)
        command = interaction.command.qualified_name if interaction.command else "?"
        if interaction.user.id in await bot.command_owners():
            log.warning(
                "/%s run by owner %s in server %s",
                command,
                interaction.user.id,
                interaction.guild_id,
            )
            return True
        log.warning(
            "/%s refused: user %s in server %s is not an owner",
            command,
            interaction.user.id,
            interaction.guild_id,
        )
        raise Refusal(OWNERS_ONLY)

    return app_commands.check(predicate)
