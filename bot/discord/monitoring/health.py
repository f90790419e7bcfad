"""Whether one bot process is healthy: its gateway shards connected, the default index loaded (or
loadable), the state database reachable. What ``GET /healthz`` reports
(``bot.discord.monitoring.server``).

The gateway is read from the client's own state, on the event loop (no I/O). The index and the
database are checked on threads of their own (never the search worker, which may be busy with a
long question), each within ``CHECK_SECONDS``: a check that hangs is a failing check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.health")

CHECK_SECONDS = 5.0
GATEWAY, INDEX, DATABASE = "gateway", "index", "database"


@dataclass(frozen=True)
class Check:
    """One check's result: ``detail`` says what was seen, and when failing what to do."""

    ok: bool
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, **self.extra}


@dataclass(frozen=True)
class HealthReport:
    """Every check by name; healthy when all pass."""

    checks: dict[str, Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.ok]

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of /healthz."""
        return {
            "status": "ok" if self.ok else "failing",
            "failing": self.failing,
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
        }


def shard_connections(bot: CitebotBot) -> list[tuple[int, bool]]:
    """(shard id, connected) for each shard this process should run ([0] without sharding)."""
    ready = bot.is_ready() and not bot.is_closed()
    if isinstance(bot, discord.AutoShardedClient):
        states = []
        for shard_id in bot.settings.shards_here:
            info = bot.get_shard(shard_id)
            states.append((shard_id, ready and info is not None and not info.is_closed()))
        return states
    socket = bot.ws
    return [(0, ready and socket is not None and socket.open)]


def check_gateway(bot: CitebotBot) -> Check:
    """Every shard of this process is connected and the client is ready."""
    states = shard_connections(bot)
    bot.metrics.shards(states)
    shards = {str(shard): "connected" if up else "disconnected" for shard, up in states}
    down = [shard for shard, up in states if not up]
    if not down:
        return Check(True, f"{len(states)} shard(s) connected", {"shards": shards})
    return Check(
        False,
        f"shard(s) {down} not connected to Discord's gateway (starting, or reconnecting: "
        "discord.py retries by itself; if it lasts, see the bot's log)",
        {"shards": shards},
    )


def check_index(bot: CitebotBot) -> Check:
    """The default index is loaded, or on disk to be loaded (blocking: reads the index)."""
    engine = bot.engine
    where = engine.settings.index_dir
    on_disk = engine.index_exists()
    if engine.loaded and on_disk:
        return Check(True, "loaded")
    if engine.loaded:
        return Check(
            False,
            f"the index at {where} was removed from disk: the loaded copy still answers, but a "
            "restart would find none; run `citebot build`",
        )
    if on_disk:
        return Check(True, "on disk; loaded at the first question")
    return Check(False, f"no index at {where}: run `citebot build`")


def check_database(bot: CitebotBot) -> Check:
    """Each state store answers a trivial query (blocking: a database call)."""
    for store in (bot.feedback, bot.answers, bot.servers, bot.conversations):
        ping_store(store)
    return Check(True, "reachable")


def ping_store(store: Any) -> None:
    """One store's trivial query; StateError (with the remedy) when it fails."""
    store._database.ping()  # the stores share StateDatabase; see bot/state/database.py


async def _off_loop(name: str, check: Callable[[CitebotBot], Check], bot: CitebotBot) -> Check:
    """Run a blocking check on a thread of its own, within CHECK_SECONDS."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(check, bot), CHECK_SECONDS)
    except TimeoutError:
        return Check(False, f"the {name} check did not finish within {CHECK_SECONDS:g} s")
    except CitebotError as error:
        return Check(False, str(error))
    except Exception as error:
        log.exception("the %s check failed unexpectedly", name)
        return Check(False, f"the {name} check failed unexpectedly ({type(error).__name__})")


async def check_health(bot: CitebotBot) -> HealthReport:
    """All checks, the blocking ones concurrently off the event loop."""
    index, database = await asyncio.gather(
        _off_loop(INDEX, check_index, bot), _off_loop(DATABASE, check_database, bot)
    )
    return HealthReport({GATEWAY: check_gateway(bot), INDEX: index, DATABASE: database})
