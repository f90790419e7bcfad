"""SIGTERM (issue 9, defect 17): stop taking questions, finish those in flight, close, exit 0.

In-process: the handler is installed on the test's running loop and the signal really sent to
this process. (Another suite sends it to a bot subprocess over a loopback Discord.)
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.discord.client import CitebotBot
from bot.discord.launcher import run_discord
from bot.discord.utils.replies import RESTARTING
from tests.bot.conftest import APP_ID, Harness, harness_for, make_settings
from tests.bot.test_discord_app import FOUND, Wrapped, followup_of
from tests.bot.test_discord_load import Gate, ask, deferred

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.secret-token-value_do-not-print"


@pytest.fixture
def gate(engine: Engine) -> Iterator[Gate]:
    gate = Gate(engine)
    yield gate
    gate.open()


def spy_on_close(harness: Harness) -> list[str]:
    """Record when the bot closes its feedback database."""
    closed: list[str] = []
    harness.bot.feedback.close = lambda: closed.append("feedback")  # type: ignore[attr-defined]
    return closed


async def test_sigterm_answers_the_question_in_flight_then_closes(
    tmp_path: Path, engine: Engine, gate: Gate
) -> None:
    settings = make_settings(tmp_path, shutdown_grace_seconds=120)
    async with harness_for(settings, Wrapped(engine, search=gate.search)) as h:
        closed = spy_on_close(h)
        h.bot.install_signal_handlers()
        try:
            in_flight = ask(h, 1)
            await deferred(h, in_flight)
            os.kill(os.getpid(), signal.SIGTERM)
            await h.recorder.wait_for(lambda: h.bot.load.closed)
            late = await h.finished(ask(h, 2), 1)
            assert late[0].response_type == 4 and late[0].ephemeral
            assert late[0].message["content"] == RESTARTING
            h.post_message(f"<@{APP_ID}> {FOUND}")
            assert (await h.channel_sends())[0]["json"]["content"] == RESTARTING
            assert not h.bot.is_closed() and closed == []  # still waiting for the first one
            gate.open()
            answer = followup_of(await h.finished(in_flight))
            assert answer.message["embeds"]
            await h.recorder.wait_for(lambda: h.bot.is_closed() and closed == ["feedback"])
        finally:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


async def test_shutdown_stops_waiting_after_the_grace_period(
    tmp_path: Path, engine: Engine, gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, shutdown_grace_seconds=0.2)
    async with harness_for(settings, Wrapped(engine, search=gate.search)) as h:
        closed = spy_on_close(h)
        await deferred(h, ask(h, 1))
        await h.bot.shut_down()  # the question never finishes: it stops anyway
        assert h.bot.is_closed() and closed == ["feedback"]
    assert "stopping with 1 question(s) unanswered after 0.2 s" in caplog.text


def test_run_discord_installs_the_handler_and_exits_0(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    async def start(self: CitebotBot, token: str) -> None:  # stands in for the gateway session
        seen["bot"] = self
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(400):
            if self.is_closed():
                return
            await asyncio.sleep(0.025)

    monkeypatch.setattr(CitebotBot, "start", start)
    # Without a handler from the bot, SIGTERM must not kill the test run: record it instead.
    previous = signal.signal(signal.SIGTERM, lambda *_: seen.setdefault("unhandled", True))
    try:
        status = run_discord(make_settings(tmp_path, discord_token=TOKEN), engine)
    finally:
        signal.signal(signal.SIGTERM, previous)
    bot = seen["bot"]
    assert isinstance(bot, CitebotBot)
    assert status == 0
    assert "unhandled" not in seen
    assert bot.load.closed and bot.is_closed()
