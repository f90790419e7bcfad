"""Answering where questions are (issue 24): each new post of a forum, or new message of a text
channel, that a server named with ``/docs settings auto_answer`` is answered without a mention,
in its thread (one is started from a text channel's message), with More / 👍 / 👎 plus
**Solved** and **Not helpful**.

Only a member's first message is answered: a forum post's starter message, or a plain message in
the text channel itself; later messages in the thread need a mention or ``/ask``, as anywhere.
A message that mentions the bot is the mention handler's (never answered twice); bots, the bot
itself and system messages are never answered; the cooldown and the load limits count these
answers like any other, and one over them is skipped without a word (nobody asked). When the
sources do not answer, the server's ``auto_answer_quiet`` choice (on by default) posts a quiet
note instead of the "Not in the source" answer. Reading messages that do not mention the bot
needs the privileged Message Content intent (CITEBOT_DISCORD_MESSAGE_CONTENT): without it
Discord sends them empty, so nothing here runs and the operator is warned at start.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.core.solved import mark_solved
from bot.discord.exts.ask.answering import answer_view, bold_of, key_of
from bot.discord.exts.ask.conversations import THREAD_NAME_CHARS, remember
from bot.discord.utils.allowed_servers import server_allowed
from bot.discord.utils.checks import Refusal, channel_allowed
from bot.discord.utils.errors import report_error
from bot.discord.utils.events import THREAD_SOLVED
from bot.discord.utils.managers import is_manager
from bot.discord.utils.places import channels_of
from bot.discord.utils.render import clip, plain_name, render_answer
from bot.discord.utils.replies import EXPIRED, MAX_QUESTION_CHARS, NO_MENTIONS, say
from bot.state.answers import place_of
from bot.state.feedback import DOWN

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot
    from bot.state.servers import AutoAnswer

log = logging.getLogger("citebot.discord")

QUIET_NOTE = "No passage in the documents answers this; a member may know."
SOLVED = "✅ {user} marked this thread solved."
ALREADY_SOLVED = "This thread is already marked solved."
ONLY_ASKER = "Only the person who asked, or a member who manages this server's documents, can " \
    "mark this thread solved."
NOT_A_THREAD = "**Solved** works in the thread of the question it answers."
NO_TAG = (
    "I couldn't add this forum's **Solved** tag (I need the Manage Threads permission here); "
    "the thread is marked solved all the same."
)
NOT_HELPFUL = (
    "Thanks: noted that these passages don't answer the question (as a 👎, wrong passage). "
    "A member may still answer here."
)
SOLVED_TAG = "solved"
MAX_APPLIED_TAGS = 5  # Discord's limit on a forum post's tags
ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)
NO_PRIVILEGED_INTENT = (
    "%d server(s) have channels answered without a mention (/docs settings auto_answer), but "
    "CITEBOT_DISCORD_MESSAGE_CONTENT is off: Discord sends the bot those messages empty, so "
    "they get no answer. Set CITEBOT_DISCORD_MESSAGE_CONTENT=true and turn on Message Content "
    "under Bot > Privileged Gateway Intents in the Discord Developer Portal; mentions and /ask "
    "keep working meanwhile."
)


def _bot(interaction: discord.Interaction[Any]) -> CitebotBot:
    return cast("CitebotBot", interaction.client)


def watched_channel(message: discord.Message) -> int | None:
    """The channel whose auto-answer choice decides ``message``: a forum's id for a forum
    post's starter message (its id is the thread's), a text channel's for a message in it;
    None for anything else (a later message in a thread, a DM, a voice channel's chat)."""
    channel = message.channel
    if isinstance(channel, discord.Thread):
        forum = isinstance(channel.parent, discord.ForumChannel)
        return channel.parent_id if forum and message.id == channel.id else None
    if isinstance(channel, discord.TextChannel):
        return channel.id
    return None


async def auto_answer_of(bot: CitebotBot, guild_id: int) -> AutoAnswer:
    """The server's auto-answer choice (cached; read off the event loop when not)."""
    cached = bot.servers.cached_auto_answer(guild_id)
    if cached is not None:
        return cached
    return await asyncio.to_thread(bot.servers.auto_answer, guild_id)


def question_of(message: discord.Message) -> str:
    """What a post asks: a forum post's title and its text; a message's text (cut to the
    longest question the bot takes: a post is not refused for its length)."""
    text = message.content.strip()
    channel = message.channel
    if isinstance(channel, discord.Thread) and channel.name:
        text = f"{channel.name.strip()}\n{text}".strip()
    return text[:MAX_QUESTION_CHARS]


async def answer_unasked(bot: CitebotBot, message: discord.Message) -> None:
    """Answer ``message`` without a mention when it is the first message of a post in one of
    its server's auto-answer channels (see the module's docstring for what is never answered)."""
    me = bot.user
    guild = message.guild
    if not bot.settings.discord_message_content or me is None or guild is None:
        return
    if message.author.bot or message.author.id == me.id or message.type not in ANSWERED_TYPES:
        return
    if any(user.id == me.id for user in message.mentions):
        return  # the mention handler answers it
    watched = watched_channel(message)
    if watched is None or not channel_allowed(bot.settings, watched, None):
        return
    if not server_allowed(bot.settings, guild.id):
        return
    if watched not in (await auto_answer_of(bot, guild.id)).channels:
        return
    question = question_of(message)
    if not question:
        return  # an image or a sticker alone: nothing to search for
    try:
        slot = bot.load.acquire(guild.id)
    except Refusal:
        log.info("auto-answer skipped in channel %s: the bot is busy", watched)
        return
    with slot:
        try:
            bot.check_cooldown(message.author.id)
        except Refusal:
            log.info("auto-answer skipped in channel %s: the asker's cooldown", watched)
            return
        await _answer(bot, message, guild.id, watched, question)


async def _answer(
    bot: CitebotBot, message: discord.Message, guild_id: int, watched: int, question: str
) -> None:
    try:
        answer = await bot.search(
            question, bot.default_k, 0, guild_id, where=channels_of(message.channel)
        )
        quiet = (await auto_answer_of(bot, guild_id)).quiet
    except Refusal as refusal:  # no documents here, say: nobody asked, so no word
        log.info("auto-answer skipped in channel %s: %s", watched, refusal)
        return
    except Exception:
        log.warning("auto-answer failed in channel %s", watched, exc_info=True)
        return
    where = await _thread_for(message, question)
    asker = message.author.id
    if not answer.found and quiet:
        view = discord.ui.View(timeout=None)
        if where is not None:  # Solved marks a thread: none when none could be started
            view.add_item(SolvedButton(asker))
        await _send(where, message, QUIET_NOTE, view=view if view.children else None)
        await bot.log_question(guild_id, asker, question, answer, (), None)
        return
    rendered = render_answer(answer)
    buttons = await answer_view(
        bot, answer, rendered.passage_ids, question, bot.default_k, 0, False, guild_id
    )
    view = buttons if buttons is not None else discord.ui.View(timeout=None)
    key = key_of(view)
    if where is not None:
        view.add_item(SolvedButton(asker))
    if key is not None:
        view.add_item(NotHelpfulButton(key))
    sent = await _send(where, message, rendered.content, embeds=rendered.embeds, view=view)
    thread_id = where.id if where is not None else message.channel.id
    await remember(
        bot, sent, thread_id, asker, (), question, rendered.passage_ids, bold_of(answer)
    )
    await bot.log_question(guild_id, asker, question, answer, rendered.passage_ids, key)


async def _thread_for(message: discord.Message, question: str) -> discord.Thread | None:
    """Where the answer goes: a forum post's own thread, or a thread started from a text
    channel's message; None when no thread could be started (the answer then replies in the
    channel)."""
    if isinstance(message.channel, discord.Thread):
        return message.channel
    try:
        return await message.create_thread(
            name=clip(plain_name(question.splitlines()[0]), THREAD_NAME_CHARS).strip()
            or "Question",
            auto_archive_duration=1440,
        )
    except discord.HTTPException as error:
        log.warning(
            "could not start a thread for an auto-answer in channel %s (%s %s): answering in "
            "the channel; give the bot Create Public Threads there",
            message.channel.id, error.status, error.code,
        )
        return None


async def _send(
    where: discord.Thread | None, message: discord.Message, content: str, **kwargs: Any
) -> discord.Message | None:
    """Post in the thread (replying to a forum post's starter message), or reply to the message
    in its channel; None when Discord refused (logged, nobody to tell)."""
    try:
        if where is not None and where.id != message.channel.id:  # a new thread of a text channel
            return await where.send(content, allowed_mentions=NO_MENTIONS, **kwargs)
        return await message.channel.send(
            content,
            reference=message.to_reference(fail_if_not_exists=False),
            allowed_mentions=NO_MENTIONS,
            **kwargs,
        )
    except discord.HTTPException as error:
        log.warning(
            "could not post an auto-answer in channel %s (%s %s)",
            message.channel.id, error.status, error.code,
        )
        return None


class SolvedButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:solved:(?P<asker>[0-9]{1,20})",
):
    """**Solved**: the asker (or a manager) marks the thread solved."""

    def __init__(self, asker: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Solved", emoji="✅", style=discord.ButtonStyle.success,
                custom_id=f"citebot:solved:{asker}",
            )
        )
        self.asker = asker

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SolvedButton:
        return cls(int(match["asker"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await handle_solved(_bot(interaction), interaction, self.asker)
        except Exception as error:
            await report_error(interaction, error)


class NotHelpfulButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:nothelpful:(?P<key>[A-Za-z0-9_-]{1,40})",
):
    """**Not helpful**: a 👎 with the reason "wrong passage", in one press."""

    def __init__(self, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Not helpful", style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:nothelpful:{key}",
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> NotHelpfulButton:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await handle_not_helpful(_bot(interaction), interaction, self.key)
        except Exception as error:
            await report_error(interaction, error)


def _thread_of(interaction: discord.Interaction[Any]) -> discord.Thread | None:
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return channel
    if interaction.guild is not None and interaction.channel_id is not None:
        return interaction.guild.get_thread(interaction.channel_id)
    return None


async def handle_solved(bot: CitebotBot, interaction: discord.Interaction[Any], asker: int) -> None:
    """Mark the thread the button is in solved, when pressed by the asker or a manager; add
    the forum's "Solved" tag when it has one."""
    thread = _thread_of(interaction)
    guild_id = interaction.guild_id
    if thread is None or guild_id is None or thread.parent_id is None:
        await say(interaction, NOT_A_THREAD)
        return
    if interaction.user.id != asker and not await is_manager(interaction, guild_id):
        await say(interaction, ONLY_ASKER)
        return
    newly = await asyncio.to_thread(
        mark_solved,
        bot.servers,
        bot.feedback,
        guild_id=guild_id,
        channel_id=thread.parent_id,
        thread_id=thread.id,
        user_id=interaction.user.id,
    )
    if not newly:
        await say(interaction, ALREADY_SOLVED)
        return
    bot.dispatch(THREAD_SOLVED, thread.id, thread.parent_id)  # a source channel reads it again
    await interaction.response.send_message(
        SOLVED.format(user=interaction.user.mention), allowed_mentions=NO_MENTIONS
    )
    if not await apply_solved_tag(thread):
        await say(interaction, NO_TAG)


async def apply_solved_tag(thread: discord.Thread) -> bool:
    """Add the forum's tag named "Solved" (any case) to ``thread``; True when done or there is
    nothing to do (not a forum, no such tag, already on), False when Discord refused."""
    forum = thread.parent
    if not isinstance(forum, discord.ForumChannel):
        return True
    tag = next(
        (tag for tag in forum.available_tags if tag.name.strip().casefold() == SOLVED_TAG), None
    )
    applied = list(thread.applied_tags)
    if tag is None or any(have.id == tag.id for have in applied):
        return True
    try:
        await thread.edit(applied_tags=[*applied[: MAX_APPLIED_TAGS - 1], tag])
    except discord.HTTPException as error:
        log.info("could not tag thread %s solved (%s %s)", thread.id, error.status, error.code)
        return False
    return True


async def handle_not_helpful(
    bot: CitebotBot, interaction: discord.Interaction[Any], key: str
) -> None:
    """Record a 👎 with the reason "wrong_passage" for the answer ``key``; thank the member."""
    context = await asyncio.to_thread(bot.answers.get, key)
    if context is None or context.place != place_of(interaction.guild_id):
        await say(interaction, EXPIRED)
        return
    user_id = interaction.user.id

    def record() -> None:
        bot.feedback.record(
            answer_key=key, question=context.question, passage_ids=context.passage_ids,
            vote=DOWN, user_id=user_id,
        )
        bot.feedback.give_reason(answer_key=key, user_id=user_id, reason="wrong_passage")

    await asyncio.to_thread(record)
    await say(interaction, NOT_HELPFUL)


async def forget_channel(bot: CitebotBot, channel: discord.abc.GuildChannel) -> None:
    """A deleted channel is no longer answered (nor counted against the server's limit)."""
    try:
        await asyncio.to_thread(bot.servers.remove_auto_answer, channel.guild.id, channel.id)
    except Exception:
        log.warning("could not forget deleted channel %s", channel.id, exc_info=True)


async def warn_without_message_content(bot: CitebotBot) -> None:
    """At start: warn the operator when servers have auto-answer channels the bot cannot read
    (CITEBOT_DISCORD_MESSAGE_CONTENT off)."""
    if bot.settings.discord_message_content:
        return
    servers = await asyncio.to_thread(bot.servers.servers_with_auto_answer)
    if servers:
        log.warning(NO_PRIVILEGED_INTENT, len(servers))
