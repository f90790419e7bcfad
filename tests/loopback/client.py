"""Run the real bot (``bot.discord.client.create_bot``, then ``bot.start(token)``) in this process,
connected to a ``LoopbackDiscord``, for as long as a ``async with`` block lasts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from bot.discord.client import CitebotBot, create_bot
from bot.settings import Settings
from tests.loopback.server import LoopbackDiscord, point_discord_at


@asynccontextmanager
async def running_bot(
    discord_: LoopbackDiscord, settings: Settings, engine: Any = None
) -> AsyncIterator[CitebotBot]:
    """Start the bot, wait until it is on the gateway (commands synced before that), yield it;
    close it afterwards. An exception that ended the bot's ``start`` fails the block."""
    with point_discord_at(discord_.api_base, discord_.gateway_url):
        bot = create_bot(settings, engine)
        # Discord sends every GUILD_CREATE right after READY here: no need to wait 2 s for more.
        bot._connection.guild_ready_timeout = 0.05
        started = asyncio.create_task(bot.start(discord_.token), name="citebot-bot")
        connected = asyncio.create_task(discord_.gateway.wait_connected(120))
        try:
            await asyncio.wait({started, connected}, return_when=asyncio.FIRST_COMPLETED)
            if started.done():
                started.result()  # raises what stopped the bot
                raise AssertionError("the bot stopped before connecting to the gateway")
            await connected
            await asyncio.wait_for(bot.wait_until_ready(), 30)
            yield bot
        finally:
            connected.cancel()
            await bot.close()
            with suppress(asyncio.CancelledError):
                await asyncio.wait_for(started, 30)
