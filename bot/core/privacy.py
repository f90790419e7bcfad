"""Forgetting a person: everything the state database keeps that is theirs (questions they asked
in any server's log, their votes with their reasons, their conversations, who marked a thread
solved), in one place for every front end."""

from __future__ import annotations

from dataclasses import dataclass

from bot.state.conversations import ConversationStore
from bot.state.feedback import FeedbackStore
from bot.state.questions import QuestionLog
from bot.state.servers import ServerStore


@dataclass(frozen=True)
class Forgotten:
    """How many rows of each kind were deleted."""

    questions: int
    votes: int
    conversations: int
    solved_marks: int = 0  # threads they marked solved: still solved, no longer by them

    @property
    def total(self) -> int:
        return self.questions + self.votes + self.conversations + self.solved_marks


def forget_person(
    user_id: int,
    *,
    questions: QuestionLog,
    feedback: FeedbackStore,
    conversations: ConversationStore,
    servers: ServerStore | None = None,
) -> Forgotten:
    """Delete what is kept of ``user_id`` (blocking: call off the event loop). The question log
    and the votes hold a keyed hash of the id, never the id: the hash is computed with the same
    key to find them (so does the mark of who solved a thread, which is blanked: the thread
    stays solved)."""
    user_hash = feedback.hash_user(user_id)
    return Forgotten(
        questions=questions.forget_asker(user_hash),
        votes=feedback.forget_user(user_id),
        conversations=conversations.forget_user(user_id),
        solved_marks=0 if servers is None else servers.forget_marker(user_hash),
    )
