"""``/docs add``, ``/docs remove`` and ``/docs reindex`` through the real CommandTree, with real
child builds (a few seconds each: the tests keep their number small), attachment bytes served
from a loopback web server, and isolation between two servers asserted on the answers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from bot.core.collections import collection_for_guild
from bot.discord.exts.docs import changes
from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from bot.discord.utils import progress
from bot.settings import Settings
from tests.bot.collection_builders import GLACIER, VOLCANO, ZEBRA, build_collection
from tests.bot.conftest import (
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    MANAGER_ROLE_ID,
    MEMBER_PERMISSIONS,
    OTHER_GUILD_ID,
    OTHER_MANAGER_ROLE_ID,
    USER_ID,
    AttachmentOption,
    Call,
    Harness,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.test_discord_app import assert_safe
from tests.bot.test_discord_reindex import expired_token
from tests.index.formats.pdf_fixtures import repeated_page_pdf_bytes
from tests.web_server import WebServer

MANAGER = in_guild(GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
OTHER_MANAGER = in_guild(OTHER_GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
MEMBER = in_guild(GUILD_ID)
ZEBRA_QUESTION = "Where does the striped zebra Marlowe live?"
GLACIER_QUESTION = "How fast does the Perito Moreno glacier advance?"
VOLCANO_QUESTION = "Which volcano did monks call the gateway to hell?"


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "PROGRESS_EDIT_SECONDS", 0.0)  # every progress step shows


@pytest.fixture
def web():
    with WebServer() as server:
        yield server


def settings_for(tmp_path: Path, built_index_dir: Path, **values: Any) -> Settings:
    """The bot's settings: its collections under ``tmp_path``, sharing the built model export."""
    return make_settings(tmp_path, index_dir=built_index_dir,
                         collections_dir=tmp_path / "collections", **values)


def source_dir(h: Harness, guild_id: int = GUILD_ID) -> Path:
    return h.bot.collections.settings_for(collection_for_guild(guild_id)).source_dir


