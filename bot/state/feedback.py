"""Feedback on answers (👍 / 👎), stored in the state database.

Each vote keeps the question, the ids of the passages shown, the vote, the time and an HMAC of the
voter's id under a secret key, never the id itself. The key is kept outside the database, in
``<database>.key`` (mode 0600, created on first use), so a copy of the database alone cannot be
used to test which known ids voted. A user voting again on the same answer replaces their vote.

After the retention period the question text of a vote is deleted; the vote itself stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, delete, inspect, select, text, update

from bot.state.database import (
    StateError,
    StateLocation,
    is_url,
    write_new_private_file,
)
from bot.state.schema import upsert, votes
from bot.state.upgrade import open_database
from index.errors import CitebotError

log = logging.getLogger(__name__)

UP = 1
DOWN = -1
DEFAULT_RETENTION_DAYS = 90
KEY_BYTES = 32
REASONS = {
    "wrong_passage": "Wrong passage",
    "outdated": "Outdated",
    "not_in_docs": "Not in the docs",
    "other": "Other",
}
"""Why a 👎: each reason's stored name and its label."""
MAX_REASON_CHARS = 300
"""Longest text kept with a reason (longer is cut)."""

# votes.created_at is when the vote was first cast (ISO 8601, UTC); a changed vote keeps it, so
# the question text is deleted on time. A partial index makes the purge touch only expired text.


class FeedbackKeyError(CitebotError):
    """The feedback key file is unsafe or unusable; the message says how to fix it."""


@dataclass(frozen=True)
class PassageVotes:
    """Votes on answers that showed one passage."""

    passage_id: str
    up: int
    down: int


@dataclass(frozen=True)
class FeedbackSummary:
    """Totals, the passages with the most votes, and recent questions voted down."""

    up: int
    down: int
    questions: int
    passages: list[PassageVotes]
    recent_down: list[tuple[str, str]]  # (time, question)
    expired_questions: int = 0  # votes whose question text was deleted after the retention period

    @property
    def total(self) -> int:
        return self.up + self.down


def key_path_for(database: Path) -> Path:
    """Where the key of ``database`` is kept: ``feedback.sqlite3`` -> ``feedback.sqlite3.key``."""
    return database.with_name(database.name + ".key")


class FeedbackStore:
    """Votes in the state database; any thread may call it. ``close()`` on shutdown.

    ``path`` is the SQLite file, or a database URL; the key file is ``<file>.key`` beside a
    SQLite file, and must be given as ``key_path`` with a URL (every process sharing the
    database must use the same key: it is what makes a user's second vote replace the first).
    """

    def __init__(
        self,
        path: StateLocation,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
        *,
        key_path: Path | None = None,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if key_path is None:
            if is_url(path):
                raise StateError("a FeedbackStore on a database URL needs its key_path")
            key_path = key_path_for(Path(path))
        self.key_path = Path(key_path)
        self.retention = timedelta(days=retention_days)
        self._clock = clock
        self._key: bytes | None = None
        self._key_lock = threading.Lock()
        if self.key_path.exists():
            self._key = read_key(self.key_path)  # refuse an unsafe key now, not at the first vote
        self._database = open_database(path)
        self.path = self._database.path
        try:
            with self._database.transaction() as connection:
                _remove_stored_salt(connection, self._database.description, self.key_path)
                self._purge(connection)
        except BaseException:
            self._database.close()
            raise

    def _get_key(self) -> bytes:
        with self._key_lock:
            if self._key is None:
                self._key = load_or_create_key(self.key_path)
            return self._key

    def hash_user(self, user_id: int) -> str:
        """The keyed hash stored in place of a user id."""
        return _hash(self._get_key(), user_id)

    def record(
        self,
        *,
        answer_key: str,
        question: str,
        passage_ids: Sequence[str],
        vote: int,
        user_id: int,
        when: datetime | None = None,
    ) -> None:
        """Store one vote (replacing this user's earlier vote on the same answer)."""
        if vote not in (UP, DOWN):
            raise ValueError(f"vote must be {UP} or {DOWN}")
        when = (when or self._now()).astimezone(UTC)
        user_hash = self.hash_user(user_id)
        with self._database.transaction() as connection:
            statement = upsert(connection, votes).values(
                answer_key=answer_key,
                question=question,
                passage_ids=json.dumps(list(passage_ids)),
                vote=vote,
                user_hash=user_hash,
                created_at=_timestamp(when),
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[votes.c.answer_key, votes.c.user_hash],
                    # a vote changed to 👍 drops the reason given for the 👎
                    set_={"vote": statement.excluded.vote, "reason": "", "reason_text": ""},
                )
            )
            self._purge(connection)

    def give_reason(self, *, answer_key: str, user_id: int, reason: str, text: str = "") -> bool:
        """Attach the reason for this user's 👎 on an answer (and their words, cut to
        ``MAX_REASON_CHARS``); False when they have no 👎 on it (any more)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        words = " ".join(text.split())
        if len(words) > MAX_REASON_CHARS:
            words = words[: MAX_REASON_CHARS - 1] + "…"
        with self._database.transaction() as connection:
            changed = connection.execute(
                update(votes)
                .where(
                    votes.c.answer_key == answer_key,
                    votes.c.user_hash == self.hash_user(user_id),
                    votes.c.vote == DOWN,
                )
                .values(reason=reason, reason_text=words)
            ).rowcount
        return bool(changed)

    def forget_user(self, user_id: int) -> int:
        """Delete every vote of this user; returns how many."""
        with self._database.transaction() as connection:
            return connection.execute(
                delete(votes).where(votes.c.user_hash == self.hash_user(user_id))
            ).rowcount

    def purge(self) -> int:
        """Delete the question text of votes older than the retention period; returns how many."""
        with self._database.transaction() as connection:
            return self._purge(connection)

    def _purge(self, connection: Connection) -> int:
        cutoff = _timestamp(self._now() - self.retention)
        return connection.execute(
            update(votes)
            .where(votes.c.question != "", votes.c.created_at < cutoff)
            .values(question="", reason_text="")
        ).rowcount

    def summary(self, top: int = 10) -> FeedbackSummary:
        """Totals and the most-voted passages."""
        with self._database.reading() as connection:
            rows = connection.execute(
                select(votes.c.question, votes.c.passage_ids, votes.c.vote, votes.c.created_at)
                .order_by(votes.c.created_at, votes.c.id)
            ).all()
        up = sum(1 for row in rows if row[2] == UP)
        per_passage: dict[str, list[int]] = {}
        for _question, ids, vote, _when in rows:
            for passage_id in json.loads(ids):
                counts = per_passage.setdefault(passage_id, [0, 0])
                counts[0 if vote == UP else 1] += 1
        passages = sorted(
            (PassageVotes(pid, c[0], c[1]) for pid, c in per_passage.items()),
            key=lambda p: (-(p.up + p.down), -p.down, p.passage_id),
        )[:top]
        recent_down = [(row[3], row[0]) for row in reversed(rows) if row[2] == DOWN and row[0]]
        return FeedbackSummary(
            up=up,
            down=len(rows) - up,
            questions=len({row[0] for row in rows if row[0]}),
            passages=passages,
            recent_down=recent_down[:5],
            expired_questions=sum(1 for row in rows if not row[0]),
        )

    def close(self) -> None:
        """End this store's use of the database (on shutdown); later calls raise StateError."""
        self._database.close()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _hash(key: bytes, user_id: int) -> str:
    return hmac.new(key, str(int(user_id)).encode(), hashlib.sha256).hexdigest()


