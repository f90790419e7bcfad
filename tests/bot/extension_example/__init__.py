"""A feature written the way docs/architecture.md says: one package, ``setup`` only."""

from bot.discord.client import CitebotBot
from tests.bot.extension_example.cog import Glossary


async def setup(bot: CitebotBot) -> None:
    """Load the feature."""
    await bot.add_cog(Glossary(bot))
