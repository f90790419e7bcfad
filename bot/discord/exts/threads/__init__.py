"""Threads as a source: a server's source channels kept current from gateway events."""

from bot.discord.client import CitebotBot
from bot.discord.exts.threads.cog import Threads


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Threads(bot))
