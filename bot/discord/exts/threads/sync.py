"""Keeping a server's collection in step with its source channels' threads.

**Backfill** (a channel just added, or one whose backfill a restart cut short): the channel's
active threads, then its archived ones page by page (newest archived first; discord.py pages the
listing and the history and waits out each rate-limit bucket). Every thread read is recorded in
the state database, and after each batch of ``BATCH`` threads the cursor (the archive time of the
last thread listed) is stored and ONE incremental build is queued, so a restart resumes after the
last batch and threads become answerable while the backfill goes on.

**Events** (``touch``, ``thread_gone``, ``channel_gone``): gathered for
``CITEBOT_THREADS_DEBOUNCE_SECONDS``, then each touched thread is read again, deleted ones are
removed, and one build is queued for each collection that changed.

**Reconcile** (at start-up, for channels already backfilled): threads missing from Discord are
removed, threads new or with newer messages than recorded are read, and a channel that is gone
or no longer public is dropped with its documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot.core import documents
from bot.core import threads as core_threads
from bot.core.documents import folder_usage
from bot.core.threads import ThreadText
from bot.discord.exts.threads.reading import ThreadRead, is_source_kind, public, read
from bot.state.threads import ThreadChannel, ThreadSourceStore
from index.build.build_lock import BuildInProgressError

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.discord.threads")

BATCH = 50
"""Threads per batch of a backfill: each batch stores the cursor and queues one build."""


class ThreadSync:
    """The bot's thread sources: backfills, debounced events, reconcile, builds."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self.touched: dict[int, int] = {}  # thread id -> its channel
        self.gone_threads: dict[int, int] = {}
        self.gone_channels: set[int] = set()
        self.backfills: dict[int, asyncio.Task[None]] = {}
        self.builds: set[asyncio.Task[None]] = set()
        self._flush: asyncio.Task[None] | None = None
        # Per collection: [documents, bytes] in its folder, counted once per batch or flush.
        self._usage: dict[str, list[int]] = {}
        self.over_limit = 0  # thread documents not written: the server's limits
        self._writing = asyncio.Lock()  # one batch writes the folders at a time

    @property
    def store(self) -> ThreadSourceStore:
        return self.bot.thread_sources

    # ----- events ----------------------------------------------------------------------------

    def touch(self, thread_id: int, channel_id: int) -> None:
        """A thread of a source channel changed (a message, an edit, a tag, a reaction)."""
        self.touched[thread_id] = channel_id
        self._schedule()

    def thread_gone(self, thread_id: int, channel_id: int) -> None:
        self.touched.pop(thread_id, None)
        self.gone_threads[thread_id] = channel_id
        self._schedule()

    def channel_gone(self, channel_id: int) -> None:
        self.gone_channels.add(channel_id)
        self._schedule()

    def _schedule(self) -> None:
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._flush_later(), name="citebot-threads-flush")

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.bot.settings.threads_debounce_seconds)
        try:
            await self.flush()
        except Exception:
            log.exception("applying thread changes failed; the next reconcile catches up")

    async def flush(self) -> None:
        """Apply the gathered events: one build per collection that changed."""
        touched, self.touched = self.touched, {}
        gone_threads, self.gone_threads = self.gone_threads, {}
        gone_channels, self.gone_channels = self.gone_channels, set()
        changed: set[str] = set()
        async with self._writing:
            self._usage.clear()
            for channel_id in gone_channels:
                collection = await self.drop_channel(channel_id)
                if collection:
                    changed.add(collection)
            for thread_id, channel_id in gone_threads.items():
                source = await asyncio.to_thread(self.store.channel, channel_id)
                if source is not None and await self._remove(source, thread_id):
                    changed.add(source.collection)
            for thread_id, channel_id in touched.items():
                source = await asyncio.to_thread(self.store.channel, channel_id)
                if source is None:
                    continue
                thread = await self._thread(thread_id)
                if thread is None:
                    gone = await self._remove(source, thread_id)
                else:
                    gone = await self._apply(source, thread.id, await read(self.bot, source,
                                                                           thread))
                if gone:
                    changed.add(source.collection)
        for collection in changed:
            self.build(collection)

    async def _thread(self, thread_id: int) -> discord.Thread | None:
        channel = self.bot.get_channel(thread_id)
        if isinstance(channel, discord.Thread):
            return channel
        try:
            fetched = await self.bot.fetch_channel(thread_id)
        except (discord.NotFound, discord.Forbidden):
            return None
        return fetched if isinstance(fetched, discord.Thread) else None

    # ----- writing documents -----------------------------------------------------------------

    def _source_dir(self, source: ThreadChannel) -> Path:
        return self.bot.collections.settings_for(source.collection).source_dir

    async def _apply(self, source: ThreadChannel, thread_id: int, found: ThreadRead) -> bool:
        """Write (or remove) the thread's document and record it; whether the folder changed."""
        source_dir = self._source_dir(source)
        before = await asyncio.to_thread(self.store.thread, thread_id)

        def work() -> bool:
            changed = False
            name: str | None = None
            if found.text is not None and core_threads.has_text(found.text) and self._room(
                source, source_dir, found.text, before.name if before else None
            ):
                name, changed = core_threads.write_thread(source_dir, found.text)
            if before is not None and before.name and before.name != name:
                changed = core_threads.remove_thread(source_dir, before.name) or changed
            self.store.record(source.channel_id, thread_id, name, solved=found.solved,
                              last_message_id=found.last_message_id)
            return changed

        return await asyncio.to_thread(work)

    def _room(self, source: ThreadChannel, source_dir: Path, text: ThreadText,
              current: str | None) -> bool:
        """Whether the thread's document fits the server's limits (a thread already written
        always does: it is replaced); counted in. Blocking: called in a worker thread."""
        usage = self._usage.get(source.collection)
        if usage is None:
            usage = list(folder_usage(source_dir))
            self._usage[source.collection] = usage
        size = len(core_threads.markdown(text).encode("utf-8"))
        if current is not None and (source_dir / current).is_file():
            return True
        settings = self.bot.settings
        if (usage[0] + 1 > settings.server_max_documents
                or usage[1] + size > settings.server_max_mb * 1_000_000):
            self.over_limit += 1
            if self.over_limit % 100 == 1:  # not once per thread of a large backfill
                log.warning("server %s: thread %s not added: the server's documents are at "
                            "CITEBOT_SERVER_MAX_DOCUMENTS / CITEBOT_SERVER_MAX_MB (%d so far)",
                            source.guild_id, text.thread_id, self.over_limit)
            return False
        usage[0] += 1
        usage[1] += size
        return True

    async def _remove(self, source: ThreadChannel, thread_id: int) -> bool:
        before = await asyncio.to_thread(self.store.thread, thread_id)
        if before is None:
            return False
        source_dir = self._source_dir(source)

        def work() -> bool:
            removed = core_threads.remove_thread(source_dir, before.name)
            self.store.forget_thread(thread_id)
            return removed

        return await asyncio.to_thread(work)

    async def drop_channel(self, channel_id: int) -> str | None:
        """The channel stops being a source (deleted, no longer public, removed): its documents
        and records go; the collection to rebuild (None: it was no source)."""
        source = await asyncio.to_thread(self.store.channel, channel_id)
        if source is None:
            return None
        task = self.backfills.pop(channel_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        source_dir = self._source_dir(source)

        def work() -> int:
            removed = core_threads.remove_channel(source_dir, channel_id)
            self.store.forget_channel(channel_id)
            return removed

        removed = await asyncio.to_thread(work)
        log.info("server %s: channel %s is no longer a source (%d thread documents removed)",
                 source.guild_id, channel_id, removed)
        return source.collection

    # ----- builds ------------------------------------------------------------------------------

    def build(self, collection: str) -> None:
        """Queue ONE incremental build of ``collection`` (merged with one already queued); an
        emptied collection is deleted instead."""
        task = asyncio.create_task(self._build(collection), name="citebot-threads-build")
        self.builds.add(task)
        task.add_done_callback(self.builds.discard)

    async def _build(self, collection: str) -> None:
        try:
            await self._build_now(collection)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rebuilding %s after thread changes failed", collection)

    async def _build_now(self, collection: str) -> None:
        collections = self.bot.collections
        if not await asyncio.to_thread(collections.documents, collection):
            # Its last document was a thread now gone: the index would still quote it.
            try:
                await asyncio.to_thread(documents.delete_collection, collections, collection)
            except BuildInProgressError:
                self.build_later(collection)
            else:
                collections.unload(collection)
            return
        # Shielded: the queue merges builds, so the future may be a /docs command's as well.
        outcome = await asyncio.shield(self.bot.builds.submit(
            key=collection, settings=self.bot.settings, collection=collection))
        if outcome.ok:
            collections.unload(collection)  # the next question loads the new index
        else:
            log.warning("the rebuild of %s after thread changes failed: %s", collection,
                        outcome.error_kind)

    def build_later(self, collection: str) -> None:
        """Try again once the build that holds the collection has ended."""

        async def later() -> None:
            await asyncio.sleep(1.0)
            await self._build(collection)

        task = asyncio.create_task(later(), name="citebot-threads-build-later")
        self.builds.add(task)
        task.add_done_callback(self.builds.discard)

    async def stop(self) -> None:
        """Cancel the backfills, the gathered changes and the builds' follow-ups (the bot is
        closing: what was not applied is caught up by the next start's reconcile)."""
        tasks = [*self.backfills.values(), *self.builds]
        if self._flush is not None:
            tasks.append(self._flush)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until no backfill, gathered change or build is left (tests, benchmarks)."""
        while True:
            waiting: list[asyncio.Task[None]] = [*self.backfills.values(), *self.builds]
            if self._flush is not None and not self._flush.done():
                waiting.append(self._flush)
            if not waiting:
                return
            await asyncio.gather(*waiting, return_exceptions=True)

    # ----- backfill and reconcile ----------------------------------------------------------------

    def start_backfill(self, source: ThreadChannel) -> None:
        """Backfill the channel (resuming at its cursor) unless a backfill of it runs."""
        running = self.backfills.get(source.channel_id)
        if running is not None and not running.done():
            return
        task = asyncio.create_task(self._backfill_logged(source),
                                   name=f"citebot-backfill-{source.channel_id}")
        self.backfills[source.channel_id] = task
        task.add_done_callback(lambda _: self.backfills.pop(source.channel_id, None))

    async def _backfill_logged(self, source: ThreadChannel) -> None:
        try:
            await self.backfill(source)
        except asyncio.CancelledError:
            raise
        except discord.HTTPException as error:
            log.warning("server %s: reading channel %s's threads stopped (HTTP %s); it "
                        "resumes at the next start", source.guild_id, source.channel_id,
                        error.status)
        except Exception:
            log.exception("server %s: reading channel %s's threads failed", source.guild_id,
                          source.channel_id)

    def _channel(self, source: ThreadChannel) -> discord.TextChannel | discord.ForumChannel | None:
        channel = self.bot.get_channel(source.channel_id)
        if not is_source_kind(channel):
            return None
        assert isinstance(channel, (discord.TextChannel, discord.ForumChannel))
        return channel

    async def backfill(self, source: ThreadChannel) -> None:
        """Read every thread of the channel not read yet, from the stored cursor on."""
        channel = self._channel(source)
        if channel is None or not (public(channel) or source.private):
            self.build_if(await self.drop_channel(source.channel_id))
            return
        records = await asyncio.to_thread(self.store.threads, source.channel_id)
        # Read under this registration (a restart resumes after them); older records are of
        # an earlier rule: read again.
        known = {i for i, record in records.items() if record.read_at >= source.added_at}
        batch: list[discord.Thread] = []
        if source.backfill_before is None:  # the active threads come first, once
            batch = [t for t in channel.threads if t.id not in known]
            active = await channel.guild.active_threads()
            batch += [t for t in active if t.parent_id == channel.id and t.id not in known
                      and t not in batch]
        before = (datetime.datetime.fromisoformat(source.backfill_before)
                  if source.backfill_before else None)
        cursor = source.backfill_before
        async for thread in channel.archived_threads(limit=None, before=before):
            cursor = thread.archive_timestamp.isoformat()
            if thread.id in known:
                continue
            batch.append(thread)
            if len(batch) >= BATCH:
                await self._batch(source, batch, cursor)
                batch = []
        await self._batch(source, batch, cursor, done=True)
        log.info("server %s: read the threads of channel %s", source.guild_id, source.channel_id)

    def build_if(self, collection: str | None) -> None:
        if collection:
            self.build(collection)

    async def _batch(self, source: ThreadChannel, threads: Iterable[discord.Thread],
                     cursor: str | None, *, done: bool = False) -> None:
        """Read and write a batch of threads, store the cursor, queue one build."""
        changed = False
        self._usage.pop(source.collection, None)
        for thread in threads:
            found = await read(self.bot, source, thread)
            async with self._writing:
                changed = await self._apply(source, thread.id, found) or changed
        await asyncio.to_thread(self.store.set_cursor, source.channel_id, cursor, done=done)
        if changed:
            self.build(source.collection)

    async def reconcile(self, source: ThreadChannel, *, thorough: bool = False) -> None:
        """Catch up with what happened while the bot was away (a backfilled channel): threads
        gone, new, or with new messages; ``thorough`` reads every thread again, which also
        catches edits, tags and reactions (only what changed is embedded again)."""
        channel = self._channel(source)
        if channel is None or not (public(channel) or source.private):
            self.build_if(await self.drop_channel(source.channel_id))
            return
        known = await asyncio.to_thread(self.store.threads, source.channel_id)
        seen: set[int] = set()
        active = await channel.guild.active_threads()
        listed = [t for t in active if t.parent_id == channel.id]
        listed += [t async for t in channel.archived_threads(limit=None)]
        for thread in listed:
            seen.add(thread.id)
            record = known.get(thread.id)
            if thorough or record is None or record.last_message_id != thread.last_message_id:
                self.touch(thread.id, source.channel_id)
        for thread_id in set(known) - seen:
            self.thread_gone(thread_id, source.channel_id)
