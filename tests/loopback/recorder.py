"""Every request the bot made to the stand-in, in order, and a way to wait for some."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

_INTERACTION_TOKEN = re.compile(
    r"^/(?:interactions/\d+/(?P<a>[^/]+)/callback|webhooks/\d+/(?P<b>[^/?]+))"
)

# Interaction callback types (Discord's InteractionResponseType).
MESSAGE = 4
DEFERRED_MESSAGE = 5
DEFERRED_UPDATE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
FORM = 9  # a modal: the form the user fills in


@dataclass
class Request:
    """One HTTP request as the stand-in received it (path without the ``/api/v10`` prefix)."""

    method: str
    path: str
    query: dict[str, str]
    raw_url: str
    body_text: str
    body: Any
    at: float = field(default_factory=time.monotonic)
    status: int = 0  # what the stand-in answered
    files: dict[str, bytes] = field(default_factory=dict)  # multipart uploads, by file name

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def interaction_token(self) -> str | None:
        """The interaction token for callbacks and follow-ups, else None."""
        match = _INTERACTION_TOKEN.match(self.path)
        return (match["a"] or match["b"]) if match else None

    @property
    def is_callback(self) -> bool:
        return self.method == "POST" and self.path.endswith("/callback")

    @property
    def is_followup(self) -> bool:
        """A new follow-up message (POST /webhooks/{app}/{token})."""
        return self.method == "POST" and self.path.startswith("/webhooks/")

    @property
    def is_channel_message(self) -> bool:
        return self.method == "POST" and bool(re.fullmatch(r"/channels/\d+/messages", self.path))

    @property
    def callback_type(self) -> int | None:
        return (self.body or {}).get("type") if self.is_callback else None

    @property
    def creates_message(self) -> bool:
        """Whether this call posts a new message somewhere (mentions could ping)."""
        return self.is_followup or self.is_channel_message or self.callback_type == MESSAGE

    @property
    def edits_message(self) -> bool:
        return self.method == "PATCH" or self.callback_type == UPDATE_MESSAGE

    @property
    def message(self) -> dict[str, Any]:
        """The message part of the body (``data`` for callbacks, the body otherwise)."""
        body = self.body if isinstance(self.body, dict) else {}
        if self.is_callback:
            return body.get("data") or {}
        return body

    @property
    def ephemeral(self) -> bool:
        return bool((self.message.get("flags") or 0) & 64)

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


class Recorder:
    """The requests, with ``wait_for`` to await a condition over them."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._by_token: dict[str, list[Request]] = {}
        self._changed = asyncio.Event()

    def add(self, request: Request) -> None:
        self.requests.append(request)
        token = request.interaction_token
        if token is not None:
            self._by_token.setdefault(token, []).append(request)
        self.touch()

    def clear(self) -> None:
        """Forget every request so far (long benchmark runs check and then drop them)."""
        self.requests.clear()
        self._by_token.clear()

    def touch(self) -> None:
        """Wake the waiters (a request was added or answered)."""
        self._changed.set()

    def for_token(self, token: str) -> list[Request]:
        """The answered calls of one interaction, in order."""
        return [r for r in self._by_token.get(token, []) if r.status]

    def matching(self, predicate: Callable[[Request], bool]) -> list[Request]:
        return [r for r in self.requests if predicate(r)]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Wait until ``condition()`` is truthy (checked whenever a request comes or is answered);
        returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                routes = [f"{r.route} -> {r.status}" for r in self.requests[-20:]]
                raise AssertionError(f"timed out after {timeout} s; last requests: {routes}")
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
