"""The bot's life in servers: joining, leaving, the allow-list and the sweep of removed
servers' documents (guild events as listeners; no commands)."""

from bot.discord.client import CitebotBot
from bot.discord.exts.servers.cog import Servers


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Servers(bot))
