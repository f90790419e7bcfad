"""The question log (issue 23): what people asked in each server, for its admins' knowledge gaps
and usage charts.

Each row is one question asked in a server: when, the collection searched first, the question as
typed, whether it was found ("not in the source" when not), the ids of the passages shown, the
key of the answer's buttons (which links it to its 👍 / 👎 in ``votes``), a keyed hash of the
asker (the feedback key: never the id itself, only so that ``/privacy forget`` finds their rows)
and the question's embedding stored compactly as int8 (384 bytes for all-MiniLM-L6-v2).

Rows are deleted after the retention period (``CITEBOT_QUESTION_LOG_DAYS``); a server that turns
the log off has its rows deleted (bot.state.servers). Every read names one server, or is the
operator's (``guild_id=None``, the command line): nothing returns one server's rows for another.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, TypeAlias, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, select

from bot.state.database import StateError, StateLocation
from bot.state.feedback import DOWN, UP
from bot.state.schema import question_log, server_settings, votes
from bot.state.upgrade import open_database

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
MAX_QUESTION_CHARS = 2_000
"""Longest question kept (Discord's own limit on a message; /ask takes 500)."""
INT8_SCALE = 127.0
"""A unit vector's components lie in [-1, 1]: stored as round(x * 127) in int8."""
PURGE_EVERY_S = 3_600.0
"""How often ``record`` also deletes expired rows (at most once an hour per store)."""
FLUSH_EVERY_S = 1.0
"""How long a submitted question waits at most before it is written (with the others)."""
FLUSH_AT = 200
"""Submitted questions that are written at once, without waiting."""

T = TypeVar("T")
Deferred: TypeAlias = T | Callable[[], T]
"""A value, or what computes it when the submitted question is written (off the answer's path)."""


def pack_vector(vector: np.ndarray | None) -> bytes | None:
    """A unit float vector as int8 bytes (None stays None)."""
    if vector is None:
        return None
    row = np.asarray(vector, dtype=np.float32).reshape(-1)
    packed: bytes = np.clip(np.rint(row * INT8_SCALE), -127, 127).astype(np.int8).tobytes()
    return packed


def unpack_vectors(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored int8 vectors (all of one length) as float32 rows of unit length."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    rows = np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(len(blobs), -1)
    matrix = rows.astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


@dataclass(frozen=True)
class Vote:
    """A vote on a logged question's answer, with the reason given for a 👎 ("" when none)."""

    vote: int
    reason: str = ""
    text: str = ""


@dataclass(frozen=True)
class LoggedQuestion:
    """One logged question with the votes on its answer (``vector``: int8 bytes, or None)."""

    id: int
    guild_id: int
    at: float
    collection: str
    question: str
    found: bool
    passage_ids: tuple[str, ...]
    answer_key: str | None
    vector: bytes | None = None
    votes: tuple[Vote, ...] = field(default_factory=tuple)

    @property
    def up(self) -> int:
        return sum(1 for vote in self.votes if vote.vote == UP)

    @property
    def down(self) -> int:
        return sum(1 for vote in self.votes if vote.vote == DOWN)

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


class GapRow(NamedTuple):
    """A logged question answered "not in the source" or voted 👎 (``down``), as the knowledge
    gaps read it (``vector``: int8 bytes, or None)."""

    id: int
    at: float
    question: str
    found: bool
    answer_key: str | None
    vector: bytes | None
    down: bool
    collection: str


@dataclass(frozen=True)
class DayCount:
    """Questions asked on one day (UTC), how many were found, and the votes on their answers."""

    day: str  # YYYY-MM-DD
    asked: int
    found: int
    up: int
    down: int


class QuestionLog:
    """The question log in the state database; safe from any thread. ``close()`` on shutdown."""

    def __init__(
        self,
        path: StateLocation,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.retention_s = retention_days * 86_400.0
        self._clock = clock
        self._database = open_database(path)
        self.path = self._database.path
        self._purged_at = float("-inf")
        self._pending: list[dict[str, object]] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._writer: threading.Thread | None = None

    def submit(
        self,
        *,
        guild_id: int,
        collection: Deferred[str],
        question: str,
        found: bool,
        passage_ids: Sequence[str],
        answer_key: str | None,
        user_hash: str,
        vector: Deferred[np.ndarray | None] = None,
    ) -> None:
        """Queue one question asked in ``guild_id``; a writer thread writes the queue in one
        transaction within ``FLUSH_EVERY_S`` (at once past ``FLUSH_AT``), computing what was
        given as a function (the collection, the embedding) there, and drops the questions of
        servers whose log is off. Costs the caller microseconds, so an answer never waits on
        the log; every read of this store writes the queue first, so it sees its own
        questions."""
        row: dict[str, object] = {
            "guild_id": int(guild_id),
            "at": self._clock(),
            "collection": collection,
            "question": question[:MAX_QUESTION_CHARS],
            "found": int(bool(found)),
            "passage_ids": json.dumps(list(passage_ids)),
            "answer_key": answer_key,
            "user_hash": user_hash,
            "vector": vector,
        }
        with self._pending_lock:
            if self._closing:
                raise StateError("the question log is closed")
            self._pending.append(row)
            waiting = len(self._pending)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_queued, name="citebot-question-log", daemon=True
                )
                self._writer.start()
        if waiting >= FLUSH_AT:
            self._wake.set()

    def flush(self) -> int:
        """Write the queued questions now (those of servers whose log is off are dropped);
        returns how many were written."""
        with self._flush_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            rows = [_resolved(row) for row in batch]
            with self._database.transaction() as connection:
                guilds = {row["guild_id"] for row in rows}
                off = set(
                    connection.execute(
                        select(server_settings.c.guild_id).where(
                            server_settings.c.log_questions == 0,
                            server_settings.c.guild_id.in_(guilds),
                        )
                    ).scalars()
                )
                rows = [row for row in rows if row["guild_id"] not in off]
                if rows:
                    connection.execute(insert(question_log), rows)
                self._expire(connection, every=PURGE_EVERY_S)
            return len(rows)

    def _write_queued(self) -> None:
        """The writer thread: write the queue every ``FLUSH_EVERY_S`` until closed."""
        while not self._closing:
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the next round tries again; the operator sees why
                log.warning("could not write the question log", exc_info=True)

    def record(
        self,
        *,
        guild_id: int,
        collection: str,
        question: str,
        found: bool,
        passage_ids: Sequence[str],
        answer_key: str | None,
        user_hash: str,
        vector: np.ndarray | None = None,
        at: float | None = None,
    ) -> int:
        """Log one question asked in ``guild_id``; returns its row id. Expired rows are deleted
        on the way (at most once per ``PURGE_EVERY_S``)."""
        now = self._clock()
        with self._database.transaction() as connection:
            row_id = connection.execute(
                insert(question_log)
                .values(
                    guild_id=int(guild_id),
                    at=now if at is None else float(at),
                    collection=collection,
                    question=question[:MAX_QUESTION_CHARS],
                    found=int(bool(found)),
                    passage_ids=json.dumps(list(passage_ids)),
                    answer_key=answer_key,
                    user_hash=user_hash,
                    vector=pack_vector(vector),
                )
                .returning(question_log.c.id)
            ).scalar_one()
            self._expire(connection, every=PURGE_EVERY_S)
        return int(row_id)

    def questions(
        self,
        guild_id: int | None,
        *,
        days: float | None = None,
        collection: str | None = None,
        gaps_only: bool = False,
        with_vectors: bool = False,
    ) -> list[LoggedQuestion]:
        """The logged questions of ``guild_id`` (None: every server's, for the operator), oldest
        first, with their votes: of the last ``days`` days, of one ``collection``, and with
        ``gaps_only`` only those answered "not in the source" or voted 👎."""
        self.flush()
        conditions = self._where(guild_id, days, collection)
        if gaps_only:
            down = select(votes.c.answer_key).where(votes.c.vote == DOWN)
            conditions.append(
                (question_log.c.found == 0) | question_log.c.answer_key.in_(down)
            )
        columns = [
            question_log.c.id,
            question_log.c.guild_id,
            question_log.c.at,
            question_log.c.collection,
            question_log.c.question,
            question_log.c.found,
            question_log.c.passage_ids,
            question_log.c.answer_key,
        ]
        if with_vectors:
            columns.append(question_log.c.vector)
        query = select(*columns).where(and_(*conditions)).order_by(question_log.c.id)
        on_answers: dict[str, list[Vote]] = {}
        with self._database.reading() as connection:
            rows = connection.execute(query).all()
            voted = (
                select(votes.c.answer_key, votes.c.vote, votes.c.reason, votes.c.reason_text)
                .join(question_log, question_log.c.answer_key == votes.c.answer_key)
                .where(and_(*conditions))
                .order_by(votes.c.id)
            )
            for key, vote, reason, text in connection.execute(voted):
                on_answers.setdefault(key, []).append(Vote(int(vote), reason, text))
        return [
            LoggedQuestion(
                id=int(row.id),
                guild_id=int(row.guild_id),
                at=float(row.at),
                collection=row.collection,
                question=row.question,
                found=bool(row.found),
                passage_ids=tuple(json.loads(row.passage_ids)),
                answer_key=row.answer_key,
                vector=row.vector if with_vectors else None,
                votes=tuple(on_answers.get(row.answer_key, ())) if row.answer_key else (),
            )
            for row in rows
        ]

    def gap_rows(
        self, guild_id: int | None, *, days: float | None = None, collection: str | None = None
    ) -> list[GapRow]:
        """What the knowledge gaps need of the questions answered "not in the source" or voted
        👎 (oldest first), without their votes (``votes_on`` for the few shown): a lean read,
        as a server's gaps are computed over up to 100,000 questions."""
        self.flush()
        down = select(votes.c.answer_key).where(votes.c.vote == DOWN)
        voted_down = question_log.c.answer_key.in_(down)
        conditions = self._where(guild_id, days, collection)
        conditions.append((question_log.c.found == 0) | voted_down)
        query = select(
            question_log.c.id,
            question_log.c.at,
            question_log.c.question,
            question_log.c.found,
            question_log.c.answer_key,
            question_log.c.vector,
            voted_down.label("down"),
            question_log.c.collection,
        ).where(and_(*conditions))
        with self._database.reading() as connection:
            rows = connection.execute(query.order_by(question_log.c.id)).all()
        return [
            GapRow(
                int(row[0]), float(row[1]), row[2], bool(row[3]), row[4], row[5], bool(row[6]),
                row[7],
            )
            for row in rows
        ]

    def votes_on(self, answer_keys: Sequence[str]) -> dict[str, tuple[Vote, ...]]:
        """The votes on each of ``answer_keys`` (oldest first)."""
        self.flush()
        with self._database.reading() as connection:
            return _votes_on(connection, set(answer_keys))

    def daily(
        self, guild_id: int | None, *, days: float, collection: str | None = None
    ) -> list[DayCount]:
        """Per day (UTC) of the last ``days`` days that had questions: how many were asked and
        found, and the votes on their answers (oldest day first). Two grouped reads, no row
        objects: fast at 100,000 logged questions."""
        self.flush()
        conditions = self._where(guild_id, days, collection)
        asked = select(question_log.c.at, question_log.c.found).where(and_(*conditions))
        voted = (
            select(question_log.c.at, votes.c.vote)
            .join(votes, votes.c.answer_key == question_log.c.answer_key)
            .where(and_(*conditions))
        )
        per_day: dict[str, list[int]] = {}

        def day_of(at: float) -> list[int]:
            day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")
            return per_day.setdefault(day, [0, 0, 0, 0])

        with self._database.reading() as connection:
            for at, found in connection.execute(asked):
                counts = day_of(at)
                counts[0] += 1
                counts[1] += int(bool(found))
            for at, vote in connection.execute(voted):
                day_of(at)[2 if vote == UP else 3] += 1
        return [DayCount(day, *counts) for day, counts in sorted(per_day.items())]

    def count(self, guild_id: int | None, *, days: float | None = None) -> int:
        """How many questions of ``guild_id`` (None: all) are logged (in the last ``days``)."""
        self.flush()
        query = select(func.count()).select_from(question_log)
        query = query.where(and_(*self._where(guild_id, days, None)))
        with self._database.reading() as connection:
            return int(connection.execute(query).scalar_one())

    def forget_asker(self, user_hash: str) -> int:
        """Delete every question this asker (by their keyed hash) asked; returns how many."""
        self.flush()
        with self._database.transaction() as connection:
            return connection.execute(
                delete(question_log).where(question_log.c.user_hash == user_hash)
            ).rowcount

    def forget_server(self, guild_id: int) -> int:
        """Delete every question logged in ``guild_id``; returns how many."""
        self.flush()
        with self._database.transaction() as connection:
            return connection.execute(
                delete(question_log).where(question_log.c.guild_id == int(guild_id))
            ).rowcount

    def purge(self) -> int:
        """Delete the questions older than the retention period; returns how many."""
        self.flush()
        with self._database.transaction() as connection:
            return self._expire(connection)

    def _expire(self, connection: Connection, every: float = 0.0) -> int:
        """Delete the questions past the retention period, unless that was done less than
        ``every`` seconds ago; returns how many."""
        now = self._clock()
        if now - self._purged_at < every:
            return 0
        self._purged_at = now
        return connection.execute(
            delete(question_log).where(question_log.c.at < now - self.retention_s)
        ).rowcount

    def close(self) -> None:
        """Write what is queued, stop the writer, end this store's use of the database; later
        calls raise StateError."""
        with self._pending_lock:
            self._closing = True
            writer = self._writer
        self._wake.set()
        if writer is not None:
            writer.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.warning("could not write the question log on closing", exc_info=True)
        self._database.close()

    def _where(
        self, guild_id: int | None, days: float | None, collection: str | None
    ) -> list[ColumnElement[bool]]:
        # Rows past the retention period are never shown, even before the purge deletes them.
        since = self._clock() - self.retention_s
        if days is not None:
            since = max(since, self._clock() - float(days) * 86_400.0)
        conditions: list[ColumnElement[bool]] = [question_log.c.at >= since]
        if guild_id is not None:
            conditions.append(question_log.c.guild_id == int(guild_id))
        if collection is not None:
            conditions.append(question_log.c.collection == collection)
        return conditions


def _votes_on(connection: Connection, keys: set[str]) -> dict[str, tuple[Vote, ...]]:
    """The votes on each answer key of ``keys`` (queried in batches of 500)."""
    found: dict[str, list[Vote]] = {}
    ordered = sorted(keys)
    for first in range(0, len(ordered), 500):
        batch = ordered[first : first + 500]
        query = select(votes.c.answer_key, votes.c.vote, votes.c.reason, votes.c.reason_text)
        rows = connection.execute(query.where(votes.c.answer_key.in_(batch)).order_by(votes.c.id))
        for key, vote, reason, text in rows:
            found.setdefault(key, []).append(Vote(int(vote), reason, text))
    return {key: tuple(values) for key, values in found.items()}


def _resolved(row: dict[str, object]) -> dict[str, object]:
    """A queued row as stored: its deferred collection and embedding computed (a failing
    embedding leaves none, a failing collection "default": the question is kept)."""
    resolved = dict(row)
    collection = row["collection"]
    if callable(collection):
        try:
            resolved["collection"] = str(collection())
        except Exception:
            log.warning("could not tell which collection a logged question searched", exc_info=True)
            resolved["collection"] = "default"
    vector = row["vector"]
    if callable(vector):
        try:
            vector = vector()
        except Exception:  # the log keeps the question; the gaps then group it by wording
            log.warning("could not embed a logged question", exc_info=True)
            vector = None
    resolved["vector"] = pack_vector(vector)  # type: ignore[arg-type]
    return resolved
