"""What every ``/docs`` command that changes documents shares: the audit entry, the manager
check (refusals logged, not audited) and the first, immediate answer."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord.exts.docs.permissions import require_manager
from bot.discord.utils.checks import Refusal
from bot.discord.utils.render import CONTENT_LIMIT, clip
from bot.discord.utils.replies import NO_MENTIONS

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")


class Audit:
    """One change's audit entry: written once, with how it ended. Leaving the block with a
    Refusal records "refused" with its message, with any other error "failed"."""

    def __init__(self, bot: CitebotBot, guild_id: int, user_id: int, action: str, target: str):
        self.bot, self.guild_id, self.user_id = bot, guild_id, user_id
        self.action, self.target = action, target
        self.done = False

    async def record(self, result: str, detail: str = "") -> None:
        if self.done:
            return
        self.done = True
        await asyncio.to_thread(
            self.bot.servers.record, self.guild_id, self.user_id, self.action, self.target,
            result, detail,
        )

    async def __aenter__(self) -> Audit:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: TracebackType | None
    ) -> None:
        if isinstance(error, Refusal):
            await self.record("refused", str(error))
        elif isinstance(error, Exception):
            await self.record("failed", f"unexpected error ({type(error).__name__})")


async def manager_of(interaction: discord.Interaction[Any]) -> int:
    """The server id when the user may change its documents; a refusal is logged (info) and
    not audited."""
    try:
        return await require_manager(interaction)
    except Refusal:
        command = interaction.command.qualified_name if interaction.command else "docs"
        log.info("/%s refused: user %s may not manage documents in server %s", command,
                 interaction.user.id, interaction.guild_id)
        raise


async def start(interaction: discord.Interaction[Any], text: str) -> float:
    """Answer at once (ephemeral); returns when, on the bot's clock."""
    bot = cast("CitebotBot", interaction.client)
    await interaction.response.send_message(clip(text, CONTENT_LIMIT), ephemeral=True,
                                            allowed_mentions=NO_MENTIONS)
    return float(bot.clock())
