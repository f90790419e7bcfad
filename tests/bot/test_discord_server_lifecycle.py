"""The bot's life in servers: removal and return events from the gateway, the sweep that deletes
the documents of servers past their grace period (with a clock moved forward, not slept), and
agreement with ``citebot collections purge``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.cli.main import main
from bot.core.collections import collection_for_guild
from bot.core.engine import Engine
from bot.discord.exts.servers import lifecycle as servers
from bot.state.servers import ServerStore
from index.build.build_lock import BuildLock
from tests.bot.collection_builders import VOLCANO, ZEBRA, build_collection
from tests.bot.conftest import (
    GUILD_ID,
    OTHER_GUILD_CHANNEL_ID,
    OTHER_GUILD_ID,
    OTHER_MANAGER_ROLE_ID,
    Harness,
    RoleOption,
    dispatched,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.test_discord_app import assert_safe, followup_of
from tests.conftest import SOURCE_DIR
from tests.loopback import payloads

DAY = 86_400.0
ZEBRA_QUESTION = "Where does the striped zebra Marlowe live?"
VOLCANO_QUESTION = "Which volcano did monks call the gateway to hell?"


class Clock:
    """Wall-clock seconds that a test moves forward."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def started(tmp_path: Path, engine: Engine, **overrides: Any) -> Any:
    """The harness of a bot whose collections live under ``tmp_path``."""
    settings = make_settings(tmp_path, collections_dir=tmp_path / "collections", **overrides)
    return harness_for(settings, engine)


def use_clock(h: Harness, clock: Clock) -> None:
    """The bot's server store, on the same database, reading ``clock``."""
    h.bot.servers.close()
    h.bot.servers = ServerStore(h.bot.settings.state_db, clock=clock)


async def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def folder(h: Harness, guild_id: int) -> Path:
    return h.bot.settings.collections_dir / collection_for_guild(guild_id)


async def build(h: Harness, guild_id: int, documents: dict[str, str]) -> None:
    name = collection_for_guild(guild_id)
    await asyncio.to_thread(build_collection, h.bot.collections, name, documents)


async def ask(h: Harness, guild_id: int, question: str) -> str:
    calls = await h.finished(h.slash("ask", who=in_guild(guild_id), question=question, k=5))
    answer = followup_of(calls)
    assert_safe(answer)
    return "".join(str(e.get("description")) for e in answer.message.get("embeds") or [])


def guild_create(guild_id: int) -> dict[str, Any]:
    """GUILD_CREATE for the harness's other server, as the gateway sends it on an invite."""
    return {
        "id": str(guild_id),
        "name": "Other server",
        "owner_id": "1",
        "roles": [payloads.everyone_role(guild_id, 0), RoleOption(OTHER_MANAGER_ROLE_ID).payload()],
        "channels": [payloads.text_channel(OTHER_GUILD_CHANNEL_ID, guild_id, "general")],
        "members": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "member_count": 2,
    }


