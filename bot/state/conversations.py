"""Conversations on Discord: the last turns before each answer, so a follow-up can be read
together with them (issue 12).

Each answer the bot sends is stored with the turns of its conversation up to and including it
(question, the chunk ids shown and the sentence bolded in the first; at most ``max_turns``),
under the answer's message id, its channel and the asking user. A follow-up finds its history
by the answer it replies to (a reply, or a thread started from that answer: a thread started
from a message has that message's id), or by the user's latest answer in a DM or thread.
Nothing else about the user is kept, and a conversation is forgotten ``lifetime`` after its
last turn: rows older than that are never returned and are deleted on every write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.state.database import StateLocation
from bot.state.schema import conversation_turns
from bot.state.upgrade import open_database
from index.query.conversation import Turn

# Built once (each call only binds its values): the statements of every answer and follow-up.
_TABLE = conversation_turns.c


def _replace(dialect_insert: Callable[..., Any]) -> Any:
    """INSERT … ON CONFLICT (message_id) DO UPDATE, in one dialect."""
    statement = dialect_insert(conversation_turns)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.message_id],
        set_={name: statement.excluded[name] for name in ("channel_id", "user_id", "at", "turns")},
    )


_REPLACE = {"sqlite": _replace(sqlite.insert), "postgresql": _replace(postgresql.insert)}
_DELETE_BEFORE = delete(conversation_turns).where(_TABLE.at < bindparam("cutoff"))
_BY_MESSAGE = select(_TABLE.turns).where(
    _TABLE.message_id == bindparam("message_id"), _TABLE.at >= bindparam("since")
)
_LATEST = (
    select(_TABLE.turns)
    .where(
        _TABLE.channel_id == bindparam("channel_id"),
        _TABLE.user_id == bindparam("user_id"),
        _TABLE.at >= bindparam("since"),
    )
    .order_by(_TABLE.at.desc(), _TABLE.message_id.desc())
    .limit(1)
)


class ConversationStore:
    """The recent turns before each answer, in the state database; safe from any thread."""

    def __init__(
        self,
        path: StateLocation,
        max_turns: int = 3,
        lifetime_seconds: float = 15 * 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_turns = max_turns
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock
        self._database = open_database(path)
        try:
            self.purge()
        except BaseException:
            self._database.close()
            raise

    def remember(
        self, message_id: int, channel_id: int, user_id: int, turns: Sequence[Turn]
    ) -> None:
        """The answer ``message_id`` (in ``channel_id``, to ``user_id``) ends the conversation
        ``turns`` (oldest first; only the last ``max_turns`` are kept)."""
        kept = [
            {"question": turn.question, "passage_ids": list(turn.passage_ids)}
            | ({"highlight": turn.highlight} if turn.highlight is not None else {})
            for turn in list(turns)[-self.max_turns :]
        ]
        now = self._clock()
        row = {
            "message_id": int(message_id),
            "channel_id": int(channel_id),
            "user_id": int(user_id),
            "at": now,
            "turns": json.dumps(kept),
        }
        with self._database.transaction() as connection:
            connection.execute(_REPLACE[connection.dialect.name], row)
            connection.execute(_DELETE_BEFORE, {"cutoff": now - self.lifetime_seconds})

    def by_message(self, message_id: int) -> tuple[Turn, ...]:
        """The conversation that answer ``message_id`` ended (empty when unknown or expired)."""
        parameters = {"message_id": int(message_id), "since": self._since()}
        with self._database.reading() as connection:
            stored = connection.execute(_BY_MESSAGE, parameters).scalar()
        return _turns(stored) if stored else ()

    def latest(self, channel_id: int, user_id: int) -> tuple[Turn, ...]:
        """The conversation of ``user_id``'s latest answer in ``channel_id`` (a DM or a
        thread); empty when there is none or it expired."""
        parameters = {
            "channel_id": int(channel_id),
            "user_id": int(user_id),
            "since": self._since(),
        }
        with self._database.reading() as connection:
            stored = connection.execute(_LATEST, parameters).scalar()
        return _turns(stored) if stored else ()

    def forget_user(self, user_id: int) -> int:
        """Delete every conversation of ``user_id``; returns how many answers' rows."""
        with self._database.transaction() as connection:
            return connection.execute(
                delete(conversation_turns).where(_TABLE.user_id == int(user_id))
            ).rowcount

    def purge(self) -> int:
        """Delete every expired conversation; returns how many answers' rows."""
        with self._database.transaction() as connection:
            return connection.execute(_DELETE_BEFORE, {"cutoff": self._since()}).rowcount

    def close(self) -> None:
        """End this store's use of the database; later calls raise StateError."""
        self._database.close()

    def _since(self) -> float:
        return self._clock() - self.lifetime_seconds


def _turns(stored: str) -> tuple[Turn, ...]:
    """The turns stored as JSON (rows written before turns carried their bold sentence have
    none: the follow-up then asks the earlier question again to learn it)."""
    return tuple(
        Turn(
            str(item["question"]),
            tuple(str(i) for i in item.get("passage_ids", ())),
            str(item["highlight"]) if item.get("highlight") is not None else None,
        )
        for item in json.loads(stored)
    )