def _remove_stored_salt(connection: Connection, database: str, key_path: Path) -> None:
    """Databases written before the key file kept the HMAC salt in a ``meta`` table beside the
    hashes, which made them reversible. Delete it (secure_delete overwrites it in the file).
    The old hashes stay as they are: they still count as votes, but nothing can link them to a
    user any more, and a new key is used from now on."""
    if not inspect(connection).has_table("meta"):
        return
    connection.execute(text("DELETE FROM meta WHERE key = 'salt'"))
    if connection.execute(text("SELECT COUNT(*) FROM meta")).scalar() == 0:
        connection.execute(text("DROP TABLE meta"))
    log.warning(
        "removed the voter-hash salt stored in %s; earlier votes keep their old, now unlinkable "
        "hashes, and new votes use the key in %s",
        database,
        key_path,
    )


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``, created (random, mode 0600) when there is none."""
    try:
        return read_key(path)
    except FileNotFoundError:
        pass
    _create_key(path)
    return read_key(path)


def read_key(path: Path) -> bytes:
    """Read the key; FeedbackKeyError when others may read it or it is not a key.

    FileNotFoundError passes through when there is no key file yet.
    """
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise FeedbackKeyError(f"the feedback key {path} is not a regular file")
            if mode & 0o077:
                raise FeedbackKeyError(
                    f"the feedback key file {path} can be read by other users (mode "
                    f"{stat.S_IMODE(mode):03o}): run `chmod 600 {path}`"
                )
            content = handle.read(4 * KEY_BYTES)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise FeedbackKeyError(
            f"cannot read the feedback key file {path} ({error.strerror or error}): "
            "make it a file readable by the bot's user only (chmod 600)"
        ) from error
    try:
        key = bytes.fromhex(content.decode("ascii").strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise FeedbackKeyError(
            f"the feedback key file {path} does not hold a key ({2 * KEY_BYTES} hex digits): "
            "restore it from a backup, or delete it to start a new key (earlier voters are then "
            "counted as new ones)"
        )
    return key


def _create_key(path: Path) -> None:
    """Write a new random key to ``path`` unless another process got there first.

    The key is written to a private temporary file and linked into place, which fails rather
    than replaces: a reader never sees a half-written key, and two processes starting at once
    end up with the same one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    content = (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        write_new_private_file(temporary, content)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it: use theirs
        except OSError:  # a file system without hard links: create it directly
            with contextlib.suppress(FileExistsError):
                write_new_private_file(path, content)
    finally:
        temporary.unlink(missing_ok=True)

