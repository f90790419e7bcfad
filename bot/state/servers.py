"""What citebot keeps per Discord server for its own knowledge base (issue 11): the server's
settings, an audit log of changes to its documents, and when the bot was removed from it.

Every query names one server: nothing here returns one server's rows for another. User ids are
kept as given (the log is shown to that server's admins, who see the user anyway); file contents
never are. Texts are stored as given, capped in length; rendering escapes them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from bot.state.database import StateLocation
from bot.state.schema import (
    audit_log,
    auto_answer_channels,
    question_log,
    removed_servers,
    server_settings,
    solved_threads,
    upsert,
)
from bot.state.upgrade import open_database

MAX_TEXT_CHARS = 500
"""Longest target or detail kept in an audit entry (longer ones are cut, with an ellipsis)."""
ACTIONS = (
    "add", "remove", "reindex", "settings", "purge", "crawl", "sync", "sources", "channel",
)
MAX_AUTO_ANSWER_CHANNELS = 10
"""Most channels of one server answered without a mention."""
AUTO_ANSWER_CACHE_S = 30.0
"""How long the auto-answer channels read for a server are reused (every message of a server
asks; a change made by this process is seen at once, one made by another within this time)."""

@dataclass(frozen=True)
class ServerSettings:
    """A server's choices: whether it also searches the default collection, a role that may
    manage its documents besides members with Manage Server, and whether its questions are
    logged (for its admins' knowledge gaps and usage charts)."""

    include_default: bool = True
    manager_role_id: int | None = None
    log_questions: bool = True
    auto_answer_quiet: bool = True
    auto_answer_channels: tuple[int, ...] = ()


@dataclass(frozen=True)
class AutoAnswer:
    """Where a server's new posts are answered without a mention, and whether a post the
    sources do not answer gets only a quiet note."""

    channels: frozenset[int] = frozenset()
    quiet: bool = True


@dataclass(frozen=True)
class SolvedThread:
    """A thread marked solved: where, when (seconds since the epoch), and a keyed hash of who
    marked it."""

    guild_id: int
    channel_id: int
    thread_id: int
    solved_at: float
    by_hash: str


@dataclass(frozen=True)
class AuditEntry:
    """One change to a server's documents: who, what, when, and how it ended."""

    at: datetime
    user_id: int
    action: str
    target: str
    result: str
    detail: str = ""


@dataclass(frozen=True)
class ServerLimits:
    """Per-server limits: documents, bytes of documents in all, bytes of one uploaded file."""

    max_documents: int
    max_bytes: int
    max_file_bytes: int


class ServerStore:
    """Server settings, audit log and removals in the state database; safe from any thread."""

    def __init__(self, path: StateLocation, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._database = open_database(path)
        self.path = self._database.path
        self._auto_answer: dict[int, tuple[float, AutoAnswer]] = {}
        self._cache_lock = threading.Lock()

    def settings(self, guild_id: int) -> ServerSettings:
        """The server's settings (the defaults for a server never configured)."""
        with self._database.reading() as connection:
            return _settings(connection, guild_id)

    def update_settings(
        self,
        guild_id: int,
        *,
        include_default: bool | None = None,
        manager_role_id: int | None = None,
        clear_manager_role: bool = False,
        log_questions: bool | None = None,
        auto_answer_quiet: bool | None = None,
    ) -> ServerSettings:
        """Change what is given (the rest stays); returns the settings now in force. Turning
        the question log off deletes the server's logged questions."""
        with self._database.transaction() as connection:
            current = _settings(connection, guild_id, for_update=True)
            include = current.include_default if include_default is None else include_default
            role = current.manager_role_id if manager_role_id is None else int(manager_role_id)
            if clear_manager_role:
                role = None
            logging = current.log_questions if log_questions is None else log_questions
            quiet = current.auto_answer_quiet if auto_answer_quiet is None else auto_answer_quiet
            statement = upsert(connection, server_settings).values(
                guild_id=int(guild_id),
                include_default=int(include),
                manager_role_id=role,
                log_questions=int(logging),
                auto_answer_quiet=int(quiet),
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[server_settings.c.guild_id],
                    set_={
                        "include_default": statement.excluded.include_default,
                        "manager_role_id": statement.excluded.manager_role_id,
                        "log_questions": statement.excluded.log_questions,
                        "auto_answer_quiet": statement.excluded.auto_answer_quiet,
                    },
                )
            )
            if not logging:
                connection.execute(
                    delete(question_log).where(question_log.c.guild_id == int(guild_id))
                )
        self._forget_cached(guild_id)
        return ServerSettings(include, role, logging, quiet, current.auto_answer_channels)

    def add_auto_answer(self, guild_id: int, channel_id: int) -> bool:
        """Answer new posts in ``channel_id`` without a mention; False when the server already
        has ``MAX_AUTO_ANSWER_CHANNELS`` others (a channel already on is kept, True)."""
        with self._database.transaction() as connection:
            count = connection.execute(
                select(func.count())
                .select_from(auto_answer_channels)
                .where(
                    auto_answer_channels.c.guild_id == int(guild_id),
                    auto_answer_channels.c.channel_id != int(channel_id),
                )
            ).scalar_one()
            if count >= MAX_AUTO_ANSWER_CHANNELS:
                return False
            statement = upsert(connection, auto_answer_channels).values(
                guild_id=int(guild_id), channel_id=int(channel_id), added_at=self._clock()
            )
            connection.execute(statement.on_conflict_do_nothing())
        self._forget_cached(guild_id)
        return True

    def remove_auto_answer(self, guild_id: int, channel_id: int | None = None) -> int:
        """Stop answering unasked in ``channel_id`` (None: in every channel of the server);
        returns how many channels were on."""
        query = delete(auto_answer_channels).where(auto_answer_channels.c.guild_id == int(guild_id))
        if channel_id is not None:
            query = query.where(auto_answer_channels.c.channel_id == int(channel_id))
        with self._database.transaction() as connection:
            removed = connection.execute(query).rowcount
        self._forget_cached(guild_id)
        return int(removed)

    def auto_answer(self, guild_id: int) -> AutoAnswer:
        """The server's auto-answer channels and quiet choice (blocking on a cache miss)."""
        cached = self.cached_auto_answer(guild_id)
        if cached is not None:
            return cached
        with self._database.reading() as connection:
            settings = _settings(connection, guild_id)
        found = AutoAnswer(frozenset(settings.auto_answer_channels), settings.auto_answer_quiet)
        with self._cache_lock:
            self._auto_answer[int(guild_id)] = (time.monotonic(), found)
        return found

    def cached_auto_answer(self, guild_id: int) -> AutoAnswer | None:
        """What ``auto_answer`` read for the server less than ``AUTO_ANSWER_CACHE_S`` ago
        (None: it must be read; never blocks, so the event loop may call it)."""
        with self._cache_lock:
            entry = self._auto_answer.get(int(guild_id))
        if entry is None or time.monotonic() - entry[0] > AUTO_ANSWER_CACHE_S:
            return None
        return entry[1]

    def servers_with_auto_answer(self) -> list[int]:
        """The servers that have at least one auto-answer channel."""
        query = select(auto_answer_channels.c.guild_id).distinct()
        with self._database.reading() as connection:
            return sorted(int(guild_id) for guild_id in connection.execute(query).scalars())

    def mark_solved(self, guild_id: int, channel_id: int, thread_id: int, by_hash: str) -> bool:
        """Record thread ``thread_id`` (of channel ``channel_id``) as solved by ``by_hash``;
        False when it already was (the first marking is kept)."""
        with self._database.transaction() as connection:
            statement = upsert(connection, solved_threads).values(
                thread_id=int(thread_id),
                guild_id=int(guild_id),
                channel_id=int(channel_id),
                solved_at=self._clock(),
                by_hash=by_hash,
            )
            # RETURNING, not rowcount: the PostgreSQL driver's rowcount said 'added' for a skip
            added = connection.execute(
                statement.on_conflict_do_nothing().returning(solved_threads.c.thread_id)
            ).first()
        return added is not None

    def solved_threads(
        self, guild_id: int, channel_id: int | None = None, thread_id: int | None = None
    ) -> list[SolvedThread]:
        """The server's threads marked solved (of ``channel_id`` only, or thread ``thread_id``
        only, when given), oldest first."""
        query = select(
            solved_threads.c.guild_id,
            solved_threads.c.channel_id,
            solved_threads.c.thread_id,
            solved_threads.c.solved_at,
            solved_threads.c.by_hash,
        ).where(solved_threads.c.guild_id == int(guild_id))
        if channel_id is not None:
            query = query.where(solved_threads.c.channel_id == int(channel_id))
        if thread_id is not None:
            query = query.where(solved_threads.c.thread_id == int(thread_id))
        with self._database.reading() as connection:
            rows = connection.execute(query.order_by(solved_threads.c.solved_at)).all()
        return [SolvedThread(int(g), int(c), int(t), float(at), h) for g, c, t, at, h in rows]

    def forget_marker(self, by_hash: str) -> int:
        """Blank who marked threads solved where it was ``by_hash`` (the threads stay solved);
        returns how many."""
        with self._database.transaction() as connection:
            changed = connection.execute(
                update(solved_threads)
                .where(solved_threads.c.by_hash == by_hash)
                .values(by_hash="")
            ).rowcount
        return int(changed)

    def _forget_cached(self, guild_id: int) -> None:
        with self._cache_lock:
            self._auto_answer.pop(int(guild_id), None)

    def record(
        self, guild_id: int, user_id: int, action: str, target: str, result: str, detail: str = ""
    ) -> None:
        """Add an entry to the server's audit log (``action`` one of ``ACTIONS``)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        with self._database.transaction() as connection:
            connection.execute(
                insert(audit_log).values(
                    guild_id=int(guild_id),
                    at=self._clock(),
                    user_id=int(user_id),
                    action=action,
                    target=_cap(target),
                    result=_cap(result),
                    detail=_cap(detail),
                )
            )

    def recent(self, guild_id: int, limit: int = 10) -> list[AuditEntry]:
        """The server's latest audit entries, newest first."""
        query = (
            select(
                audit_log.c.at,
                audit_log.c.user_id,
                audit_log.c.action,
                audit_log.c.target,
                audit_log.c.result,
                audit_log.c.detail,
            )
            .where(audit_log.c.guild_id == int(guild_id))
            .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .limit(max(0, int(limit)))
        )
        with self._database.reading() as connection:
            rows = connection.execute(query).all()
        return [
            AuditEntry(datetime.fromtimestamp(at, UTC), user, action, target, result, detail)
            for at, user, action, target, result, detail in rows
        ]

    def mark_removed(self, guild_id: int) -> None:
        """The bot was removed from the server: its documents are kept for the grace period.
        A second removal event keeps the first time."""
        with self._database.transaction() as connection:
            statement = upsert(connection, removed_servers).values(
                guild_id=int(guild_id), removed_at=self._clock()
            )
            connection.execute(statement.on_conflict_do_nothing())

    def mark_returned(self, guild_id: int) -> None:
        """The bot is back in the server: its documents are no longer due for deletion."""
        with self._database.transaction() as connection:
            connection.execute(
                delete(removed_servers).where(removed_servers.c.guild_id == int(guild_id))
            )

    def due_for_deletion(self, grace_days: int) -> list[int]:
        """Servers that removed the bot more than ``grace_days`` ago, oldest first."""
        cutoff = self._clock() - grace_days * 86_400.0
        query = (
            select(removed_servers.c.guild_id)
            .where(removed_servers.c.removed_at <= cutoff)
            .order_by(removed_servers.c.removed_at)
        )
        with self._database.reading() as connection:
            return list(connection.execute(query).scalars())

    def forget(self, guild_id: int) -> None:
        """Erase everything kept about the server: settings, auto-answer channels, audit log,
        removal mark, logged questions, solved threads."""
        tables = (
            server_settings, auto_answer_channels, audit_log, removed_servers, question_log,
            solved_threads,
        )
        with self._database.transaction() as connection:
            for table in tables:
                connection.execute(delete(table).where(table.c.guild_id == int(guild_id)))
        self._forget_cached(guild_id)

    def close(self) -> None:
        """End this store's use of the database; later calls raise StateError."""
        self._database.close()


def _settings(connection: Connection, guild_id: int, for_update: bool = False) -> ServerSettings:
    query = select(
        server_settings.c.include_default,
        server_settings.c.manager_role_id,
        server_settings.c.log_questions,
        server_settings.c.auto_answer_quiet,
    ).where(server_settings.c.guild_id == int(guild_id))
    if for_update:
        query = query.with_for_update()  # PostgreSQL: two changes at once do not lose one
    row = connection.execute(query).first()
    channels = tuple(
        int(channel)
        for channel in connection.execute(
            select(auto_answer_channels.c.channel_id)
            .where(auto_answer_channels.c.guild_id == int(guild_id))
            .order_by(auto_answer_channels.c.added_at, auto_answer_channels.c.channel_id)
        ).scalars()
    )
    if row is None:
        return ServerSettings(auto_answer_channels=channels)
    return ServerSettings(bool(row[0]), row[1], bool(row[2]), bool(row[3]), channels)


def check_limits(
    documents: int, total_bytes: int, new_file_bytes: int, limits: ServerLimits
) -> str | None:
    """Why adding a file of ``new_file_bytes`` to a server's ``documents`` (``total_bytes`` in
    all) would break a limit, as a message for the user; None when it fits."""
    if new_file_bytes > limits.max_file_bytes:
        return (
            f"That file is {_mb(new_file_bytes)}, over the {_mb(limits.max_file_bytes)} limit for "
            "one file. Split it, or ask the bot's operator to raise CITEBOT_ATTACHMENT_MAX_MB."
        )
    if documents + 1 > limits.max_documents:
        return (
            f"This server already has {documents} documents, the most it may have "
            f"({limits.max_documents}). Remove one with `/docs remove` to make room."
        )
    if total_bytes + new_file_bytes > limits.max_bytes:
        return (
            f"This server's documents take {_mb(total_bytes)}; with this file they would pass the "
            f"{_mb(limits.max_bytes)} limit. Remove some with `/docs remove` to make room."
        )
    return None


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _cap(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"
