"""/metrics and the endpoint itself, through the harness's real CommandTree: questions by
outcome, their latency, a build; loopback only by default. (/healthz with a real gateway
connection: tests/wire/test_wire_health.py.)"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.core.engine import Engine
from bot.discord.client import CitebotBot
from bot.discord.monitoring.server import MonitoringError, MonitoringServer
from tests.bot.conftest import OWNER_ID, harness_for, make_settings
from tests.bot.test_discord_app import FOUND, NOT_FOUND

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@asynccontextmanager
async def serving(bot: CitebotBot, host: str = "127.0.0.1") -> AsyncIterator[MonitoringServer]:
    """The bot's endpoint on a free port of ``host``, stopped afterwards."""
    server = MonitoringServer(bot, host, 0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def scrape(server: MonitoringServer) -> Samples:
    """GET /metrics, parsed: (sample name, sorted labels) -> value."""
    port = server.addresses[0][1]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def questions(samples: Samples, outcome: str) -> float:
    return samples[("citebot_questions_total", (("outcome", outcome),))]


async def test_metrics_count_questions_by_outcome_and_a_build(
    tmp_path: Path, own_engine: Engine
) -> None:
    # Two questions a minute per user: the third is refused.
    settings = make_settings(tmp_path, discord_cooldown_questions=2)
    async with harness_for(settings, own_engine) as h, serving(h.bot) as server:
        before = await scrape(server)
        await h.finished(h.slash("ask", question=FOUND))
        await h.finished(h.slash("ask", question=NOT_FOUND))
        await h.finished(h.slash("ask", question=FOUND), count=1)
        await h.finished(h.slash("reindex", who={"user_id": OWNER_ID}), timeout=300)
        after = await scrape(server)
    assert [questions(before, o) for o in ("answered", "not_found", "refused", "error")] == [0] * 4
    assert [questions(after, o) for o in ("answered", "not_found", "refused", "error")] == [
        1, 1, 1, 0
    ]
    assert after[("citebot_answer_seconds_count", ())] == 2
    assert 0 < after[("citebot_answer_seconds_sum", ())] < 60
    assert after[("citebot_builds_total", (("result", "ok"),))] == 1
    assert after[("citebot_search_queue_depth", ())] == 0
    assert after[("citebot_build_queue_depth", ())] == 0
    assert not [key for key in after if key[0] == "citebot_errors_total"]
    # Never the process-wide default registry (two bots in a process would mix their counts).
    assert not [key for key in after if key[0].startswith(("process_", "python_"))]


async def test_an_error_is_counted_by_its_kind(tmp_path: Path) -> None:
    """No index and none can be built (no sources): the question fails, counted as an error of
    its kind."""
    empty = tmp_path / "empty"
    empty.mkdir()
    engine = Engine(make_settings(tmp_path, source_dir=empty, index_dir=tmp_path / "none"))
    settings = make_settings(tmp_path, source_dir=empty)
    async with harness_for(settings, engine) as h, serving(h.bot) as server:
        await h.finished(h.slash("ask", question=FOUND), count=2)
        after = await scrape(server)
    assert questions(after, "error") == 1
    errors = {dict(key[1])["kind"]: value for key, value in after.items()
              if key[0] == "citebot_errors_total"}
    assert errors == {"SourceError": 1}


def this_machines_address() -> str:
    """This machine's address on its network (not loopback): the route to a TEST-NET address
    (a UDP socket sends nothing until written to)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError as error:
            pytest.fail(f"this machine has no network address to probe the endpoint from: {error}")
        address = str(probe.getsockname()[0])
    assert not ipaddress.ip_address(address).is_loopback, "no non-loopback address here"
    return address


async def reachable(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except ConnectionRefusedError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_the_endpoint_refuses_other_machines_by_default(
    tmp_path: Path, engine: Engine
) -> None:
    settings = make_settings(tmp_path)
    address = this_machines_address()
    async with (
        harness_for(settings, engine) as h,
        serving(h.bot, settings.health_host) as default,
        serving(h.bot, "0.0.0.0") as everywhere,
    ):
        assert [ipaddress.ip_address(host).is_loopback for host, _ in default.addresses] == [True]
        assert not await reachable(address, default.addresses[0][1])
        assert await reachable(address, everywhere.addresses[0][1])  # the probe can tell


async def test_a_port_in_use_is_a_clear_error(tmp_path: Path, engine: Engine) -> None:
    async with harness_for(make_settings(tmp_path), engine) as h, serving(h.bot) as first:
        second = MonitoringServer(h.bot, "127.0.0.1", first.addresses[0][1])
        with pytest.raises(MonitoringError, match="set CITEBOT_HEALTH_PORT to a free port"):
            await second.start()
