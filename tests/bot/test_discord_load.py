"""Total load: a bounded number of questions at once, in all and per server (issue 9, defect 6).

The real engine is wrapped so that its searches wait on an event until the test releases them;
everything else goes through discord.py's real CommandTree (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine
from bot.discord.utils.load import LoadLimiter
from bot.discord.utils.replies import BUSY, GENERIC_ERROR
from index.answer import Answer
from tests.bot.conftest import APP_ID, GUILD_ID, Harness, harness_for, make_settings
from tests.bot.test_discord_app import FOUND, Wrapped, custom_id, followup_of, sent_message

USER = 900000000000000100


class Gate:
    """Searches wait here until ``open()``; ``started`` counts the searches that began."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.event = threading.Event()
        self.started = 0

    def search(self, question: str, k: int | None = None, offset: int = 0) -> Answer:
        self.started += 1
        self.event.wait(120)
        return self.engine.search(question, k=k, offset=offset)

    def open(self) -> None:
        self.event.set()


@pytest.fixture
def gate(engine: Engine) -> Iterator[Gate]:
    gate = Gate(engine)
    yield gate
    gate.open()  # never leave the worker thread blocked


def ask(h: Harness, n: int, **who: Any) -> str:
    return h.slash("ask", question=FOUND, who={"user_id": USER + n, **who})


async def deferred(h: Harness, token: str) -> None:
    calls = await h.finished(token, 1)
    assert calls[0].response_type == 5, calls  # accepted: deferred, waiting for its search


async def refused_busy(h: Harness, token: str) -> None:
    calls = await h.finished(token, 1)
    assert len(calls) == 1, calls
    assert calls[0].response_type == 4 and calls[0].ephemeral  # the response itself, at once
    assert calls[0].message["content"] == BUSY


async def test_over_the_caps_users_are_told_busy_at_once(
    tmp_path: Path, engine: Engine, gate: Gate
) -> None:
    settings = make_settings(
        tmp_path, discord_max_queued=3, discord_max_queued_per_server=2, discord_allow_dms=True
    )
    async with harness_for(settings, Wrapped(engine, search=gate.search)) as h:
        first, second = ask(h, 1), ask(h, 2)
        await deferred(h, first)
        await deferred(h, second)
        await refused_busy(h, ask(h, 3))  # this server's cap (2)
        h.post_message(f"<@{APP_ID}> {FOUND}", author_id=USER + 4)
        sends = await h.channel_sends()
        assert sends[0]["json"]["content"] == BUSY
        in_dm = ask(h, 5, dm=True)  # direct messages are a bucket of their own
        await deferred(h, in_dm)
        await refused_busy(h, ask(h, 6, dm=True))  # the total cap (3)
        assert h.bot.load.active == 3
        gate.open()
        for token in (first, second, in_dm):
            assert followup_of(await h.finished(token)).message["embeds"]
        assert h.bot.load.active == 0
        assert followup_of(await h.finished(ask(h, 7))).message["embeds"]  # slots came back


async def test_more_is_refused_busy_ephemerally(tmp_path: Path, engine: Engine, gate: Gate) -> None:
    settings = make_settings(tmp_path, discord_max_queued=1)
    async with harness_for(settings, Wrapped(engine, search=gate.search)) as h:
        gate.open()
        answer = followup_of(await h.finished(ask(h, 1)))
        gate.event.clear()
        await deferred(h, ask(h, 2))
        token = h.click(sent_message(answer), custom_id(answer.message, "citebot:more:"))
        await refused_busy(h, token)
        gate.open()


async def test_slots_are_released_after_errors(tmp_path: Path, engine: Engine) -> None:
    def explode(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("boom")

    settings = make_settings(tmp_path, discord_max_queued=1, discord_max_queued_per_server=1)
    async with harness_for(settings, Wrapped(engine, search=explode)) as h:
        for n in range(3):
            reply = followup_of(await h.finished(ask(h, n)))
            assert reply.message["content"] == GENERIC_ERROR
        h.post_message(f"<@{APP_ID}> {FOUND}", author_id=USER)
        assert (await h.channel_sends())[0]["json"]["content"] == GENERIC_ERROR
        await h.recorder.wait_for(lambda: h.bot.load.active == 0)


async def test_a_cancelled_question_releases_its_slot() -> None:
    limiter = LoadLimiter(total=1, per_server=1)
    holding = asyncio.Event()

    async def question() -> None:
        with limiter.acquire(GUILD_ID):
            holding.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(question())
    await holding.wait()
    assert limiter.active == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.active == 0
    with limiter.acquire(GUILD_ID):
        assert limiter.active == 1


async def test_closed_limiter_refuses_and_drains() -> None:
    limiter = LoadLimiter(total=5, per_server=5)
    slot = limiter.acquire(None)
    limiter.close()
    with pytest.raises(Exception, match="restarting"):
        limiter.acquire(None)
    assert await limiter.drained(0.05) is False
    slot.release()
    slot.release()  # idempotent
    assert limiter.active == 0
    assert await limiter.drained(0.05) is True
