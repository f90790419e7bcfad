"""``/docs gaps`` through the real CommandTree, with the real model and a real question log:
managers only, one server's questions only, everything typed escaped, within Discord's limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.core.engine import Engine
from bot.discord.exts.docs.gaps import CLUSTERS_SHOWN, LOG_OFF
from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from bot.discord.utils.render import limit_problems
from tests.bot.conftest import (
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    OTHER_GUILD_ID,
    Harness,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.test_discord_docs_overview import run, text_of

MANAGER = in_guild(GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
MEMBER = in_guild(GUILD_ID)
OTHER_MANAGER = in_guild(OTHER_GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
SANCTIONS = [
    "have the sanctions on north korea actually worked",
    "How effective were UN sanctions against North Korea?",
    "did sanctions stop the DPRK's nuclear program",
]
PASSWORD = ["how do I reset my password", "I forgot my password, how can I change it?"]
SECRET = ["where is the secret launch checklist", "the secret launch checklist, where is it?"]
HOSTILE = "@everyone **read me** [click](https://evil.example) <@123> how do I reset my password"


@pytest.fixture
async def h(tmp_path: Path, engine: Engine):
    settings = make_settings(tmp_path, collections_dir=tmp_path / "collections")
    async with harness_for(settings, engine) as harness:
        yield harness


async def log(h: Harness, guild_id: int, questions: list[str], found: bool = False) -> None:
    """Write questions into the bot's own log as /ask would (with their embeddings)."""

    def write() -> None:
        for question in questions:
            h.bot.questions.record(
                guild_id=guild_id, collection="default", question=question, found=found,
                passage_ids=[], answer_key=None, user_hash="h",
                vector=h.bot.engine.query_encoder.encode_query(question),
            )

    await asyncio.to_thread(write)


def fields(message: dict[str, Any]) -> list[dict[str, Any]]:
    return message["embeds"][0].get("fields") or []


async def test_a_manager_sees_the_clusters_of_their_server_only(h: Harness) -> None:
    await log(h, GUILD_ID, [*SANCTIONS, *PASSWORD])
    await log(h, GUILD_ID, ["who is the leader of north korea"], found=True)  # not a gap
    await log(h, OTHER_GUILD_ID, SECRET)
    reply = (await run(h, "docs gaps", MANAGER, count=2)).message
    names = [field["name"] for field in fields(reply)]
    assert len(names) == 2
    assert names[0].startswith("1. 3 × ") and "sanctions" in names[0].lower()
    assert names[1].startswith("2. 2 × ") and "password" in names[1].lower()
    first = fields(reply)[0]["value"]
    assert "3 not in the source · 0 voted 👎" in first
    assert "Closest passage: **north-korea-allied-coordination.txt" in first
    assert "5 question(s)" in reply["embeds"][0]["description"]
    assert "secret" not in text_of(reply).lower()

    other = (await run(h, "docs gaps", OTHER_MANAGER, count=2, days=7)).message
    assert [f["name"].split(" × ")[0] for f in fields(other)] == ["1. 2"]
    assert "secret" in text_of(other).lower() and "sanctions" not in text_of(other).lower()
    assert other["embeds"][0]["title"] == "Knowledge gaps — last 7 days"


async def test_a_member_is_refused(h: Harness) -> None:
    await log(h, GUILD_ID, SANCTIONS)
    reply = (await run(h, "docs gaps", MEMBER)).message
    assert reply["content"] == NOT_A_MANAGER or NOT_A_MANAGER in text_of(reply)
    assert "sanctions" not in text_of(reply).lower()


async def test_typed_markdown_and_mentions_are_escaped(h: Harness) -> None:
    await log(h, GUILD_ID, [HOSTILE, *PASSWORD])
    reply = (await run(h, "docs gaps", MANAGER, count=2)).message
    shown = text_of(reply)
    assert "read me" in shown
    assert "**read me**" not in shown and "\\*\\*read me\\*\\*" in shown
    assert "@\u200beveryone" in shown and "@everyone" not in shown.replace("@\u200beveryone", "")
    assert "\\<@123>" in shown and "<@123>" not in shown.replace("\\<@123>", "")
    assert "[click](" not in shown and "\\[click\\]" in shown
    assert reply["allowed_mentions"] == {"parse": []}


async def test_many_long_needs_stay_within_discords_limits(h: Harness) -> None:
    topics = ["volcano", "taxes", "gardening", "chess", "python", "guitar", "trains", "bread",
              "sailing", "astronomy", "knitting", "poetry"]


    def write() -> None:  # a need per topic (orthogonal vectors), each asked twice, at length
        for number, topic in enumerate(topics):
            for _ in range(2):
                h.bot.questions.record(
                    guild_id=GUILD_ID, collection="default", found=False,
                    question=f"Tell me everything about {topic}: " + f"**{topic}** " * 200,
                    passage_ids=[], answer_key=None, user_hash="h", vector=np.eye(384)[number],
                )

    await asyncio.to_thread(write)
    reply = (await run(h, "docs gaps", MANAGER, count=2)).message
    assert limit_problems(reply) == []
    assert len(fields(reply)) == CLUSTERS_SHOWN
    assert "in 12 cluster(s)" in reply["embeds"][0]["description"]


async def test_an_empty_log_and_a_log_turned_off_say_so(h: Harness) -> None:
    reply = (await run(h, "docs gaps", MANAGER, count=2)).message
    assert "No knowledge gaps in the last 30 days" in text_of(reply)
    await asyncio.to_thread(h.bot.servers.update_settings, GUILD_ID, log_questions=False)
    off = (await run(h, "docs gaps", MANAGER, count=2)).message
    assert off["content"] == LOG_OFF.format(days=30)
    assert "/docs settings log_questions:True" in off["content"]


async def test_a_question_asked_with_ask_shows_up(h: Harness) -> None:
    """The real path: /ask logs a question the article does not answer; /docs gaps shows it."""
    question = "What is the best recipe for chocolate chip cookies?"
    await h.finished(h.slash("ask", who=MEMBER, question=question, k=3))
    for _ in range(200):
        if await asyncio.to_thread(h.bot.questions.count, GUILD_ID):
            break
        await asyncio.sleep(0.05)
    reply = (await run(h, "docs gaps", MANAGER, count=2)).message
    assert fields(reply)[0]["name"] == f"1. 1 × “{question}”"
