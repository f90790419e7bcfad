"""Fixtures for the wire tests: the loopback Discord, settings for a bot that talks to it, and
the checks every wire test ends with (every payload sane, no unknown route, no error logged)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine
from bot.settings import Settings
from tests.loopback import LoopbackDiscord, World
from tests.loopback.client import running_bot
from tests.loopback.process import BotProcess
from tests.paths import ARTICLE_DIR

REPO = Path(__file__).resolve().parents[2]
# Shaped like a real token, so that a leak of any part of it would be recognisable.
TOKEN = "MTQwMDAwMDAwMDAwMDAwMDAw.GLoopB.wire-test-token_never-in-a-body-or-url"
USER_ID = 940000000000000010  # the asking user: owner of the application, and Manage Server
OTHER_USER_ID = 940000000000000011
FOUND = "What did Kim Jong Un and Xi Jinping exchange?"
DOCUMENT = "north-korea-allied-coordination.txt"


def wire_settings(tmp_path: Path, world: World, **overrides: Any) -> Settings:
    """Settings for a bot connected to the stand-in (never a .env file)."""
    values: dict[str, Any] = {
        "source_dir": ARTICLE_DIR,
        "index_dir": tmp_path / "index",
        "state_db": tmp_path / "feedback.sqlite3",
        "discord_token": TOKEN,
        "discord_guilds": list(world.guild_ids),
        "discord_cooldown_questions": 1000,
        "discord_cooldown_seconds": 60,
        "owner_ids": [USER_ID],
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records logged during the test (a wire test fails on any)."""
    handler = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)


@pytest.fixture
def world() -> World:
    """One server; the test user owns the application."""
    return World(owner_id=USER_ID)


@pytest.fixture
async def loopback(
    world: World, logged_errors: list[logging.LogRecord]
) -> AsyncIterator[LoopbackDiscord]:
    """The stand-in, started; afterwards the shared check over everything the bot sent."""
    discord_ = LoopbackDiscord(TOKEN, world)
    await discord_.start()
    try:
        yield discord_
    finally:
        await discord_.stop()
    assert discord_.problems() == []
    errors = [f"{r.name}: {r.getMessage()}" for r in logged_errors]
    assert errors == []


@pytest.fixture
def settings(tmp_path: Path, world: World, built_index_dir: Path) -> Settings:
    """A bot over the shared index of the article (read-only), servers' collections in
    ``tmp_path``."""
    return wire_settings(
        tmp_path, world, index_dir=built_index_dir, collections_dir=tmp_path / "collections"
    )


@pytest.fixture
async def bot(loopback: LoopbackDiscord, settings: Settings, engine: Engine) -> AsyncIterator[Any]:
    """The bot, in this process, connected to the loopback Discord."""
    async with running_bot(loopback, settings, engine) as running:
        yield running


@pytest.fixture
async def processes(loopback: LoopbackDiscord) -> AsyncIterator[list[BotProcess]]:
    """``citebot discord`` processes a test starts (append them); stopped at the end."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        await process.stop()