async def test_removed_server_is_deleted_after_the_grace_period_and_only_it(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    async with started(tmp_path, engine, removed_server_grace_days=30) as h:
        use_clock(h, clock)
        await build(h, GUILD_ID, {"zebra.txt": ZEBRA})
        await build(h, OTHER_GUILD_ID, {"volcano.txt": VOLCANO})
        h.bot.servers.update_settings(GUILD_ID, include_default=False)
        h.bot.servers.record(GUILD_ID, 1, "add", "zebra.txt", "ok")
        h.bot.servers.record(OTHER_GUILD_ID, 2, "add", "volcano.txt", "ok")
        assert "Serengeti" in await ask(h, GUILD_ID, ZEBRA_QUESTION)  # loaded in the bot

        h.bot._connection.parse_guild_delete({"id": str(GUILD_ID)})  # type: ignore[arg-type]
        await eventually(lambda: h.bot.servers.due_for_deletion(0) == [GUILD_ID])

        clock.now += 29 * DAY
        assert await asyncio.to_thread(servers.sweep, h.bot) == []
        assert folder(h, GUILD_ID).is_dir()  # kept during the grace period

        clock.now += 2 * DAY
        assert await asyncio.to_thread(servers.sweep, h.bot) == [GUILD_ID]
        assert not folder(h, GUILD_ID).exists()
        assert collection_for_guild(GUILD_ID) not in h.bot.collections.loaded_names()
        assert h.bot.servers.settings(GUILD_ID).include_default  # forgotten: the defaults
        assert h.bot.servers.recent(GUILD_ID, 10) == []
        assert h.bot.servers.due_for_deletion(0) == []
        assert await asyncio.to_thread(servers.sweep, h.bot) == []

        # The other server is untouched and still answers from its own documents.
        assert (folder(h, OTHER_GUILD_ID) / "sources" / "volcano.txt").is_file()
        assert len(h.bot.servers.recent(OTHER_GUILD_ID, 10)) == 1
        assert "Hekla" in await ask(h, OTHER_GUILD_ID, VOLCANO_QUESTION)


async def test_a_server_that_invites_the_bot_back_keeps_its_documents(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    async with started(tmp_path, engine, removed_server_grace_days=1) as h:
        use_clock(h, clock)
        await build(h, OTHER_GUILD_ID, {"volcano.txt": VOLCANO})
        state = h.bot._connection
        state.parse_guild_delete({"id": str(OTHER_GUILD_ID)})  # type: ignore[arg-type]
        await eventually(lambda: h.bot.servers.due_for_deletion(0) == [OTHER_GUILD_ID])
        state.parse_guild_create(guild_create(OTHER_GUILD_ID))  # type: ignore[arg-type]
        await eventually(lambda: h.bot.servers.due_for_deletion(0) == [])
        clock.now += 5 * DAY
        assert await asyncio.to_thread(servers.sweep, h.bot) == []
        assert "Hekla" in await ask(h, OTHER_GUILD_ID, VOLCANO_QUESTION)


async def test_grace_zero_deletes_at_the_next_sweep_even_without_documents(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    async with started(tmp_path, engine, removed_server_grace_days=0) as h:
        use_clock(h, clock)
        h.bot.servers.record(GUILD_ID, 1, "settings", "include_default: off", "ok")
        h.bot._connection.parse_guild_delete({"id": str(GUILD_ID)})  # type: ignore[arg-type]
        await eventually(lambda: h.bot.servers.due_for_deletion(0) == [GUILD_ID])
        assert await asyncio.to_thread(servers.sweep, h.bot) == [GUILD_ID]  # no folder: fine
        assert h.bot.servers.recent(GUILD_ID, 10) == []


async def test_a_deletion_refused_by_a_running_build_is_retried(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    async with started(tmp_path, engine, removed_server_grace_days=0) as h:
        use_clock(h, clock)
        await build(h, GUILD_ID, {"zebra.txt": ZEBRA})
        h.bot.servers.mark_removed(GUILD_ID)
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            index_dir = h.bot.collections.settings_for(collection_for_guild(GUILD_ID)).index_dir
            with BuildLock(index_dir).hold():
                holding.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert holding.wait(30)
            assert await asyncio.to_thread(servers.sweep, h.bot) == []
            assert (folder(h, GUILD_ID) / "sources" / "zebra.txt").is_file()
            assert h.bot.servers.due_for_deletion(0) == [GUILD_ID]
        finally:
            release.set()
            holder.join()
        assert await asyncio.to_thread(servers.sweep, h.bot) == [GUILD_ID]
        assert not folder(h, GUILD_ID).exists()


async def test_the_sweeper_starts_with_the_bot_and_stops_with_it(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    async with started(tmp_path, engine, removed_server_grace_days=0) as h:
        use_clock(h, clock)
        await build(h, GUILD_ID, {"zebra.txt": ZEBRA})
        h.bot.servers.mark_removed(GUILD_ID)
        await h.bot.setup_hook()  # what login() runs: loads, starts the sweep, syncs commands
        await eventually(lambda: not folder(h, GUILD_ID).exists())
        sweeper = h.bot.get_cog("Servers").sweeper  # type: ignore[union-attr]
        assert sweeper is not None and not sweeper.done()  # sleeping until the next hour
    assert sweeper.done()


async def test_on_ready_marks_servers_that_removed_the_bot_while_it_was_offline(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    async with started(tmp_path, engine) as h:
        use_clock(h, clock)
        gone = 123456789
        await build(h, gone, {"zebra.txt": ZEBRA})
        await build(h, GUILD_ID, {"volcano.txt": VOLCANO})
        h.bot.servers.mark_removed(GUILD_ID)  # then invited back while the bot was offline
        await dispatched(h.bot, "ready")
        assert h.bot.servers.due_for_deletion(0) == [gone]
        first = clock.now
        clock.now += DAY
        await dispatched(h.bot, "ready")  # a reconnect keeps the first mark
        grace = h.bot.settings.removed_server_grace_days
        clock.now = first + grace * DAY + 1
        assert h.bot.servers.due_for_deletion(grace) == [gone]


async def test_on_ready_that_meets_the_bot_closed_ends_quietly(
    tmp_path: Path, engine: Engine
) -> None:
    """A shutdown right after connecting closes the stores while on_ready still reconciles (a
    wire test met it): not an error to log, the next start reconciles again."""
    async with started(tmp_path, engine) as h:
        await build(h, 123456789, {"zebra.txt": ZEBRA})  # reconciling must write a mark
    assert h.bot.is_closed()
    await servers.on_connected(h.bot)


async def test_a_purge_from_the_command_line_is_not_served_by_the_running_bot(
    tmp_path: Path, engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with started(tmp_path, engine) as h:
        await build(h, GUILD_ID, {"zebra.txt": ZEBRA})
        h.bot.servers.update_settings(GUILD_ID, include_default=False)
        assert "Serengeti" in await ask(h, GUILD_ID, ZEBRA_QUESTION)
        monkeypatch.setenv("CITEBOT_SOURCE_DIR", str(SOURCE_DIR))
        monkeypatch.setenv("CITEBOT_INDEX_DIR", str(engine.settings.index_dir))
        monkeypatch.setenv("CITEBOT_COLLECTIONS_DIR", str(h.bot.settings.collections_dir))
        name = collection_for_guild(GUILD_ID)
        assert await asyncio.to_thread(main, ["collections", "purge", name, "--yes"]) == 0
        assert not folder(h, GUILD_ID).exists()
        refused = await ask_refused(h, GUILD_ID, ZEBRA_QUESTION)
        assert "no documents yet" in refused and "Serengeti" not in refused
        h.bot.servers.update_settings(GUILD_ID, include_default=True)
        assert "Serengeti" not in await ask(h, GUILD_ID, ZEBRA_QUESTION)
        # The bot's own sweep of that server later finds nothing to delete and forgets it.
        h.bot.servers.mark_removed(GUILD_ID)
        use_clock(h, clock)
        clock.now += 365 * DAY
        assert await asyncio.to_thread(servers.sweep, h.bot) == [GUILD_ID]


async def ask_refused(h: Harness, guild_id: int, question: str) -> str:
    calls = await h.finished(h.slash("ask", who=in_guild(guild_id), question=question))
    shown = [c for c in calls if c.is_followup or (c.is_callback and c.response_type == 4)]
    assert len(shown) == 1
    assert_safe(shown[0])
    return str(shown[0].message.get("content"))


async def test_a_server_of_another_shard_is_not_taken_for_one_that_removed_the_bot(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    elsewhere = (7 << 22) | 5  # shard 1 of 2 sees it: (id >> 22) % 2 == 1
    async with started(tmp_path, engine, discord_shard_count=2, discord_shard_ids="0") as h:
        assert isinstance(h.bot, discord.AutoShardedClient)
        use_clock(h, clock)
        await build(h, elsewhere, {"zebra.txt": ZEBRA})
        await dispatched(h.bot, "ready")
        assert h.bot.servers.due_for_deletion(0) == []
    # The process running shard 1 should see it, and does not: removed while offline.
    async with started(tmp_path, engine, discord_shard_count=2, discord_shard_ids="1") as h:
        use_clock(h, clock)
        await dispatched(h.bot, "ready")
        assert h.bot.servers.due_for_deletion(0) == [elsewhere]
