"""Two ``citebot discord`` processes, shards 0 and 1 of 2, against one loopback Discord: the
gateway sends each the servers of its shard, each answers its own servers' questions, and only
the process running shard 0 syncs the commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.loopback import LoopbackDiscord, World
from tests.loopback.process import BotProcess
from tests.wire.conftest import DOCUMENT, FOUND, USER_ID
from tests.wire.ports import free_port

# Discord's rule: server id >> 22, modulo the shard count, is the shard that sees it.
SHARD_0_SERVER = 940000000000000100 + (1 << 22)
SHARD_1_SERVER = 940000000000000100


@pytest.fixture
def world() -> World:
    assert (SHARD_0_SERVER >> 22) % 2 == 0 and (SHARD_1_SERVER >> 22) % 2 == 1
    return World(owner_id=USER_ID, guild_ids=(SHARD_0_SERVER, SHARD_1_SERVER))


def shard_settings(tmp_path: Path, index: Path, shard: int, port: int) -> dict[str, str]:
    """One process's environment file, as docs/deploy.md describes it."""
    return {
        "index_dir": str(index),
        "state_db": str(tmp_path / "state.sqlite3"),  # one state file for both
        "collections_dir": str(tmp_path / "collections"),
        "discord_guilds": f"{SHARD_0_SERVER},{SHARD_1_SERVER}",
        "owner_ids": str(USER_ID),
        "discord_cooldown_questions": "1000",
        "discord_shard_count": "2",
        "discord_shard_ids": str(shard),
        "health_port": str(port),
    }


async def answered_here(port: int) -> float:
    """How many questions the process behind ``port`` answered (its /metrics)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "citebot_questions_total" and sample.labels == {
                "outcome": "answered"
            }:
                return sample.value
    raise AssertionError(f"no citebot_questions_total in:\n{text}")


async def healthy(port: int, timeout: float = 30.0) -> dict:
    """/healthz of the process behind ``port`` once it says 200 (ready: discord.py waits up to
    2 s after READY for more servers before it is)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                body = await response.json()
                if response.status == 200:
                    return dict(body)
            assert asyncio.get_running_loop().time() < deadline, body
            await asyncio.sleep(0.1)


def command_syncs(loopback: LoopbackDiscord) -> list[str]:
    return [
        r.path
        for r in loopback.recorder.matching(lambda r: r.method == "PUT" and "/commands" in r.path)
    ]


async def test_two_processes_each_answer_their_own_shard_and_only_shard_0_syncs(
    loopback: LoopbackDiscord,
    built_index_dir: Path,
    tmp_path: Path,
    processes: list[BotProcess],
) -> None:
    ports = [free_port(), free_port()]
    second = BotProcess(loopback, shard_settings(tmp_path, built_index_dir, 1, ports[1]), tmp_path)
    processes.append(second)
    await second.start(shard=1)
    assert command_syncs(loopback) == []  # shard 1's process leaves the commands alone

    first = BotProcess(loopback, shard_settings(tmp_path, built_index_dir, 0, ports[0]), tmp_path)
    processes.append(first)
    await first.start(shard=0)
    app = loopback.world.app_id
    assert sorted(command_syncs(loopback)) == sorted(
        f"/applications/{app}/guilds/{guild}/commands" for guild in (SHARD_0_SERVER, SHARD_1_SERVER)
    )

    gateway = loopback.gateway
    assert gateway.shards[0].shard == (0, 2) and gateway.shards[0].guild_ids == (SHARD_0_SERVER,)
    assert gateway.shards[1].shard == (1, 2) and gateway.shards[1].guild_ids == (SHARD_1_SERVER,)
    for port, shard in zip(ports, ("0", "1"), strict=True):
        assert (await healthy(port))["checks"]["gateway"]["shards"] == {shard: "connected"}

    for guild, port in ((SHARD_0_SERVER, ports[0]), (SHARD_1_SERVER, ports[1])):
        token = await loopback.slash("ask", user_id=USER_ID, guild_id=guild, question=FOUND)
        answer = await loopback.answered(token)
        assert DOCUMENT in str(answer.message["embeds"])
        assert await answered_here(port) == 1  # answered by the process of that server's shard
    assert [await answered_here(port) for port in ports] == [1, 1]
