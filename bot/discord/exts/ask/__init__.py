"""``/ask``, a mention of the bot, follow-ups, and the More / 👍 / 👎 buttons under an answer."""

from bot.discord.client import CitebotBot
from bot.discord.exts.ask.cog import Ask


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Ask(bot))
