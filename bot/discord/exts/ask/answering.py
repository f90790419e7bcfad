"""Questions: ``/ask``, a mention of the bot, and the More / 👍 / 👎 buttons under an answer."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.discord.exts.ask.conversations import (
    FollowUpButton,
    history_for_interaction,
    history_for_message,
    in_thread,
    remember,
)
from bot.discord.exts.ask.feedback import VoteButton
from bot.discord.utils.allowed_servers import server_allowed
from bot.discord.utils.checks import Refusal, channel_allowed
from bot.discord.utils.errors import report_error, user_message
from bot.discord.utils.places import channels_of, everywhere, placed
from bot.discord.utils.render import render_answer
from bot.discord.utils.replies import (
    EMPTY_QUESTION,
    EXPIRED,
    MAX_K,
    MAX_QUESTION_CHARS,
    NO_MENTIONS,
    TOO_LONG,
    reply,
    say,
)
from bot.settings import Settings
from bot.state.answers import AnswerContext, place_of
from index.answer import Answer
from index.query.conversation import Turn

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

MAX_DEPTH = 25  # "More" stops offering passages beyond this rank


def _bot(interaction: discord.Interaction[Any]) -> CitebotBot:
    return cast("CitebotBot", interaction.client)


class MoreButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:more:(?P<key>[A-Za-z0-9_-]{1,40})",
):
    """**More**: the next k passages for the same question, as a follow-up."""

    def __init__(self, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="More", style=discord.ButtonStyle.secondary, custom_id=f"citebot:more:{key}"
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> MoreButton:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await handle_more(_bot(interaction), interaction, self.key)
        except Exception as error:
            await report_error(interaction, error)


async def answer_view(
    bot: CitebotBot,
    answer: Answer,
    shown: tuple[str, ...],
    question: str,
    k: int,
    offset: int,
    private: bool,
    guild_id: int | None,
    follow_up: bool = False,
) -> discord.ui.View | None:
    """More / 👍 / 👎 under an answer that showed the passages ``shown`` (None if none), and
    **Ask a follow-up** when ``follow_up`` (a public answer in a server channel)."""
    if not shown:
        return None
    context = AnswerContext(question, k, offset, shown, private, place_of(guild_id))
    key = await asyncio.to_thread(bot.answers.put, context)  # SQLite: off the event loop
    view = discord.ui.View(timeout=None)
    if answer.found and len(shown) >= k and offset + k < MAX_DEPTH:
        view.add_item(MoreButton(key))
    view.add_item(VoteButton(key, "up"))
    view.add_item(VoteButton(key, "down"))
    if follow_up and guild_id is not None and not private:
        view.add_item(FollowUpButton(key))
    return view


def offers_follow_up(channel: Any, guild_id: int | None) -> bool:
    """Whether an answer here gets **Ask a follow-up** (a server channel that is not a thread:
    in threads and DMs every question already continues the conversation)."""
    return guild_id is not None and not in_thread(channel)


async def send_answer(
    bot: CitebotBot,
    interaction: discord.Interaction[Any],
    answer: Answer,
    question: str,
    k: int,
    offset: int,
    private: bool,
    history: tuple[Turn, ...] = (),
) -> None:
    """Send an answer as the follow-up of a deferred interaction; a first page also ends a
    conversation turn (what follow-ups are read together with)."""
    rendered = render_answer(answer, offset=offset)
    follow_up = offset == 0 and offers_follow_up(interaction.channel, interaction.guild_id)
    view = await answer_view(
        bot, answer, rendered.passage_ids, question, k, offset, private, interaction.guild_id,
        follow_up,
    )
    sent = await interaction.followup.send(
        content=rendered.content,
        embeds=rendered.embeds,
        view=view if view is not None else discord.utils.MISSING,
        ephemeral=private,
        allowed_mentions=NO_MENTIONS,
        wait=True,
    )
    if offset == 0:
        await remember(
            bot, sent, interaction.channel_id, interaction.user.id, history, question,
            rendered.passage_ids, bold_of(answer),
        )
        await bot.log_question(
            interaction.guild_id, interaction.user.id, question, answer, rendered.passage_ids,
            key_of(view),
        )


async def handle_more(bot: CitebotBot, interaction: discord.Interaction[Any], key: str) -> None:
    """The More button: the next k passages for the same question."""
    context = await asyncio.to_thread(bot.answers.get, key)
    if context is None or context.place != place_of(interaction.guild_id):
        await say(interaction, EXPIRED)
        return
    with bot.load.acquire(interaction.guild_id):
        bot.check_cooldown(interaction.user.id)
        await interaction.response.defer(thinking=True, ephemeral=context.private)
        offset = context.offset + context.k
        history = await asyncio.to_thread(_history_before, bot, interaction.message)
        answer = await bot.search(
            context.question, context.k, offset, interaction.guild_id, history,
            channels_of(interaction.channel),
        )
        await send_answer(
            bot, interaction, answer, context.question, context.k, offset, context.private
        )


def _history_before(bot: CitebotBot, message: discord.Message | None) -> tuple[Turn, ...]:
    """The turns before the answer ``message`` (More pages read its question as it was)."""
    if message is None:
        return ()
    return bot.conversations.by_message(message.id)[:-1]


@app_commands.describe(
    question="What do you want to know? (1–500 characters)",
    k=f"How many passages to show (1–{MAX_K})",
    private="Only you can see the answer",
)
async def ask_command(
    interaction: discord.Interaction[CitebotBot],
    question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
    k: app_commands.Range[int, 1, MAX_K] | None = None,
    private: bool = False,
) -> None:
    """/ask: defer at once, search on the worker thread, answer with quoted, cited passages."""
    bot = _bot(interaction)
    question = question.strip()
    if not question:
        raise Refusal("Please type a question.")
    # The slot is taken before deferring, so "busy" is the interaction's response.
    with bot.load.acquire(interaction.guild_id):
        bot.check_cooldown(interaction.user.id)
        await interaction.response.defer(thinking=True, ephemeral=private)
        size = k or bot.default_k
        history = await asyncio.to_thread(history_for_interaction, bot, interaction)
        answer = await bot.search(
            question, size, 0, interaction.guild_id, history, channels_of(interaction.channel)
        )
        await send_answer(bot, interaction, answer, question, size, 0, private, history)


async def answer_mention(bot: CitebotBot, message: discord.Message) -> None:
    """Answer a message that mentions the bot (or any DM, when DMs are on), as a reply."""
    me = bot.user
    if me is None or message.author.bot or message.author.id == me.id:
        return
    if message.guild is None:  # a DM
        if not bot.settings.discord_allow_dms:
            return
    else:
        if not any(user.id == me.id for user in message.mentions):
            return
        parent_id = getattr(message.channel, "parent_id", None)
        if not channel_allowed(bot.settings, message.channel.id, parent_id):
            return
        if not server_allowed(bot.settings, message.guild.id):  # leaving failed: stay silent
            return
    question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
    if not question:
        await reply(message, EMPTY_QUESTION)
        return
    if len(question) > MAX_QUESTION_CHARS:
        await reply(message, TOO_LONG)
        return
    try:
        slot = bot.load.acquire(message.guild.id if message.guild else None)
    except Refusal as refusal:
        await reply(message, str(refusal))
        return
    with slot:
        await _answer_mention(bot, message, question)


async def _answer_mention(bot: CitebotBot, message: discord.Message, question: str) -> None:
    try:
        bot.check_cooldown(message.author.id)
        guild_id = message.guild.id if message.guild else None
        history = await asyncio.to_thread(history_for_message, bot, message)
        answer = await bot.search(
            question, bot.default_k, 0, guild_id, history, channels_of(message.channel)
        )
    except Exception as error:
        where = f"a mention in channel {message.channel.id}"
        await reply(message, user_message(error, where, bot.metrics))
        return
    rendered = render_answer(answer)
    view = await answer_view(
        bot, answer, rendered.passage_ids, question, bot.default_k, 0, False, guild_id,
        offers_follow_up(message.channel, guild_id),
    )
    sent = await reply(message, rendered.content, embeds=rendered.embeds, view=view)
    await remember(
        bot, sent, message.channel.id, message.author.id, history, question,
        rendered.passage_ids, bold_of(answer),
    )
    await bot.log_question(
        guild_id, message.author.id, question, answer, rendered.passage_ids, key_of(view)
    )


def key_of(view: discord.ui.View | None) -> str | None:
    """The answer key of the buttons under an answer (None when it has none)."""
    for item in view.children if view is not None else ():
        if isinstance(item, VoteButton):
            return item.key
    return None


def bold_of(answer: Answer) -> str | None:
    """The sentence bolded in the answer's first passage (a follow-up stays near it)."""
    return answer.passages[0].highlight_text if answer.passages else None


def commands(settings: Settings) -> list[app_commands.Command[Any, ..., Any]]:
    """This feature's slash commands (fresh objects: each bot gets its own), with where
    they may run."""
    return [
        placed(
            app_commands.Command(
                name="ask",
                description="Ask a question; get passages quoted from the sources, with citations",
                callback=ask_command,
            ),
            everywhere(settings),
        )
    ]

