"""Forgetting a person: everything the state database keeps that is theirs (questions they asked
in any server's log, their votes with their reasons, their conversations), in one place for every
front end."""

from __future__ import annotations

from dataclasses import dataclass

from bot.state.conversations import ConversationStore
from bot.state.feedback import FeedbackStore
from bot.state.questions import QuestionLog


@dataclass(frozen=True)
class Forgotten:
    """How many rows of each kind were deleted."""

    questions: int
    votes: int
    conversations: int

    @property
    def total(self) -> int:
        return self.questions + self.votes + self.conversations


def forget_person(
    user_id: int,
    *,
    questions: QuestionLog,
    feedback: FeedbackStore,
    conversations: ConversationStore,
) -> Forgotten:
    """Delete what is kept of ``user_id`` (blocking: call off the event loop). The question log
    and the votes hold a keyed hash of the id, never the id: the hash is computed with the same
    key to find them."""
    return Forgotten(
        questions=questions.forget_asker(feedback.hash_user(user_id)),
        votes=feedback.forget_user(user_id),
        conversations=conversations.forget_user(user_id),
    )
