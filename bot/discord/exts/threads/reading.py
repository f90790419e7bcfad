"""Reading a thread from Discord: its messages (history, page by page, within discord.py's
handling of the rate limits), whether it counts as solved, and the text its document gets.

Who may see a channel: a source channel must be readable by ``@everyone`` (its permission
overwrites); a thread is public when its channel is. Authors are shown by their display name and
messages by their ``clean_content`` (mentions as ``@name``, never ``<@id>``), so a quote never
pings anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.core.solved import is_solved
from bot.core.threads import Post, ThreadText
from bot.state.threads import ThreadChannel

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord.threads")

SOLVED_EMOJI = "✅"
MAX_MESSAGES = 1_000
"""Messages read of one thread (past it, a thread is a discussion, not a question answered)."""

SourceChannel = discord.TextChannel | discord.ForumChannel


@dataclass(frozen=True)
class ThreadRead:
    """A thread as read: its text (None: solved threads only and it is not), the newest
    message id."""

    text: ThreadText | None
    solved: bool
    last_message_id: int | None


def public(channel: discord.abc.GuildChannel) -> bool:
    """Whether ``@everyone`` may see the channel (a thread: its parent)."""
    return channel.permissions_for(channel.guild.default_role).view_channel


def is_source_kind(channel: object) -> bool:
    return isinstance(channel, (discord.TextChannel, discord.ForumChannel))


async def messages_of(thread: discord.Thread) -> list[discord.Message]:
    """The thread's messages, oldest first, starting with its starter post (in a text channel
    the starter is a message of the channel, with the thread's id)."""
    messages = [m async for m in thread.history(limit=MAX_MESSAGES, oldest_first=True)]
    if not messages or messages[0].id != thread.id:
        parent = thread.parent
        if isinstance(parent, discord.TextChannel):
            with contextlib.suppress(discord.NotFound):  # deleted: the rest is the thread
                messages.insert(0, await parent.fetch_message(thread.id))
    return messages


async def is_manager(bot: CitebotBot, guild: discord.Guild, user_id: int) -> bool:
    """Whether ``user_id`` manages the server's documents (Manage Server, or its manager role)."""
    member = guild.get_member(user_id)
    if member is None:
        try:
            member = await guild.fetch_member(user_id)
        except (discord.NotFound, discord.Forbidden):
            return False
    if member.guild_permissions.manage_guild or member.guild_permissions.administrator:
        return True
    role_id = (await asyncio.to_thread(bot.servers.settings, guild.id)).manager_role_id
    return role_id is not None and any(role.id == role_id for role in member.roles)


async def solved(
    bot: CitebotBot, source: ThreadChannel, thread: discord.Thread,
    messages: list[discord.Message],
) -> bool:
    """Whether the thread counts as solved under the channel's rule: the forum tag it names,
    a ✅ reaction by the asker or a manager, or every thread; and under any rule when the
    asker or a manager pressed **Solved** under the bot's answer in it."""
    if source.solved_by == "all":
        return True
    if await asyncio.to_thread(is_solved, bot.servers, thread.guild.id, thread.id):
        return True
    if source.solved_by == "tag":
        wanted = (source.tag or "").casefold()
        return any(tag.name.casefold() == wanted for tag in thread.applied_tags)
    for message in messages:
        for reaction in message.reactions:
            if str(reaction.emoji) != SOLVED_EMOJI:
                continue
            async for user in reaction.users(limit=100):
                if user.id == thread.owner_id or await is_manager(bot, thread.guild, user.id):
                    return True
    return False


def text_of(source: ThreadChannel, thread: discord.Thread,
            messages: list[discord.Message]) -> ThreadText:
    parent = thread.parent
    channel_name = parent.name if parent is not None else source.name
    posts = tuple(
        Post(message.id, message.author.display_name, message.clean_content,
             None if message.channel.id == thread.id else message.channel.id)
        for message in messages
        if message.type in (discord.MessageType.default, discord.MessageType.reply)
        and not message.author.bot
    )
    return ThreadText(thread.guild.id, source.channel_id, channel_name, thread.id, thread.name,
                      posts)


async def read(bot: CitebotBot, source: ThreadChannel, thread: discord.Thread) -> ThreadRead:
    """Read a thread of a source channel."""
    messages = await messages_of(thread)
    last = messages[-1].id if messages else None
    if not await solved(bot, source, thread, messages):
        return ThreadRead(None, False, last)
    return ThreadRead(text_of(source, thread, messages), True, last)
