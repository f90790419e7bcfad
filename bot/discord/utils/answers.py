"""What the buttons under an answer point at: an ``AnswerContext`` under a short key.

The contexts live in the state database (``bot.state.answers.AnswerStore``), so More, 👍 and 👎
keep working after a restart, for as long as stored question text is kept.
"""

from __future__ import annotations

from bot.state.answers import AnswerContext, AnswerStore, place_of

__all__ = ["AnswerContext", "AnswerStore", "place_of"]
