"""A long /reindex still reports back (issue 9, defect 10): interaction tokens die after 15
minutes, so the result goes to the channel when the token has expired or Discord refuses it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import discord
import pytest

from bot.core.engine import Engine
from index.builder import BuildReport
from index.documents import SkippedFile
from tests.bot.conftest import CHANNEL_ID, OWNER_ID, Call, harness_for, make_settings
from tests.bot.test_discord_app import Wrapped

OWNER = {"user_id": OWNER_ID}
POST_IN_CHANNEL = "POST /channels/{channel_id}/messages"


def discord_error(kind: type[discord.HTTPException], status: int, code: int) -> Exception:
    """The exception discord.py raises for a Discord error response."""
    response = SimpleNamespace(status=status, reason="refused")
    return kind(response, {"code": code, "message": "refused"})  # type: ignore[arg-type]


def expired_token(call: Call) -> Exception | None:
    """Discord's answer to a follow-up once the interaction token has expired."""
    if call.is_followup:
        return discord_error(discord.HTTPException, 401, 50027)
    return None


def report() -> BuildReport:
    skipped = (SkippedFile("notes.md", "notes.md: has no text to index", "h"),)
    return BuildReport(2, 30, 90, 30, 0, 1.5, 1000, skipped, Path("build"))


async def test_a_rebuild_past_the_token_lifetime_reports_in_the_channel(
    tmp_path: Path, own_engine: Engine
) -> None:
    now = [0.0]
    own_engine.on_build_start = lambda: now.__setitem__(0, 15 * 60.0)  # a 15-minute build
    async with harness_for(make_settings(tmp_path), own_engine) as h:
        h.bot.clock = lambda: now[0]
        token = h.slash("reindex", who=OWNER)
        sends = await h.channel_sends(timeout=300)
        calls = h.recorder.for_token(token)
    assert [s["route"] for s in sends] == [POST_IN_CHANNEL]
    body = sends[0]["json"]
    assert body["content"].startswith(f"The /reindex started by <@{OWNER_ID}> has finished:\n")
    assert "Rebuilt the index: 1 document(s)" in body["content"]
    assert body["allowed_mentions"]["parse"] == []
    assert [c.response_type for c in calls] == [5]  # the dead token was not used again
    assert str(CHANNEL_ID) in h.recorder.calls[-1].url


async def test_a_refused_follow_up_falls_back_to_the_channel(
    tmp_path: Path, engine: Engine
) -> None:
    async with harness_for(make_settings(tmp_path), Wrapped(engine, rebuild=report)) as h:
        h.recorder.fail_next = expired_token
        token = h.slash("reindex", who=OWNER)
        sends = await h.channel_sends()
        calls = h.recorder.for_token(token)
    assert [c.is_followup for c in calls] == [False, True]  # tried, refused
    assert "Rebuilt the index: 2 document(s), 30 chunk(s)" in sends[0]["json"]["content"]


async def test_when_the_channel_refuses_too_the_result_is_logged(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    async with harness_for(make_settings(tmp_path), Wrapped(engine, rebuild=report)) as h:
        h.recorder.fail_next = expired_token
        h.fail_channel_send = lambda: discord_error(discord.Forbidden, 403, 50013)
        token = h.slash("reindex", who=OWNER)
        await h.recorder.wait_for(lambda: bool(h.channel_calls))
        await h.recorder.wait_for(lambda: not h.bot.rebuild_lock.locked())
        calls = h.recorder.for_token(token)
    assert len(calls) == 2  # the defer and the refused follow-up; no error message after it
    assert f"could not deliver the /reindex result to channel {CHANNEL_ID} (403 50013)" in (
        caplog.text
    )
    assert "Rebuilt the index: 2 document(s)" in caplog.text
