"""The ``threads`` feature: a server's source channels (``/docs add channel:``) kept current from
gateway events, backfilled, and reconciled at start and every CITEBOT_THREADS_RECONCILE_MINUTES.

The Message Content intent is privileged: without it Discord sends messages without their text,
so threads cannot be read. It is asked for only when ``CITEBOT_DISCORD_MESSAGE_CONTENT`` is on;
at start the application's flags say whether Discord granted it, and when not the bot asks for
it no longer (Discord would refuse the connection), logs what is lost and goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.discord.exts.threads.reading import SOLVED_EMOJI, public
from bot.discord.exts.threads.sync import ThreadSync
from bot.discord.utils.events import THREAD_SOLVED, THREAD_SOURCE_ADDED, THREAD_SOURCE_REMOVED
from bot.discord.utils.feature import Feature
from bot.state.threads import ThreadChannel

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord.threads")

NO_CONTENT = (
    "the Message Content intent is off (CITEBOT_DISCORD_MESSAGE_CONTENT=false or not granted "
    "to the application in the developer portal): the threads of source channels are not read "
    "or kept current, and /docs add channel refuses; everything else works"
)


def reads_content(bot: CitebotBot) -> bool:
    """Whether the bot receives message content (the intent asked for and granted)."""
    return bot.intents.message_content


class Threads(Feature):
    """Listeners that keep thread sources current; the start-up check, reconcile and resume."""

    def __init__(self, bot: CitebotBot) -> None:
        super().__init__(bot)
        self.sync = ThreadSync(bot)
        self.channels: set[int] = set()  # the source channels (of every server)
        self._reconciled = False
        self._reconciler: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.run_at_start(self.check_content)
        self.channels = {c.channel_id for c in
                         await asyncio.to_thread(self.bot.thread_sources.channels)}

    async def cog_unload(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
        await self.sync.stop()
        await super().cog_unload()

    async def check_content(self) -> None:
        """Ask for Message Content only when Discord granted it to the application."""
        if not self.bot.settings.discord_message_content:
            if self.channels:
                log.warning("%s", NO_CONTENT)
            return
        try:
            flags = (await self.bot.application_info()).flags
        except discord.HTTPException:
            return  # the gateway will tell: discord.py names the missing intent
        if not (flags.gateway_message_content or flags.gateway_message_content_limited):
            # Asking for an intent that is not granted makes Discord close the connection.
            self.bot._connection._intents.message_content = False
            log.warning("%s", NO_CONTENT)

    # ----- start-up: resume backfills, reconcile the rest ---------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self._reconciled or not reads_content(self.bot):
            return
        self._reconciled = True
        await self._catch_up_all()
        self._reconciler = asyncio.get_running_loop().create_task(self._reconcile_every())

    async def _catch_up_all(self, *, thorough: bool = False) -> None:
        """Reconcile (or resume the backfill of) every source channel of this process's servers
        (``thorough``: reading every thread again, edits included)."""
        guilds = {guild.id for guild in self.bot.guilds}
        for source in await asyncio.to_thread(self.bot.thread_sources.channels):
            if source.guild_id in guilds:  # else another shard's, or a server the bot left
                await self._catch_up(source, thorough=thorough)

    async def _reconcile_every(self) -> None:
        """Every CITEBOT_THREADS_RECONCILE_MINUTES: catch up what the gateway events missed (a
        resumed session that lost events, a message deleted while a shard reconnected, an edit
        made while the bot was offline), reading every thread again."""
        period = self.bot.settings.threads_reconcile_minutes * 60.0
        while True:
            await asyncio.sleep(period)
            try:
                await self._catch_up_all(thorough=True)
            except Exception:  # the next round tries again
                log.exception("reconciling the thread sources failed")

    async def _catch_up(self, source: ThreadChannel, *, thorough: bool = False) -> None:
        """Reconcile a backfilled channel; resume the backfill of any other."""
        if not source.backfilled:
            self.sync.start_backfill(source)
            return
        try:
            await self.sync.reconcile(source, thorough=thorough)
        except discord.HTTPException as error:
            log.warning("reconciling channel %s failed (HTTP %s)", source.channel_id,
                        error.status)

    @commands.Cog.listener(f"on_{THREAD_SOURCE_ADDED}")
    async def on_source_added(self, channel_id: int) -> None:
        source = await asyncio.to_thread(self.bot.thread_sources.channel, channel_id)
        if source is None or not reads_content(self.bot):
            return
        self.channels.add(channel_id)
        self.sync.start_backfill(source)

    @commands.Cog.listener(f"on_{THREAD_SOURCE_REMOVED}")
    async def on_source_removed(self, channel_id: int) -> None:
        self.channels.discard(channel_id)
        self.sync.build_if(await self.sync.drop_channel(channel_id))

    # ----- events ------------------------------------------------------------------------------

    async def _source_of(self, channel_id: int) -> int | None:
        """The source channel that the thread ``channel_id`` belongs to (None: none)."""
        channel = self.bot.get_channel(channel_id)
        if isinstance(channel, discord.Thread):
            return channel.parent_id if channel.parent_id in self.channels else None
        if channel is not None or not self.channels:
            return None
        record = await asyncio.to_thread(self.bot.thread_sources.thread, channel_id)
        return None if record is None else record.channel_id

    async def _changed(self, channel_id: int, message_id: int | None = None) -> None:
        """Something changed in channel ``channel_id``: a thread of a source channel, or (a text
        channel's thread starts from one of its messages) the starter of one."""
        if not self.channels or not reads_content(self.bot):
            return
        if channel_id in self.channels and message_id is not None:
            record = await asyncio.to_thread(self.bot.thread_sources.thread, message_id)
            if record is not None:
                self.sync.touch(message_id, channel_id)
            return
        source = await self._source_of(channel_id)
        if source is not None:
            self.sync.touch(channel_id, source)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is not None and not message.author.bot:
            await self._changed(message.channel.id, message.id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._changed(payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._changed(payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._changed(payload.channel_id)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) == SOLVED_EMOJI:
            await self._changed(payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) == SOLVED_EMOJI:
            await self._changed(payload.channel_id, payload.message_id)

    @commands.Cog.listener(f"on_{THREAD_SOLVED}")
    async def on_thread_solved(self, thread_id: int, channel_id: int) -> None:
        if channel_id in self.channels and reads_content(self.bot):
            self.sync.touch(thread_id, channel_id)

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        if thread.parent_id in self.channels and reads_content(self.bot):
            self.sync.touch(thread.id, thread.parent_id)

    @commands.Cog.listener()
    async def on_raw_thread_update(self, payload: discord.RawThreadUpdateEvent) -> None:
        if payload.parent_id in self.channels and reads_content(self.bot):
            self.sync.touch(payload.thread_id, payload.parent_id)

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        if payload.parent_id in self.channels:
            self.sync.thread_gone(payload.thread_id, payload.parent_id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        if channel.id in self.channels:
            self.channels.discard(channel.id)
            self.sync.channel_gone(channel.id)

    @commands.Cog.listener()
    async def on_guild_channel_update(
        self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
    ) -> None:
        if after.id in self.channels and not public(after):
            source = await asyncio.to_thread(self.bot.thread_sources.channel, after.id)
            if source is not None and source.private:
                return  # accepted as private: its threads are quoted only inside it
            log.info("server %s: channel %s is no longer readable by @everyone; its threads "
                     "are removed from the sources", after.guild.id, after.id)
            self.channels.discard(after.id)
            self.sync.channel_gone(after.id)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: its backfills stop. Its sources are kept with its documents
        for the grace period (forgotten with them by the servers feature's sweep)."""
        for source in await asyncio.to_thread(self.bot.thread_sources.channels, guild.id):
            task = self.sync.backfills.pop(source.channel_id, None)
            if task is not None:
                task.cancel()

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Invited back within the grace period: catch up with its source channels."""
        if not reads_content(self.bot):
            return
        for source in await asyncio.to_thread(self.bot.thread_sources.channels, guild.id):
            await self._catch_up(source)
