"""Follow-up questions on Discord (issue 12): a reply to an answer, a thread opened from an
answer, successive questions in a DM; expiry, a restart mid-conversation, and two people talking
in one channel at once. Through the real CommandTree and message dispatch, on the real model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.core.engine import Engine
from bot.discord.exts.ask.conversations import NO_THREAD
from bot.discord.utils.render import CONTEXT_LINE
from tests.bot.conftest import (
    CHANNEL_ID,
    USER_ID,
    Call,
    Harness,
    harness_for,
    make_settings,
)
from tests.bot.test_discord_app import assert_safe, followup_of
from tests.bot.test_discord_reindex import discord_error

LAVROV = "Which Russian official visited Seoul?"
HE_URGED = "What did he call on all countries to do?"
URGED = "renounce an arms race"
MISSILES = "How many ballistic missiles did North Korea launch on March 25?"
WHERE = "Where did they land?"
LANDED = "a sea near Japan"
OTHER_USER = USER_ID + 1


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path, discord_allow_dms=True)


@pytest.fixture
async def h(settings, engine: Engine):
    async with harness_for(settings, engine) as harness:
        yield harness


async def mention(
    h: Harness, question: str, *, reply_to: dict | None = None, **where: Any
) -> dict[str, Any]:
    """Ask by mentioning the bot; returns the bot's reply as Discord returned it."""
    before = len(h.channel_calls)
    h.post_message(f"<@{h.bot.user.id}> {question}", reply_to=reply_to, **where)
    sends = await h.channel_sends(count=before + 1)
    sent = sends[before]
    assert sent["json"]["allowed_mentions"] == {"parse": []}
    return sent["response"]


def context_of(message: dict[str, Any]) -> str | None:
    """The question an answer says it was read together with, if any."""
    for line in (message.get("content") or "").splitlines():
        if line.startswith(f"*{CONTEXT_LINE}"):
            return line[len(CONTEXT_LINE) + 1 : -1]
    return None


def quoted(message: dict[str, Any]) -> str:
    return json.dumps(message.get("embeds") or [], ensure_ascii=False).replace("**", "")


async def test_a_reply_to_an_answer_is_read_together_with_its_question(h: Harness) -> None:
    first = await mention(h, LAVROV)
    assert context_of(first) is None
    follow_up = await mention(h, HE_URGED, reply_to=first)
    assert context_of(follow_up) == LAVROV
    assert URGED in quoted(follow_up)
    # Each stored turn carries the sentence bolded for it: the next follow-up stays near it
    # without asking the earlier questions again.
    stored = h.bot.conversations.by_message(int(follow_up["id"]))
    assert [turn.question for turn in stored] == [LAVROV, HE_URGED]
    assert "Sergei Lavrov" in (stored[0].highlight or "") and URGED in (stored[1].highlight or "")
    alone = await mention(h, HE_URGED)  # not a reply: a new conversation
    assert context_of(alone) is None


async def test_two_people_in_one_channel_keep_their_own_conversations(h: Harness) -> None:
    mine = await mention(h, LAVROV, author_id=USER_ID)
    theirs = await mention(h, MISSILES, author_id=OTHER_USER)
    their_follow_up = await mention(h, WHERE, reply_to=theirs, author_id=OTHER_USER)
    my_follow_up = await mention(h, HE_URGED, reply_to=mine, author_id=USER_ID)
    assert context_of(their_follow_up) == MISSILES and LANDED in quoted(their_follow_up)
    assert context_of(my_follow_up) == LAVROV and URGED in quoted(my_follow_up)


async def test_successive_questions_in_a_dm_continue_and_expire(h: Harness) -> None:
    await mention(h, MISSILES, dm=True)
    follow_up = await mention(h, WHERE, dm=True)
    assert context_of(follow_up) == MISSILES and LANDED in quoted(follow_up)
    store = h.bot.conversations
    real_clock = store._clock
    store._clock = lambda: real_clock() + 16 * 60  # the conversation's 15 minutes are over
    later = await mention(h, WHERE, dm=True)
    assert context_of(later) is None


async def test_a_follow_up_thread_is_named_without_hidden_characters(h: Harness) -> None:
    """Thread names render no markdown, but bidi controls would still reorder them."""
    token = h.slash("ask", question="\u202eWhich Russian official\u200b visited Seoul?\u2066")
    answer = followup_of(await h.finished(token))
    follow = next(
        item["custom_id"]
        for row in answer.message["components"]
        for item in row["components"]
        if item["custom_id"].startswith("citebot:followup:")
    )
    await h.finished(h.click(answer.response, follow), count=1)
    await h.recorder.wait_for(lambda: any(c["route"].endswith("/threads") for c in h.channel_calls))
    (created,) = [c for c in h.channel_calls if c["route"].endswith("/threads")]
    assert created["json"]["name"] == "Which Russian official visited Seoul?"


async def test_ask_a_follow_up_opens_a_thread_where_questions_continue(h: Harness) -> None:
    token = h.slash("ask", question=LAVROV)
    answer = followup_of(await h.finished(token))
    assert_safe(answer)
    custom_ids = [
        item["custom_id"] for row in answer.message["components"] for item in row["components"]
    ]
    follow = next(c for c in custom_ids if c.startswith("citebot:followup:"))
    message = answer.response
    click = h.click(message, follow)
    calls = await h.finished(click, count=1)
    await h.recorder.wait_for(lambda: any(c["route"].endswith("/threads") for c in h.channel_calls))
    assert "Ask your follow-up in <#" in calls[0].message["content"] and calls[0].ephemeral
    thread_id = int(message["id"])
    in_thread = h.slash(
        "ask", question=HE_URGED, who={"channel_id": thread_id, "thread_of": CHANNEL_ID}
    )
    reply = followup_of(await h.finished(in_thread))
    assert_safe(reply)
    assert context_of(reply.message) == LAVROV and URGED in quoted(reply.message)
    assert not any(  # no second thread offered inside a thread
        item["custom_id"].startswith("citebot:followup:")
        for row in reply.message.get("components", [])
        for item in row["components"]
    )
    h.open_thread(thread_id)  # the gateway's THREAD_CREATE: messages there resolve to it
    by_mention = await mention(h, "And which tabloid described his visit?", channel_id=thread_id)
    assert context_of(by_mention) == HE_URGED


async def test_a_plain_ask_in_a_channel_starts_a_new_conversation(h: Harness) -> None:
    for question in (LAVROV, HE_URGED):
        token = h.slash("ask", question=question)
        answer: Call = followup_of(await h.finished(token))
        assert context_of(answer.message) is None


async def test_a_restart_in_the_middle_of_a_conversation_keeps_it(
    settings, engine: Engine
) -> None:
    async with harness_for(settings, engine) as before:
        first = await mention(before, MISSILES)
    async with harness_for(settings, engine) as after:
        follow_up = await mention(after, WHERE, reply_to=first)
    assert context_of(follow_up) == MISSILES and LANDED in quoted(follow_up)


async def test_without_permission_to_open_a_thread_the_asker_is_told_to_reply(h: Harness) -> None:
    h.fail_thread = lambda: discord_error(discord.Forbidden, 403, 50013)
    answer = followup_of(await h.finished(h.slash("ask", question=LAVROV)))
    follow = next(
        item["custom_id"]
        for row in answer.message["components"]
        for item in row["components"]
        if item["custom_id"].startswith("citebot:followup:")
    )
    calls = await h.finished(h.click(answer.response, follow), count=1)
    assert calls[0].message["content"] == NO_THREAD and calls[0].ephemeral
    assert_safe(calls[0])
