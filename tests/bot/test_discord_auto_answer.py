"""Answering where questions are (issue 24): a new forum post or text-channel message in an
auto-answer channel is answered without a mention, in its thread, with Solved and Not helpful;
nothing else is; ``/docs settings auto_answer`` for managers only. Through the real message
dispatch, CommandTree and view store, on the real model."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine
from bot.core.solved import is_solved, solved_threads
from bot.discord.client import create_bot
from bot.discord.exts.ask.auto_answer import (
    ALREADY_SOLVED,
    NOT_HELPFUL,
    ONLY_ASKER,
    QUIET_NOTE,
    SOLVED,
    warn_without_message_content,
)
from bot.discord.exts.docs.overview import FOREIGN_CHANNEL, NO_MESSAGE_CONTENT
from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from tests.bot.conftest import (
    APP_ID,
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    OTHER_CHANNEL_ID,
    OTHER_GUILD_CHANNEL_ID,
    OTHER_GUILD_ID,
    USER_ID,
    Call,
    Harness,
    harness_for,
    make_settings,
    snowflake,
    user_payload,
)
from tests.servers.state import query

FORUM_ID = 900000000000000050
QUESTION = "Which Russian official visited Seoul?"
TITLE = "Russian official in Seoul"
QUOTED = "Lavrov"
NOT_FOUND = "What is the recipe for chocolate cake?"
OTHER_USER = USER_ID + 7
MANAGER = {"permissions": MANAGE_GUILD | MEMBER_PERMISSIONS}
NO_MENTIONS = {"parse": []}
QUIET_S = 0.6  # how long to wait for an answer that must not come


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path, discord_message_content=True)


@pytest.fixture
async def h(settings, engine: Engine):
    async with harness_for(settings, engine) as harness:
        yield harness


def sends(h: Harness) -> list[dict[str, Any]]:
    """The messages the bot posted in channels (not interaction responses)."""
    return [c for c in h.channel_calls if c["route"] == "POST /channels/{channel_id}/messages"]


def thread_starts(h: Harness) -> list[dict[str, Any]]:
    return [c for c in h.channel_calls if c["route"].endswith("/threads")]


def button_ids(message: dict[str, Any]) -> list[str]:
    return [b["custom_id"] for row in message.get("components", []) for b in row["components"]]


async def one_answer(h: Harness) -> dict[str, Any]:
    """Wait for the bot's one post; return it (the body sent and Discord's reply)."""
    await h.recorder.wait_for(lambda: len(sends(h)) >= 1)
    await asyncio.sleep(QUIET_S)  # anything more would show up now
    posted = sends(h)
    assert len(posted) == 1, posted
    assert posted[0]["json"]["allowed_mentions"] == NO_MENTIONS
    return posted[0]


async def nothing_posted(h: Harness) -> None:
    await asyncio.sleep(QUIET_S)
    assert sends(h) == [] and thread_starts(h) == []


def auto_answer_in(h: Harness, channel_id: int) -> None:
    assert h.bot.servers.add_auto_answer(GUILD_ID, channel_id)


async def click(h: Harness, message: dict[str, Any], prefix: str, **who: Any) -> list[Call]:
    custom_id = next(i for i in button_ids(message) if i.startswith(prefix))
    token = h.click(message, custom_id, who=who)
    return await h.finished(token, count=1)


# ----- answering ----------------------------------------------------------------------------


async def test_a_forum_post_is_answered_in_its_thread(h: Harness) -> None:
    h.add_forum(FORUM_ID)
    auto_answer_in(h, FORUM_ID)
    thread_id = h.post_in_forum(FORUM_ID, TITLE, QUESTION)
    answer = await one_answer(h)
    assert answer["route"] == "POST /channels/{channel_id}/messages"
    assert answer["response"]["channel_id"] == str(thread_id)  # in the post's own thread
    assert answer["json"]["message_reference"]["message_id"] == thread_id  # the post
    assert QUOTED in str(answer["json"]["embeds"])
    ids = button_ids(answer["json"])
    assert [i.split(":")[1] for i in ids] == ["more", "vote", "vote", "solved", "nothelpful"]
    assert f"citebot:solved:{USER_ID}" in ids
    assert thread_starts(h) == []
    # the answer ends a conversation in the thread: a mention there continues it
    assert h.bot.conversations.latest(thread_id, USER_ID)


async def test_a_text_channel_message_gets_a_thread_with_the_answer(h: Harness) -> None:
    auto_answer_in(h, CHANNEL_ID)
    posted = h.post_raw(CHANNEL_ID, f"{QUESTION}\u200f\nMore words on a second line.")
    answer = await one_answer(h)
    started = thread_starts(h)
    assert len(started) == 1
    assert started[0]["json"]["name"] == QUESTION  # its first line, without invisible marks
    assert answer["response"]["channel_id"] == posted["id"]  # the thread started from it
    assert "message_reference" not in answer["json"]
    assert QUOTED in str(answer["json"]["embeds"])
    assert any(i.startswith("citebot:solved:") for i in button_ids(answer["json"]))


async def test_no_thread_allowed_answers_in_the_channel(h: Harness) -> None:
    import discord

    from tests.bot.test_discord_reindex import discord_error

    auto_answer_in(h, CHANNEL_ID)
    h.fail_thread = lambda: discord_error(discord.Forbidden, 403, 50013)
    posted = h.post_raw(CHANNEL_ID, QUESTION)
    answer = await one_answer(h)
    assert answer["response"]["channel_id"] == str(CHANNEL_ID)
    assert answer["json"]["message_reference"]["message_id"] == int(posted["id"])
    ids = button_ids(answer["json"])  # no thread to mark solved; the rest as usual
    assert [i.split(":")[1] for i in ids] == ["more", "vote", "vote", "nothelpful"]


async def test_other_channels_and_later_messages_are_not_answered(h: Harness) -> None:
    h.add_forum(FORUM_ID)
    auto_answer_in(h, CHANNEL_ID)
    h.post_raw(OTHER_CHANNEL_ID, QUESTION)  # not an auto-answer channel
    h.post_in_forum(FORUM_ID, TITLE, QUESTION)  # a forum that is not one either
    thread_id = snowflake()
    h.open_thread(thread_id, CHANNEL_ID)  # a thread of the auto-answer channel ...
    h.post_raw(thread_id, QUESTION)  # ... and a message in it: not a first message
    await nothing_posted(h)
    auto_answer_in(h, FORUM_ID)
    forum_thread = h.post_in_forum(FORUM_ID, TITLE, QUESTION)
    await one_answer(h)
    h.channel_calls.clear()
    h.post_raw(forum_thread, "and another thing about Seoul?")  # a reply in the post
    await nothing_posted(h)


async def test_bots_itself_and_system_messages_are_not_answered(h: Harness) -> None:
    auto_answer_in(h, CHANNEL_ID)
    h.post_raw(CHANNEL_ID, QUESTION, author=user_payload(snowflake(), "other bot", bot=True))
    h.post_raw(CHANNEL_ID, QUESTION, author=user_payload(APP_ID, "citebot", bot=True))
    h.post_raw(CHANNEL_ID, QUESTION, message_type=18)  # "started a thread"
    h.post_raw(CHANNEL_ID, "")  # an image alone
    await nothing_posted(h)
    h.post_raw(CHANNEL_ID, QUESTION)  # the same words from a member are answered
    await one_answer(h)


async def test_a_mention_in_an_auto_answer_channel_is_answered_once(h: Harness) -> None:
    auto_answer_in(h, CHANNEL_ID)
    posted = h.post_raw(CHANNEL_ID, f"<@{APP_ID}> {QUESTION}", mention_bot=True)
    answer = await one_answer(h)  # exactly one
    assert answer["json"]["message_reference"]["message_id"] == int(posted["id"])
    assert thread_starts(h) == []  # the mention handler's reply, not an auto-answer
    assert not any(i.startswith("citebot:solved:") for i in button_ids(answer["json"]))


async def test_a_post_the_documents_do_not_answer_gets_a_quiet_note(h: Harness) -> None:
    h.add_forum(FORUM_ID)
    auto_answer_in(h, FORUM_ID)
    h.post_in_forum(FORUM_ID, "Baking", NOT_FOUND)
    note = await one_answer(h)
    assert note["json"]["content"] == QUIET_NOTE
    assert not note["json"].get("embeds")
    assert [i.split(":")[1] for i in button_ids(note["json"])] == ["solved"]


async def test_with_quiet_off_the_full_answer_says_not_in_the_source(h: Harness) -> None:
    h.add_forum(FORUM_ID)
    auto_answer_in(h, FORUM_ID)
    h.bot.servers.update_settings(GUILD_ID, auto_answer_quiet=False)
    h.post_in_forum(FORUM_ID, "Baking", NOT_FOUND)
    answer = await one_answer(h)
    assert "Not in the source" in answer["json"]["content"]
    assert QUIET_NOTE not in answer["json"]["content"]


async def test_the_cooldown_counts_auto_answers(tmp_path: Path, engine: Engine) -> None:
    settings = make_settings(
        tmp_path, discord_message_content=True, discord_cooldown_questions=1
    )
    async with harness_for(settings, engine) as h:
        auto_answer_in(h, CHANNEL_ID)
        h.post_raw(CHANNEL_ID, QUESTION)
        await one_answer(h)
        h.post_raw(CHANNEL_ID, "What did Kim Jong Un and Xi Jinping exchange?")
        await asyncio.sleep(QUIET_S)
        assert len(sends(h)) == 1  # over the cooldown: skipped, without a word
        h.post_raw(CHANNEL_ID, QUESTION, author=user_payload(OTHER_USER))  # another member
        await h.recorder.wait_for(lambda: len(sends(h)) >= 2)


# ----- Solved and Not helpful -----------------------------------------------------------------


async def test_solved_by_the_asker_marks_the_thread_and_tags_it(h: Harness) -> None:
    tags = h.add_forum(FORUM_ID, ("Bug", "SOLVED "))
    bug = next(tag for tag, name in tags.items() if name == "Bug")
    solved_tag = next(tag for tag, name in tags.items() if name != "Bug")
    edits = h.answer_channel_edits()
    auto_answer_in(h, FORUM_ID)
    thread_id = h.post_in_forum(FORUM_ID, TITLE, QUESTION, tags=(bug,))
    answer = await one_answer(h)
    calls = await click(
        h, answer["response"], "citebot:solved:", channel_id=thread_id, thread_of=FORUM_ID
    )
    response = calls[0]
    assert response.message["content"] == SOLVED.format(user=f"<@{USER_ID}>")
    assert not response.ephemeral and response.message["allowed_mentions"] == NO_MENTIONS
    await h.recorder.wait_for(lambda: len(edits) == 1)
    assert edits == [{"applied_tags": [str(bug), str(solved_tag)]}]
    marked = solved_threads(h.bot.servers, GUILD_ID, FORUM_ID)
    assert [(t.thread_id, t.channel_id) for t in marked] == [(thread_id, FORUM_ID)]
    assert marked[0].by_hash == h.bot.feedback.hash_user(USER_ID)  # never the id itself
    assert str(USER_ID) not in marked[0].by_hash


async def test_privacy_forget_blanks_who_solved_but_the_thread_stays_solved(h: Harness) -> None:
    h.add_forum(FORUM_ID)
    auto_answer_in(h, FORUM_ID)
    thread_id = h.post_in_forum(FORUM_ID, TITLE, QUESTION)
    answer = await one_answer(h)
    await click(h, answer["response"], "citebot:solved:", channel_id=thread_id, thread_of=FORUM_ID)
    calls = await h.finished(h.slash("privacy forget"), count=2)
    reply = next(call for call in calls if call.is_followup).message["content"]
    assert "who marked 1 thread(s) solved (they stay solved)" in reply
    assert [t.by_hash for t in solved_threads(h.bot.servers, GUILD_ID)] == [""]
    assert is_solved(h.bot.servers, GUILD_ID, thread_id)


async def test_solved_by_a_manager_works_by_another_member_is_refused(h: Harness) -> None:
    auto_answer_in(h, CHANNEL_ID)
    posted = h.post_raw(CHANNEL_ID, QUESTION)
    answer = await one_answer(h)
    thread_id = int(posted["id"])
    where = {"channel_id": thread_id, "thread_of": CHANNEL_ID}
    refused = await click(h, answer["response"], "citebot:solved:", user_id=OTHER_USER, **where)
    assert refused[0].message["content"] == ONLY_ASKER and refused[0].ephemeral
    assert not is_solved(h.bot.servers, GUILD_ID, thread_id)
    done = await click(
        h, answer["response"], "citebot:solved:", user_id=OTHER_USER, **where, **MANAGER
    )
    assert done[0].message["content"] == SOLVED.format(user=f"<@{OTHER_USER}>")
    assert is_solved(h.bot.servers, GUILD_ID, thread_id)
    again = await click(h, answer["response"], "citebot:solved:", **where)
    assert again[0].message["content"] == ALREADY_SOLVED and again[0].ephemeral
    assert [t.by_hash for t in solved_threads(h.bot.servers, GUILD_ID)] == [
        h.bot.feedback.hash_user(OTHER_USER)
    ]


async def test_not_helpful_counts_as_a_down_vote_for_the_wrong_passage(
    h: Harness, settings
) -> None:
    h.add_forum(FORUM_ID)
    auto_answer_in(h, FORUM_ID)
    thread_id = h.post_in_forum(FORUM_ID, TITLE, QUESTION)
    answer = await one_answer(h)
    calls = await click(
        h, answer["response"], "citebot:nothelpful:", channel_id=thread_id, thread_of=FORUM_ID
    )
    assert calls[0].message["content"] == NOT_HELPFUL and calls[0].ephemeral
    rows = query(settings.state_db, "SELECT vote, reason, question FROM votes")
    assert rows == [(-1, "wrong_passage", f"{TITLE}\n{QUESTION}")]


# ----- /docs settings ---------------------------------------------------------------------------


async def settings_reply(h: Harness, option: str, channel_id: int, kind: int, **who: Any) -> Call:
    token = h.slash_with_channel("docs settings", option, channel_id, kind, who=who)
    calls = await h.finished(token, count=1)
    assert calls[0].message["allowed_mentions"] == NO_MENTIONS and calls[0].ephemeral
    return calls[0]


async def test_a_manager_turns_auto_answer_on_and_off(h: Harness) -> None:
    h.add_forum(FORUM_ID)
    reply = await settings_reply(h, "auto_answer", FORUM_ID, 15, **MANAGER)
    assert f"(`auto_answer`): <#{FORUM_ID}>" in reply.message["content"]
    assert NO_MESSAGE_CONTENT not in reply.message["content"]
    await settings_reply(h, "auto_answer", CHANNEL_ID, 0, **MANAGER)
    assert h.bot.servers.auto_answer(GUILD_ID).channels == {FORUM_ID, CHANNEL_ID}
    token = h.slash_with_channel(
        "docs settings", "auto_answer", FORUM_ID, 15, who=MANAGER, auto_answer_off=True,
        auto_answer_quiet=False,
    )
    off = (await h.finished(token, count=1))[0].message["content"]
    assert f"(`auto_answer`): <#{CHANNEL_ID}>" in off and "(`auto_answer_quiet`): no" in off
    auto = h.bot.servers.auto_answer(GUILD_ID)
    assert auto.channels == {CHANNEL_ID} and not auto.quiet
    log = [(e.target, e.result) for e in h.bot.servers.recent(GUILD_ID)]
    assert log[:2] == [("auto_answer_quiet: off", "ok"), (f"auto_answer: off in #forum{FORUM_ID}",
                                                           "ok")]
    assert (f"auto_answer: #c{CHANNEL_ID}", "ok") in log
    token = h.slash("docs settings", who=MANAGER, auto_answer_off=True)
    await h.finished(token, count=1)
    assert h.bot.servers.auto_answer(GUILD_ID).channels == frozenset()


async def test_the_setting_is_refused_to_members_and_for_other_servers(h: Harness) -> None:
    reply = await settings_reply(h, "auto_answer", CHANNEL_ID, 0)
    assert reply.message["content"] == NOT_A_MANAGER
    foreign = await settings_reply(h, "auto_answer", OTHER_GUILD_CHANNEL_ID, 0, **MANAGER)
    assert foreign.message["content"] == FOREIGN_CHANNEL
    assert h.bot.servers.auto_answer(GUILD_ID).channels == frozenset()
    h.post_raw(CHANNEL_ID, QUESTION)
    await nothing_posted(h)


async def test_without_the_message_content_intent_it_says_what_the_operator_must_do(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)  # CITEBOT_DISCORD_MESSAGE_CONTENT off
    assert not create_bot(settings, engine).intents.message_content
    assert create_bot(
        make_settings(tmp_path, discord_message_content=True), engine
    ).intents.message_content
    async with harness_for(settings, engine) as h:
        caplog.set_level(logging.WARNING, logger="citebot.discord")
        await warn_without_message_content(h.bot)
        assert "CITEBOT_DISCORD_MESSAGE_CONTENT" not in caplog.text  # no server uses it yet
        reply = await settings_reply(h, "auto_answer", CHANNEL_ID, 0, **MANAGER)
        assert NO_MESSAGE_CONTENT in reply.message["content"]
        assert "CITEBOT_DISCORD_MESSAGE_CONTENT=true" in reply.message["content"]
        assert h.bot.servers.auto_answer(GUILD_ID).channels == {CHANNEL_ID}  # kept for later
        h.post_raw(CHANNEL_ID, QUESTION)
        await nothing_posted(h)
        await warn_without_message_content(h.bot)
        assert "1 server(s) have channels answered without a mention" in caplog.text
        assert "Privileged Gateway Intents" in caplog.text


async def test_at_most_ten_channels_and_forgetting_the_server_drops_them(h: Harness) -> None:
    from bot.state.servers import MAX_AUTO_ANSWER_CHANNELS

    servers = h.bot.servers
    channels = [snowflake() for _ in range(MAX_AUTO_ANSWER_CHANNELS)]
    for channel in channels:
        assert servers.add_auto_answer(GUILD_ID, channel)
    assert servers.add_auto_answer(GUILD_ID, channels[0])  # already on: kept
    assert not servers.add_auto_answer(GUILD_ID, snowflake())  # the eleventh
    assert servers.auto_answer(GUILD_ID).channels == frozenset(channels)
    h.add_forum(FORUM_ID)
    token = h.slash_with_channel("docs settings", "auto_answer", FORUM_ID, 15, who=MANAGER)
    assert (await h.finished(token, count=1))[0].message["content"] == (
        f"This server already has {MAX_AUTO_ANSWER_CHANNELS} channels answered without a "
        "mention, the most it may have; turn one off first with "
        "`auto_answer:#channel auto_answer_off:True`."
    )
    assert servers.remove_auto_answer(GUILD_ID, channels[0]) == 1
    h.add_forum(channels[1])
    h.bot._connection.parse_channel_delete(  # type: ignore[arg-type]
        {"id": str(channels[1]), "type": 15, "guild_id": str(GUILD_ID)}
    )
    await h.recorder.wait_for(lambda: channels[1] not in servers.auto_answer(GUILD_ID).channels)
    assert len(servers.auto_answer(GUILD_ID).channels) == MAX_AUTO_ANSWER_CHANNELS - 2
    assert servers.add_auto_answer(GUILD_ID, FORUM_ID)
    assert servers.add_auto_answer(OTHER_GUILD_ID, snowflake())
    servers.mark_solved(GUILD_ID, FORUM_ID, snowflake(), "hash")
    servers.forget(GUILD_ID)
    assert servers.auto_answer(GUILD_ID).channels == frozenset()
    assert solved_threads(servers, GUILD_ID) == []
    assert len(servers.auto_answer(OTHER_GUILD_ID).channels) == 1  # another server's stay


def test_channels_quiet_and_solved_threads_on_both_engines(state_url) -> None:
    from bot.state.servers import ServerStore

    store = ServerStore(state_url)
    try:
        assert store.add_auto_answer(GUILD_ID, FORUM_ID)
        assert store.add_auto_answer(GUILD_ID, FORUM_ID)  # twice: one row
        store.update_settings(GUILD_ID, auto_answer_quiet=False)
        settings = store.settings(GUILD_ID)
        assert settings.auto_answer_channels == (FORUM_ID,) and not settings.auto_answer_quiet
        assert settings.include_default and settings.log_questions  # the rest untouched
        assert store.mark_solved(GUILD_ID, FORUM_ID, 77, "h1")
        assert not store.mark_solved(GUILD_ID, FORUM_ID, 77, "h2")  # the first marking kept
        assert [(t.thread_id, t.by_hash) for t in store.solved_threads(GUILD_ID)] == [(77, "h1")]
        assert store.forget_marker("h1") == 1
        assert store.solved_threads(GUILD_ID, thread_id=77)[0].by_hash == ""
        assert store.remove_auto_answer(GUILD_ID) == 1
        assert store.servers_with_auto_answer() == []
    finally:
        store.close()


async def test_the_reply_names_the_permissions_the_bot_lacks_there(h: Harness) -> None:
    import discord

    guild = h.bot.get_guild(GUILD_ID)
    assert guild is not None
    member = {"user": user_payload(APP_ID, "citebot", bot=True), "roles": [],
              "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0}
    guild._add_member(discord.Member(data=member, guild=guild, state=h.bot._connection))  # type: ignore[arg-type]
    h.add_forum(FORUM_ID, ("Solved",))
    forum = await settings_reply(h, "auto_answer", FORUM_ID, 15, **MANAGER)
    assert (
        f"I can't send messages in threads or manage threads (to add the Solved tag) in "
        f"<#{FORUM_ID}>" in forum.message["content"]
    )
    text = await settings_reply(h, "auto_answer", CHANNEL_ID, 0, **MANAGER)
    assert (
        f"I can't create public threads or send messages in threads in <#{CHANNEL_ID}>"
        in text.message["content"]
    )
