"""``/reindex``: rebuild the shared index while the old one keeps answering (owners only)."""

from bot.discord.client import CitebotBot
from bot.discord.exts.reindex.cog import Reindex


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Reindex(bot))
