"""Follow-up questions on Discord (issue 12): which conversation a question continues, and
remembering the conversation each answer ends.

A question continues a conversation when it is
- a reply to one of the bot's answers (the conversation that answer ended);
- asked in a thread started from an answer (the asker's latest answer in that thread, else the
  answer the thread was started from: a thread started from a message has the message's id);
- asked in a DM (the asker's latest answer there).
Anything else, a plain ``/ask`` in a channel included, starts a new conversation. Conversations
are kept per answer and per asker, so two people talking in one channel or thread never mix.
The **Ask a follow-up** button under an answer opens a thread for it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord.utils.answers import place_of
from bot.discord.utils.errors import report_error
from bot.discord.utils.render import clip, plain_name
from bot.discord.utils.replies import EXPIRED, NO_MENTIONS, say
from index.query.conversation import Turn

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

THREAD_TYPES = (
    discord.ChannelType.public_thread,
    discord.ChannelType.private_thread,
    discord.ChannelType.news_thread,
)
THREAD_NAME_CHARS = 100
THREAD_ALREADY_EXISTS = 160004  # Discord: "A thread has already been created for this message"
THREAD_OPENED = (
    "Ask your follow-up in {thread}: mention me with your question there, or use `/ask` in it. "
    "I'll read it together with this conversation."
)
THREAD_WELCOME = (
    "Ask your follow-up here: mention me with your question, or use `/ask` in this thread. "
    "I read it together with the question above (for {minutes:g} minutes after the last one)."
)
NO_THREAD = (
    "I can't open a thread here. Reply to my answer and mention me with your question instead: "
    "I'll read it together with this conversation."
)


def in_thread(channel: Any) -> bool:
    """Whether ``channel`` is a thread."""
    return getattr(channel, "type", None) in THREAD_TYPES


def history_for_interaction(bot: CitebotBot, interaction: discord.Interaction[Any]) -> tuple[
    Turn, ...
]:
    """The turns a slash command continues (blocking: reads the state database): in a thread,
    the asker's latest answer there or the answer the thread was started from; in a DM, the
    asker's latest answer there; else none (a new conversation)."""
    channel_id = interaction.channel_id
    if channel_id is None:
        return ()
    if in_thread(interaction.channel):
        return _in_thread(bot, channel_id, interaction.user.id)
    if interaction.guild_id is None:
        return bot.conversations.latest(channel_id, interaction.user.id)
    return ()


def history_for_message(bot: CitebotBot, message: discord.Message) -> tuple[Turn, ...]:
    """The turns a message to the bot continues (blocking): a reply to one of its answers, a
    message in a thread started from an answer, or a message in a DM."""
    reference = message.reference
    if reference is not None and reference.message_id is not None:
        turns = bot.conversations.by_message(reference.message_id)
        if turns:
            return turns
    if in_thread(message.channel):
        return _in_thread(bot, message.channel.id, message.author.id)
    if message.guild is None:
        return bot.conversations.latest(message.channel.id, message.author.id)
    return ()


def _in_thread(bot: CitebotBot, thread_id: int, user_id: int) -> tuple[Turn, ...]:
    return bot.conversations.latest(thread_id, user_id) or bot.conversations.by_message(thread_id)


async def remember(
    bot: CitebotBot,
    sent: discord.Message | None,
    channel_id: int | None,
    user_id: int,
    history: tuple[Turn, ...],
    question: str,
    passage_ids: tuple[str, ...],
    highlight: str | None = None,
) -> None:
    """Store the conversation the answer ``sent`` (in ``channel_id``, where it was asked) ends:
    its history and this turn (``highlight``: the sentence bolded in its first passage)."""
    if sent is None or channel_id is None:
        return
    turns = (*history, Turn(question, passage_ids, highlight))
    try:
        await asyncio.to_thread(
            bot.conversations.remember, sent.id, channel_id, user_id, turns
        )
    except Exception:  # the answer was sent; only its follow-ups lose their context
        log.warning("could not remember the conversation of message %s", sent.id, exc_info=True)


class FollowUpButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:followup:(?P<key>[A-Za-z0-9_-]{1,40})",
):
    """**Ask a follow-up**: open a thread on the answer, where questions continue it."""

    def __init__(self, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Ask a follow-up",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:followup:{key}",
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> FollowUpButton:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await open_thread(cast("CitebotBot", interaction.client), interaction, self.key)
        except Exception as error:
            await report_error(interaction, error)


async def open_thread(bot: CitebotBot, interaction: discord.Interaction[Any], key: str) -> None:
    """Start a thread from the answer the button is under and invite the follow-up there."""
    context = await asyncio.to_thread(bot.answers.get, key)
    if context is None or context.place != place_of(interaction.guild_id):
        await say(interaction, EXPIRED)
        return
    message = interaction.message
    if message is None or interaction.guild_id is None or in_thread(interaction.channel):
        await say(interaction, NO_THREAD)
        return
    try:
        thread = await message.create_thread(
            name=clip(plain_name(context.question), THREAD_NAME_CHARS).strip() or "Follow-up",
            auto_archive_duration=60,
        )
    except discord.HTTPException as error:
        if error.code == THREAD_ALREADY_EXISTS:
            existing = interaction.guild.get_thread(message.id) if interaction.guild else None
            if existing is not None:
                await say(interaction, THREAD_OPENED.format(thread=existing.mention))
                return
        log.info("could not open a follow-up thread (%s %s)", error.status, error.code)
        await say(interaction, NO_THREAD)
        return
    await say(interaction, THREAD_OPENED.format(thread=thread.mention))
    minutes = bot.settings.conversation_minutes
    try:
        await thread.send(THREAD_WELCOME.format(minutes=minutes), allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as error:
        log.info("could not post in the new thread (%s %s)", error.status, error.code)
