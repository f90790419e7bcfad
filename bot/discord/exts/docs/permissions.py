"""Who may change a server's documents: members with Manage Server in that server, or members
with the role the server named (``/docs settings manager_role``). Everyone else is refused."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord.utils.checks import Refusal
from bot.discord.utils.managers import is_manager
from bot.discord.utils.replies import SERVER_ONLY

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
    if await is_manager(interaction, guild_id):
        return guild_id
    raise Refusal(NOT_A_MANAGER)
