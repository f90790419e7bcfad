"""Which servers the bot may be in: ``CITEBOT_DISCORD_ALLOWED_SERVERS`` (empty: any).

A private deployment lists its servers; the bot then leaves any other server it is added to (on
joining, and at start for servers it joined while offline), logging each, and refuses commands
and mentions from one it has not left yet. Turning off *Public Bot* in the Developer Portal keeps
strangers from adding it at all (README).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

SERVER_NOT_ALLOWED = "I'm not enabled in this server; its administrators can remove me."


def server_allowed(settings: Settings, guild_id: int | None) -> bool:
    """True when no allow-list is set, for DMs (their own setting), or a listed server."""
    allowed = settings.discord_allowed_servers
    return not allowed or guild_id is None or guild_id in allowed


async def leave_if_not_allowed(bot: CitebotBot, guild: discord.Guild) -> bool:
    """Leave ``guild`` when it is not on the allow-list; True when the bot left (or tried)."""
    if server_allowed(bot.settings, guild.id):
        return False
    try:
        await guild.leave()
    except discord.HTTPException as error:
        log.warning(
            "server %s is not in CITEBOT_DISCORD_ALLOWED_SERVERS, but leaving it failed (%s); "
            "its commands and mentions are refused",
            guild.id,
            error.status,
        )
    else:
        log.warning("left server %s: it is not in CITEBOT_DISCORD_ALLOWED_SERVERS", guild.id)
    return True


async def leave_others(bot: CitebotBot) -> list[int]:
    """At start: leave every server not on the allow-list; returns the ids left."""
    left = []
    for guild in list(bot.guilds):
        if await leave_if_not_allowed(bot, guild):
            left.append(guild.id)
    return left
