"""``/docs add channel:#help``: a forum or text channel of this server becomes a source of its
collection: its solved threads (by a forum tag, by a ✅ reaction of the asker or a manager, or
all of them) are read and kept current by the ``threads`` feature.

Channels that ``@everyone`` can read are accepted: a thread's passages are then quoted only where
the same server's members could read the thread anyway, and never in another server (each
server's collection is its own). A channel ``@everyone`` cannot view is accepted only with
``private:True``: its threads are then quoted only inside it (bot.core.visibility). The channel
is registered in the state database and the audit
log; reading its threads starts at once in the background (the feature is told by an event).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.core.collections import collection_for_guild
from bot.discord.exts.docs.audit import Audit, start
from bot.discord.utils.checks import Refusal
from bot.discord.utils.events import THREAD_SOURCE_ADDED, THREAD_SOURCE_REMOVED
from bot.discord.utils.render import CONTENT_LIMIT, clip, escape_clipped

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord")

SOLVED_CHOICES = {
    "tag": "threads with a forum tag (give its name as tag)",
    "reaction": "threads where the asker or a manager reacted ✅",
    "all": "every thread",
}
NO_CONTENT = (
    "Reading threads needs Discord's **Message Content** intent, which this bot does not have. "
    "Its operator can turn it on in the developer portal and set "
    "`CITEBOT_DISCORD_MESSAGE_CONTENT=true`."
)
NOT_A_SOURCE_KIND = "Only a forum or a text channel of this server can be a source."
TAG_NEEDS_FORUM = "`solved:tag` needs a forum channel (text channels have no tags)."
TAG_NEEDED = "With `solved:tag`, give the tag that marks a thread solved as `tag`."


def name_of(channel: discord.abc.GuildChannel) -> str:
    return escape_clipped(f"#{channel.name}", 100)


def check_channel(
    bot: CitebotBot, guild_id: int, channel: discord.abc.GuildChannel, solved: str,
    tag: str | None, private: bool = False,
) -> str | None:
    """The forum tag's name as the channel spells it (None: no tag rule); Refusal when the
    channel cannot be a source as asked (a private one unless ``private`` accepts it)."""
    if not bot.intents.message_content:
        raise Refusal(NO_CONTENT)
    if channel.guild.id != guild_id or not isinstance(
        channel, (discord.TextChannel, discord.ForumChannel)
    ):
        raise Refusal(NOT_A_SOURCE_KIND)
    if not private and not channel.permissions_for(channel.guild.default_role).view_channel:
        raise Refusal(
            f"{name_of(channel)} is private (@everyone cannot view it). Sources are channels "
            "everyone in the server can read, so that no answer quotes a private channel's "
            "posts; add `private:True` to make it a source whose threads are quoted only inside "
            "it."
        )
    if solved != "tag":
        return None
    if not isinstance(channel, discord.ForumChannel):
        raise Refusal(TAG_NEEDS_FORUM)
    if not tag:
        raise Refusal(TAG_NEEDED)
    found = [t.name for t in channel.available_tags if t.name.casefold() == tag.casefold()]
    if not found:
        tags = ", ".join(escape_clipped(t.name, 40) for t in channel.available_tags) or "none"
        raise Refusal(clip(f"{name_of(channel)} has no tag {escape_clipped(tag, 40)}; its "
                           f"tags: {tags}.", CONTENT_LIMIT))
    return found[0]


async def add_channel(
    bot: CitebotBot, interaction: discord.Interaction[Any], guild_id: int,
    channel: discord.abc.GuildChannel, solved: str | None, tag: str | None, audit: Audit,
    *, private: bool = False,
) -> None:
    """Register ``channel`` as a source of the server's collection and start reading it
    (``private``: accept a channel @everyone cannot view; its threads are quoted only in it)."""
    audit.action = "channel"
    rule = solved or ("tag" if tag else "reaction")
    if rule not in SOLVED_CHOICES:
        raise Refusal("`solved` is one of: tag, reaction, all.")
    tag_name = check_channel(bot, guild_id, channel, rule, tag, private)
    hidden = private and not channel.permissions_for(channel.guild.default_role).view_channel
    await asyncio.to_thread(
        bot.thread_sources.add_channel, guild_id, channel.id, collection_for_guild(guild_id),
        channel.name, solved_by=rule, tag=tag_name, private=hidden,
    )
    detail = f"solved by {rule}" + (f" ({tag_name})" if tag_name else "")
    detail += "; private: quoted only inside it" if hidden else ""
    await audit.record("ok", detail)
    log.info("server %s: %s made channel %s a source (%s)", guild_id, interaction.user.id,
             channel.id, detail)
    which = {
        "tag": f"threads tagged **{escape_clipped(tag_name or '', 40)}**",
        "reaction": "threads the asker or a manager marked ✅",
        "all": "all threads",
    }[rule]
    where = (
        "only inside that channel and its threads (it is private)" if hidden
        else "in this server only"
    )
    await start(interaction, clip(
        f"{name_of(channel)} is now a source: its {which} are being read in the background, "
        "each answerable once read, and kept current as they change. Threads are quoted with a "
        f"link to Discord, {where}.", CONTENT_LIMIT))
    bot.forget_private_sources()
    bot.dispatch(THREAD_SOURCE_ADDED, channel.id)


async def remove_channel(
    bot: CitebotBot, interaction: discord.Interaction[Any], guild_id: int,
    channel: discord.abc.GuildChannel, audit: Audit,
) -> None:
    """Stop ``channel`` being a source: its threads leave the collection (the threads feature
    deletes their documents and rebuilds)."""
    source = await asyncio.to_thread(bot.thread_sources.channel, channel.id)
    if source is None or source.guild_id != guild_id:
        raise Refusal(f"{name_of(channel)} is not one of this server's sources.")
    await audit.record("ok", "threads removed")
    log.info("server %s: %s stopped channel %s being a source", guild_id, interaction.user.id,
             channel.id)
    await start(interaction, clip(
        f"{name_of(channel)} is no longer a source: its threads leave the answers within a "
        "minute.", CONTENT_LIMIT))
    bot.forget_private_sources()
    bot.dispatch(THREAD_SOURCE_REMOVED, channel.id)
