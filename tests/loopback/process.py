"""``citebot discord`` in a process of its own (``tests.loopback.launcher``), talking to a
``LoopbackDiscord`` in this one: for signals (SIGKILL, SIGTERM) and the load and soak benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from tests.loopback.server import LoopbackDiscord
from tests.paths import ARTICLE_DIR

REPO = Path(__file__).resolve().parents[2]


def bot_environment(discord_: LoopbackDiscord, settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without any CITEBOT_* variable, plus ``settings`` (keys
    without the prefix, e.g. ``{"INDEX_DIR": ...}``) and the stand-in's addresses."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITEBOT_")}
    env.update({f"CITEBOT_{key.upper()}": value for key, value in settings.items()})
    env["CITEBOT_DISCORD_TOKEN"] = discord_.token
    env["LOOPBACK_API_BASE"] = discord_.api_base
    env["LOOPBACK_GATEWAY_URL"] = discord_.gateway_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def build_article_index(index_dir: Path) -> None:
    """An index of the bundled article at ``index_dir`` (built once; loaded if already there)."""
    from bot.core.engine import Engine
    from bot.settings import Settings

    settings = Settings(_env_file=None, source_dir=ARTICLE_DIR, index_dir=index_dir)  # type: ignore[call-arg]
    Engine(settings).load(build_if_missing=True)


class BotProcess:
    """One bot process: start it and wait until it is on the gateway; signal it; read its log."""

    def __init__(self, discord_: LoopbackDiscord, settings: dict[str, str], workdir: Path) -> None:
        self.discord = discord_
        self.env = bot_environment(discord_, settings)
        self.workdir = workdir  # its working directory (no .env there) and its log
        self.log_path = workdir / f"bot-{time.monotonic_ns()}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, timeout: float = 120.0, shard: int | None = None) -> BotProcess:
        """Start it; return once it has identified on the gateway (model and index loaded and
        commands synced before that), as shard ``shard`` when given (and sent its servers)."""
        gateway = self.discord.gateway
        identified = gateway.identifies
        before = gateway.shards.get(shard) if shard is not None else None
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.loopback.launcher",
                cwd=self.workdir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout

        def connected() -> bool:
            if shard is None:
                return gateway.identifies > identified and gateway.connected.is_set()
            session = gateway.shards.get(shard)
            return (
                session is not None
                and session is not before
                and session.ready
                and session.connection is not None
            )

        while not connected():
            if self.process.returncode is not None:
                raise AssertionError(
                    f"the bot exited with {self.process.returncode}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not connect in {timeout} s:\n{self.log()}")
            await asyncio.sleep(0.05)
        return self

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    async def wait(self, timeout: float) -> int:
        """Its exit status (negative: killed by that signal); AssertionError after ``timeout``."""
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the bot still runs after {timeout} s:\n{self.log()}") from None

    async def stop(self) -> None:
        """Make sure it is gone (SIGKILL if it still runs)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def log(self) -> str:
        """The last lines it wrote (stdout and stderr)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-40:])
