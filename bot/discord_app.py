"""The Discord front end: ``/ask``, ``/sources``, ``/reindex``, mentions, buttons and feedback.

``create_bot(settings)`` builds the fully configured client without connecting, so tests can drive
it through discord.py's real ``CommandTree``. ``run_discord`` and ``sync_commands`` are what the
``citebot discord`` and ``citebot discord sync`` commands call.

Threads: searches (and the one-time model/index load) run on one dedicated worker thread, so the
event loop is never blocked and the engine never encodes on two threads at once. ``/reindex`` runs
the rebuild on a thread of its own, so questions keep being answered from the old index meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import aiohttp
import discord
from discord import app_commands

from bot.discord_render import (
    render_answer,
    render_build_report,
    render_sources,
)
from bot.engine import RebuildInProgressError
from bot.feedback import DOWN, UP, FeedbackStore
from bot.settings import Settings
from index.answer import Answer
from index.errors import (
    CitebotError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    ModelError,
    QuestionError,
    SourceError,
)

log = logging.getLogger("citebot.discord")

T = TypeVar("T")

NO_MENTIONS = discord.AllowedMentions.none()
MAX_QUESTION_CHARS = 500
MAX_K = 5
MAX_DEPTH = 25  # "More" stops offering passages beyond this rank
ANSWER_CACHE_SIZE = 5000

GENERIC_ERROR = "Sorry, something went wrong on my side. Please try again in a moment."
EXPIRED = "This answer is too old for that button; please ask the question again."
NEEDS_MANAGE_SERVER = "Only members with the Manage Server permission can rebuild the index."
SERVER_ONLY = "That command only works in a server."
NOT_HERE = "I'm not enabled in this channel; please ask in one of the channels set up for me."
NO_DMS = "I don't answer in direct messages; please ask in a server channel."
REBUILD_RUNNING = "A rebuild is already running; you'll be able to start another when it finishes."
EMPTY_QUESTION = "Ask me a question after the mention, or use `/ask`."
BAD_QUESTION = "Please ask a question with some words in it."
SOURCE_PROBLEM = (
    "The rebuild failed because of a problem with the source documents; the bot's log names "
    "the file and what to do. The previous index is still answering."
)
INDEX_UNAVAILABLE = (
    "The index is unavailable (missing, damaged, or built with another model). An administrator "
    "can rebuild it with /reindex or `citebot build`; details are in the bot's log."
)
TOO_LONG = f"Questions can be at most {MAX_QUESTION_CHARS} characters."


class Refusal(app_commands.CheckFailure):
    """A polite "no" whose message is shown to the user (ephemeral where possible)."""


class RateLimiter:
    """At most ``limit`` events per ``period`` seconds per key (sliding window)."""

    def __init__(
        self, limit: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._events: dict[int, deque[float]] = {}

    def hit(self, key: int) -> float:
        """Record an event for ``key``: 0.0 if allowed, else seconds until the next is allowed."""
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self.period:
            events.popleft()
        if len(events) >= self.limit:
            return self.period - (now - events[0])
        events.append(now)
        if len(self._events) > 10_000:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        stale = [k for k, v in self._events.items() if not v or now - v[-1] >= self.period]
        for key in stale:
            del self._events[key]


@dataclass(frozen=True)
class AnswerContext:
    """What a button on an answer needs: the question, page size, position and what was shown."""

    question: str
    k: int
    offset: int
    passage_ids: tuple[str, ...]
    private: bool


class AnswerCache:
    """Recent answers by short random key (button custom ids are limited to 100 characters)."""

    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, AnswerContext] = OrderedDict()

    def put(self, context: AnswerContext) -> str:
        key = secrets.token_urlsafe(9)
        self._items[key] = context
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> AnswerContext | None:
        context = self._items.get(key)
        if context is not None:
            self._items.move_to_end(key)
        return context


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
        bot = _bot(interaction)
        try:
            await bot.handle_more(interaction, self.key)
        except Exception as error:
            await bot.report_error(interaction, error)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:vote:(?P<key>[A-Za-z0-9_-]{1,40}):(?P<vote>up|down)",
):
    """👍 / 👎 on an answer, stored in the feedback database."""

    def __init__(self, key: str, vote: str) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:vote:{key}:{vote}",
            )
        )
        self.key = key
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(match["key"], match["vote"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        try:
            await bot.handle_vote(interaction, self.key, UP if self.vote == "up" else DOWN)
        except Exception as error:
            await bot.report_error(interaction, error)


class CitebotTree(app_commands.CommandTree["CitebotBot"]):
    """Command tree with the place check (DMs, channel allow-list) and the global error handler."""

    async def interaction_check(self, interaction: discord.Interaction[CitebotBot]) -> bool:
        self.client.check_place(interaction.guild_id, interaction.channel_id, interaction.channel)
        return True

    async def on_error(
        self, interaction: discord.Interaction[CitebotBot], error: app_commands.AppCommandError
    ) -> None:
        await self.client.report_error(interaction, error)


class CitebotBot(discord.Client):
    """The configured client. Holds the engine, the feedback store, cooldowns and recent answers."""

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
        # that mention the bot and of DMs, which is all the mention handler needs.
        super().__init__(intents=discord.Intents.default(), allowed_mentions=NO_MENTIONS)
        self.settings = settings
        self.engine = engine
        self.feedback = feedback or FeedbackStore(settings.feedback_db)
        self.limiter = RateLimiter(
            settings.discord_cooldown_questions, settings.discord_cooldown_seconds, clock
        )
        self.answers = AnswerCache()
        self.default_k = max(1, min(settings.top_k, MAX_K))
        self.rebuild_lock = asyncio.Lock()
        self.load_on_setup = True
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-search")
        self.tree = CitebotTree(self)
        _add_commands(self.tree, settings)
        self.add_dynamic_items(MoreButton, VoteButton)

    # ----- lifecycle -----------------------------------------------------------------------

    async def setup_hook(self) -> None:
        """Load the model and index once, then sync commands to the configured guilds."""
        if not self.load_on_setup:
            return
        await self.in_worker(self._ensure_loaded)
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
        print(
            f"citebot is online as {self.user} in {len(self.guilds)} server(s); Ctrl-C to stop.",
            file=sys.stderr,
            flush=True,
        )

    async def close(self) -> None:
        await super().close()
        self._worker.shutdown(wait=False, cancel_futures=True)

    # ----- the engine, off the event loop ------------------------------------------------------

    async def in_worker(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking engine call on the single search worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, function, *args)

    def _ensure_loaded(self) -> None:
        """Load the model and index (building the index if there is none); a no-op once done."""
        if not self.engine.loaded:
            self.engine.load(build_if_missing=True)

    def _search(self, question: str, k: int, offset: int) -> Answer:
        self._ensure_loaded()
        return cast(Answer, self.engine.search(question, k=k, offset=offset))

    async def search(self, question: str, k: int, offset: int = 0) -> Answer:
        """Search without blocking the event loop."""
        return await self.in_worker(self._search, question, k, offset)

    # ----- policy ------------------------------------------------------------------------------

    def check_place(self, guild_id: int | None, channel_id: int | None, channel: Any) -> None:
        """Refuse DMs when they are off, and guild channels outside the allow-list."""
        if guild_id is None:
            if not self.settings.discord_allow_dms:
                raise Refusal(NO_DMS)
            return
        if not self.channel_allowed(channel_id, getattr(channel, "parent_id", None)):
            raise Refusal(NOT_HERE)

    def channel_allowed(self, channel_id: int | None, parent_id: int | None = None) -> bool:
        """True when no allow-list is set, or the channel (or a thread's parent) is on it."""
        allowed = self.settings.discord_allowed_channels
        return (
            not allowed or channel_id in allowed or (parent_id is not None and parent_id in allowed)
        )

    def check_cooldown(self, user_id: int) -> None:
        """Count one question for ``user_id``; refuse when over the per-user rate."""
        wait = self.limiter.hit(user_id)
        if wait > 0:
            raise Refusal(
                f"Slow down: you can ask {self.limiter.limit} question(s) every "
                f"{self.limiter.period:g} s. Try again in {math.ceil(wait)} s."
            )

    # ----- answers -----------------------------------------------------------------------------

    def answer_view(
        self,
        answer: Answer,
        shown: tuple[str, ...],
        question: str,
        k: int,
        offset: int,
        private: bool,
    ) -> discord.ui.View | None:
        """More / 👍 / 👎 under an answer that showed the passages ``shown`` (None if none)."""
        if not shown:
            return None
        key = self.answers.put(AnswerContext(question, k, offset, shown, private))
        view = discord.ui.View(timeout=None)
        if answer.found and len(shown) >= k and offset + k < MAX_DEPTH:
            view.add_item(MoreButton(key))
        view.add_item(VoteButton(key, "up"))
        view.add_item(VoteButton(key, "down"))
        return view

    async def send_answer(
        self,
        interaction: discord.Interaction[Any],
        answer: Answer,
        question: str,
        k: int,
        offset: int,
        private: bool,
    ) -> None:
        """Send an answer as the follow-up of a deferred interaction."""
        rendered = render_answer(answer, offset=offset)
        view = self.answer_view(answer, rendered.passage_ids, question, k, offset, private)
        await interaction.followup.send(
            content=rendered.content,
            embeds=rendered.embeds,
            view=view if view is not None else discord.utils.MISSING,
            ephemeral=private,
            allowed_mentions=NO_MENTIONS,
        )

    async def handle_more(self, interaction: discord.Interaction[Any], key: str) -> None:
        """The More button: the next k passages for the same question."""
        context = self.answers.get(key)
        if context is None:
            await _say(interaction, EXPIRED)
            return
        self.check_cooldown(interaction.user.id)
        await interaction.response.defer(thinking=True, ephemeral=context.private)
        offset = context.offset + context.k
        answer = await self.search(context.question, context.k, offset)
        await self.send_answer(
            interaction, answer, context.question, context.k, offset, context.private
        )

    async def handle_vote(self, interaction: discord.Interaction[Any], key: str, vote: int) -> None:
        """👍 / 👎: store the vote (salted user hash, never the id) and thank the voter."""
        context = self.answers.get(key)
        if context is None:
            await _say(interaction, EXPIRED)
            return
        await asyncio.to_thread(
            self.feedback.record,
            answer_key=key,
            question=context.question,
            passage_ids=context.passage_ids,
            vote=vote,
            user_id=interaction.user.id,
        )
        await _say(interaction, f"Thanks, your {'👍' if vote == UP else '👎'} was recorded.")

    # ----- mentions ----------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot (or any DM, when DMs are on), as a reply."""
        me = self.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        in_dm = message.guild is None
        if in_dm:
            if not self.settings.discord_allow_dms:
                return
        else:
            if not any(user.id == me.id for user in message.mentions):
                return
            parent_id = getattr(message.channel, "parent_id", None)
            if not self.channel_allowed(message.channel.id, parent_id):
                return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        if not question:
            await _reply(message, EMPTY_QUESTION)
            return
        if len(question) > MAX_QUESTION_CHARS:
            await _reply(message, TOO_LONG)
            return
        try:
            self.check_cooldown(message.author.id)
            answer = await self.search(question, self.default_k)
        except Refusal as refusal:
            await _reply(message, str(refusal))
            return
        except CitebotError as error:
            log.warning("%s: %s", type(error).__name__, error)
            await _reply(message, engine_error_message(error))
            return
        except Exception:
            log.exception("error answering a mention in channel %s", message.channel.id)
            await _reply(message, GENERIC_ERROR)
            return
        rendered = render_answer(answer)
        view = self.answer_view(answer, rendered.passage_ids, question, self.default_k, 0, False)
        await _reply(message, rendered.content, embeds=rendered.embeds, view=view)

    # ----- errors ------------------------------------------------------------------------------

    async def report_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:
        """The one error path: a short ephemeral message for the user, the traceback in the log."""
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, Refusal):
            message = str(original)
        elif isinstance(original, app_commands.MissingPermissions):
            message = NEEDS_MANAGE_SERVER
        elif isinstance(original, app_commands.NoPrivateMessage):
            message = SERVER_ONLY
        elif isinstance(original, CitebotError):
            # Never echo exception text into Discord (it can name server paths): a fixed
            # message per kind of problem for the user, the full message in the log.
            log.warning("%s: %s", type(original).__name__, original)
            message = engine_error_message(original)
        elif isinstance(original, app_commands.CheckFailure):
            message = "You can't use that command here."
        else:
            name = interaction.command.qualified_name if interaction.command else "component"
            log.error("error in %s", name, exc_info=original)
            message = GENERIC_ERROR
        try:
            await _say(interaction, message)
        except discord.HTTPException as send_error:
            log.warning("could not tell the user about an error: %s", send_error)


