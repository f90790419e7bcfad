"""``citebot discord invite`` (issue 20, item 13) as a user runs it: the real command line in a
process of its own, asking the loopback Discord for the application id; and the start-up
warning of a bot whose commands were never synced, over the wire."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from bot.discord.utils.onboarding import invite_text
from bot.settings import Settings
from tests.loopback import LoopbackDiscord, World
from tests.loopback.client import running_bot
from tests.loopback.process import bot_environment
from tests.wire.conftest import wire_settings


async def test_citebot_discord_invite_prints_the_address(
    loopback: LoopbackDiscord, tmp_path: Path
) -> None:
    env = bot_environment(loopback, {"INDEX_DIR": str(tmp_path / "index")})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.loopback.launcher", "invite",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == invite_text(loopback.world.app_id)
    assert f"client_id={loopback.world.app_id}&scope=bot+applications.commands" in out.decode()


@pytest.fixture
def settings(tmp_path: Path, world: World, built_index_dir: Path) -> Settings:
    """No CITEBOT_DISCORD_GUILDS, and never `citebot discord sync`."""
    return wire_settings(tmp_path, world, index_dir=built_index_dir, discord_guilds=[])


async def test_a_bot_whose_commands_were_never_synced_says_so(
    loopback: LoopbackDiscord, settings: Settings, engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "citebot.discord"):
        async with running_bot(loopback, settings, engine):
            pass
    assert "no slash command is registered for this application" in caplog.text
    assert not loopback.recorder.matching(lambda r: r.method == "PUT" and "/commands" in r.path)
