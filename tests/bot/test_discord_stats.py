"""``/docs stats`` through the real CommandTree: the chart attached as a real PNG, the figures
in the embed, managers only, only the server's own questions, and a log turned off."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.core.engine import Engine
from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from bot.discord.exts.docs.stats import CHART_NAME, LOG_OFF
from bot.state.feedback import DOWN, UP
from tests.bot.conftest import (
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    OTHER_GUILD_ID,
    Call,
    Harness,
    RecordingAdapter,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.test_discord_app import assert_safe, defer_of, followup_of

MANAGER = in_guild(GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
MEMBER = in_guild(GUILD_ID)
OTHER_MANAGER = in_guild(OTHER_GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
DAY = 86_400.0


@pytest.fixture
async def h(tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch):
    """The harness, with the files of multipart messages kept (the recorder keeps only
    ``{"multipart": True}``): the payload JSON becomes the call's payload, plus ``_files``."""
    original = RecordingAdapter.request

    async def request(self: RecordingAdapter, route: Any, session: Any, **kwargs: Any) -> Any:
        parts = kwargs.get("multipart") or []
        if kwargs.get("payload") is None and parts:
            payload: dict[str, Any] = {}
            files = []
            for part in parts:
                if part["name"] == "payload_json":
                    payload.update(json.loads(part["value"]))
                else:
                    files.append((part.get("filename"), part["value"].read()))
            kwargs["payload"] = {**payload, "_files": files}
        return await original(self, route, session, **kwargs)

    monkeypatch.setattr(RecordingAdapter, "request", request)
    settings = make_settings(tmp_path, collections_dir=tmp_path / "collections")
    async with harness_for(settings, engine) as harness:
        yield harness


def log_questions(h: Harness, guild_id: int, count: int, found_every: int = 2) -> None:
    """``count`` questions in ``guild_id`` over the last days, every ``found_every``-th not
    found, one 👍 and one 👎 on the first two answers."""
    now = time.time()
    for i in range(count):
        h.bot.questions.record(
            guild_id=guild_id, collection=f"guild-{guild_id}", question=f"@everyone q{i}",
            found=i % found_every != 0, passage_ids=["x"], answer_key=f"{guild_id}-{i}",
            user_hash="h", at=now - (i % 3) * DAY,
        )
    for i, vote in enumerate((UP, DOWN)):
        h.bot.feedback.record(answer_key=f"{guild_id}-{i}", question=f"q{i}",
                              passage_ids=["x"], vote=vote, user_id=7)


def fields_of(call: Call) -> dict[str, str]:
    embed = call.message["embeds"][0]
    return {field["name"]: field["value"] for field in embed.get("fields", [])}


async def stats(h: Harness, who: dict[str, Any], **options: Any) -> Call:
    calls = await h.finished(h.slash("docs stats", who=who, **options))
    assert defer_of(calls).ephemeral
    reply = followup_of(calls)
    assert_safe(reply)
    assert reply.ephemeral
    return reply


def png_of(call: Call) -> Image.Image:
    files = call.message["_files"]
    assert [name for name, _ in files] == [CHART_NAME]
    data = files[0][1]
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_a_manager_gets_the_chart_and_the_figures_of_their_server_only(h: Harness) -> None:
    log_questions(h, GUILD_ID, 12)
    log_questions(h, OTHER_GUILD_ID, 5, found_every=5)
    reply = await stats(h, MANAGER, days=7)
    fields = fields_of(reply)
    assert fields["Questions"] == "12" and fields["Found in the documents"] == "50 %"
    assert fields["Votes"] == "👍 1 · 👎 1"
    assert fields["Busiest day"].endswith(": 4")
    embed = reply.message["embeds"][0]
    assert embed["image"]["url"] == f"attachment://{CHART_NAME}"
    assert embed["title"] == "Questions in the last 7 days"
    assert png_of(reply).size == (900, 560)
    other = await stats(h, OTHER_MANAGER)
    assert fields_of(other)["Questions"] == "5"
    assert fields_of(other)["Found in the documents"] == "80 %"
    assert "everyone" not in json.dumps(other.message["embeds"])  # no question text is shown


async def test_members_are_refused(h: Harness) -> None:
    log_questions(h, GUILD_ID, 3)
    calls = await h.finished(h.slash("docs stats", who=MEMBER), count=1)
    assert len(calls) == 1 and calls[0].ephemeral
    assert calls[0].message["content"] == NOT_A_MANAGER
    assert "_files" not in calls[0].message


async def test_an_empty_log_still_draws_a_chart_that_says_so(h: Harness) -> None:
    reply = await stats(h, MANAGER)
    assert fields_of(reply)["Questions"] == "0"
    assert "Busiest day" not in fields_of(reply)
    assert "No questions logged in the last 30 day(s)." in reply.message["embeds"][0]["description"]
    image = png_of(reply).convert("L")
    assert image.getextrema()[0] < 128  # the message is drawn on it


async def test_a_server_with_its_log_off_is_told_how_to_turn_it_on(h: Harness) -> None:
    log_questions(h, GUILD_ID, 3)
    h.bot.servers.update_settings(GUILD_ID, log_questions=False)
    reply = await stats(h, MANAGER)
    assert reply.message["content"] == LOG_OFF
    assert "/docs settings log_questions:True" in LOG_OFF
    assert "_files" not in reply.message
    assert fields_of(await stats(h, OTHER_MANAGER))["Questions"] == "0"