# ----- commands ----------------------------------------------------------------------------------


def engine_error_message(error: CitebotError) -> str:
    """What Discord users are told about an engine error (a fixed text, never its message)."""
    if isinstance(error, QuestionError):
        return BAD_QUESTION
    if isinstance(error, RebuildInProgressError):
        return REBUILD_RUNNING
    if isinstance(error, SourceError):
        return SOURCE_PROBLEM
    if isinstance(error, IndexMissingError | IndexCorruptError | IndexMismatchError | ModelError):
        return INDEX_UNAVAILABLE
    return GENERIC_ERROR


def _bot(interaction: discord.Interaction[Any]) -> CitebotBot:
    return cast(CitebotBot, interaction.client)


async def _say(interaction: discord.Interaction[Any], message: str) -> None:
    """A short ephemeral message, as the response or as a follow-up if already responded."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(
            message, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def _reply(message: discord.Message, content: str, **kwargs: Any) -> None:
    """Reply to a message without pinging anyone (not even its author)."""
    if kwargs.get("view") is None:
        kwargs.pop("view", None)
    await message.channel.send(
        content,
        reference=message.to_reference(fail_if_not_exists=False),
        allowed_mentions=NO_MENTIONS,
        **kwargs,
    )


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
    bot.check_cooldown(interaction.user.id)
    await interaction.response.defer(thinking=True, ephemeral=private)
    size = k or bot.default_k
    answer = await bot.search(question, size, 0)
    await bot.send_answer(interaction, answer, question, size, 0, private)


async def sources_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/sources: the indexed documents, their sections and chunk counts, and when it was built."""
    bot = _bot(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)

    def collect() -> tuple[list[Any], Any]:
        bot._ensure_loaded()
        return list(bot.engine.sources()), bot.engine.built_at

    sources, built_at = await bot.in_worker(collect)
    await interaction.followup.send(
        embed=render_sources(sources, built_at), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
@app_commands.checks.has_permissions(manage_guild=True)
async def reindex_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/reindex: rebuild the index from the sources, one rebuild at a time, then report."""
    bot = _bot(interaction)
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if bot.rebuild_lock.locked():
        raise Refusal(REBUILD_RUNNING)
    async with bot.rebuild_lock:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await bot.in_worker(bot._ensure_loaded)
        log.info("index rebuild requested in guild %s", interaction.guild_id)
        # Its own thread: the search worker keeps answering from the old index meanwhile.
        report = await asyncio.to_thread(bot.engine.rebuild)
        log.info("index rebuilt: %s documents, %s chunks", report.documents, report.chunks)
        await interaction.followup.send(
            render_build_report(report), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


def _add_commands(tree: CitebotTree, settings: Settings) -> None:
    """Register fresh command objects (each bot gets its own)."""
    everywhere = app_commands.AppCommandContext(
        guild=True, dm_channel=settings.discord_allow_dms, private_channel=False
    )
    guild_install = app_commands.AppInstallationType(guild=True, user=False)
    commands = [
        app_commands.Command(
            name="ask",
            description="Ask a question; get passages quoted from the sources, with citations",
            callback=ask_command,
        ),
        app_commands.Command(
            name="sources",
            description="List the indexed documents",
            callback=sources_command,
        ),
        app_commands.Command(
            name="reindex",
            description="Rebuild the index from the source documents (Manage Server)",
            callback=reindex_command,
        ),
    ]
    for command in commands:
        if command.name != "reindex":
            command.allowed_contexts = everywhere
        command.allowed_installs = guild_install
        tree.add_command(command)


# ----- entry points ------------------------------------------------------------------------------


def create_bot(settings: Settings, engine: Any = None) -> CitebotBot:
    """Build the fully configured bot without connecting (the engine is loaded at start-up)."""
    if engine is None:
        from bot.engine import Engine

        engine = Engine(settings)
    return CitebotBot(settings, engine)


class _RedactToken(logging.Filter):
    """Replace the token wherever it would appear in a log line (belt and braces)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "[redacted]")
            record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "[redacted]")
        return True


