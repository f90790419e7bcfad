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

from sqlalchemy import delete, select

from bot.state.database import StateDatabase, StateLocation
from bot.state.schema import conversation_turns, upsert
from index.conversation import Turn


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
        self._database = StateDatabase(path)
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
        row = {
            "message_id": int(message_id),
            "channel_id": int(channel_id),
            "user_id": int(user_id),
            "at": now,
            "turns": json.dumps(kept),
        }
        with self._database.transaction() as connection:
            statement = upsert(connection, conversation_turns).values(**row)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[conversation_turns.c.message_id],
                    set_={name: statement.excluded[name] for name in row if name != "message_id"},
                )
            )
            connection.execute(
                delete(conversation_turns).where(
                    conversation_turns.c.at < now - self.lifetime_seconds
                )
            )

    def by_message(self, message_id: int) -> tuple[Turn, ...]:
        """The conversation that answer ``message_id`` ended (empty when unknown or expired)."""
        query = select(conversation_turns.c.turns).where(
            conversation_turns.c.message_id == int(message_id),
            conversation_turns.c.at >= self._since(),
        )
        with self._database.reading() as connection:
            stored = connection.execute(query).scalar()
        return _turns(stored) if stored else ()

    def latest(self, channel_id: int, user_id: int) -> tuple[Turn, ...]:
        """The conversation of ``user_id``'s latest answer in ``channel_id`` (a DM or a
        thread); empty when there is none or it expired."""
        query = (
            select(conversation_turns.c.turns)
            .where(
                conversation_turns.c.channel_id == int(channel_id),
                conversation_turns.c.user_id == int(user_id),
                conversation_turns.c.at >= self._since(),
            )
            .order_by(conversation_turns.c.at.desc(), conversation_turns.c.message_id.desc())
            .limit(1)
        )
        with self._database.reading() as connection:
            stored = connection.execute(query).scalar()
        return _turns(stored) if stored else ()

    def purge(self) -> int:
        """Delete every expired conversation; returns how many answers' rows."""
        with self._database.transaction() as connection:
            return connection.execute(
                delete(conversation_turns).where(conversation_turns.c.at < self._since())
            ).rowcount

    def close(self) -> None:
        """End this store's use of the database; later calls raise StateError."""
        self._database.close()

    def _since(self) -> float:
        return self._clock() - self.lifetime_seconds


def _turns(stored: str) -> tuple[Turn, ...]:
    return tuple(
        Turn(str(item["question"]), tuple(str(i) for i in item.get("passage_ids", ())))
        for item in json.loads(stored)
    )
