"""A newcomer's first hour (issue 20, item 13), through the real CommandTree and start-up hooks:
``/help``; a warning when Discord has none (or not all) of the commands; the invite address
printed while the bot is in no server; a warning for a public bot without an allow-list."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands

from bot.discord.exts.guide.help import ABOUT, TITLE
from bot.discord.utils.onboarding import PERMISSIONS, invite_text, invite_url
from tests.bot.conftest import APP_ID, Harness, dispatched, harness_for, make_settings
from tests.bot.test_discord_app import assert_safe
from tests.bot.test_discord_docs_overview import reply_of, text_of

COMMANDS = "/applications/{application_id}/commands"


@pytest.fixture
async def harness(tmp_path: Path, engine):
    settings = make_settings(tmp_path, discord_guilds=[], discord_allow_dms=True,
                             conversation_minutes=20)
    async with harness_for(settings, engine) as h:
        yield h


def registered(h: Harness, names: list[str]) -> None:
    """Discord answers GET of the global commands with commands named ``names``."""
    inner = h.bot.http.request

    async def request(route: Any, **kwargs: Any) -> Any:
        if route.method == "GET" and route.path == COMMANDS:
            await inner(route, **kwargs)  # recorded
            return [{"id": str(900 + n), "application_id": str(APP_ID), "name": name,
                     "description": "d", "type": 1, "version": "1"}
                    for n, name in enumerate(names)]
        return await inner(route, **kwargs)

    h.bot.http.request = request  # type: ignore[method-assign]


# ----- /help --------------------------------------------------------------------------------------


async def test_help_says_what_citebot_is_its_commands_and_follow_ups(harness: Harness) -> None:
    shown = reply_of(await harness.finished(harness.slash("help"), 1))
    assert_safe(shown)
    embed = shown.message["embeds"][0]
    assert embed["title"] == TITLE and embed["description"] == ABOUT
    assert "quoted word for word" in ABOUT and "never write text of my own" in ABOUT
    text = text_of(shown.message)
    for command in harness.bot.tree.walk_commands():
        if not isinstance(command, app_commands.Group):  # every command, by its full name
            assert f"`/{command.qualified_name}` — {command.description}" in text
    assert "`/docs add` — Add a document" in text and "`/help` — " in text
    assert "**Ask a follow-up**" in text and "**reply** to one of my answers" in text
    assert "forgotten 20 minutes after" in text


async def test_help_in_a_dm_leaves_out_the_server_commands(harness: Harness) -> None:
    shown = reply_of(await harness.finished(harness.slash("help", who={"dm": True}), 1))
    text = text_of(shown.message)
    assert "`/ask` — " in text and "`/sources` — " in text
    assert "/docs" not in text and "/reindex" not in text


# ----- start-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "warning"),
    [
        ([], "no slash command is registered for this application, so none appears in Discord: "
             "run `citebot discord sync` once"),
        (["ask", "sources", "reindex", "docs"],
         "command(s) /help, /privacy are not registered with Discord (added since the last sync): "
         "run `citebot discord sync` again"),
        (["ask", "sources", "reindex", "docs", "help", "privacy"], None),
    ],
)
async def test_start_up_without_guild_ids_warns_when_commands_are_not_registered(
    harness: Harness, caplog: pytest.LogCaptureFixture, names: list[str], warning: str | None
) -> None:
    registered(harness, names)
    with caplog.at_level(logging.WARNING, "citebot.discord"):
        await harness.bot.setup_hook()
    assert [c.path for c in harness.recorder.calls] == [COMMANDS]  # asked, nothing synced
    if warning is None:
        assert "registered" not in caplog.text
    else:
        assert warning in caplog.text


async def test_start_up_with_guild_ids_does_not_ask(tmp_path: Path, engine, caplog) -> None:
    async with harness_for(make_settings(tmp_path), engine) as h:
        with caplog.at_level(logging.WARNING, "citebot.discord"):
            await h.bot.setup_hook()
        assert COMMANDS not in [c.path for c in h.recorder.calls]
        assert "registered" not in caplog.text


async def test_a_public_bot_without_an_allow_list_is_warned_about(
    tmp_path: Path, engine, caplog: pytest.LogCaptureFixture
) -> None:
    for allowed, warned in (([], True), ([1], False)):
        settings = make_settings(tmp_path, discord_allowed_servers=allowed)
        async with harness_for(settings, engine) as h:
            h.bot._application = await h.bot.application_info()  # what login() does
            caplog.clear()
            with caplog.at_level(logging.WARNING, "citebot.discord"):
                await h.bot.setup_hook()
            assert ("the application is public: anyone can add the bot" in caplog.text) is warned
            assert ("turn off Public Bot in the Developer Portal" in caplog.text) is warned


async def test_the_invite_address_is_printed_while_the_bot_is_in_no_server(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    await dispatched(harness.bot, "ready")
    assert "Invite it with" not in capsys.readouterr().err  # in two servers
    harness.bot._connection._guilds.clear()
    await dispatched(harness.bot, "ready")
    err = capsys.readouterr().err
    assert "citebot is online as citebot in 0 server(s)" in err
    assert f"citebot is in no server yet. Invite it with:\n{invite_url(APP_ID)}\n" in err


def test_the_invite_asks_for_the_permissions_the_bot_uses() -> None:
    assert invite_url(APP_ID) == (
        f"https://discord.com/oauth2/authorize?client_id={APP_ID}"
        "&scope=bot+applications.commands&permissions=309237730304"
    )
    assert PERMISSIONS.value == 309237730304  # the README's address asks for the same
    used = {name for name, on in PERMISSIONS if on}
    assert used == {"read_messages", "send_messages", "embed_links", "read_message_history",
                    "create_public_threads", "send_messages_in_threads"}
    assert "View Channels, Send Messages, Embed Links, Read Message History, Create Public " \
           "Threads, Send Messages in Threads" in invite_text(APP_ID)
