"""A server's hostile documents through the real CommandTree: the masked links in a document's
lines, section names and file names never go out live under the bot's name (issue 20, item 1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core.collections import collection_for_guild
from bot.core.engine import Engine
from tests.bot.collection_builders import build_collection
from tests.bot.conftest import (
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.live_links import live_links, payload_links
from tests.bot.test_discord_app import assert_safe, followup_of
from tests.bot.test_discord_docs_overview import reply_of

PHISH = "https://evil.example/phish"
REFUNDS = (
    "Refunds of the Marlowe zebra tour: see [the policy](https://example.com/policy) or the "
    f"[Official refund form]({PHISH}) within thirty days."
)
# Markdown drops link targets from headings, but not escaped brackets: the section is named
# "[Claims](https://example.com/claims) or [Claim here](https://evil.example/phish)".
HEADING = (
    f"# \\[Claims\\](https://example.com/claims) or \\[Claim here\\]({PHISH})\n\n"
    "Claims are handled by the Serengeti office."
)
NAME = "[a](https:example.com) [x](https:evil.example) refunds.txt"
MANAGER = in_guild(GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)


@pytest.fixture
async def h(tmp_path: Path, engine: Engine):
    settings = make_settings(tmp_path, collections_dir=tmp_path / "collections")
    async with harness_for(settings, engine) as harness:
        documents = {NAME: REFUNDS, "claims.md": HEADING}
        name = collection_for_guild(GUILD_ID)
        await asyncio.to_thread(build_collection, harness.bot.collections, name, documents)
        yield harness


async def test_the_documents_are_really_hostile() -> None:
    assert live_links(REFUNDS)[-1] == PHISH and len(live_links(NAME)) == 2


async def test_an_answer_quoting_two_masked_links_sends_neither_live(h) -> None:
    question = f"How do I get a refund of the tour? [policy](https://x.example) [form]({PHISH})"
    token = h.slash("ask", who=in_guild(GUILD_ID), question=question)
    answer = followup_of(await h.finished(token))
    assert_safe(answer)
    assert "Official refund form" in str(answer.message["embeds"])  # the line was quoted
    assert "\\[form\\](https://evil.example/phish)" in answer.message["content"]  # echoed
    assert payload_links(answer.message) == []


async def test_sources_and_docs_list_send_no_live_link(h) -> None:
    sources = reply_of(await h.finished(h.slash("sources", who=in_guild(GUILD_ID)), 2))
    assert "Claim here" in str(sources.message) and "refunds" in str(sources.message)
    assert payload_links(sources.message) == []
    listed = reply_of(await h.finished(h.slash("docs list", who=MANAGER), 2))
    assert "refunds" in str(listed.message)
    assert payload_links(listed.message) == []