def _protect_token(token: str) -> None:
    redactor = _RedactToken(token)
    handlers = list(logging.getLogger().handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        handler.addFilter(redactor)


def _token(settings: Settings) -> str | None:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        _fail(
            "no Discord bot token: set CITEBOT_DISCORD_TOKEN "
            "(see 'Run it on Discord' in the README)"
        )
        return None
    _protect_token(token)
    return token


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


async def _connected(settings: Settings, token: str, action: str, engine: Any) -> int:
    bot = create_bot(settings, engine)
    if action == "sync":
        bot.load_on_setup = False
    try:
        async with bot:
            if action == "run":
                await bot.start(token)
                return 0
            await bot.login(token)
            synced = await bot.tree.sync()
            print(
                f"Synced {len(synced)} command(s) globally: "
                + ", ".join(f"/{command.name}" for command in synced)
                + ". Discord can take a while to show them everywhere."
            )
            return 0
    except discord.LoginFailure:
        _fail(
            "Discord rejected the bot token (CITEBOT_DISCORD_TOKEN); copy it again from the "
            "Developer Portal"
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        _fail("Discord refused the gateway intents requested")
        return 1
    except discord.HTTPException as error:
        _fail(f"Discord refused the request ({error.status})")
        return 1
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        _fail(f"cannot reach Discord ({type(error).__name__})")
        return 1
    except CitebotError as error:
        _fail(str(error))
        return 1


def run_discord(settings: Settings, engine: Any = None) -> int:
    """``citebot discord``: run the bot until stopped. Exit status: 0, 1 (error), 2 (token)."""
    token = _token(settings)
    if token is None:
        return 2
    try:
        return asyncio.run(_connected(settings, token, "run", engine))
    except KeyboardInterrupt:
        return 0


def sync_commands(settings: Settings) -> int:
    """``citebot discord sync``: register the slash commands globally (not done on every start)."""
    token = _token(settings)
    if token is None:
        return 2
    try:
        return asyncio.run(_connected(settings, token, "sync", None))
    except KeyboardInterrupt:
        return 130
