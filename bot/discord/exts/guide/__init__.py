"""``/help``: what citebot is, its commands, and how to ask a follow-up."""

from bot.discord.client import CitebotBot
from bot.discord.exts.guide.cog import Guide


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Guide(bot))
