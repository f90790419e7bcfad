"""Who may change a server's documents: members with Manage Server in that server, or members
with the role the server named (``/docs settings manager_role``). Everyone else is refused."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord.utils.checks import Refusal
from bot.discord.utils.replies import SERVER_ONLY

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

NOT_A_MANAGER = (
    "Only members with the Manage Server permission, or the role this server chose for "
    "managing documents, can do that."
)


def server_of(interaction: discord.Interaction[Any]) -> int:
    """The id of the server the command was used in; Refusal in a DM."""
    if interaction.guild_id is None:
        raise Refusal(SERVER_ONLY)
    return interaction.guild_id


async def require_manager(interaction: discord.Interaction[Any]) -> int:
    """The server's id when the user may manage its documents; else Refusal."""
    guild_id = server_of(interaction)
    permissions = interaction.permissions  # the member's, resolved in this channel
    if permissions.manage_guild or permissions.administrator:
        return guild_id
    bot = cast("CitebotBot", interaction.client)
    role_id = (await asyncio.to_thread(bot.servers.settings, guild_id)).manager_role_id
    roles = getattr(interaction.user, "roles", ())
    if role_id is not None and any(role.id == role_id for role in roles):
        return guild_id
    raise Refusal(NOT_A_MANAGER)
