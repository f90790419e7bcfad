"""Shards in the bot: the client kind and shards it runs, and which process syncs commands
(the wire test with two processes is tests/wire/test_wire_shards.py)."""

from __future__ import annotations

from pathlib import Path

import discord

from bot.core.engine import Engine
from bot.discord.client import CitebotBot, ShardedCitebotBot, create_bot
from tests.bot.conftest import APP_ID, GUILD_ID, OTHER_GUILD_ID, harness_for, make_settings


def test_one_process_without_shards_is_a_plain_client(tmp_path: Path, engine: Engine) -> None:
    bot = create_bot(make_settings(tmp_path), engine)
    assert type(bot) is CitebotBot and not isinstance(bot, discord.AutoShardedClient)


def test_a_process_of_several_runs_its_range_of_shards(tmp_path: Path, engine: Engine) -> None:
    settings = make_settings(tmp_path, discord_shard_count=4, discord_shard_ids="2-3")
    bot = create_bot(settings, engine)
    assert isinstance(bot, ShardedCitebotBot) and isinstance(bot, discord.AutoShardedClient)
    assert (bot.shard_count, bot.shard_ids) == (4, [2, 3])


async def synced_at_start(tmp_path: Path, engine: Engine, shard_ids: str) -> list[str]:
    """The command syncs a process running ``shard_ids`` of 2 makes when it starts."""
    settings = make_settings(
        tmp_path, discord_shard_count=2, discord_shard_ids=shard_ids,
        discord_guilds=[GUILD_ID, OTHER_GUILD_ID],
    )
    async with harness_for(settings, engine) as h:
        await h.bot.setup_hook()
        calls = [c for c in h.recorder.calls if c.method == "PUT" and "/commands" in c.path]
        return [c.url.split("/api/v10")[-1] for c in calls]


async def test_only_the_process_running_shard_0_syncs_commands(
    tmp_path: Path, engine: Engine
) -> None:
    assert await synced_at_start(tmp_path / "1", engine, "1") == []
    synced = await synced_at_start(tmp_path / "0", engine, "0")
    assert sorted(synced) == sorted(
        f"/applications/{APP_ID}/guilds/{guild}/commands" for guild in (GUILD_ID, OTHER_GUILD_ID)
    )
