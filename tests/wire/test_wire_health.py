"""/healthz of a bot on the loopback Discord (a real gateway connection): each failure (index
missing, state database gone, gateway disconnected) is a 503 naming the failing check, and it
recovers to 200 once fixed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.loopback import LoopbackDiscord, World
from tests.loopback.client import running_bot
from tests.wire.conftest import wire_settings
from tests.wire.ports import free_port


async def health(port: int, status: int, timeout: float = 30.0) -> dict[str, Any]:
    """/healthz's body once it answers ``status`` (checks see changes at once; the gateway
    reconnects in its own time)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                body = dict(await response.json())
                if response.status == status:
                    return body
            assert asyncio.get_running_loop().time() < deadline, (status, body)
            await asyncio.sleep(0.05)


async def test_healthz_reports_each_failure_and_recovers(
    loopback: LoopbackDiscord, world: World, tmp_path: Path, index_copy: Path
) -> None:
    port = free_port()
    settings = wire_settings(tmp_path, world, index_dir=index_copy, health_port=port)
    async with running_bot(loopback, settings):  # its own engine over the copy of the index
        healthy = await health(port, 200)
        assert healthy["status"] == "ok" and healthy["failing"] == []
        assert healthy["checks"]["gateway"]["shards"] == {"0": "connected"}
        assert healthy["checks"]["index"]["detail"] == "loaded"

        aside = index_copy.with_name("index-aside")
        index_copy.rename(aside)
        failing = await health(port, 503)
        assert failing["failing"] == ["index"]
        assert "run `citebot build`" in failing["checks"]["index"]["detail"]
        aside.rename(index_copy)
        await health(port, 200)

        state = settings.state_db
        state.rename(state.with_name("state-aside"))
        failing = await health(port, 503)
        assert failing["failing"] == ["database"]
        assert f"the state database {state} is gone" in failing["checks"]["database"]["detail"]
        state.with_name("state-aside").rename(state)
        await health(port, 200)

        loopback.gateway.hold()  # the bot reconnects, and the gateway does not answer yet
        await loopback.gateway.drop()
        failing = await health(port, 503)
        assert failing["failing"] == ["gateway"]
        assert failing["checks"]["gateway"]["shards"] == {"0": "disconnected"}
        loopback.gateway.release()
        await health(port, 200)
    assert loopback.gateway.resumes == 1  # it came back by resuming its session
