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
from pathlib import Path

from bot.state.database import StateDatabase

MAX_TEXT_CHARS = 500
"""Longest target or detail kept in an audit entry (longer ones are cut, with an ellipsis)."""
ACTIONS = ("add", "remove", "reindex", "settings", "purge")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS server_settings (
    guild_id INTEGER PRIMARY KEY,
    include_default INTEGER NOT NULL DEFAULT 1,
    manager_role_id INTEGER
);
CREATE TABLE IF NOT EXISTS audit_log (
    guild_id INTEGER NOT NULL,
    at REAL NOT NULL,
    user_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_server ON audit_log (guild_id, at);
CREATE TABLE IF NOT EXISTS removed_servers (
    guild_id INTEGER PRIMARY KEY,
    removed_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class ServerSettings:
    """A server's choices: whether it also searches the default collection, and a role that
    may manage its documents besides members with Manage Server."""

    include_default: bool = True
    manager_role_id: int | None = None


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

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._database = StateDatabase(self.path, _SCHEMA)

    def settings(self, guild_id: int) -> ServerSettings:
        """The server's settings (the defaults for a server never configured)."""
        with self._database.reading() as connection:
            row = connection.execute(
                "SELECT include_default, manager_role_id FROM server_settings WHERE guild_id = ?",
                (int(guild_id),),
            ).fetchone()
        if row is None:
            return ServerSettings()
        return ServerSettings(bool(row[0]), row[1])

    def update_settings(
        self,
        guild_id: int,
        *,
        include_default: bool | None = None,
        manager_role_id: int | None = None,
        clear_manager_role: bool = False,
    ) -> ServerSettings:
        """Change what is given (the rest stays); returns the settings now in force."""
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT include_default, manager_role_id FROM server_settings WHERE guild_id = ?",
                (int(guild_id),),
            ).fetchone()
            current = ServerSettings() if row is None else ServerSettings(bool(row[0]), row[1])
            include = current.include_default if include_default is None else include_default
            role = current.manager_role_id if manager_role_id is None else int(manager_role_id)
            if clear_manager_role:
                role = None
            connection.execute(
                "INSERT INTO server_settings (guild_id, include_default, manager_role_id)"
                " VALUES (?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET"
                " include_default = excluded.include_default,"
                " manager_role_id = excluded.manager_role_id",
                (int(guild_id), int(include), role),
            )
        return ServerSettings(include, role)

    def record(
        self, guild_id: int, user_id: int, action: str, target: str, result: str, detail: str = ""
    ) -> None:
        """Add an entry to the server's audit log (``action`` one of ``ACTIONS``)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT INTO audit_log (guild_id, at, user_id, action, target, result, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(guild_id), self._clock(), int(user_id), action, _cap(target), _cap(result),
                 _cap(detail)),
            )

    def recent(self, guild_id: int, limit: int = 10) -> list[AuditEntry]:
        """The server's latest audit entries, newest first."""
        with self._database.reading() as connection:
            rows = connection.execute(
                "SELECT at, user_id, action, target, result, detail FROM audit_log"
                " WHERE guild_id = ? ORDER BY at DESC, rowid DESC LIMIT ?",
                (int(guild_id), max(0, int(limit))),
            ).fetchall()
        return [
            AuditEntry(datetime.fromtimestamp(at, UTC), user, action, target, result, detail)
            for at, user, action, target, result, detail in rows
        ]

    def mark_removed(self, guild_id: int) -> None:
        """The bot was removed from the server: its documents are kept for the grace period.
        A second removal event keeps the first time."""
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO removed_servers (guild_id, removed_at) VALUES (?, ?)",
                (int(guild_id), self._clock()),
            )

    def mark_returned(self, guild_id: int) -> None:
        """The bot is back in the server: its documents are no longer due for deletion."""
        with self._database.transaction() as connection:
            connection.execute("DELETE FROM removed_servers WHERE guild_id = ?", (int(guild_id),))

    def due_for_deletion(self, grace_days: int) -> list[int]:
        """Servers that removed the bot more than ``grace_days`` ago, oldest first."""
        cutoff = self._clock() - grace_days * 86_400.0
        with self._database.reading() as connection:
            rows = connection.execute(
                "SELECT guild_id FROM removed_servers WHERE removed_at <= ? ORDER BY removed_at",
                (cutoff,),
            ).fetchall()
        return [row[0] for row in rows]

    def forget(self, guild_id: int) -> None:
        """Erase everything kept about the server: settings, audit log, removal mark."""
        with self._database.transaction() as connection:
            for table in ("server_settings", "audit_log", "removed_servers"):
                connection.execute(f"DELETE FROM {table} WHERE guild_id = ?", (int(guild_id),))

    def close(self) -> None:
        """Close the database connection; later calls raise StateError."""
        self._database.close()


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
