"""Feedback on answers (👍 / 👎), stored locally in SQLite.

Each vote keeps the question, the ids of the passages shown, the vote, the time and a salted hash
of the voter's id — never the id itself. The salt is random, generated once per database and kept
in it, so hashes cannot be matched against another database or a list of known ids. A user voting
again on the same answer replaces their earlier vote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.settings import Settings

UP = 1
DOWN = -1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    answer_key TEXT NOT NULL,
    question TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    user_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (answer_key, user_hash)
);
"""


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

    @property
    def total(self) -> int:
        return self.up + self.down


class FeedbackStore:
    """A small SQLite store; every call opens its own connection, so any thread may use it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._salt: bytes | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        new = not self.path.exists()
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            with connection:
                connection.executescript(_SCHEMA)
                if new:
                    os.chmod(self.path, 0o600)
                yield connection
        finally:
            connection.close()

    def _get_salt(self, connection: sqlite3.Connection) -> bytes:
        if self._salt is None:
            connection.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)",
                (secrets.token_hex(32),),
            )
            row = connection.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            self._salt = bytes.fromhex(row[0])
        return self._salt

    def hash_user(self, user_id: int) -> str:
        """The salted hash stored in place of a user id."""
        with self._lock, self._connect() as connection:
            salt = self._get_salt(connection)
        return _hash(salt, user_id)

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
        when = when or datetime.now(UTC)
        with self._lock, self._connect() as connection:
            user_hash = _hash(self._get_salt(connection), user_id)
            connection.execute(
                """
                INSERT INTO votes (answer_key, question, passage_ids, vote, user_hash, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (answer_key, user_hash)
                DO UPDATE SET vote = excluded.vote, created_at = excluded.created_at
                """,
                (
                    answer_key,
                    question,
                    json.dumps(list(passage_ids)),
                    vote,
                    user_hash,
                    when.isoformat(timespec="seconds"),
                ),
            )

    def summary(self, top: int = 10) -> FeedbackSummary:
        """Totals and the most-voted passages."""
        with self._lock, self._connect() as connection:
            rows = connection.execute(
                "SELECT question, passage_ids, vote, created_at FROM votes ORDER BY created_at"
            ).fetchall()
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
        recent_down = [(row[3], row[0]) for row in reversed(rows) if row[2] == DOWN][:5]
        return FeedbackSummary(
            up=up,
            down=len(rows) - up,
            questions=len({row[0] for row in rows}),
            passages=passages,
            recent_down=recent_down,
        )


def _hash(salt: bytes, user_id: int) -> str:
    return hmac.new(salt, str(int(user_id)).encode(), hashlib.sha256).hexdigest()


def format_summary(summary: FeedbackSummary) -> str:
    """Plain-text report for the terminal."""
    if summary.total == 0:
        return "No feedback recorded yet."
    lines = [
        f"{summary.total} vote(s) on {summary.questions} question(s): "
        f"{summary.up} up, {summary.down} down.",
        "",
        "Passages with the most votes:",
        f"  {'up':>4} {'down':>4}  passage",
    ]
    for item in summary.passages:
        lines.append(f"  {item.up:>4} {item.down:>4}  {item.passage_id}")
    if summary.recent_down:
        lines += ["", "Recent questions voted down:"]
        for when, question in summary.recent_down:
            shown = question if len(question) <= 100 else question[:99] + "…"
            lines.append(f"  {when}  {shown}")
    return "\n".join(lines)


def print_summary(settings: Settings, out: TextIO | None = None) -> int:
    """``citebot feedback``: print a summary of the stored votes; exit status 0."""
    out = out or sys.stdout
    path = Path(settings.feedback_db)
    if not path.exists():
        print(f"No feedback recorded yet (no database at {path}).", file=out)
        return 0
    try:
        summary = FeedbackStore(path).summary()
    except sqlite3.Error as error:
        print(f"error: cannot read the feedback database {path}: {error}", file=sys.stderr)
        return 1
    print(format_summary(summary), file=out)
    return 0
