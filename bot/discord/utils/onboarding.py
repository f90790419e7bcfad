"""Getting the bot into a server: the invite address with the permissions it really uses, and
start-up warnings for the two ways a new bot silently shows nothing (no command registered with
Discord; not in any server yet), and for a public application without a server allow-list.

``citebot discord invite`` prints the address; ``citebot discord`` prints it at start while the
bot is in no server.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import aiohttp
import discord

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

SCOPES = ("bot", "applications.commands")  # the bot user, and its slash commands
# What the bot does outside interaction replies (which need no permission at all): answer a
# mention with a reply (view, send, embeds, read history: a reply references the message), open
# an "Ask a follow-up" thread and post its welcome (create public threads, send in threads), and
# post a build's result in the channel when the interaction has expired (send, embeds). No
# files, reactions, message management or privileged intents.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)


def invite_url(application_id: int) -> str:
    """The address that adds the bot to a server with its commands and permissions."""
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


_PORTAL_NAMES = {"read_messages": "View Channels", "send_messages_in_threads":
                 "Send Messages in Threads"}


def permission_names() -> str:
    """The permissions asked for, as the Developer Portal names them."""
    return ", ".join(
        _PORTAL_NAMES.get(name, name.replace("_", " ").title()) for name, on in PERMISSIONS if on
    )


def invite_text(application_id: int) -> str:
    """What ``citebot discord invite`` prints."""
    return (
        f"Invite the bot to a server with this address (scopes: {' and '.join(SCOPES)}; "
        f"permissions: {permission_names()}):\n{invite_url(application_id)}\n"
        "Then run `citebot discord sync` once, or list the server in CITEBOT_DISCORD_GUILDS, "
        "so that its slash commands appear."
    )


def announce_if_alone(bot: CitebotBot) -> None:
    """At start (unsharded): when the bot is in no server, print where to invite it."""
    if bot.guilds or bot.settings.discord_shard_count is not None or bot.application_id is None:
        return
    print(
        "citebot is in no server yet. Invite it with:\n" + invite_url(bot.application_id),
        file=sys.stderr,
        flush=True,
    )


async def check_global_commands(bot: CitebotBot) -> None:
    """With no CITEBOT_DISCORD_GUILDS the commands appear only once synced globally: warn when
    Discord has none of them, or lacks some the bot has (added since the last sync)."""
    try:
        registered = {command.name for command in await bot.tree.fetch_commands()}
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
        log.warning("could not ask Discord which commands are registered (%s)",
                    type(error).__name__)
        return
    if not registered:
        log.warning(
            "no slash command is registered for this application, so none appears in Discord: "
            "run `citebot discord sync` once (Discord may take a while to show them), or set "
            "CITEBOT_DISCORD_GUILDS to register them in those servers at every start"
        )
        return
    missing = sorted({command.name for command in bot.tree.get_commands()} - registered)
    if missing:
        log.warning(
            "command(s) %s are not registered with Discord (added since the last sync): run "
            "`citebot discord sync` again",
            ", ".join(f"/{name}" for name in missing),
        )


def warn_if_public(bot: CitebotBot) -> None:
    """A public application without a server allow-list can be added to any server."""
    application = bot.application
    if application is not None and application.bot_public and not (
        bot.settings.discord_allowed_servers
    ):
        log.warning(
            "the application is public: anyone can add the bot to their server and use its "
            "documents and disk. For a private bot turn off Public Bot in the Developer Portal "
            "(Bot page) or set CITEBOT_DISCORD_ALLOWED_SERVERS"
        )
