"""``/docs``: a server's own documents, managed from Discord (add, remove, reindex, list,
settings, log)."""

from bot.discord.client import CitebotBot
from bot.discord.exts.docs.cog import Docs


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Docs(bot))
