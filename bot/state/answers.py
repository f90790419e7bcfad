"""What the buttons on an answer (More, 👍, 👎) need, kept in the state database.

Button custom ids carry only a short random key; the question and what was shown live here, so the
buttons keep working after a restart. Rows older than the retention period are deleted (the
question text must not outlive it): a batch on every ``put`` and all of them on open.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.state.database import StateDatabase

DEFAULT_RETENTION_DAYS = 90
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
KEY_BYTES = 18  # 24 URL-safe characters, 144 random bits
PURGE_BATCH = 100  # expired rows deleted per put: bounded work, and more than one put adds

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_key TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    k INTEGER NOT NULL,
    passage_offset INTEGER NOT NULL,
    passage_ids TEXT NOT NULL,
    private INTEGER NOT NULL,
    created_at REAL NOT NULL,
    place TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS answers_by_age ON answers (created_at);
"""


@dataclass(frozen=True)
class AnswerContext:
    """What a button on an answer needs: the question, page size, position and what was shown."""

    question: str
    k: int
    offset: int
    passage_ids: tuple[str, ...]
    private: bool
    place: str = ""
    """Where it was asked: ``place_of(guild_id)``; a button pressed anywhere else is refused
    (each server sees only its own documents). Empty for contexts stored before servers had
    collections."""


def place_of(guild_id: int | None) -> str:
    """The place of an answer: ``dm`` or ``guild:<id>``."""
    return "dm" if guild_id is None else f"guild:{int(guild_id)}"


class AnswerStore:
    """Answer contexts by unguessable key; safe to call from any thread, any number of stores
    (and processes) on one file."""

    def __init__(
        self,
        path: Path,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.path = Path(path)
        self.retention_seconds = retention_days * 86_400.0
        self._clock = clock
        self._database = StateDatabase(self.path, _SCHEMA)
        self._add_place_column()
        self.purge()

    def _add_place_column(self) -> None:
        """Databases written before answers had a place gain the column (empty: such answers'
        buttons are refused, since where they were asked is unknown)."""
        with self._database.transaction() as connection:
            columns = {row[1] for row in connection.execute("PRAGMA table_info(answers)")}
            if "place" not in columns:
                connection.execute("ALTER TABLE answers ADD COLUMN place TEXT NOT NULL DEFAULT ''")

    def put(self, context: AnswerContext) -> str:
        """Store ``context``; returns its key (``[A-Za-z0-9_-]{24}``) for a button's custom id."""
        key = secrets.token_urlsafe(KEY_BYTES)
        now = self._clock()
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT INTO answers (answer_key, question, k, passage_offset, passage_ids,"
                " private, created_at, place) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    context.question,
                    int(context.k),
                    int(context.offset),
                    json.dumps(list(context.passage_ids)),
                    int(bool(context.private)),
                    now,
                    context.place,
                ),
            )
            connection.execute(
                "DELETE FROM answers WHERE rowid IN "
                "(SELECT rowid FROM answers WHERE created_at < ? LIMIT ?)",
                (now - self.retention_seconds, PURGE_BATCH),
            )
        return key

    def get(self, key: str) -> AnswerContext | None:
        """The context stored under ``key``; None when unknown, malformed or expired."""
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            return None
        with self._database.reading() as connection:
            row = connection.execute(
                "SELECT question, k, passage_offset, passage_ids, private, place FROM answers"
                " WHERE answer_key = ? AND created_at >= ?",
                (key, self._clock() - self.retention_seconds),
            ).fetchone()
        if row is None:
            return None
        question, k, offset, passage_ids, private, place = row
        return AnswerContext(
            question, k, offset, tuple(json.loads(passage_ids)), bool(private), place
        )

    def purge(self) -> int:
        """Delete every expired context; returns how many."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM answers WHERE created_at < ?",
                (self._clock() - self.retention_seconds,),
            )
            return cursor.rowcount

    def close(self) -> None:
        """Close the database connection (on shutdown); later calls raise StateError."""
        self._database.close()
