"""``/docs`` over the wire: discord.py's own client against the loopback stand-in, two servers,
an attachment downloaded from the stand-in's CDN, the build in the bot's real child process
(BuildQueue). Builds take seconds: three tests build (one stops mid-build). Every test also
passes the shared payload check and logs no ERROR (conftest)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.core.collections import collection_for_guild
from bot.core.engine import Engine
from bot.discord.client import CitebotBot
from bot.discord.exts.docs.changes import ONE_SOURCE
from bot.discord.exts.docs.overview import FOREIGN_ROLE
from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from bot.discord.exts.docs.render import NO_DOCUMENTS
from bot.discord.utils import progress
from bot.settings import Settings
from tests.bot.collection_builders import write_documents
from tests.loopback import ADMIN_PERMISSIONS, Attachment, LoopbackDiscord, Request, Role, World
from tests.loopback.client import running_bot
from tests.loopback.recorder import (
    AUTOCOMPLETE_RESULT,
    DEFERRED_MESSAGE,
    DEFERRED_UPDATE,
    MESSAGE,
)
from tests.wire.conftest import USER_ID, wire_settings

GUILD, OTHER_GUILD = 940000000000000100, 940000000000000200
MANAGER_ID = 940000000000000020
MEMBER_ID = 940000000000000021
FILE_NAME = "lighthouse_notes.md"
SHOWN_NAME = "lighthouse\\_notes.md"  # escaped where Markdown renders
FACT = "The Port Quillan lighthouse is painted with eleven green stripes and one white band."
QUESTION = "How many green stripes does the Port Quillan lighthouse have?"


@pytest.fixture
def world() -> World:
    """Two servers, each with its channel and a "doc managers" role."""
    return World(owner_id=USER_ID, guild_ids=(GUILD, OTHER_GUILD))


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "PROGRESS_EDIT_SECONDS", 0.0)  # every progress step shows


@pytest.fixture
def settings(tmp_path: Path, world: World, built_index_dir: Path) -> Settings:
    """The shared index (read-only) plus the servers' collections under ``tmp_path``."""
    return wire_settings(
        tmp_path, world, index_dir=built_index_dir, collections_dir=tmp_path / "collections",
        attachment_max_mb=1.0,
    )



def lighthouse(loopback: LoopbackDiscord) -> Attachment:
    return loopback.attach(
        FILE_NAME, f"# Lighthouses\n\n{FACT}\n".encode(), content_type="text/markdown"
    )


async def manager_runs(loopback: LoopbackDiscord, command: str, /, **options: Any) -> str:
    """A member with Manage Server runs ``/command`` in GUILD; returns the interaction token."""
    return await loopback.slash(command, user_id=MANAGER_ID, permissions=ADMIN_PERMISSIONS,
                                guild_id=GUILD, **options)


async def followup(loopback: LoopbackDiscord, token: str, timeout: float = 180.0) -> Request:
    """The interaction's first successful follow-up (where a build's result comes)."""

    def found() -> Request | None:
        calls = loopback.recorder.for_token(token)
        return next((r for r in calls if r.is_followup and r.succeeded), None)

    return await loopback.recorder.wait_for(found, timeout)


async def refusal(loopback: LoopbackDiscord, token: str) -> str:
    """The text of an interaction answered with one ephemeral message and nothing more."""
    answer = await loopback.answered(token)
    await asyncio.sleep(0.2)  # anything after the refusal would be recorded by now
    assert answer.callback_type == MESSAGE and answer.ephemeral
    assert loopback.recorder.for_token(token) == [answer]
    return str(answer.message["content"])


async def asked(loopback: LoopbackDiscord, guild_id: int) -> list[dict[str, Any]]:
    """The embeds of the answer to QUESTION in ``guild_id`` (a plain member asks)."""
    token = await loopback.slash("ask", user_id=MEMBER_ID, guild_id=guild_id, question=QUESTION,
                                 k=5)
    answer = await loopback.answered(token)
    assert loopback.recorder.for_token(token)[0].callback_type == DEFERRED_MESSAGE
    return list(answer.message.get("embeds") or [])


def quotes_the_fact(embeds: list[dict[str, Any]]) -> bool:
    text = json.dumps(embeds).casefold()
    return "quillan" in text or "lighthouse" in text


