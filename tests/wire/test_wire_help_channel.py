"""Answering where questions are, over the wire (issue 24): a manager names a forum and a text
channel with ``/docs settings auto_answer``; a new forum post is answered in its own thread, a
message of the text channel in a thread the bot starts from it, nothing elsewhere; **Solved** in a
forum that is also a thread source makes the thread answerable from another channel. discord.py's
own client against the loopback stand-in; builds in the bot's real child process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine
from bot.settings import Settings
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, Request, World
from tests.loopback.client import running_bot
from tests.wire.conftest import USER_ID, wire_settings

GUILD = 940000000000000100
MANAGER_ID = 940000000000000020
MEMBER_ID = 940000000000000021
ASKER_ID, HELPER_ID = 940000000000000031, 940000000000000032
ARTICLE_QUESTION = "Which Russian official visited Seoul?"
FACT = "Reset the Quillan modem by holding the pinhole button for eleven seconds."
DEBOUNCE = 0.5


@pytest.fixture
def world() -> World:
    world = World(owner_id=USER_ID, guild_ids=(GUILD,))
    world.community.names.update({ASKER_ID: "Ann", HELPER_ID: "Bob"})
    return world


@pytest.fixture
def settings(tmp_path: Path, world: World, built_index_dir: Path) -> Settings:
    return wire_settings(
        tmp_path, world, index_dir=built_index_dir, collections_dir=tmp_path / "collections",
        discord_message_content=True, threads_debounce_seconds=DEBOUNCE,
    )


async def manager(loopback: LoopbackDiscord, command: str, **options: Any) -> dict[str, Any]:
    token = await loopback.slash(command, user_id=MANAGER_ID, permissions=ADMIN_PERMISSIONS,
                                 guild_id=GUILD, **options)
    return (await loopback.answered(token, timeout=120)).message


def posts_in(loopback: LoopbackDiscord, channel_id: int) -> list[Request]:
    return [r for r in loopback.recorder.requests
            if r.is_channel_message and r.path == f"/channels/{channel_id}/messages"]


async def answer_in(loopback: LoopbackDiscord, channel_id: int) -> dict[str, Any]:
    """The bot's first message in ``channel_id``, as Discord stored it."""
    return loopback.sent_message(await loopback.posted_in(channel_id, timeout=120))


async def test_posts_are_answered_in_their_threads_in_the_named_channels_only(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    people = loopback.world.community
    forum = people.channel(GUILD, "help", forum=True, tags=("solved",))
    text = people.channel(GUILD, "questions")
    elsewhere = people.channel(GUILD, "chat")
    async with running_bot(loopback, settings, engine):
        await answered_in_threads(loopback, forum, text, elsewhere)


async def answered_in_threads(
    loopback: LoopbackDiscord, forum: Any, text: Any, elsewhere: Any
) -> None:
    for channel in (forum, text):
        reply = await manager(loopback, "docs settings", auto_answer=channel)
        assert "auto_answer" in reply["content"]

    post = await loopback.new_thread(forum, "Seoul visit", ARTICLE_QUESTION, owner_id=ASKER_ID)
    answer = await answer_in(loopback, post.id)
    shown = json.dumps(answer.get("embeds") or [])
    assert "Lavrov" in shown
    labels = [c.get("label") for row in answer["components"] for c in row["components"]]
    assert {"Solved", "Not helpful"} <= set(labels)

    message = await loopback.say(text.id, ARTICLE_QUESTION, author_id=ASKER_ID)
    thread_id = int(message["id"])  # a thread started from the message takes its id
    answer = await answer_in(loopback, thread_id)
    started = [r for r in loopback.recorder.requests if r.method == "POST"
               and r.path == f"/channels/{text.id}/messages/{thread_id}/threads"]
    assert started and "Lavrov" in json.dumps(answer.get("embeds") or [])

    await loopback.say(elsewhere.id, ARTICLE_QUESTION, author_id=ASKER_ID)
    await loopback.say(post.id, "And what did he say next?", author_id=ASKER_ID)  # later
    await asyncio.sleep(2)
    assert posts_in(loopback, elsewhere.id) == []
    assert len(posts_in(loopback, post.id)) == 1  # only the post's first message


async def test_solved_makes_a_sources_thread_answerable_elsewhere(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    forum = loopback.world.community.channel(GUILD, "help", forum=True, tags=("solved",))
    async with running_bot(loopback, settings, engine):
        await solved_becomes_a_source(loopback, forum)


async def solved_becomes_a_source(loopback: LoopbackDiscord, forum: Any) -> None:
    await manager(loopback, "docs settings", auto_answer=forum)
    await manager(loopback, "docs add", channel=forum, solved="reaction")

    post = await loopback.new_thread(forum, "Modem", "How do I reset the Quillan modem?",
                                     owner_id=ASKER_ID)
    quiet = await answer_in(loopback, post.id)  # the documents do not answer it yet
    assert "a member may know" in quiet["content"]
    await loopback.say(post.id, FACT, author_id=HELPER_ID)
    await asyncio.sleep(DEBOUNCE + 1)
    assert "eleven seconds" not in await ask(loopback)  # not solved: not a source

    solved_id = next(c["custom_id"] for row in quiet["components"] for c in row["components"]
                     if c.get("label") == "Solved")
    token = await loopback.click(quiet, solved_id, user_id=ASKER_ID, guild_id=GUILD)
    await loopback.answered(token)
    for _ in range(240):  # the thread is read again and built
        if "eleven seconds" in await ask(loopback):
            break
        await asyncio.sleep(0.5)
    found = await ask(loopback)
    assert "eleven seconds" in found
    assert f"https://discord.com/channels/{GUILD}/{post.id}/" in found


async def ask(loopback: LoopbackDiscord) -> str:
    token = await loopback.slash("ask", user_id=MEMBER_ID, guild_id=GUILD,
                                 question="How do I reset the Quillan modem?", k=5)
    return json.dumps((await loopback.answered(token, timeout=120)).message.get("embeds") or [])
