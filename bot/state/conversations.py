"""Conversations on Discord: the last turns before each answer, so a follow-up can be read
together with them (issue 12).

Each answer the bot sends is stored with the turns of its conversation up to and including it
(question and the chunk ids shown; at most ``max_turns``), under the answer's message id, its
channel and the asking user. A follow-up finds its history by the answer it replies to (a reply,
or a thread started from that answer: a thread started from a message has that message's id),
or by the user's latest answer in a DM or thread. Nothing else about the user is kept, and a
conversation is forgotten ``lifetime`` after its last turn: rows older than that are never
returned and are deleted on every write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.state.database import StateDatabase
from index.conversation import Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_turns (
    message_id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    at REAL NOT NULL,
    turns TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_latest ON conversation_turns (channel_id, user_id, at);
CREATE INDEX IF NOT EXISTS conversation_age ON conversation_turns (at);
"""


class ConversationStore:
    """The recent turns before each answer, in the state database; safe from any thread."""

    def __init__(
        self,
        path: Path,
        max_turns: int = 3,
        lifetime_seconds: float = 15 * 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_turns = max_turns
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock
        self._database = StateDatabase(Path(path), _SCHEMA)
        self.purge()

    def remember(
        self, message_id: int, channel_id: int, user_id: int, turns: Sequence[Turn]
    ) -> None:
        """The answer ``message_id`` (in ``channel_id``, to ``user_id``) ends the conversation
        ``turns`` (oldest first; only the last ``max_turns`` are kept)."""
        kept = [
            {"question": turn.question, "passage_ids": list(turn.passage_ids)}
            for turn in list(turns)[-self.max_turns :]
        ]
        now = self._clock()
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO conversation_turns"
                " (message_id, channel_id, user_id, at, turns) VALUES (?, ?, ?, ?, ?)",
                (int(message_id), int(channel_id), int(user_id), now, json.dumps(kept)),
            )
            connection.execute(
                "DELETE FROM conversation_turns WHERE at < ?", (now - self.lifetime_seconds,)
            )

    def by_message(self, message_id: int) -> tuple[Turn, ...]:
        """The conversation that answer ``message_id`` ended (empty when unknown or expired)."""
        with self._database.reading() as connection:
            row = connection.execute(
                "SELECT turns FROM conversation_turns WHERE message_id = ? AND at >= ?",
                (int(message_id), self._since()),
            ).fetchone()
        return _turns(row[0]) if row else ()

    def latest(self, channel_id: int, user_id: int) -> tuple[Turn, ...]:
        """The conversation of ``user_id``'s latest answer in ``channel_id`` (a DM or a
        thread); empty when there is none or it expired."""
        with self._database.reading() as connection:
            row = connection.execute(
                "SELECT turns FROM conversation_turns WHERE channel_id = ? AND user_id = ?"
                " AND at >= ? ORDER BY at DESC, rowid DESC LIMIT 1",
                (int(channel_id), int(user_id), self._since()),
            ).fetchone()
        return _turns(row[0]) if row else ()

    def purge(self) -> int:
        """Delete every expired conversation; returns how many answers' rows."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM conversation_turns WHERE at < ?", (self._since(),)
            )
            return cursor.rowcount

    def close(self) -> None:
        """Close the database connection; later calls raise StateError."""
        self._database.close()

    def _since(self) -> float:
        return self._clock() - self.lifetime_seconds


def _turns(stored: str) -> tuple[Turn, ...]:
    return tuple(
        Turn(str(item["question"]), tuple(str(i) for i in item.get("passage_ids", ())))
        for item in json.loads(stored)
    )