def files_in(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden ones included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def attachment(web: WebServer, name: str, body: bytes, size: int | None = None) -> AttachmentOption:
    """``name`` attached, its bytes served by ``web``; ``size`` is what Discord claims."""
    url = web.document(f"/attachments/{len(web.routes)}/{name}", body, "application/octet-stream")
    return AttachmentOption(name, url, len(body) if size is None else size)


async def result(h: Harness, token: str, timeout: float = 180.0) -> Call:
    """The interaction's last message (its follow-up, or its only response)."""
    await h.recorder.wait_for(
        lambda: any(c.is_followup for c in h.recorder.for_token(token)), timeout
    )
    await asyncio.sleep(0.05)
    calls = h.recorder.for_token(token)
    check_payloads(calls)

    return [c for c in calls if c.is_followup][-1]


def check_payloads(calls: list[Call]) -> None:
    """Every message sent: no mentions, within Discord's limits, no exception text."""
    for call in calls:
        if call.message.get("content") is None and not call.message.get("embeds"):
            continue
        assert_safe(call)
        text = json.dumps(call.message)
        assert "Traceback" not in text and "Error:" not in text and "/tmp" not in text, text


async def ask(h: Harness, guild_id: int, question: str) -> str:
    """Everything the answer to ``question`` in ``guild_id`` shows, as one string."""
    token = h.slash("ask", who=in_guild(guild_id), question=question)
    calls = await h.finished(token)
    check_payloads(calls)
    return json.dumps([c.message for c in calls])


def audit(h: Harness, guild_id: int = GUILD_ID) -> list[tuple[str, str, str]]:
    """The server's audit log, oldest first: (action, target, result)."""
    return [(e.action, e.target, e.result) for e in reversed(h.bot.servers.recent(guild_id, 50))]


def progress_texts(h: Harness, token: str) -> list[str]:
    return [c.message.get("content", "") for c in h.recorder.for_token(token)
            if c.method == "PATCH"]


async def test_the_commands_as_discord_sees_them(
    tmp_path: Path, built_index_dir: Path, engine
) -> None:
    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        docs = h.bot.tree.get_command("docs").to_dict(h.bot.tree)  # type: ignore[union-attr]
    assert docs["contexts"] == [0]  # servers only
    commands = {c["name"]: {o["name"]: o for o in c.get("options", [])} for c in docs["options"]}
    assert {"add", "remove", "reindex"} <= set(commands)
    assert (commands["add"]["file"]["type"], commands["add"]["file"]["required"]) == (11, False)
    assert (commands["add"]["url"]["type"], commands["add"]["url"]["required"]) == (3, False)
    assert commands["remove"]["name"]["autocomplete"] is True
    assert commands["reindex"] == {}


# ----- the whole round: add a file, add an address, remove both -----------------------------------


async def test_add_ask_remove_in_one_server_never_seen_in_the_other(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    settings = settings_for(tmp_path, built_index_dir, fetch_private_addresses=True)
    async with harness_for(settings, engine) as h:
        zebra = attachment(web, "zebra_notes.md", f"# Zebras\n\n{ZEBRA}\n".encode())
        token = h.slash("docs add", who=MANAGER, file=zebra)
        report = await result(h, token)
        first = h.recorder.for_token(token)[0]
        assert first.is_callback and first.ephemeral
        assert first.message["content"] == "Adding zebra\\_notes.md…"
        assert any("Embedding" in text for text in progress_texts(h, token))
        assert report.ephemeral
        assert report.message["content"].startswith(
            "Added **zebra\\_notes.md**.\nThis server's index now has 1 document(s), "
        )
        assert files_in(source_dir(h)) == ["zebra_notes.md"]
        assert "Serengeti" in await ask(h, GUILD_ID, ZEBRA_QUESTION)
        assert "Serengeti" not in await ask(h, OTHER_GUILD_ID, ZEBRA_QUESTION)

        glacier_url = web.document("/glacier.txt", GLACIER.encode(), "text/plain")
        token = h.slash("docs add", who=MANAGER, url=glacier_url)
        report = await result(h, token)
        assert "Added **glacier.txt**.\nThis server's index now has 2 document(s)" in (
            report.message["content"]
        )
        assert "two metres" in await ask(h, GUILD_ID, GLACIER_QUESTION)
        assert "two metres" not in await ask(h, OTHER_GUILD_ID, GLACIER_QUESTION)

        token = h.slash("docs remove", who=MANAGER, name="zebra_notes.md")
        report = await result(h, token)
        assert report.message["content"].startswith(
            "Removed **zebra\\_notes.md**.\nThis server's index now has 1 document(s)"
        )
        assert "Serengeti" not in await ask(h, GUILD_ID, ZEBRA_QUESTION)
        assert "two metres" in await ask(h, GUILD_ID, GLACIER_QUESTION)
        assert "glacier.txt" in (source_dir(h) / "sources.toml").read_text()

        token = h.slash("docs remove", who=MANAGER, name="glacier.txt")  # the last one
        report = await result(h, token, timeout=30)
        assert "It was this server's last document, so its index is deleted too" in (
            report.message["content"]
        )
        assert not source_dir(h).parent.exists()  # documents, sources.toml and index: gone
        assert "two metres" not in await ask(h, GUILD_ID, GLACIER_QUESTION)
        assert audit(h) == [
            ("add", "zebra_notes.md", "ok"),
            ("add", glacier_url, "ok"),
            ("remove", "zebra_notes.md", "ok"),
            ("remove", "glacier.txt", "ok"),
        ]
        assert audit(h, OTHER_GUILD_ID) == []


async def test_an_address_on_this_machine_is_refused_by_default(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    url = web.document("/glacier.txt", GLACIER.encode(), "text/plain")
    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        token = h.slash("docs add", who=MANAGER, url=url)
        report = await result(h, token, timeout=30)
        assert report.message["content"] == (
            "I couldn't add that address: 127.0.0.1 does not lead to a public internet address "
            "(the name does not resolve, or it is a loopback, private or local network one): "
            "not fetched; check the address"
        )
        assert web.requests == []
        assert files_in(source_dir(h)) == []
        assert audit(h) == [("add", url, "refused")]


# ----- who may ------------------------------------------------------------------------------------


async def test_only_managers_of_this_server_may_change_its_documents(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        file = attachment(web, "notes.md", b"# Notes\n\nSome notes.\n")
        refused = [
            h.slash("docs add", who=MEMBER, file=file),
            h.slash("docs remove", who=MEMBER, name="notes.md"),
            h.slash("docs reindex", who=MEMBER),
        ]
        await asyncio.to_thread(h.bot.servers.update_settings, GUILD_ID,
                                manager_role_id=MANAGER_ROLE_ID)
        await asyncio.to_thread(h.bot.servers.update_settings, OTHER_GUILD_ID,
                                manager_role_id=OTHER_MANAGER_ROLE_ID)
        refused.append(h.slash("docs reindex", who=in_guild(GUILD_ID,
                                                            roles=(OTHER_MANAGER_ROLE_ID,))))
        allowed = [
            h.slash("docs reindex", who=in_guild(GUILD_ID, roles=(MANAGER_ROLE_ID,))),
            h.slash("docs reindex", who=MANAGER),
        ]
        for token in refused:
            calls = await h.finished(token, 1)
            check_payloads(calls)
            assert [c.message["content"] for c in calls] == [NOT_A_MANAGER]
            assert calls[0].ephemeral
        for token in allowed:
            calls = await h.finished(token, 1)
            check_payloads(calls)
            assert [c.message["content"] for c in calls] == [changes.NOTHING_TO_REBUILD]
        assert web.requests == []
        assert audit(h) == [("reindex", collection_for_guild(GUILD_ID), "refused")] * 2


# ----- limits -------------------------------------------------------------------------------------


async def test_limits_are_checked_before_anything_is_downloaded_or_written(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    settings = settings_for(tmp_path, built_index_dir, attachment_max_mb=0.002,
                            server_max_documents=2, server_max_mb=0.003)
    async with harness_for(settings, engine) as h:
        folder = source_dir(h)
        folder.mkdir(parents=True)
        (folder / "old.txt").write_bytes(b"x" * 1_500)

        too_big = attachment(web, "big.md", b"y" * 2_500)
        token = h.slash("docs add", who=MANAGER, file=too_big)
        message = (await result(h, token)).message["content"]
        assert "over the 0.0 MB limit for one file" in message
        assert "raise CITEBOT_ATTACHMENT_MAX_MB" in message

        past_total = attachment(web, "more.md", b"z" * 1_600)
        token = h.slash("docs add", who=MANAGER, file=past_total)
        message = (await result(h, token)).message["content"]
        assert "would pass the 0.0 MB limit. Remove some with `/docs remove`" in message

        lying = attachment(web, "lying.md", b"w" * 1_800, size=100)  # Discord's size is wrong
        token = h.slash("docs add", who=MANAGER, file=lying)
        message = (await result(h, token)).message["content"]
        assert "Remove some with `/docs remove` to make room" in message
        assert web.requests == [lying.url.split(str(web.port))[1]]  # only the one that lied

        (folder / "second.txt").write_bytes(b"x" * 10)
        token = h.slash("docs add", who=MANAGER, file=attachment(web, "third.md", b"t"))
        message = (await result(h, token)).message["content"]
        assert "already has 2 documents, the most it may have (2). Remove one with " in message

        assert files_in(folder) == ["old.txt", "second.txt"]
        assert [entry[2] for entry in audit(h)] == ["refused"] * 4


async def test_two_adds_at_once_cannot_both_pass_the_limits(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    settings = settings_for(tmp_path, built_index_dir, server_max_documents=1)
    async with harness_for(settings, engine) as h:
        tokens = [
            h.slash("docs add", who=MANAGER, file=attachment(web, "zebra.md", ZEBRA.encode())),
            h.slash("docs add", who=MANAGER, file=attachment(web, "glacier.md", GLACIER.encode())),
        ]
        await h.recorder.wait_for(lambda: h.bot.builds._child is not None)  # one build runs
        other = h.slash("docs add", who=OTHER_MANAGER,
                        file=attachment(web, "volcano.md", VOLCANO.encode()))
        messages = [(await result(h, token)).message["content"] for token in tokens]
        assert messages[0].startswith("Added **zebra.md**.")
        assert messages[1].startswith("This server already has 1 documents, the most it may have")
        assert files_in(source_dir(h)) == ["zebra.md"]
        assert sorted(entry[2] for entry in audit(h)) == ["ok", "refused"]
        # The other server's build waited for this one's, and said so.
        assert (await result(h, other)).message["content"].startswith("Added **volcano.md**.")
        assert "Added **volcano.md**; rebuilding…\nQueued: 1 build(s) ahead…" in (
            progress_texts(h, other)
        )
        assert "Hekla" not in await ask(h, GUILD_ID, VOLCANO_QUESTION)
        assert "Serengeti" not in await ask(h, OTHER_GUILD_ID, ZEBRA_QUESTION)


# ----- files the build cannot read, a crashed build -----------------------------------------------


async def test_a_file_the_build_cannot_read_is_not_added(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        build_collection(h.bot.collections, collection_for_guild(GUILD_ID),
                         {"volcano.txt": VOLCANO})
        fake = attachment(web, "scan.pdf", b"these bytes are not a PDF at all")
        token = h.slash("docs add", who=MANAGER, file=fake)
        message = (await result(h, token)).message["content"]
        assert message.startswith("**scan.pdf** was not added: scan.pdf: ")
        assert "Nothing else changed.\nThis server's index now has 1 document(s)" in message
        assert files_in(source_dir(h)) == ["volcano.txt"]
        assert "Hekla" in await ask(h, GUILD_ID, VOLCANO_QUESTION)

        # The first document of a server: the build fails for want of any usable document.
        token = h.slash("docs add", who=OTHER_MANAGER, file=fake)
        message = (await result(h, token)).message["content"]
        assert message.startswith("**scan.pdf** was not added: scan.pdf: ")
        assert not source_dir(h, OTHER_GUILD_ID).parent.exists()  # nothing left of it
        assert audit(h)[-1][2] == audit(h, OTHER_GUILD_ID)[-1][2] == "refused"


async def test_a_pdf_built_to_stall_builds_is_skipped_at_once_and_not_added(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    # Issue 20, item 2: 32 KB, one page listed 2,000 times drawing 20 MB of whitespace.
    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        build_collection(h.bot.collections, collection_for_guild(GUILD_ID),
                         {"volcano.txt": VOLCANO})
        hostile = attachment(web, "hostile.pdf", repeated_page_pdf_bytes())
        token = h.slash("docs add", who=MANAGER, file=hostile)
        message = (await result(h, token)).message["content"]
        assert message.startswith("**hostile.pdf** was not added: hostile.pdf: too much to read: "
                                  "its pages decode to over 10.6 MB of drawing instructions")
        assert "Nothing else changed.\nThis server's index now has 1 document(s)" in message
        assert files_in(source_dir(h)) == ["volcano.txt"]
        assert "Hekla" in await ask(h, GUILD_ID, VOLCANO_QUESTION)
        assert audit(h)[-1] == ("add", "hostile.pdf", "refused")


async def test_an_add_whose_build_runs_out_of_time_is_removed_and_says_so(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    # The build limit (here 1.2 s) is reached before the extraction's own (an hour).
    settings = settings_for(tmp_path, built_index_dir, build_timeout_minutes=0.02,
                            extract_timeout_seconds=3600)
    async with harness_for(settings, engine) as h:
        build_collection(h.bot.collections, collection_for_guild(GUILD_ID),
                         {"volcano.txt": VOLCANO})
        stalling = attachment(web, "stall.pdf", repeated_page_pdf_bytes(pages=20_000,
                                                                         padding=400))
        token = h.slash("docs add", who=MANAGER, file=stalling)
        message = (await result(h, token)).message["content"]
        assert message == (
            "**stall.pdf** was not added: the build took longer than 0.02 minutes and was "
            "stopped; the previous index still answers\nNothing else changed."
        )
        assert files_in(source_dir(h)) == ["volcano.txt"]  # not left to stall the next build
        assert "Hekla" in await ask(h, GUILD_ID, VOLCANO_QUESTION)
        assert audit(h)[-1] == ("add", "stall.pdf", "refused")

        # The first document of a server: nothing is left of the server's folder.
        token = h.slash("docs add", who=OTHER_MANAGER, file=stalling)
        message = (await result(h, token)).message["content"]
        assert message.startswith("**stall.pdf** was not added: the build took longer than ")
        assert not source_dir(h, OTHER_GUILD_ID).parent.exists()


async def test_a_deep_sources_toml_and_a_name_that_is_not_utf8_are_reported_not_a_crash(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    # Issue 20, items 3 and 4, in a server's folder (left there by an operator, say).
    settings = settings_for(tmp_path, built_index_dir, fetch_private_addresses=True)
    async with harness_for(settings, engine) as h:
        build_collection(h.bot.collections, collection_for_guild(GUILD_ID),
                         {"volcano.txt": VOLCANO})
        folder = source_dir(h)
        (folder / "sources.toml").write_text("x = " + "[" * 3000, encoding="utf-8")
        with open(os.path.join(os.fsencode(folder), b"bad\xff\xfename.txt"), "wb") as handle:
            handle.write(b"Text under a name that is not UTF-8.")
        token = h.slash("docs add", who=MANAGER, file=attachment(web, "zebra.md", ZEBRA.encode()))
        message = (await result(h, token)).message["content"]
        assert message.startswith("Added **zebra.md**.\nThis server's index now has 2 document(s)")
        assert message.endswith(  # Markdown shows a backslash escaped: bad\xff\xfename.txt
            "\nSkipped 2 file(s) that could not be read:\n"
            "- bad\\\\xff\\\\xfename.txt: the file name is not valid UTF-8 (its bytes are "
            "shown as \\\\x escapes); rename the file to index it\n"
            "- sources.toml: not valid TOML (arrays or tables nested too deeply at line 1, "
            "column 105); fix it or remove it; no addresses from it"
        )
        assert "Serengeti" in await ask(h, GUILD_ID, ZEBRA_QUESTION)

        # An address cannot be recorded in it: refused before anything is downloaded.
        glacier_url = web.document("/glacier.txt", GLACIER.encode(), "text/plain")
        token = h.slash("docs add", who=MANAGER, url=glacier_url)
        calls = await h.finished(token)
        check_payloads(calls)
        assert calls[-1].message["content"] == (
            "I couldn't add that address: sources.toml: not valid TOML (arrays or tables nested "
            "too deeply at line 1, column 105); fix it or remove it"
        )
        assert "glacier.txt" not in files_in(folder)
        assert audit(h) == [("add", "zebra.md", "ok"), ("add", glacier_url, "refused")]


async def test_a_killed_build_leaves_the_old_index_answering(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        build_collection(h.bot.collections, collection_for_guild(GUILD_ID),
                         {"volcano.txt": VOLCANO})
        assert "Hekla" in await ask(h, GUILD_ID, VOLCANO_QUESTION)

        async def kill_the_child() -> None:
            while h.bot.builds._child is None:
                await asyncio.sleep(0.01)
            h.bot.builds._child.send_signal(signal.SIGKILL)  # what the out-of-memory killer does

        killer = asyncio.create_task(kill_the_child())
        token = h.slash("docs add", who=MANAGER, file=attachment(web, "zebra.md", ZEBRA.encode()))
        message = (await result(h, token)).message["content"]
        await killer
        assert message.startswith("**zebra.md** is saved.\nThe rebuild failed: the build stopped "
                                  "unexpectedly, killed by SIGKILL")
        assert "the previous index still answers" in message
        assert "Hekla" in await ask(h, GUILD_ID, VOLCANO_QUESTION)
        assert "Serengeti" not in await ask(h, GUILD_ID, ZEBRA_QUESTION)
        assert audit(h) == [("add", "zebra.md", "failed")]

        # /docs reindex builds it; the result goes to the channel when the token is dead.
        h.recorder.fail_next = expired_token
        token = h.slash("docs reindex", who=MANAGER)
        sends = await h.channel_sends(timeout=180)
        content = sends[0]["json"]["content"]
        assert content.startswith(f"The /docs reindex started by <@{USER_ID}> has finished:\n"
                                  "Rebuilt.\nThis server's index now has 2 document(s)")
        assert sends[0]["json"]["allowed_mentions"]["parse"] == []
        posted = [c for c in h.recorder.calls if c.method == "POST" and "/channels/" in c.url]
        assert [str(CHANNEL_ID) in c.url for c in posted] == [True]
        h.recorder.fail_next = None
        assert "Serengeti" in await ask(h, GUILD_ID, ZEBRA_QUESTION)
        assert audit(h)[-1] == ("reindex", collection_for_guild(GUILD_ID), "ok")


# ----- naming what to remove ----------------------------------------------------------------------


def autocomplete(h: Harness, typed: str, who: dict[str, Any]) -> str:
    """Dispatch the autocomplete request of ``/docs remove name:typed``."""
    h._adapter()
    data = h.slash_payload("docs remove", name=typed)
    data["options"][0]["options"][0]["focused"] = True
    payload = h.interaction_payload(4, data, **who)
    h.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    return str(payload["token"])


async def test_remove_offers_only_this_servers_documents(
    tmp_path: Path, built_index_dir: Path, engine
) -> None:
    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        mine, theirs = source_dir(h), source_dir(h, OTHER_GUILD_ID)
        mine.mkdir(parents=True)
        theirs.mkdir(parents=True)
        for number in range(30):
            (mine / f"zoo-{number:02}.txt").write_text("animals\n")
        long_name = "zoo-" + "n" * 110 + ".md"
        (mine / long_name).write_text("long\n")
        (mine / "plants.txt").write_text("plants\n")
        (theirs / "zoo-secret.txt").write_text("theirs\n")

        token = autocomplete(h, "ZOO", MEMBER)
        calls = await h.finished(token, 1)
        assert calls[0].response_type == 8
        choices = calls[0].payload["data"]["choices"]
        assert len(choices) == 25
        assert all(c["name"].startswith("zoo-") and len(c["name"]) <= 100 for c in choices)
        assert all(len(c["value"]) <= 100 for c in choices)
        assert "zoo-secret.txt" not in json.dumps(calls[0].payload)

        (mine / "zoo-\u202ereport.txt").write_text("hidden\n")
        token = autocomplete(h, "report", MEMBER)
        (choice,) = (await h.finished(token, 1))[0].payload["data"]["choices"]
        assert choice["name"] == "zoo-report.txt"  # no bidi override in what members see
        assert choice["value"] == "zoo-\u202ereport.txt"  # the real name, for /docs remove

        token = autocomplete(h, "nnnnn", MEMBER)
        (choice,) = (await h.finished(token, 1))[0].payload["data"]["choices"]
        assert len(choice["value"]) == 100

        token = h.slash("docs remove", who=MANAGER, name="zoo-secret.txt")
        (refusal,) = await h.finished(token, 1)
        check_payloads([refusal])
        message = refusal.message["content"]
        assert message.startswith("This server has no document named **zoo-secret.txt**.")
        assert "`/docs list` shows their names" in message
        assert (theirs / "zoo-secret.txt").exists()
        assert audit(h) == [("remove", "zoo-secret.txt", "refused")]


async def test_two_servers_add_ask_and_remove_at_once_and_every_payload_stays_in_its_server(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    """Both servers upload at the same moment (their builds share the queue), then ask about
    both documents and remove theirs while the other asks: every message the bot sends for an
    interaction in one server is checked for the other server's facts."""
    facts = {GUILD_ID: "Serengeti", OTHER_GUILD_ID: "Hekla"}
    questions = {GUILD_ID: ZEBRA_QUESTION, OTHER_GUILD_ID: VOLCANO_QUESTION}
    managers = {GUILD_ID: MANAGER, OTHER_GUILD_ID: OTHER_MANAGER}
    files = {GUILD_ID: ("zebra.md", ZEBRA), OTHER_GUILD_ID: ("hekla.txt", VOLCANO)}
    asked_in: dict[str, int] = {}  # interaction token -> its server

    def slash(guild_id: int, command: str, /, **options: Any) -> str:
        who = managers[guild_id] if command.startswith("docs") else in_guild(guild_id)
        token = h.slash(command, who=who, **options)
        asked_in[token] = guild_id
        return token

    async with harness_for(settings_for(tmp_path, built_index_dir), engine) as h:
        shared = h.bot.settings.source_dir
        shared_before = files_in(shared)
        adds = [
            slash(g, "docs add", file=attachment(web, name, text.encode()))
            for g, (name, text) in files.items()
        ]
        for token in adds:
            assert "Added **" in (await result(h, token)).message["content"]
        for guild_id in facts:
            for question in questions.values():
                await h.finished(slash(guild_id, "ask", question=question))
        assert facts[GUILD_ID] in json.dumps(
            [c.message for c in h.recorder.calls if asked_in.get(c.token) == GUILD_ID]
        )
        removal = slash(GUILD_ID, "docs remove", name="zebra.md")
        during = [slash(OTHER_GUILD_ID, "ask", question=q) for q in questions.values()]
        await result(h, removal, timeout=60)
        for token in during:
            await h.finished(token)
        after = await ask(h, GUILD_ID, ZEBRA_QUESTION)
        assert facts[GUILD_ID] not in after
        for call in h.recorder.calls:
            guild_id = asked_in.get(call.token or "")
            if guild_id is None:
                continue
            other = OTHER_GUILD_ID if guild_id == GUILD_ID else GUILD_ID
            sent = json.dumps(call.message, ensure_ascii=False)
            assert facts[other] not in sent and files[other][0] not in sent, (guild_id, sent)
        assert [entry[:2] for entry in audit(h, OTHER_GUILD_ID)] == [("add", "hekla.txt")]
        assert files_in(shared) == shared_before  # server managers never change `default`


async def test_the_same_address_again_replaces_its_document_and_an_unreadable_copy_keeps_it(
    tmp_path: Path, built_index_dir: Path, engine, web: WebServer
) -> None:
    """An update from the same address is not a second document (a server at its limit of one
    can update it), and an update that cannot be read leaves the earlier copy answering."""
    settings = settings_for(
        tmp_path, built_index_dir, fetch_private_addresses=True, server_max_documents=1
    )
    async with harness_for(settings, engine) as h:
        url = web.document("/glacier.txt", GLACIER.encode(), "text/plain")
        assert "Added **glacier.txt**" in (
            await result(h, h.slash("docs add", who=MANAGER, url=url))
        ).message["content"]
        updated = GLACIER + " Its ice front is seventy metres high."
        web.document("/glacier.txt", updated.encode(), "text/plain")
        report = await result(h, h.slash("docs add", who=MANAGER, url=url))
        assert "Added **glacier.txt**" in report.message["content"]  # not refused at the limit
        assert files_in(source_dir(h)) == ["glacier.txt", "sources.toml"]
        web.document("/glacier.txt", bytes(range(256)) * 8, "text/plain")  # not text at all
        report = await result(h, h.slash("docs add", who=MANAGER, url=url))
        assert "**glacier.txt** was not updated" in report.message["content"]
        assert "The earlier copy is kept." in report.message["content"]
        assert (source_dir(h) / "glacier.txt").read_text(encoding="utf-8") == updated
        assert files_in(source_dir(h)) == ["glacier.txt", "sources.toml"]  # no backup left
        assert "seventy metres" in await ask(h, GUILD_ID, "How high is the glacier's ice front?")
        assert [entry[2] for entry in audit(h)] == ["ok", "ok", "refused"]
