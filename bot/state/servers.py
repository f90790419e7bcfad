"""What citebot keeps per Discord server for its own knowledge base (issue 11): the server's
settings, an audit log of changes to its documents, and when the bot was removed from it.

Every query names one server: nothing here returns one server's rows for another. User ids are
kept as given (the log is shown to that server's admins, who see the user anyway); file contents
never are. Texts are stored as given, capped in length; rendering escapes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select

from bot.state.database import StateLocation
from bot.state.schema import audit_log, question_log, removed_servers, server_settings, upsert
from bot.state.upgrade import open_database

MAX_TEXT_CHARS = 500
"""Longest target or detail kept in an audit entry (longer ones are cut, with an ellipsis)."""
ACTIONS = (
    "add", "remove", "reindex", "settings", "purge", "crawl", "sync", "sources", "channel",
)

@dataclass(frozen=True)
class ServerSettings:
    """A server's choices: whether it also searches the default collection, a role that may
    manage its documents besides members with Manage Server, and whether its questions are
    logged (for its admins' knowledge gaps and usage charts)."""

    include_default: bool = True
    manager_role_id: int | None = None
    log_questions: bool = True


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
            statement = upsert(connection, server_settings).values(
                guild_id=int(guild_id),
                include_default=int(include),
                manager_role_id=role,
                log_questions=int(logging),
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[server_settings.c.guild_id],
                    set_={
                        "include_default": statement.excluded.include_default,
                        "manager_role_id": statement.excluded.manager_role_id,
                        "log_questions": statement.excluded.log_questions,
                    },
                )
            )
            if not logging:
                connection.execute(
                    delete(question_log).where(question_log.c.guild_id == int(guild_id))
                )
        return ServerSettings(include, role, logging)

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
        """Erase everything kept about the server: settings, audit log, removal mark, logged
        questions."""
        with self._database.transaction() as connection:
            for table in (server_settings, audit_log, removed_servers, question_log):
                connection.execute(delete(table).where(table.c.guild_id == int(guild_id)))

    def close(self) -> None:
        """End this store's use of the database; later calls raise StateError."""
        self._database.close()


def _settings(connection: Connection, guild_id: int, for_update: bool = False) -> ServerSettings:
    query = select(
        server_settings.c.include_default,
        server_settings.c.manager_role_id,
        server_settings.c.log_questions,
    ).where(server_settings.c.guild_id == int(guild_id))
    if for_update:
        query = query.with_for_update()  # PostgreSQL: two changes at once do not lose one
    row = connection.execute(query).first()
    return ServerSettings() if row is None else ServerSettings(bool(row[0]), row[1], bool(row[2]))


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
