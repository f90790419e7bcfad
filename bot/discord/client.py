"""The Discord client: a ``commands.Bot`` that loads each feature by name from ``EXTENSIONS``.

``create_bot(settings)`` builds the configured client without connecting; the features are
extensions (``bot.discord.exts.<feature>``), loaded by ``load_features`` when the bot logs in (or
by a test, which then drives discord.py's real ``CommandTree``). The client knows no feature: it
holds what they share (the collections, the state stores, the build queue, the search worker, the
limits and metrics) and runs the start-up every feature relies on. ``bot.discord.launcher`` holds
the ``citebot discord`` entry points.

Threads: searches (and the one-time model/index load) run on one dedicated worker thread, so the
event loop is never blocked and the engine never encodes on two threads at once; builds run in
child processes through the build queue, so questions keep being answered from the old index.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.core.builds import BuildQueue
from bot.core.collections import DEFAULT, Collections, collection_for_guild
from bot.core.insights.record import record_question
from bot.core.visibility import OVERFETCH, hidden_channels, quotable
from bot.discord.monitoring.metrics import ANSWERED, BUILD_OK, ERROR, NOT_FOUND, REFUSED, Metrics
from bot.discord.monitoring.server import MonitoringServer
from bot.discord.utils import onboarding
from bot.discord.utils.checks import Refusal, application_owners, channel_allowed, check_place
from bot.discord.utils.errors import report_error
from bot.discord.utils.limits import RateLimiter
from bot.discord.utils.load import LoadLimiter
from bot.discord.utils.replies import MAX_K, NO_DOCUMENTS_HERE, NO_MENTIONS
from bot.settings import Settings
from bot.state.answers import AnswerStore
from bot.state.conversations import ConversationStore
from bot.state.database import location_of
from bot.state.feedback import FeedbackStore, key_path_for
from bot.state.questions import QuestionLog
from bot.state.servers import ServerLimits, ServerStore
from bot.state.sources import SourceStore
from bot.state.threads import ThreadChannel, ThreadSourceStore
from index.answer import Answer
from index.query.conversation import Turn

# The features, loaded by name in this order (each a package whose ``__init__`` has only
# ``setup(bot)``). A new feature is one package under ``bot/discord/exts/`` and one line here.
EXTENSIONS = (
    "bot.discord.exts.ask",
    "bot.discord.exts.sources",
    "bot.discord.exts.reindex",
    "bot.discord.exts.docs",
    "bot.discord.exts.guide",
    "bot.discord.exts.servers",
    "bot.discord.exts.privacy",
    "bot.discord.exts.threads",
)

log = logging.getLogger("citebot.discord")

T = TypeVar("T")
PRIVATE_SOURCES_S = 30.0
"""How long the private source channels read are reused (another process's change is seen
within this time; this process's at once)."""


def intents_for(settings: Settings) -> discord.Intents:
    """The default intents (no privileged ones), plus Message Content when the settings ask for
    it (thread sources and auto-answer channels need it; the application must have it granted:
    see exts/threads)."""
    intents = discord.Intents.default()
    intents.message_content = settings.discord_message_content
    return intents


class CitebotTree(app_commands.CommandTree["CitebotBot"]):
    """Command tree with the place check (DMs, channel allow-list) and the global error handler."""

    async def interaction_check(self, interaction: discord.Interaction[CitebotBot]) -> bool:
        check_place(
            self.client.settings, interaction.guild_id, interaction.channel_id, interaction.channel
        )
        return True

    async def on_error(
        self, interaction: discord.Interaction[CitebotBot], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


class CitebotBot(commands.Bot):
    """The configured client. Holds the engine (the default collection) and every server's
    collection, the build queue, the state stores, cooldowns and recent answers. citebot has no
    prefix commands: only slash commands, buttons and the mention handler of the ``ask`` feature.
    """

    tree: CitebotTree

    def __init__(
        self,
        settings: Settings,
        engine: Any,
        *,
        feedback: FeedbackStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Default intents: no privileged ones. Discord still delivers the content of messages
        # that mention the bot and of DMs, which is all the mention handler needs. The Message
        # Content intent (privileged) only when the operator asked for it: answering messages
        # that do not mention the bot (auto-answer) needs it.
        # citebot never joins voice: no start-up warnings about the missing voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        shards: dict[str, Any] = {}
        if isinstance(self, discord.AutoShardedClient):  # ShardedCitebotBot
            shards = {
                "shard_count": settings.discord_shard_count,
                "shard_ids": settings.shards_here,
            }
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: on_message runs no text command
            help_command=None,
            tree_cls=CitebotTree,
            intents=intents_for(settings),
            allowed_mentions=NO_MENTIONS,
            **shards,
        )
        self.settings = settings
        # Each server's own documents (``guild-<id>``) besides ``default``, served by ``engine``.
        self.collections = Collections(settings, default_engine=engine)
        self.clock = clock  # monotonic seconds (replaceable in tests)
        # The state database (CITEBOT_DATABASE_URL, else the SQLite file CITEBOT_STATE_DB).
        state = location_of(settings)
        self.feedback = feedback or FeedbackStore(
            state,
            retention_days=settings.feedback_retention_days,
            key_path=key_path_for(settings.state_db),
        )
        self.limiter = RateLimiter(
            settings.discord_cooldown_questions, settings.discord_cooldown_seconds, clock
        )
        # What the buttons under answers need; in the same database, so it survives restarts.
        self.answers = AnswerStore(state, settings.feedback_retention_days)
        self.servers = ServerStore(state)
        # Questions asked in servers, for their admins' gaps and charts (unless turned off).
        self.questions = QuestionLog(state, settings.question_log_days)
        # Crawled sites and added addresses, their pages and schedules; the sync lease.
        self.sources = SourceStore(state)
        # Channels whose solved threads are sources, their backfill cursors, the threads read.
        self.thread_sources = ThreadSourceStore(state)
        self._private_cache: tuple[float, list[ThreadChannel]] | None = None
        self._private_lock = threading.Lock()
        # The turns before each answer, for follow-up questions (kept minutes, not days).
        self.conversations = ConversationStore(
            state,
            settings.conversation_turns,
            settings.conversation_minutes * 60.0,
        )
        self.metrics = Metrics()
        self.builds = BuildQueue(
            timeout_seconds=settings.build_timeout_minutes * 60.0,
            on_finished=lambda outcome: self.metrics.build(
                BUILD_OK if outcome.ok else str(outcome.error_kind)
            ),
        )
        self.load = LoadLimiter(
            settings.discord_max_queued,
            settings.discord_max_queued_per_server,
            on_refused=lambda: self.metrics.question(REFUSED),
        )
        self.metrics.watch_queues(lambda: self.load.active, lambda: self.builds.depth)
        self.monitor: MonitoringServer | None = None  # /healthz and /metrics, when configured
        self.default_k = max(1, min(settings.top_k, MAX_K))
        self._application_owners: frozenset[int] | None = None
        self._shutdown: asyncio.Task[None] | None = None
        self.load_on_setup = True
        self._at_start: list[Callable[[], Awaitable[None]]] = []
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-search")

    @property
    def engine(self) -> Any:
        """The default collection's engine (it also holds the model every collection shares)."""
        return self.collections.models

    @engine.setter
    def engine(self, engine: Any) -> None:
        self.collections.models = engine

    # ----- lifecycle -----------------------------------------------------------------------

    async def load_features(self) -> None:
        """Load every extension of ``EXTENSIONS`` not loaded yet (their commands, buttons and
        listeners); ``setup_hook`` calls it, and so do tests that drive the tree without logging
        in."""
        for name in EXTENSIONS:
            if name not in self.extensions:
                await self.load_extension(name)

    def run_at_start(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Have ``callback`` awaited once the model and index are loaded at start-up (a
        feature's background work, such as the sweep of removed servers' documents)."""
        self._at_start.append(callback)

    async def setup_hook(self) -> None:
        """Load the features; then serve /healthz and /metrics (when configured), load the model
        and index once, start the features' background work, and sync commands to the configured
        guilds (the process running shard 0 only)."""
        await self.load_features()
        if not self.load_on_setup:
            return
        if self.settings.health_port is not None:
            self.monitor = MonitoringServer(
                self, self.settings.health_host, self.settings.health_port
            )
            await self.monitor.start()  # first: it reports the start-up as not yet healthy
        await self.in_worker(self.ensure_loaded)
        for callback in self._at_start:
            await callback()
        if not self.settings.syncs_commands:
            log.info(
                "shard(s) %s: the process running shard 0 syncs the commands, not this one",
                self.settings.shards_here,
            )
            return
        onboarding.warn_if_public(self)
        if not self.settings.discord_guilds:
            await onboarding.check_global_commands(self)
        for guild_id in self.settings.discord_guilds:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as error:
                log.warning(
                    "could not sync commands to guild %s (is the bot in it, invited with the "
                    "applications.commands scope?): %s %s",
                    guild_id,
                    error.status,
                    error.text,
                )
            else:
                log.info("synced %d command(s) to guild %s", len(synced), guild_id)

    async def on_ready(self) -> None:
        """Tell the operator the bot is up (stderr, whatever the log level)."""
        count = self.settings.discord_shard_count
        shards = "" if count is None else f" (shards {self.settings.shards_here} of {count})"
        print(
            f"citebot is online as {self.user} in {len(self.guilds)} server(s){shards}; "
            "Ctrl-C to stop.",
            file=sys.stderr,
            flush=True,
        )

    async def close(self) -> None:
        """Unload the features (stopping their background work), disconnect, stop the search
        worker and the health endpoint, then close the stores (once)."""
        # A READY still waiting for its servers would dispatch "ready" after the close, on a
        # client with no loop any more (seen when a session is identified again just before).
        ready: asyncio.Task[None] | None = getattr(self._connection, "_ready_task", None)
        if ready is not None and not ready.done():
            ready.cancel()
        await super().close()
        if self.monitor is not None:
            await self.monitor.stop()
        await self.builds.close()
        self._worker.shutdown(wait=False, cancel_futures=True)
        stores = (  # the question log first: writing its queue reads the servers' settings
            self.questions, self.answers, self.feedback, self.servers, self.conversations,
            self.sources, self.thread_sources,
        )
        for store in stores:  # closing twice is harmless
            try:
                await asyncio.to_thread(store.close)
            except Exception:
                log.exception("could not close %s", type(store).__name__)

    def install_signal_handlers(self) -> None:
        """On SIGTERM (systemd, containers) shut down gracefully; call on the running loop."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            log.warning("cannot handle SIGTERM here; it will stop the bot abruptly")

    def _on_sigterm(self) -> None:
        if self._shutdown is None:
            self._shutdown = asyncio.get_running_loop().create_task(self.shut_down())

    async def shut_down(self) -> None:
        """Stop taking questions (new ones are told to ask again shortly), let the ones in flight
        finish for up to CITEBOT_SHUTDOWN_GRACE_SECONDS, then close the client and the stores."""
        log.warning("SIGTERM: finishing %d question(s) in flight, then stopping", self.load.active)
        self.load.close()
        grace = self.settings.shutdown_grace_seconds
        if not await self.load.drained(grace):
            log.warning(
                "stopping with %d question(s) unanswered after %g s", self.load.active, grace
            )
        await self.close()

    # ----- the engine, off the event loop ------------------------------------------------------

    async def in_worker(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking engine call on the single search worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, function, *args)

    def ensure_loaded(self) -> None:
        """Load the model and index (building the index if there is none); a no-op once done."""
        if not self.engine.loaded:
            self.engine.load(build_if_missing=True)

    def collections_for(self, guild_id: int | None) -> list[str]:
        """The collections a question asked in ``guild_id`` searches (blocking: reads the state
        database): a DM only ``default``; a server its own documents, if it has any, and
        ``default`` unless the server turned it off. Refusal when that leaves none."""
        if guild_id is None:
            return [DEFAULT]
        own = collection_for_guild(guild_id)
        names = [own] if self.collections.exists(own) else []
        if self.servers.settings(guild_id).include_default:
            names.append(DEFAULT)
        if not names:
            raise Refusal(NO_DOCUMENTS_HERE)
        return names

    def server_limits(self) -> ServerLimits:
        """The per-server limits from the settings, in bytes."""
        return ServerLimits(
            self.settings.server_max_documents,
            int(self.settings.server_max_mb * 1_000_000),
            int(self.settings.attachment_max_mb * 1_000_000),
        )

    def search_now(
        self,
        question: str,
        k: int,
        offset: int,
        guild_id: int | None,
        history: tuple[Turn, ...],
        where: Collection[int] = (),
    ) -> Answer:
        """What ``search`` answers, on the calling thread and not counted as a question
        (blocking: the search worker's, or a feature's own look-up such as a gap's closest
        passage)."""
        names = self.collections_for(guild_id)
        if DEFAULT in names:
            self.ensure_loaded()
        hidden = frozenset[int]()
        if guild_id is not None:
            hidden = hidden_channels(self._private_sources(), guild_id, where)
        if not hidden:
            return self.collections.search_many(names, question, k, offset, history)
        size = k or self.settings.top_k
        wide = self.collections.search_many(names, question, offset + size + OVERFETCH, 0,
                                            history)
        return quotable(wide, hidden, size, offset)

    def _private_sources(self) -> list[ThreadChannel]:
        """The source channels accepted as private (read again every ``PRIVATE_SOURCES_S``, and
        at once after this process changed one: ``forget_private_sources``)."""
        now = time.monotonic()
        with self._private_lock:
            if self._private_cache is not None and now - self._private_cache[0] < PRIVATE_SOURCES_S:
                return self._private_cache[1]
        found = [source for source in self.thread_sources.channels() if source.private]
        with self._private_lock:
            self._private_cache = (now, found)
        return found

    def forget_private_sources(self) -> None:
        """A source channel was added or removed here: read the private ones again."""
        with self._private_lock:
            self._private_cache = None

    async def log_question(
        self,
        guild_id: int | None,
        user_id: int,
        question: str,
        answer: Answer,
        shown: Sequence[str],
        answer_key: str | None,
    ) -> None:
        """Queue a question answered in a server (not a DM) for its admins' log: no database
        work here (the log's writer thread does it, with the collection searched and the
        embedding); a failure is logged for the operator and never reaches the asker."""
        if guild_id is None:
            return
        try:
            record_question(
                self.questions,
                self.feedback,
                guild_id=guild_id,
                user_id=user_id,
                collection=lambda: self.collections_for(guild_id)[0],
                question=question,
                answer=answer,
                shown=shown,
                answer_key=answer_key,
                encoder=getattr(self.engine, "query_encoder", None),
            )
        except Exception:
            log.warning("could not log a question of server %s", guild_id, exc_info=True)

    async def search(
        self,
        question: str,
        k: int,
        offset: int = 0,
        guild_id: int | None = None,
        history: tuple[Turn, ...] = (),
        where: Collection[int] = (),
    ) -> Answer:
        """Search the collections of ``guild_id`` (None: a DM) without blocking the event
        loop, reading the question together with the earlier turns ``history``, for the
        channels ``where`` (the asking channel and a thread's parent: a private source's threads
        are quoted only there, bot.core.visibility). Every question comes through here: it is
        counted (``metrics``) by outcome, with its latency."""
        started = time.perf_counter()
        try:
            answer = await self.in_worker(
                self.search_now, question, k, offset, guild_id, history, tuple(where)
            )
        except Refusal:
            self.metrics.question(REFUSED)
            raise
        except Exception:
            self.metrics.question(ERROR)
            raise
        self.metrics.question(ANSWERED if answer.found else NOT_FOUND,
                              time.perf_counter() - started)
        return answer

    # ----- policy ------------------------------------------------------------------------------

    def channel_allowed(self, channel_id: int | None, parent_id: int | None = None) -> bool:
        """True when no allow-list is set, or the channel (or a thread's parent) is on it."""
        return channel_allowed(self.settings, channel_id, parent_id)

    def check_cooldown(self, user_id: int) -> None:
        """Count one question for ``user_id``; refuse when over the per-user rate."""
        wait = self.limiter.hit(user_id)
        if wait > 0:
            self.metrics.question(REFUSED)
            raise Refusal(
                f"Slow down: you can ask {self.limiter.limit} question(s) every "
                f"{self.limiter.period:g} s. Try again in {math.ceil(wait)} s."
            )

    async def command_owners(self) -> frozenset[int]:
        """Who may run owner-only commands: the application's owner or team (asked of Discord
        once, then cached) plus ``CITEBOT_OWNER_IDS``."""
        if self._application_owners is None:
            try:
                app = await self.application_info()
            except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
                log.warning(
                    "could not ask Discord for the application's owners (%s); only "
                    "CITEBOT_OWNER_IDS may run owner-only commands for now",
                    type(error).__name__,
                )
                return frozenset(self.settings.owner_ids)
            self._application_owners = application_owners(app)
        return self._application_owners | frozenset(self.settings.owner_ids)

    # ----- events ------------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands (``commands.Bot`` would parse every mention as one): messages are
        the ``ask`` feature's listener's."""

    async def report_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:
        """The one error path: a short ephemeral message for the user, the traceback in the log."""
        await report_error(interaction, error)


class ShardedCitebotBot(CitebotBot, discord.AutoShardedClient):
    """The bot as one of several processes: it runs the gateway shards CITEBOT_DISCORD_SHARD_IDS
    of CITEBOT_DISCORD_SHARD_COUNT (discord.py's AutoShardedClient, one connection each)."""


def create_bot(settings: Settings, engine: Any = None) -> CitebotBot:
    """Build the configured bot without connecting (the features load at login, the engine at
    start-up)."""
    if engine is None:
        from bot.core.engine import Engine

        # One question is searched in a server's collection and the shared one: embed it once.
        engine = Engine(settings, remember_queries=True)
    kind = CitebotBot if settings.discord_shard_count is None else ShardedCitebotBot
    return kind(settings, engine)
