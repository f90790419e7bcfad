"""The real bot over the wire: discord.py's own client, REST and gateway, against the loopback
stand-in (``tests/loopback``). Every test also passes the shared payload check (conftest)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine
from bot.discord.client import CitebotBot
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, Request
from tests.loopback.client import running_bot
from tests.loopback.recorder import DEFERRED_MESSAGE, FORM, MESSAGE
from tests.paths import ARTICLE_DIR
from tests.wire.conftest import DOCUMENT, FOUND, OTHER_USER_ID, USER_ID, wire_settings


def custom_id(message: dict[str, Any], prefix: str) -> str:
    for row in message.get("components") or []:
        for component in row.get("components") or []:
            if str(component.get("custom_id", "")).startswith(prefix):
                return str(component["custom_id"])
    raise AssertionError(f"no {prefix} button in {message.get('components')}")


def documents(request: Request) -> list[str]:
    """The documents an answer cites (embed footers and descriptions name them)."""
    return [str(embed) for embed in request.message.get("embeds") or [] if DOCUMENT in str(embed)]


async def test_ask_is_deferred_then_answered_with_cited_passages(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    synced = loopback.recorder.matching(lambda r: r.method == "PUT" and "/commands" in r.path)
    assert [r.path for r in synced] == [
        f"/applications/{loopback.world.app_id}/guilds/{loopback.world.guild_id}/commands"
    ]
    assert loopback.gateway.compressed_connections >= 1  # zlib-stream, as discord.py asks
    token = await loopback.slash("ask", user_id=USER_ID, question=FOUND)
    answer = await loopback.answered(token)
    calls = loopback.recorder.for_token(token)
    assert calls[0].callback_type == DEFERRED_MESSAGE  # acknowledged first, then answered
    assert answer.is_followup and documents(answer)
    assert len(answer.message["embeds"]) == 3


async def test_a_mention_gets_a_reply_without_pinging(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    message_id = await loopback.mention(FOUND, user_id=USER_ID)
    reply = await loopback.reply_to(message_id)
    assert documents(reply)
    assert reply.message["allowed_mentions"] == {"parse": []}  # replied_user: false by default


async def test_more_and_votes(loopback: LoopbackDiscord, bot: CitebotBot) -> None:
    first = await loopback.answered(
        await loopback.slash("ask", user_id=USER_ID, question=FOUND, k=2)
    )
    message = loopback.sent_message(first)

    more = await loopback.click(message, custom_id(first.message, "citebot:more:"), user_id=USER_ID)
    next_page = await loopback.answered(more)
    titles = [embed["title"].split(".")[0] for embed in next_page.message["embeds"]]
    assert titles == ["3", "4"]

    up = await loopback.click(message, custom_id(first.message, "citebot:vote:"), user_id=USER_ID)
    down_id = custom_id(first.message, "citebot:vote:").replace(":up", ":down")
    down = await loopback.click(message, down_id, user_id=OTHER_USER_ID)
    thanks = await loopback.answered(up)
    assert thanks.callback_type == MESSAGE and thanks.ephemeral
    assert "👍" in thanks.message["content"]
    form = (await loopback.calls(down, 1))[0]  # a 👎 asks why
    assert form.callback_type == FORM and form.succeeded
    summary = await asyncio.to_thread(bot.feedback.summary)
    assert (summary.up, summary.down) == (1, 1)  # the 👎 counts before the form is sent
    sent = await loopback.submit_form(
        form.body["data"]["custom_id"], {"reason": ["wrong_passage"], "words": "@everyone no"},
        user_id=OTHER_USER_ID,
    )
    saved = await loopback.answered(sent)
    assert saved.ephemeral and "reason" in saved.message["content"]
    for _ in range(200):  # the log is written after the answer is sent
        rows = await asyncio.to_thread(bot.questions.questions, None)
        if rows:
            break
        await asyncio.sleep(0.05)
    assert [(v.reason, v.text) for v in rows[0].votes if v.vote < 0] == [
        ("wrong_passage", "@everyone no")
    ]


async def test_sources_lists_the_article(loopback: LoopbackDiscord, bot: CitebotBot) -> None:
    reply = await loopback.answered(await loopback.slash("sources", user_id=USER_ID))
    assert reply.ephemeral
    assert reply.message["embeds"][0]["fields"][0]["name"] == DOCUMENT


async def test_reindex_rebuilds_and_reports(
    loopback: LoopbackDiscord, tmp_path: Path, index_copy: Path
) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(ARTICLE_DIR, sources)
    settings = wire_settings(tmp_path, loopback.world, source_dir=sources, index_dir=index_copy)
    engine = Engine(settings)
    async with running_bot(loopback, settings, engine):
        token = await loopback.slash("reindex", user_id=USER_ID, permissions=ADMIN_PERMISSIONS)
        report = await loopback.answered(token, timeout=120)
        assert report.ephemeral
        assert report.message["content"].startswith("Rebuilt the index: 1 document(s)")
        answer = await loopback.answered(
            await loopback.slash("ask", user_id=USER_ID, question=FOUND)
        )
        assert documents(answer)


def _followup(request: Request) -> bool:
    return request.is_followup


def _reply(request: Request) -> bool:
    return request.is_channel_message


def _callback(request: Request) -> bool:
    return request.is_callback


@pytest.mark.parametrize(
    ("target", "status"),
    [("followup", 429), ("followup", 500), ("callback", 429)],
)
async def test_a_refused_interaction_call_is_retried_and_the_answer_arrives(
    loopback: LoopbackDiscord, bot: CitebotBot, target: str, status: int
) -> None:
    matches = _followup if target == "followup" else _callback
    fault = loopback.rest.fail(matches, status, retry_after=0.3)
    token = await loopback.slash("ask", user_id=USER_ID, question=FOUND)
    answer = await loopback.answered(token)
    assert fault.hits == 1 and documents(answer)
    calls = [r for r in loopback.recorder.for_token(token) if matches(r)]
    assert [r.status for r in calls] == [status, 200]


async def test_a_rate_limited_reply_is_retried_and_arrives(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    fault = loopback.rest.fail(_reply, 429, retry_after=0.3)
    reply = await loopback.reply_to(await loopback.mention(FOUND, user_id=USER_ID))
    assert fault.hits == 1 and documents(reply)


async def test_gateway_drop_and_resume_mid_question(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    token = await loopback.slash("ask", user_id=USER_ID, question=FOUND)
    await loopback.recorder.wait_for(lambda: loopback.recorder.for_token(token))  # deferred
    await loopback.gateway.drop()
    # Sent while the bot is away: Discord keeps it and replays it on RESUME.
    missed = await loopback.slash("ask", user_id=OTHER_USER_ID, question=FOUND)
    await loopback.gateway.wait_connected()
    for each in (token, missed):
        assert documents(await loopback.answered(each))
    assert (loopback.gateway.identifies, loopback.gateway.resumes) == (1, 1)


async def test_a_lost_session_is_identified_again_and_answers(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    loopback.gateway.sessions.clear()  # Discord forgot the session: RESUME gets INVALID_SESSION
    await loopback.gateway.drop()
    await loopback.recorder.wait_for(lambda: loopback.gateway.identifies == 2, timeout=30)
    await loopback.gateway.wait_connected()
    answer = await loopback.answered(await loopback.slash("ask", user_id=USER_ID, question=FOUND))
    assert documents(answer)
    assert loopback.gateway.resumes == 0
