"""Who can have the bot, and how much all servers may store (issue 20, item 14), through the real
CommandTree and gateway events: ``CITEBOT_DISCORD_ALLOWED_SERVERS`` (the bot leaves any other
server, on joining and at start) and ``CITEBOT_TOTAL_MAX_GB`` (``/docs add`` past it refused)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.discord.exts.docs.uploads import all_servers_full
from bot.discord.utils.allowed_servers import SERVER_NOT_ALLOWED
from tests.bot.conftest import (
    APP_ID,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_GUILD_CHANNEL_ID,
    OTHER_GUILD_ID,
    dispatched,
    harness_for,
    in_guild,
    make_settings,
    snowflake,
)
from tests.bot.test_discord_docs_changes import (
    MANAGER,
    attachment,
    audit,
    files_in,
    result,
    settings_for,
    source_dir,
)
from tests.bot.test_discord_docs_overview import reply_of
from tests.bot.test_discord_server_lifecycle import eventually, guild_create
from tests.web_server import WebServer

LEAVE = "DELETE /users/@me/guilds/{guild_id}"
QUESTION = "What did Kim Jong Un and Xi Jinping exchange?"


@pytest.fixture
def web():
    with WebServer() as server:
        yield server


def left(h) -> list[str]:
    """The servers the bot asked Discord to leave, in order."""
    return [c.url.rsplit("/", 1)[1] for c in h.recorder.calls
            if f"{c.method} {c.path}" == LEAVE]


def sent(h) -> list:
    """The messages the bot posted in channels (mention replies)."""
    return [c for c in h.recorder.calls if c.method == "POST" and "/channels/" in c.url]


# ----- the allow-list ---------------------------------------------------------------------------


async def test_at_start_the_bot_leaves_every_server_not_allowed(
    tmp_path: Path, engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, discord_allowed_servers=[GUILD_ID])
    async with harness_for(settings, engine) as h:
        with caplog.at_level(logging.WARNING, "citebot.discord"):
            await dispatched(h.bot, "ready")
        assert left(h) == [str(OTHER_GUILD_ID)]
        assert f"left server {OTHER_GUILD_ID}: it is not in CITEBOT_DISCORD_ALLOWED_SERVERS" in (
            caplog.text
        )
        # Until Discord confirms, its members are refused; the allowed server is served.
        refused = reply_of(await h.finished(h.slash("sources", who=in_guild(OTHER_GUILD_ID)), 1))
        assert refused.message["content"] == SERVER_NOT_ALLOWED
        served = reply_of(await h.finished(h.slash("sources", who=in_guild(GUILD_ID)), 2))
        assert served.message["embeds"]
        # A mention there is not answered either; one in the allowed server is.
        h.post_message(f"<@{APP_ID}> {QUESTION}", guild_id=OTHER_GUILD_ID,
                       channel_id=OTHER_GUILD_CHANNEL_ID)
        h.post_message(f"<@{APP_ID}> {QUESTION}")
        await h.recorder.wait_for(lambda: len(sent(h)) == 1)
        await asyncio.sleep(0.3)
        assert [c.url.split("/channels/")[1].split("/")[0] for c in sent(h)] == [str(CHANNEL_ID)]


async def test_a_server_not_allowed_is_left_as_soon_as_it_adds_the_bot(
    tmp_path: Path, engine
) -> None:
    newcomer = snowflake()
    settings = make_settings(tmp_path, discord_allowed_servers=[GUILD_ID, OTHER_GUILD_ID])
    async with harness_for(settings, engine) as h:
        h.bot._connection.parse_guild_create(guild_create(newcomer))  # type: ignore[arg-type]
        await eventually(lambda: left(h) == [str(newcomer)])
        h.bot._connection.parse_guild_delete({"id": str(newcomer)})  # type: ignore[arg-type]
        await dispatched(h.bot, "ready")  # a restart: the allowed ones stay
        assert left(h) == [str(newcomer)]


async def test_without_an_allow_list_the_bot_stays_everywhere(tmp_path: Path, engine) -> None:
    async with harness_for(make_settings(tmp_path), engine) as h:
        await dispatched(h.bot, "ready")
        h.bot._connection.parse_guild_create(guild_create(snowflake()))  # type: ignore[arg-type]
        await dispatched(h.bot, "ready")
        assert left(h) == []


# ----- all servers' documents together ----------------------------------------------------------


async def test_an_add_past_the_bound_of_all_servers_is_refused(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    settings = settings_for(tmp_path, built_index_dir, total_max_gb=0.000002,  # 2,000 bytes
                            fetch_private_addresses=True)
    async with harness_for(settings, engine) as h:
        elsewhere = source_dir(h, OTHER_GUILD_ID)
        elsewhere.mkdir(parents=True)
        (elsewhere / "other.txt").write_bytes(b"x" * 1_500)
        full = all_servers_full(2_000)
        assert full == (
            "The bot has no room left for documents: all servers' documents together may take "
            "2.0 kB, and this one would pass that. Remove documents this server no longer needs "
            "with `/docs remove`, or ask the bot's operator to raise CITEBOT_TOTAL_MAX_GB."
        )

        token = h.slash("docs add", who=MANAGER, file=attachment(web, "a.md", b"y" * 600))
        assert (await result(h, token)).message["content"] == full
        assert web.requests == []  # refused on the size Discord gave, before downloading

        lying = attachment(web, "b.md", b"w" * 600, size=100)
        token = h.slash("docs add", who=MANAGER, file=lying)
        assert (await result(h, token)).message["content"] == full

        url = web.document("/c.txt", b"z" * 600, "text/plain")
        token = h.slash("docs add", who=MANAGER, url=url)
        assert (await result(h, token)).message["content"] == full

        assert files_in(source_dir(h)) == []
        assert [entry[2] for entry in audit(h)] == ["refused"] * 3
