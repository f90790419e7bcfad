"""Logging a question asked in a server (the question log's one writer), unless the server
turned its log off."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.state.feedback import FeedbackStore
from bot.state.questions import QuestionLog
from bot.state.servers import ServerStore
from index.answer import Answer

log = logging.getLogger(__name__)


def record_question(
    questions: QuestionLog,
    servers: ServerStore,
    feedback: FeedbackStore,
    *,
    guild_id: int,
    user_id: int,
    collection: str,
    question: str,
    answer: Answer,
    shown: Sequence[str],
    answer_key: str | None,
    encoder: Any = None,
) -> bool:
    """Log ``question`` (answered with ``answer``, showing the passages ``shown``) in
    ``guild_id``'s log, with its embedding from ``encoder`` (a query encoder; one that
    remembers recent questions costs nothing here). False when the server's log is off.
    Blocking: call off the event loop."""
    if not servers.settings(guild_id).log_questions:
        return False
    vector: np.ndarray | None = None
    if encoder is not None:
        try:
            vector = encoder.encode_query(question)
        except Exception:  # the log keeps the question; gaps then skip it
            log.warning("could not embed a logged question", exc_info=True)
    questions.record(
        guild_id=guild_id,
        collection=collection,
        question=question,
        found=answer.found,
        passage_ids=list(shown),
        answer_key=answer_key,
        user_hash=feedback.hash_user(user_id),
        vector=vector,
    )
    return True
