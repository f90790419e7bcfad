"""The ``ask`` feature: its command, its buttons and the mention listener."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.discord.exts.ask import answering
from bot.discord.exts.ask.conversations import FollowUpButton
from bot.discord.exts.ask.feedback import VoteButton
from bot.discord.utils.feature import Feature, SlashCommand


class Ask(Feature):
    """``/ask``; a message that mentions the bot (or a DM) answered as a reply."""

    buttons = (answering.MoreButton, VoteButton, FollowUpButton)

    def slash_commands(self) -> list[SlashCommand]:
        return list(answering.commands(self.bot.settings))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await answering.answer_mention(self.bot, message)