async def choices(loopback: LoopbackDiscord, guild_id: int, typed: str) -> list[str]:
    """The document names ``/docs remove`` offers in ``guild_id`` while ``typed`` is typed."""
    token = await loopback.autocomplete("docs remove", focused="name", user_id=MANAGER_ID,
                                        permissions=ADMIN_PERMISSIONS, guild_id=guild_id,
                                        name=typed)
    [answer] = await loopback.calls(token, 1)
    assert answer.callback_type == AUTOCOMPLETE_RESULT and answer.succeeded
    return [choice["value"] for choice in answer.message["choices"]]


def progress_edits(loopback: LoopbackDiscord, token: str) -> list[Request]:
    return [r for r in loopback.recorder.for_token(token)
            if r.method == "PATCH" and r.path.endswith("/messages/@original")]


def audit(bot: CitebotBot, guild_id: int) -> list[tuple[str, str, str]]:
    """The server's audit log, oldest first: (action, target, result)."""
    return [(e.action, e.target, e.result) for e in reversed(bot.servers.recent(guild_id, 50))]


async def test_a_manager_adds_a_file_asks_lists_and_removes_it(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    attachment = lighthouse(loopback)
    token = await manager_runs(loopback, "docs add", file=attachment)
    report = await followup(loopback, token)

    calls = loopback.recorder.for_token(token)
    first = calls[0]  # answered at once, before the download and the build
    assert first.callback_type == MESSAGE and first.ephemeral
    assert first.message["content"] == f"Adding {SHOWN_NAME}…"
    edits = progress_edits(loopback, token)
    assert edits and all(edit.succeeded for edit in edits)
    assert any("Embedding" in edit.message["content"] for edit in edits)
    assert all(edit.at < report.at for edit in edits)  # the result comes after every edit
    assert report.ephemeral
    assert report.message["content"].startswith(
        f"Added **{SHOWN_NAME}**.\nThis server's index now has 1 document(s), "
    )
    assert " chunk(s) (built in " in report.message["content"]
    assert loopback.downloads == [urlsplit(attachment.url).path]  # once, from the CDN

    own = await asked(loopback, GUILD)
    assert own[0]["title"].startswith(f"1. This server › {SHOWN_NAME} › ")
    assert "eleven green stripes" in own[0]["description"]
    other = await asked(loopback, OTHER_GUILD)
    assert other and not quotes_the_fact(other)
    assert not any("This server" in embed.get("title", "") for embed in other)

    listed = await followup(loopback, await loopback.slash("docs list", user_id=MEMBER_ID,
                                                           guild_id=GUILD))
    assert listed.ephemeral
    description = listed.message["embeds"][0]["description"]
    assert description.startswith("1 document(s)") and SHOWN_NAME in description
    elsewhere = await followup(loopback, await loopback.slash("docs list", user_id=MEMBER_ID,
                                                              guild_id=OTHER_GUILD))
    other_list = elsewhere.message["embeds"][0]["description"]
    assert NO_DOCUMENTS in other_list and "lighthouse" not in other_list

    assert await choices(loopback, GUILD, "LIGHT") == [FILE_NAME]  # while typing the name
    assert await choices(loopback, OTHER_GUILD, "light") == []
    token = await manager_runs(loopback, "docs remove", name=FILE_NAME)
    removed = await followup(loopback, token, timeout=60)
    assert removed.message["content"].startswith(f"Removed **{SHOWN_NAME}**. It was this "
                                                 "server's last document")
    assert not quotes_the_fact(await asked(loopback, GUILD))
    assert await asyncio.to_thread(audit, bot, GUILD) == [
        ("add", FILE_NAME, "ok"),
        ("remove", FILE_NAME, "ok"),
    ]
    assert await asyncio.to_thread(audit, bot, OTHER_GUILD) == []


async def test_a_result_past_the_token_lifetime_is_posted_in_the_channel(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    token = await manager_runs(loopback, "docs add", file=lighthouse(loopback))
    await loopback.recorder.wait_for(lambda: loopback.recorder.for_token(token))  # answered
    loopback.rest.expire(token)  # Discord refuses the token from now on (a 15-minute build)

    posted = await loopback.posted_in(loopback.world.channels[GUILD], timeout=180)
    assert posted.message["content"].startswith(
        f"The /docs add started by <@{MANAGER_ID}> has finished:\nAdded **{SHOWN_NAME}**.\n"
        "This server's index now has 1 document(s)"
    )
    assert posted.message["allowed_mentions"] == {"parse": []}  # names the user, pings nobody
    refused = [r for r in loopback.recorder.for_token(token) if r.is_followup]
    assert [r.status for r in refused] == [401]  # tried once, then the channel
    assert [r.status for r in progress_edits(loopback, token)] in ([], [401])  # then no more
    assert quotes_the_fact(await asked(loopback, GUILD))


async def test_a_plain_member_cannot_add_and_nothing_is_written(
    loopback: LoopbackDiscord, bot: CitebotBot, settings: Settings
) -> None:
    token = await loopback.slash("docs add", user_id=MEMBER_ID, guild_id=GUILD,
                                 file=lighthouse(loopback))
    assert await refusal(loopback, token) == NOT_A_MANAGER
    unreadable = loopback.attach("tool.exe", b"MZ\x90\x00", content_type="application/x-msdos")
    token = await manager_runs(loopback, "docs add", file=unreadable)
    assert (await refusal(loopback, token)).startswith("I can't read **tool.exe**: citebot reads")
    assert loopback.downloads == []  # refused before a byte was fetched
    assert not (settings.collections_dir / collection_for_guild(GUILD)).exists()
    assert await asyncio.to_thread(audit, bot, GUILD) == [("add", "tool.exe", "refused")]


async def test_what_cannot_be_added_is_refused_before_any_build(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    big = b"x" * 1_500_000
    both = await manager_runs(loopback, "docs add", file=lighthouse(loopback), url="http://x.md")
    assert await refusal(loopback, both) == ONE_SOURCE

    async def refused(**options: Any) -> str:
        token = await manager_runs(loopback, "docs add", **options)
        answer = await followup(loopback, token, timeout=60)
        assert loopback.recorder.for_token(token)[0].callback_type == MESSAGE  # "Adding …"
        assert answer.ephemeral
        return str(answer.message["content"])

    claimed = await refused(file=loopback.attach("big.md", big))
    assert claimed.startswith("That file is 1.5 MB, over the 1.0 MB limit")
    assert loopback.downloads == []  # Discord's size was enough to refuse it
    liar = loopback.attach("lying.md", big, size=100)
    lying = await refused(file=liar)
    assert lying.startswith("That document is over the 1.0 MB limit for one file.")
    assert len(loopback.downloads) == 1  # read up to the limit, then refused
    address = lighthouse(loopback).url  # this machine: refused unless the operator allows it
    local = await refused(url=address)
    assert local.startswith("I couldn't add that address: ") and "not fetched" in local
    assert loopback.downloads == [urlsplit(liar.url).path]  # the address was never fetched
    source_dir = bot.collections.settings_for(collection_for_guild(GUILD)).source_dir
    assert not source_dir.exists() or not any(source_dir.iterdir())
    assert [result for _, _, result in await asyncio.to_thread(audit, bot, GUILD)] == [
        "refused"
    ] * 4


async def test_a_manager_role_given_by_option_lets_its_members_manage(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    role_id = loopback.world.roles[GUILD]
    foreign = Role(loopback.world.role(OTHER_GUILD))
    token = await manager_runs(loopback, "docs settings", manager_role=foreign)
    assert await refusal(loopback, token) == FOREIGN_ROLE

    token = await manager_runs(loopback, "docs settings", manager_role=Role(
        loopback.world.role(GUILD)))
    saved = await refusal(loopback, token)  # one ephemeral message, like a refusal
    assert saved.startswith("**Settings saved**") and f"<@&{role_id}>" in saved

    async def member_log(roles: tuple[int, ...]) -> Request:
        token = await loopback.slash("docs log", user_id=MEMBER_ID, guild_id=GUILD, roles=roles)
        return await loopback.answered(token)

    assert (await member_log(())).message["content"] == NOT_A_MANAGER
    log = await member_log((role_id,))
    assert log.ephemeral
    assert "manager\\_role: doc managers → ok" in log.message["embeds"][0]["description"]
    settings = await asyncio.to_thread(bot.servers.settings, GUILD)
    assert settings.manager_role_id == role_id
    assert (await asyncio.to_thread(bot.servers.settings, OTHER_GUILD)).manager_role_id is None


async def test_stopping_the_bot_during_a_build_logs_no_error(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_bot(loopback, settings, engine):
        token = await manager_runs(loopback, "docs add", file=lighthouse(loopback))
        await loopback.recorder.wait_for(
            lambda: any("Embedding" in edit.message["content"]
                        for edit in progress_edits(loopback, token)),
            timeout=120,
        )
    # Closed mid-build: the child is stopped, the command ends without reaching Discord.
    await loopback.recorder.wait_for(
        lambda: any("/docs add" in record.getMessage() for record in caplog.records
                    if record.name == "citebot.discord" and record.levelname == "WARNING"),
        timeout=30,
    )
    assert not [r for r in loopback.recorder.for_token(token) if r.is_followup]


async def test_the_list_pages_with_its_buttons(loopback: LoopbackDiscord, bot: CitebotBot) -> None:
    names = [f"chapter_{number:02d}.md" for number in range(25)]  # two pages; no build needed
    source_dir = bot.collections.settings_for(collection_for_guild(GUILD)).source_dir
    await asyncio.to_thread(write_documents, source_dir, {name: FACT for name in names})

    listed = await followup(loopback, await loopback.slash("docs list", user_id=MEMBER_ID,
                                                           guild_id=GUILD))
    first_page = listed.message["embeds"][0]["description"]
    assert "25 document(s)" in first_page and "Page 1 of 2." in first_page
    message = loopback.sent_message(listed)
    token = await loopback.click(message, "citebot:docs-list:1:next", user_id=MEMBER_ID,
                                 guild_id=GUILD)
    calls = await loopback.calls(token, 2)
    assert calls[0].callback_type == DEFERRED_UPDATE
    edit = calls[1]
    assert edit.route.endswith("/messages/@original") and edit.method == "PATCH"
    assert edit.succeeded
    second_page = edit.message["embeds"][0]["description"]
    assert "Page 2 of 2." in second_page and "chapter\\_24.md" in second_page
    assert "chapter\\_24.md" not in first_page
    assert loopback.rest.originals[token]["embeds"] == edit.message["embeds"]  # the message


# ----- the stand-in itself ------------------------------------------------------------------------


async def test_a_subcommand_with_an_attachment_and_a_role_as_discord_sends_it(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    attachment = lighthouse(loopback)
    role = Role(loopback.world.role(GUILD))
    data = loopback.command_data("docs settings", GUILD, {"manager_role": role, "k": 2})
    assert data["name"] == "docs" and data["type"] == 1
    assert data["options"] == [{"type": 1, "name": "settings", "options": [
        {"type": 8, "name": "manager_role", "value": str(role.id)},
        {"type": 4, "name": "k", "value": 2},
    ]}]
    assert data["resolved"] == {"roles": {str(role.id): loopback.world.role(GUILD)}}
    data = loopback.command_data("docs add", GUILD, {"file": attachment})
    resolved = data["resolved"]["attachments"][str(attachment.id)]
    assert resolved == attachment.resolved() and resolved["filename"] == FILE_NAME
    served, _ = loopback.files[urlsplit(attachment.url).path]
    assert resolved["size"] == len(served) and FACT.encode() in served
    with pytest.raises(AssertionError, match="no subcommand 'nothing'"):
        loopback.command_data("docs nothing", GUILD, {})


async def test_a_download_of_a_file_never_attached_is_a_problem(loopback: LoopbackDiscord) -> None:
    attachment = lighthouse(loopback)
    async with aiohttp.ClientSession() as session:
        async with session.get(attachment.url) as response:
            assert response.status == 200 and FACT.encode() in await response.read()
        async with session.get(attachment.url.replace(FILE_NAME, "other.md")) as response:
            assert response.status == 404
    assert loopback.problems() == [
        f"download of a file never attached: /attachments/{attachment.id}/other.md"
    ]
    loopback.missing_downloads.clear()  # seen: the fixture's final check must pass
