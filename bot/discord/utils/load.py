"""How much the bot takes on at once: questions waiting or in flight, in all and per server.

Every question (``/ask``, a mention, **More**) holds a ``Slot`` from asking until its answer is
sent. Over either cap the user is told at once to try again in a few seconds, instead of queueing
unbounded work on the one search thread. Direct messages share one bucket of their own. On
shutdown the limiter is closed: new questions are refused, and ``drained`` waits for the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from types import TracebackType

from bot.discord.utils.checks import Refusal
from bot.discord.utils.replies import BUSY, RESTARTING

log = logging.getLogger("citebot.discord")

DIRECT_MESSAGES = None  # the bucket key for questions asked outside any server


class LoadLimiter:
    """At most ``total`` questions at once, and at most ``per_server`` from one server."""

    def __init__(
        self, total: int, per_server: int, on_refused: Callable[[], None] | None = None
    ) -> None:
        """``on_refused``: told of each question refused (metrics)."""
        self.total = total
        self.on_refused = on_refused
        self.per_server = per_server
        self.closed = False
        self._per_bucket: Counter[int | None] = Counter()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active(self) -> int:
        """Questions waiting or in flight now."""
        return self._active

    def acquire(self, server_id: int | None) -> Slot:
        """A slot for one question from ``server_id`` (None: a DM); raise Refusal when full or
        shutting down. Use it as a context manager so it is always released."""
        if self.closed:
            self._refused()
            raise Refusal(RESTARTING)
        if self._active >= self.total or self._per_bucket[server_id] >= self.per_server:
            log.info(
                "busy: %d question(s) in all, %d from server %s; refused one",
                self._active,
                self._per_bucket[server_id],
                server_id,
            )
            self._refused()
            raise Refusal(BUSY)
        self._active += 1
        self._per_bucket[server_id] += 1
        self._idle.clear()
        return Slot(self, server_id)

    def _refused(self) -> None:
        if self.on_refused is not None:
            self.on_refused()

    def _release(self, server_id: int | None) -> None:
        self._active -= 1
        self._per_bucket[server_id] -= 1
        if self._per_bucket[server_id] <= 0:
            del self._per_bucket[server_id]
        if self._active == 0:
            self._idle.set()

    def close(self) -> None:
        """Refuse every new question from now on (shutting down)."""
        self.closed = True

    async def drained(self, timeout: float) -> bool:
        """Wait until no question is in flight, at most ``timeout`` seconds; True if none is."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Slot:
    """One admitted question; released once, on leaving the ``with`` block however it ends."""

    def __init__(self, limiter: LoadLimiter, server_id: int | None) -> None:
        self._limiter = limiter
        self._server_id = server_id
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limiter._release(self._server_id)

    def __enter__(self) -> Slot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
