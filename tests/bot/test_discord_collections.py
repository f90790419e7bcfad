"""Questions in a server answer from that server's collection plus the shared one (issue 11):
labelled citations, the server's include_default setting, and isolation between servers for
answers, More, votes, /sources and mentions; a DM answers from the shared collection only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.core.collections import collection_for_guild
from bot.core.engine import Engine
from bot.discord.utils.replies import EXPIRED, NO_DOCUMENTS_HERE
from tests.bot.collection_builders import GLACIER, VOLCANO, ZEBRA, build_collection
from tests.bot.conftest import (
    GUILD_ID,
    OTHER_GUILD_CHANNEL_ID,
    OTHER_GUILD_ID,
    Call,
    Harness,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.test_discord_app import assert_safe, followup_of, sent_message

LAVROV = "Which Russian official visited Seoul?"
ZEBRA_QUESTION = "Where does the zebra Marlowe live?"
GLACIER_QUESTION = "How fast does the Perito Moreno glacier advance?"


@pytest.fixture
async def harness(tmp_path: Path, engine: Engine):
    settings = make_settings(
        tmp_path, collections_dir=tmp_path / "collections", discord_allow_dms=True
    )
    async with harness_for(settings, engine) as h:
        build_collection(h.bot.collections, collection_for_guild(GUILD_ID), {"zebra.txt": ZEBRA})
        yield h


async def ask(h: Harness, question: str, guild_id: int | None, **options: Any) -> Call:
    who = {"dm": True} if guild_id is None else in_guild(guild_id)
    token = h.slash("ask", who=who, question=question, **options)
    calls = await h.finished(token)
    answer = followup_of(calls)
    assert_safe(answer)
    return answer


def titles(answer: Call) -> list[str]:
    return [embed["title"] for embed in answer.message["embeds"]]


def text_of(answer: Call) -> str:
    """The quoted passages and their citations (not the echoed question)."""
    return json.dumps(answer.message["embeds"], ensure_ascii=False).replace("**", "")


async def test_a_server_answers_from_its_own_and_the_shared_documents_labelled(harness):
    own = await ask(harness, ZEBRA_QUESTION, GUILD_ID)
    assert ZEBRA in text_of(own)
    assert titles(own)[0] == "1. This server › zebra.txt › ¶1"
    shared = await ask(harness, LAVROV, GUILD_ID)
    assert "Lavrov" in shared.message["embeds"][0]["description"]
    assert titles(shared)[0].startswith("1. Shared › north-korea-allied-coordination.txt › ")


async def test_another_server_and_a_dm_never_see_a_servers_documents(harness):
    for guild_id in (OTHER_GUILD_ID, None):
        for question in (ZEBRA_QUESTION, "zebra Marlowe Serengeti Tanzania", LAVROV):
            answer = await ask(harness, question, guild_id, k=5)
            assert "Marlowe" not in text_of(answer) and "zebra.txt" not in text_of(answer)
            assert not any(title.startswith(("1. This", "1. Shared")) for title in titles(answer))


async def test_more_and_votes_work_only_where_the_answer_was_given(harness):
    answer = await ask(harness, ZEBRA_QUESTION, GUILD_ID, k=1)
    message = sent_message(answer)
    more = next(
        item["custom_id"]
        for row in answer.message["components"]
        for item in row["components"]
        if item["custom_id"].startswith("citebot:more:")
    )
    elsewhere = harness.click(message, more, who=in_guild(OTHER_GUILD_ID))
    refused = await harness.finished(elsewhere, count=1)
    assert refused[0].message["content"] == EXPIRED
    vote = more.replace("citebot:more:", "citebot:vote:") + ":up"
    from_dm = harness.click(message, vote, who={"dm": True})
    assert (await harness.finished(from_dm, count=1))[0].message["content"] == EXPIRED
    here = harness.click(message, more, who=in_guild(GUILD_ID))
    calls = await harness.finished(here)
    assert_safe(followup_of(calls))
    assert titles(followup_of(calls))[0].startswith("2. ")


async def test_sources_lists_what_the_server_searches(harness):
    async def sources(who: dict) -> str:
        token = harness.slash("sources", who=who)
        calls = await harness.finished(token)
        assert_safe(followup_of(calls))
        return json.dumps(followup_of(calls).message["embeds"], ensure_ascii=False)

    mine = await sources(in_guild(GUILD_ID))
    assert "This server › zebra.txt" in mine and "Shared › north-korea" in mine
    theirs = await sources(in_guild(OTHER_GUILD_ID))
    assert "zebra" not in theirs and "north-korea-allied-coordination.txt" in theirs
    assert "zebra" not in await sources({"dm": True})


async def test_a_server_can_leave_out_the_shared_documents(harness):
    harness.bot.servers.update_settings(GUILD_ID, include_default=False)
    answer = await ask(harness, LAVROV, GUILD_ID, k=5)
    assert "Lavrov" not in text_of(answer)
    assert all("zebra.txt" in title and "Shared" not in title for title in titles(answer))
    # A server without documents of its own that leaves out the shared ones is told how to fix it.
    harness.bot.servers.update_settings(OTHER_GUILD_ID, include_default=False)
    token = harness.slash("ask", who=in_guild(OTHER_GUILD_ID), question=LAVROV)
    calls = await harness.finished(token, count=1)
    assert NO_DOCUMENTS_HERE in json.dumps(calls[-1].payload, ensure_ascii=False)
    harness.bot.servers.update_settings(GUILD_ID, include_default=True)
    assert "Lavrov" in (await ask(harness, LAVROV, GUILD_ID)).message["embeds"][0]["description"]


async def test_a_mention_answers_from_the_servers_collections(harness):
    build_collection(
        harness.bot.collections, collection_for_guild(OTHER_GUILD_ID), {"ice.txt": GLACIER}
    )
    harness.post_message(
        f"<@{harness.bot.user.id}> {GLACIER_QUESTION}",
        guild_id=OTHER_GUILD_ID,
        channel_id=OTHER_GUILD_CHANNEL_ID,
    )
    sends = await harness.channel_sends()
    body = json.dumps(sends[-1]["json"]["embeds"], ensure_ascii=False)
    assert "Perito Moreno" in body and "This server › ice.txt" in body
    harness.post_message(f"<@{harness.bot.user.id}> {GLACIER_QUESTION}", guild_id=GUILD_ID)
    sends = await harness.channel_sends(count=2)
    assert len(sends) == 2
    assert "Perito Moreno" not in json.dumps(sends[-1]["json"]["embeds"], ensure_ascii=False)


async def test_a_cli_build_while_the_bot_serves_is_answered_within_5_s_and_no_question_fails(
    harness: Harness,
) -> None:
    """Hot reload through the bot: ``citebot --collection guild-<id> build`` in another process
    while questions keep coming; each is answered, and the new document within 5 s."""
    settings = harness.bot.settings
    name = collection_for_guild(GUILD_ID)
    source = harness.bot.collections.settings_for(name).source_dir
    (source / "volcano.txt").write_text(VOLCANO + "\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITEBOT_")}
    env.update(
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        CITEBOT_SOURCE_DIR=str(settings.source_dir),
        CITEBOT_INDEX_DIR=str(harness.bot.engine.settings.index_dir),
        CITEBOT_COLLECTIONS_DIR=str(settings.collections_dir),
    )
    build = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--collection", name, "build", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    answered = 0
    while build.returncode is None:
        answer = await ask(harness, ZEBRA_QUESTION, GUILD_ID)
        assert ZEBRA in text_of(answer)  # the old index, then the new: never a failure
        answered += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(build.wait(), 0.05)
    assert build.returncode == 0, (await build.stderr.read()).decode()
    built = time.monotonic()
    while "Hekla" not in text_of(await ask(harness, "Which volcano did monks fear?", GUILD_ID)):
        assert time.monotonic() - built < 5, "the new index was not served within 5 s"
        await asyncio.sleep(0.1)
    assert answered > 0
