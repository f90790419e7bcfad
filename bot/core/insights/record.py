"""Logging a question asked in a server (the question log's one writer), unless the server
turned its log off: queued, then written by the log's writer thread with the others."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.state.feedback import FeedbackStore
from bot.state.questions import Deferred, QuestionLog
from index.answer import Answer

log = logging.getLogger(__name__)


def record_question(
    questions: QuestionLog,
    feedback: FeedbackStore,
    *,
    guild_id: int,
    user_id: int,
    collection: Deferred[str],
    question: str,
    answer: Answer,
    shown: Sequence[str],
    answer_key: str | None,
    encoder: Any = None,
) -> None:
    """Queue ``question`` (answered with ``answer``, showing the passages ``shown``) for
    ``guild_id``'s log: the log's writer thread writes it within a second, with its embedding
    from ``encoder`` (a query encoder; one that remembers recent questions costs nothing) and
    ``collection`` (or what computes it) worked out there, unless the server's log is off.
    Cheap enough for the event loop: nothing here reads or writes the database."""
    vector: Deferred[np.ndarray | None] = None
    if encoder is not None:

        def vector() -> np.ndarray | None:
            return encoder.encode_query(question)  # type: ignore[no-any-return]

    questions.submit(
        guild_id=guild_id,
        collection=collection,
        question=question,
        found=answer.found,
        passage_ids=list(shown),
        answer_key=answer_key,
        user_hash=feedback.hash_user(user_id),
        vector=vector,
    )
