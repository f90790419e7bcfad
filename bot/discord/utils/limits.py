"""How much one user may ask: a sliding-window rate limit per user."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` events per ``period`` seconds per key (sliding window)."""

    def __init__(
        self, limit: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._events: dict[int, deque[float]] = {}

    def hit(self, key: int) -> float:
        """Record an event for ``key``: 0.0 if allowed, else seconds until the next is allowed."""
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self.period:
            events.popleft()
        if len(events) >= self.limit:
            return self.period - (now - events[0])
        events.append(now)
        if len(self._events) > 10_000:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        stale = [k for k, v in self._events.items() if not v or now - v[-1] >= self.period]
        for key in stale:
            del self._events[key]
