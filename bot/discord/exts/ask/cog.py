"""The ``ask`` feature: its command, its buttons and the message listeners (mentions, and the
posts of auto-answer channels)."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.discord.exts.ask import answering, auto_answer
from bot.discord.exts.ask.conversations import FollowUpButton
from bot.discord.exts.ask.feedback import VoteButton
from bot.discord.utils.feature import Feature, SlashCommand


class Ask(Feature):
    """``/ask``; a message that mentions the bot (or a DM) answered as a reply; a new post in
    an auto-answer channel answered in its thread."""

    buttons = (
        answering.MoreButton, VoteButton, FollowUpButton, auto_answer.SolvedButton,
        auto_answer.NotHelpfulButton,
    )

    def slash_commands(self) -> list[SlashCommand]:
        return list(answering.commands(self.bot.settings))

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.run_at_start(self.warn_without_message_content)

    async def warn_without_message_content(self) -> None:
        await auto_answer.warn_without_message_content(self.bot)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await answering.answer_mention(self.bot, message)

    @commands.Cog.listener("on_message")
    async def on_unasked_message(self, message: discord.Message) -> None:
        await auto_answer.answer_unasked(self.bot, message)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await auto_answer.forget_channel(self.bot, channel)
