"""``citebot discord``: run the bot, register its commands, print its invite address.

Each entry point reads the token (never printed: it is redacted from every log line), logs in to
Discord and turns what can go wrong there into one line and an exit status.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, cast

import aiohttp
import discord

from bot.discord.client import create_bot
from bot.discord.utils import onboarding
from bot.settings import Settings
from index.errors import CitebotError


class _RedactToken(logging.Filter):
    """Replace the token wherever it would appear in a log line (belt and braces)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "[redacted]")
            record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "[redacted]")
        return True


def _protect_token(token: str) -> None:
    redactor = _RedactToken(token)
    handlers = list(logging.getLogger().handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        handler.addFilter(redactor)


def _token(settings: Settings) -> str | None:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        _fail(
            "no Discord bot token: set CITEBOT_DISCORD_TOKEN "
            "(see 'Run it on Discord' in the README)"
        )
        return None
    _protect_token(token)
    return token


def _fail(message: str) -> None:
    print(f"citebot: error: {message}", file=sys.stderr)


async def _connected(settings: Settings, token: str, action: str, engine: Any) -> int:
    bot = create_bot(settings, engine)
    if action != "run":
        bot.load_on_setup = False
    try:
        async with bot:
            if action == "run":
                bot.install_signal_handlers()
                await bot.start(token)  # returns once closed, e.g. after SIGTERM
                return 0
            await bot.login(token)
            if action == "invite":
                print(onboarding.invite_text(cast(int, bot.application_id)))
                return 0
            synced = await bot.tree.sync()
            print(
                f"Synced {len(synced)} command(s) globally: "
                + ", ".join(f"/{command.name}" for command in synced)
                + ". Discord can take a while to show them everywhere."
            )
            return 0
    except discord.LoginFailure:
        _fail(
            "Discord rejected the bot token (CITEBOT_DISCORD_TOKEN); copy it again from the "
            "Developer Portal"
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        _fail(
            "Discord refused the gateway intents requested: CITEBOT_DISCORD_MESSAGE_CONTENT is "
            "on, so turn on Message Content under Bot > Privileged Gateway Intents in the "
            "Developer Portal, or set CITEBOT_DISCORD_MESSAGE_CONTENT=false"
            if settings.discord_message_content
            else "Discord refused the gateway intents requested"
        )
        return 1
    except discord.HTTPException as error:
        _fail(f"Discord refused the request ({error.status})")
        return 1
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        _fail(f"cannot reach Discord ({type(error).__name__})")
        return 1
    except CitebotError as error:
        _fail(str(error))
        return 1


def run_discord(settings: Settings, engine: Any = None) -> int:
    """``citebot discord``: run the bot until stopped. Exit status: 0, 1 (error), 2 (token)."""
    token = _token(settings)
    if token is None:
        return 2
    try:
        return asyncio.run(_connected(settings, token, "run", engine))
    except KeyboardInterrupt:
        return 0


def _log_in_once(settings: Settings, action: str) -> int:
    """Log in, do ``action`` ("sync", "invite") and log out; the exit status."""
    token = _token(settings)
    if token is None:
        return 2
    try:
        return asyncio.run(_connected(settings, token, action, None))
    except KeyboardInterrupt:
        return 130


def sync_commands(settings: Settings) -> int:
    """``citebot discord sync``: register the slash commands globally (not done on every start)."""
    return _log_in_once(settings, "sync")


def show_invite(settings: Settings) -> int:
    """``citebot discord invite``: print the address that adds the bot to a server, with the
    permissions it needs (the application id is asked of Discord)."""
    return _log_in_once(settings, "invite")
