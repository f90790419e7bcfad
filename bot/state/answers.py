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

from sqlalchemy import bindparam, delete, insert, select

from bot.state.database import StateLocation
from bot.state.schema import answers
from bot.state.upgrade import open_database

DEFAULT_RETENTION_DAYS = 90
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
KEY_BYTES = 18  # 24 URL-safe characters, 144 random bits
PURGE_BATCH = 100  # expired rows deleted per put: bounded work, and more than one put adds

# Built once (each call only binds its values): the statements of every answer and button.
_INSERT = insert(answers)
_DELETE_EXPIRED_BATCH = delete(answers).where(
    answers.c.answer_key.in_(
        select(answers.c.answer_key)
        .where(answers.c.created_at < bindparam("cutoff"))
        .limit(PURGE_BATCH)
        .scalar_subquery()
    )
)
_SELECT = select(
    answers.c.question,
    answers.c.k,
    answers.c.passage_offset,
    answers.c.passage_ids,
    answers.c.private,
    answers.c.place,
).where(answers.c.answer_key == bindparam("key"), answers.c.created_at >= bindparam("since"))

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
    (and processes) on one database."""

    def __init__(
        self,
        path: StateLocation,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.retention_seconds = retention_days * 86_400.0
        self._clock = clock
        self._database = open_database(path)
        self.path = self._database.path
        try:
            self.purge()
        except BaseException:
            self._database.close()
            raise

    def put(self, context: AnswerContext) -> str:
        """Store ``context``; returns its key (``[A-Za-z0-9_-]{24}``) for a button's custom id."""
        key = secrets.token_urlsafe(KEY_BYTES)
        now = self._clock()
        row = {
            "answer_key": key,
            "question": context.question,
            "k": int(context.k),
            "passage_offset": int(context.offset),
            "passage_ids": json.dumps(list(context.passage_ids)),
            "private": int(bool(context.private)),
            "created_at": now,
            "place": context.place,
        }
        with self._database.transaction() as connection:
            connection.execute(_INSERT, row)
            connection.execute(_DELETE_EXPIRED_BATCH, {"cutoff": now - self.retention_seconds})
        return key

    def get(self, key: str) -> AnswerContext | None:
        """The context stored under ``key``; None when unknown, malformed or expired."""
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            return None
        since = self._clock() - self.retention_seconds
        with self._database.reading() as connection:
            row = connection.execute(_SELECT, {"key": key, "since": since}).first()
        if row is None:
            return None
        question, k, offset, passage_ids, private, place = row
        return AnswerContext(
            question, k, offset, tuple(json.loads(passage_ids)), bool(private), place
        )

    def purge(self) -> int:
        """Delete every expired context; returns how many."""
        cutoff = self._clock() - self.retention_seconds
        with self._database.transaction() as connection:
            return connection.execute(delete(answers).where(answers.c.created_at < cutoff)).rowcount

    def close(self) -> None:
        """End this store's use of the database (on shutdown); later calls raise StateError."""
        self._database.close()
