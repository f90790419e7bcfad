"""The one rule for who manages a server's documents and settings: members with Manage Server
(or Administrator) in that server, or members with the role the server named (``/docs settings
manager_role``). The ``docs`` feature refuses everyone else; the **Solved** button lets them
mark any thread solved."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import discord

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot


async def is_manager(interaction: discord.Interaction[Any], guild_id: int) -> bool:
    """Whether the user of ``interaction`` (in server ``guild_id``) may manage it."""
    permissions = interaction.permissions  # the member's, resolved in this channel
    if permissions.manage_guild or permissions.administrator:
        return True
    bot = cast("CitebotBot", interaction.client)
    role_id = (await asyncio.to_thread(bot.servers.settings, guild_id)).manager_role_id
    roles = getattr(interaction.user, "roles", ())
    return role_id is not None and any(role.id == role_id for role in roles)
