"""``/docs gaps`` over the wire (issue 23): questions asked with ``/ask`` in two servers are logged
by the real path, and each server's managers see their own server's gaps only. Every test also
passes the shared payload check (mentions off, embed limits, no exception text) and logs no
ERROR (conftest)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, World
from tests.wire.conftest import USER_ID

GUILD, OTHER_GUILD = 940000000000000100, 940000000000000200
MEMBER_ID = 940000000000000021
OWN = ["What is the best recipe for chocolate chip cookies?",
       "chocolate chip cookie recipe please", "how do I bake chocolate chip cookies"]
OTHER = ["Where is the **secret** launch checklist of @everyone?"]


@pytest.fixture
def world() -> World:
    return World(owner_id=USER_ID, guild_ids=(GUILD, OTHER_GUILD))


async def ask(loopback: LoopbackDiscord, guild_id: int, question: str) -> None:
    token = await loopback.slash("ask", user_id=MEMBER_ID, guild_id=guild_id, question=question,
                                 k=3)
    await loopback.answered(token)


async def gaps(loopback: LoopbackDiscord, guild_id: int, **who: Any) -> dict[str, Any]:
    token = await loopback.slash("docs gaps", user_id=USER_ID, guild_id=guild_id, **who)
    answer = await loopback.answered(token)
    assert answer.ephemeral
    return answer.message


async def test_each_server_sees_its_own_gaps_only(loopback: LoopbackDiscord, bot: Any) -> None:
    for question in OWN:
        await ask(loopback, GUILD, question)
    for question in OTHER:
        await ask(loopback, OTHER_GUILD, question)
    for _ in range(200):  # the log is written after each answer is sent
        logged = [await asyncio.to_thread(bot.questions.count, g) for g in (GUILD, OTHER_GUILD)]
        if logged == [len(OWN), len(OTHER)]:
            break
        await asyncio.sleep(0.05)

    own = await gaps(loopback, GUILD, permissions=ADMIN_PERMISSIONS)
    [cluster] = own["embeds"][0]["fields"]
    assert cluster["name"].startswith("1. 3 × ") and "cookie" in cluster["name"].lower()
    assert "secret" not in json.dumps(own).lower()

    other = await gaps(loopback, OTHER_GUILD, permissions=ADMIN_PERMISSIONS)
    shown = json.dumps(other, ensure_ascii=False)
    assert "cookie" not in shown.lower() and "\\\\*\\\\*secret\\\\*\\\\*" in shown
    assert "@everyone" not in shown.replace("@\u200beveryone", "")

    refused = await gaps(loopback, GUILD)  # a plain member
    assert refused["content"] == NOT_A_MANAGER and not refused.get("embeds")


async def test_each_server_sees_its_own_usage_chart_only(
    loopback: LoopbackDiscord, bot: Any
) -> None:
    for question in OWN:
        await ask(loopback, GUILD, question)
    await ask(loopback, OTHER_GUILD, OTHER[0])
    for _ in range(200):  # the log is written after each answer is sent
        logged = [await asyncio.to_thread(bot.questions.count, g) for g in (GUILD, OTHER_GUILD)]
        if logged == [len(OWN), 1]:
            break
        await asyncio.sleep(0.05)

    for guild, asked in ((GUILD, len(OWN)), (OTHER_GUILD, 1)):
        token = await loopback.slash("docs stats", user_id=USER_ID, guild_id=guild,
                                     permissions=ADMIN_PERMISSIONS)
        reply = await loopback.answered(token)
        assert reply.ephemeral
        [embed] = reply.message["embeds"]
        figures = {field["name"]: field["value"] for field in embed["fields"]}
        assert figures["Questions"] == str(asked)
        [(name, png)] = reply.files.items()
        assert embed["image"]["url"] == f"attachment://{name}"
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
