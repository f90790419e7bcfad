"""``/sources``: the indexed documents, a page at a time."""

from bot.discord.client import CitebotBot
from bot.discord.exts.sources.cog import Sources


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Sources(bot))
