"""What the buttons under an answer point at: an ``AnswerContext`` under a short key.

The bot only uses ``put(context) -> key`` and ``get(key) -> context | None`` (and ``close()``
when the store has one), so a persistent store with the same API can replace ``AnswerCache``.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

ANSWER_CACHE_SIZE = 5000


@dataclass(frozen=True)
class AnswerContext:
    """What a button on an answer needs: the question, page size, position and what was shown."""

    question: str
    k: int
    offset: int
    passage_ids: tuple[str, ...]
    private: bool


class AnswerCache:
    """Recent answers in memory by short random key (button custom ids are limited to 100
    characters); the oldest are forgotten past ``size``."""

    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, AnswerContext] = OrderedDict()

    def put(self, context: AnswerContext) -> str:
        key = secrets.token_urlsafe(9)
        self._items[key] = context
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> AnswerContext | None:
        context = self._items.get(key)
        if context is not None:
            self._items.move_to_end(key)
        return context
