"""The operator's HTTP endpoint of ``citebot discord``: ``GET /healthz`` (JSON; 200 when every
check passes, 503 otherwise, naming the failing checks) and ``GET /metrics`` (Prometheus text).

Served by aiohttp (a discord.py dependency) on the bot's own event loop: no thread of its own.
Handlers never block the loop (``bot.discord.monitoring.health`` runs its blocking checks on
threads). It listens on CITEBOT_HEALTH_HOST (127.0.0.1 by default: nothing off this machine can
connect) and CITEBOT_HEALTH_PORT; it has no authentication, so another address is the operator's
choice."""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from bot.discord.monitoring.health import check_gateway, check_health
from bot.discord.monitoring.metrics import CONTENT_TYPE
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

log = logging.getLogger("citebot.monitoring")


class MonitoringError(CitebotError):
    """The endpoint cannot listen where configured; the message says what to change."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MonitoringServer:
    """``/healthz`` and ``/metrics`` for one bot, on ``host``:``port`` (0: any free port)."""

    def __init__(self, bot: CitebotBot, host: str, port: int) -> None:
        self.bot = bot
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens (host, port), once started."""
        if self._runner is None:
            return []
        return [(str(address[0]), int(address[1])) for address in self._runner.addresses]

    async def start(self) -> None:
        """Listen; MonitoringError when the address cannot be used (port taken, no such host)."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as error:
            await runner.cleanup()
            raise MonitoringError(
                f"cannot serve /healthz and /metrics on {self.host}:{self.port} "
                f"({error.strerror or error}): set CITEBOT_HEALTH_PORT to a free port (each "
                "process needs its own), or leave it empty to serve none"
            ) from None
        self._runner = runner
        if not is_loopback(self.host):
            log.warning(
                "/healthz and /metrics are served on %s, reachable from other machines and "
                "without authentication (CITEBOT_HEALTH_HOST)",
                self.host,
            )
        log.info("serving /healthz and /metrics on %s", self.addresses)

    async def stop(self) -> None:
        """Stop listening (once; stopping twice is harmless)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        report = await check_health(self.bot)
        return web.json_response(report.to_dict(), status=200 if report.ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        check_gateway(self.bot)  # refreshes the shard gauges (no I/O)
        return web.Response(body=self.bot.metrics.render(), headers={"Content-Type": CONTENT_TYPE})
