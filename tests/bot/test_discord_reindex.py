"""A long /reindex still reports back (issue 9, defect 10): interaction tokens die after 15
minutes, so the result goes to the channel when the token has expired or Discord refuses it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.core.engine import Engine
from tests.bot.conftest import CHANNEL_ID, OWNER_ID, Call, harness_for, make_settings
from tests.bot.test_discord_app import rebuilding

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


async def test_a_rebuild_past_the_token_lifetime_reports_in_the_channel(
    tmp_path: Path, own_engine: Engine
) -> None:
    now = [0.0]
    async with harness_for(make_settings(tmp_path), own_engine) as h:
        h.bot.clock = lambda: now[0]
        submit = h.bot.builds.submit

        def fifteen_minutes_later(*args: Any, **kwargs: Any) -> Any:  # a 15-minute build
            now[0] = 15 * 60.0
            return submit(*args, **kwargs)

        h.bot.builds.submit = fifteen_minutes_later  # type: ignore[method-assign]
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
    tmp_path: Path, own_engine: Engine
) -> None:
    async with harness_for(make_settings(tmp_path), own_engine) as h:
        h.recorder.fail_next = expired_token
        token = h.slash("reindex", who=OWNER)
        sends = await h.channel_sends(timeout=300)
        calls = h.recorder.for_token(token)
    followups = [c for c in calls if c.is_followup]
    assert len(followups) == 1  # tried once, refused
    assert "Rebuilt the index: 1 document(s), " in sends[0]["json"]["content"]


async def test_when_the_channel_refuses_too_the_result_is_logged(
    tmp_path: Path, own_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    async with harness_for(make_settings(tmp_path), own_engine) as h:
        h.recorder.fail_next = expired_token
        h.fail_channel_send = lambda: discord_error(discord.Forbidden, 403, 50013)
        token = h.slash("reindex", who=OWNER)
        await h.recorder.wait_for(lambda: bool(h.channel_calls), timeout=300)
        await h.recorder.wait_for(lambda: not rebuilding(h.bot))
        calls = h.recorder.for_token(token)
    assert [c.is_followup for c in calls].count(True) == 1  # no error message after it
    assert f"could not deliver the /reindex result to channel {CHANNEL_ID} (403 50013)" in (
        caplog.text
    )
    assert "Rebuilt the index: 1 document(s)" in caplog.text
