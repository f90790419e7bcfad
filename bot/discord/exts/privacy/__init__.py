"""``/privacy forget``: a person erases what citebot keeps of theirs."""

from bot.discord.client import CitebotBot
from bot.discord.exts.privacy.cog import Privacy


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Privacy(bot))
