"""The bot on the Milvus backend when Milvus stops and comes back (issue 13): the asker gets a
short fixed message (never exception text, nothing at ERROR), and answers resume on the same
bot once the server is back, without restarting it."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.discord.utils.replies import INDEX_SERVER_DOWN
from tests.bot.conftest import GUILD_ID, harness_for, in_guild, make_settings
from tests.bot.test_discord_app import assert_safe, followup_of
from tests.conftest import ARTICLE
from tests.servers.milvus import MilvusLiteServer

LAVROV = "Which Russian official visited Seoul?"


@pytest.fixture
def server(tmp_path: Path):
    server = MilvusLiteServer(tmp_path / "milvus-data")
    server.start()
    yield server
    server.stop()


async def test_a_milvus_outage_is_told_plainly_and_answers_resume(
    tmp_path: Path, server: MilvusLiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        tmp_path, source_dir=ARTICLE.parent, backend="milvus", milvus_uri=server.uri,
        milvus_prefix="outage",
    )
    engine = Engine(settings, remember_queries=True)
    engine.load(build_if_missing=True)
    async with harness_for(settings, engine) as h:
        async def ask(question: str) -> dict:
            calls = await h.finished(h.slash("ask", who=in_guild(GUILD_ID), question=question))
            answer = followup_of(calls)
            assert_safe(answer)
            return answer.message

        assert "Sergei Lavrov" in json.dumps(await ask(LAVROV))
        server.stop()
        with caplog.at_level(logging.WARNING):
            down = await ask("Who is the foreign minister of Russia mentioned in the piece?")
        assert down.get("content") == INDEX_SERVER_DOWN, down
        assert "Traceback" not in json.dumps(down) and "127.0.0.1" not in json.dumps(down)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("Milvus" in r.getMessage() for r in caplog.records)
        server.start()  # the same data at the same address
        # gRPC waits out its reconnect backoff (about 2 s) before it tries the address again
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            back = await ask("What did the Russian diplomat urge all countries to give up?")
            if back.get("embeds"):
                break
            assert back.get("content") == INDEX_SERVER_DOWN, back
            assert asyncio.get_running_loop().time() < deadline, "Milvus was not used again"
            await asyncio.sleep(0.5)
