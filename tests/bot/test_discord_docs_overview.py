"""``/docs list``, ``/docs settings`` and ``/docs log`` through the real CommandTree, with real
collections on disk and the real model: paging, escaping, permissions, and isolation between
the two servers of the harness."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.core.collections import collection_for_guild
from bot.core.engine import Engine
from bot.discord.exts.docs.overview import EVERYONE_ROLE, FOREIGN_ROLE
from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from bot.discord.exts.docs.render import EMPTY_SERVER_WARNING, NO_DOCUMENTS
from bot.discord.utils.render import limit_problems
from bot.discord.utils.replies import NO_DOCUMENTS_HERE
from tests.bot.collection_builders import VOLCANO, ZEBRA, build_collection, write_documents
from tests.bot.conftest import (
    GUILD_ID,
    MANAGE_GUILD,
    MANAGER_ROLE_ID,
    MEMBER_PERMISSIONS,
    OTHER_GUILD_ID,
    OTHER_MANAGER_ROLE_ID,
    USER_ID,
    Call,
    Harness,
    RoleOption,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.test_discord_app import (
    assert_safe,
    buttons,
    defer_of,
    followup_of,
    sent_message,
)

ARTICLE_QUESTION = "Which Russian official visited Seoul?"
ZEBRA_QUESTION = "Where does the striped zebra Marlowe live?"
MANAGER = in_guild(GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
MEMBER = in_guild(GUILD_ID)
OTHER_MANAGER = in_guild(OTHER_GUILD_ID, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
OTHER_MEMBER = in_guild(OTHER_GUILD_ID)
HOSTILE_NAME = "@everyone **read me** <@123> _now_.txt"


@pytest.fixture
async def h(tmp_path: Path, engine: Engine):
    settings = make_settings(tmp_path, collections_dir=tmp_path / "collections")
    async with harness_for(settings, engine) as harness:
        yield harness


def text_of(message: dict[str, Any]) -> str:
    """Everything a message shows: content, embed titles, descriptions and fields."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields") or []]
    return "\n".join(parts)


def reply_of(calls: list[Call]) -> Call:
    """The one message an interaction showed: its response, or its follow-up after a defer."""
    shown = [c for c in calls if (c.is_callback and c.response_type == 4) or c.is_followup]
    assert len(shown) == 1, calls
    assert_safe(shown[0])
    assert shown[0].ephemeral
    return shown[0]


async def run(h: Harness, name: str, who: dict[str, Any], count: int = 1, **options: Any) -> Call:
    return reply_of(await h.finished(h.slash(name, who=who, **options), count))


async def press(h: Harness, message: dict, label: str, who: dict[str, Any]) -> dict:
    """Press Previous / Next as ``who``; return the message as the bot edited it."""
    button = next(b for b in buttons(message) if b.get("label") == label)
    calls = await h.finished(h.click(message, button["custom_id"], who=who))
    assert [c.response_type for c in calls[:1]] == [6]  # deferred update of the message
    edit = calls[1]
    assert edit.method == "PATCH" and edit.path.endswith("/messages/@original")
    assert limit_problems(edit.payload or {}) == []
    assert (edit.payload or {}).get("allowed_mentions") == {"parse": []}
    return {**message, **(edit.payload or {})}


def page_line(message: dict) -> str:
    return next(
        line for line in message["embeds"][0]["description"].splitlines()
        if line.startswith("Page ")
    )


async def ask(h: Harness, question: str, who: dict[str, Any]) -> str:
    calls = await h.finished(h.slash("ask", who=who, question=question, k=5))
    answer = followup_of(calls)
    assert_safe(answer)
    return "".join(str(e.get("description")) for e in answer.message.get("embeds") or [])


# ----- /docs list ---------------------------------------------------------------------------------


async def test_list_pages_follow_the_server_the_button_is_pressed_in(h: Harness) -> None:
    names = [f"chapter-{n:02d}-{'long-title-' * 12}.txt" for n in range(45)] + [HOSTILE_NAME]
    documents = {name: f"Chapter text number {n}." for n, name in enumerate(names)}
    await asyncio.to_thread(build_collection, h.bot.collections, collection_for_guild(GUILD_ID),
                            documents)
    write_documents(h.bot.collections.settings_for(collection_for_guild(OTHER_GUILD_ID)).source_dir,
                    {"volcano.txt": VOLCANO})

    first = await h.finished(h.slash("docs list", who=MEMBER))  # any member may list
    assert defer_of(first).ephemeral
    reply = followup_of(first)
    assert_safe(reply)
    message = sent_message(reply)
    description = message["embeds"][0]["description"]
    assert "46 document(s)" in description and "chunk(s), built <t:" in description
    assert "also search the bot's shared documents" in description
    pages = int(page_line(message).removeprefix("Page 1 of ").rstrip("."))
    assert pages >= 3
    seen = [message["embeds"][0]["description"]]
    for number in range(2, pages + 1):
        message = await press(h, message, "Next", MEMBER)
        assert page_line(message) == f"Page {number} of {pages}."
        seen.append(message["embeds"][0]["description"])
    shown = "\n".join(seen)
    for name in names[:-1]:
        assert name.replace("_", "\\_") in shown, name
    assert "@\u200beveryone \\*\\*read me\\*\\* \\<@123> \\_now\\_.txt" in shown
    assert "@everyone" not in shown.replace("@\u200beveryone", "")
    back = await press(h, message, "Previous", MEMBER)
    assert page_line(back) == f"Page {pages - 1} of {pages}."

    # The same button pressed in the other server shows that server's list, never this one's.
    elsewhere = await press(h, message, "Previous", OTHER_MEMBER)
    other = text_of(elsewhere)
    assert "volcano.txt" in other and "1 document(s)" in other
    assert "chapter-" not in other and "read me" not in other
    assert "not built yet" in other


async def test_list_of_a_server_without_documents(h: Harness) -> None:
    await asyncio.to_thread(build_collection, h.bot.collections, collection_for_guild(GUILD_ID),
                            {"zebra.txt": ZEBRA})
    reply = await run(h, "docs list", OTHER_MEMBER, 2)
    shown = text_of(reply.message)
    assert NO_DOCUMENTS in shown and "zebra" not in shown
    assert not buttons(reply.message)


async def test_list_of_a_damaged_index_names_no_path(h: Harness, tmp_path: Path) -> None:
    name = collection_for_guild(GUILD_ID)
    await asyncio.to_thread(build_collection, h.bot.collections, name, {"zebra.txt": ZEBRA})
    index_dir = h.bot.collections.settings_for(name).index_dir
    (index_dir / "CURRENT").write_text("..\n", encoding="utf-8")
    shown = text_of((await run(h, "docs list", MEMBER, 2)).message)
    assert "zebra.txt" in shown and "Index: unavailable" in shown
    assert str(tmp_path) not in shown


# ----- /docs settings -----------------------------------------------------------------------------


async def test_settings_choose_what_questions_search(h: Harness) -> None:
    await asyncio.to_thread(build_collection, h.bot.collections, collection_for_guild(GUILD_ID),
                            {"zebra.txt": ZEBRA})
    shown = await run(h, "docs settings", MANAGER)
    assert "`include_default`): yes" in shown.message["content"]

    both = await ask(h, ARTICLE_QUESTION, MEMBER) + await ask(h, ZEBRA_QUESTION, MEMBER)
    assert "Lavrov" in both and "Serengeti" in both

    saved = await run(h, "docs settings", MANAGER, include_default=False)
    assert "`include_default`): no" in saved.message["content"]
    assert EMPTY_SERVER_WARNING not in saved.message["content"]  # the server has documents
    own_only = await ask(h, ARTICLE_QUESTION, MEMBER) + await ask(h, ZEBRA_QUESTION, MEMBER)
    assert "Serengeti" in own_only
    assert "Lavrov" not in own_only and "north-korea" not in own_only
    # The other server's choice is its own.
    assert "Lavrov" in await ask(h, ARTICLE_QUESTION, OTHER_MEMBER)

    await run(h, "docs settings", MANAGER, include_default=True)
    again = await ask(h, ARTICLE_QUESTION, MEMBER) + await ask(h, ZEBRA_QUESTION, MEMBER)
    assert "Lavrov" in again and "Serengeti" in again

    entries = h.bot.servers.recent(GUILD_ID, 10)
    assert [(e.action, e.target, e.result, e.user_id) for e in entries] == [
        ("settings", "include_default: on", "ok", USER_ID),
        ("settings", "include_default: off", "ok", USER_ID),
    ]
    assert h.bot.servers.recent(OTHER_GUILD_ID, 10) == []


async def test_a_server_turns_its_question_log_off_and_on(h: Harness) -> None:
    shown = await run(h, "docs settings", MANAGER)
    assert "(`log_questions`): yes" in shown.message["content"]
    await ask(h, ARTICLE_QUESTION, MEMBER)
    await ask(h, ARTICLE_QUESTION, OTHER_MEMBER)
    assert h.bot.questions.count(GUILD_ID) == 1

    saved = await run(h, "docs settings", MANAGER, log_questions=False)
    assert "(`log_questions`): no" in saved.message["content"]
    assert h.bot.questions.count(GUILD_ID) == 0  # its log deleted
    await ask(h, ARTICLE_QUESTION, MEMBER)
    assert h.bot.questions.count(GUILD_ID) == 0  # and nothing logged while off
    assert h.bot.questions.count(OTHER_GUILD_ID) == 1  # the other server's choice is its own

    refused = await run(h, "docs settings", MEMBER, log_questions=True)
    assert "Manage Server" in refused.message["content"]
    await run(h, "docs settings", MANAGER, log_questions=True)
    await ask(h, ARTICLE_QUESTION, MEMBER)
    assert h.bot.questions.count(GUILD_ID) == 1
    entries = h.bot.servers.recent(GUILD_ID, 10)
    assert [(e.target, e.detail) for e in entries] == [
        ("log_questions: on", "was off"),
        ("log_questions: off", "was on; logged questions deleted"),
    ]


async def test_privacy_forget_erases_the_askers_rows_only(h: Harness) -> None:
    other = in_guild(GUILD_ID, user_id=USER_ID + 5)
    calls = await h.finished(h.slash("ask", who=MEMBER, question=ARTICLE_QUESTION, k=2))
    answer = sent_message(followup_of(calls))
    down = next(b["custom_id"] for b in buttons(answer) if b["custom_id"].endswith(":down"))
    await h.finished(h.click(answer, down, who=MEMBER), 1)
    await ask(h, ARTICLE_QUESTION, OTHER_MEMBER)  # the same person in another server
    await ask(h, ZEBRA_QUESTION, other)
    assert h.bot.questions.count(None) == 3

    forgotten = await run(h, "privacy forget", MEMBER, count=2)
    text = forgotten.message["content"]
    assert "2 logged question(s), 1 vote(s)" in text and "keyed hash" in text
    assert [r.question for r in h.bot.questions.questions(None)] == [ZEBRA_QUESTION]
    assert h.bot.questions.questions(None)[0].votes == ()
    again = await run(h, "privacy forget", MEMBER, count=2)
    assert "nothing to delete" in again.message["content"]


async def test_turning_shared_documents_off_without_documents_warns(h: Harness) -> None:
    saved = await run(h, "docs settings", OTHER_MANAGER, include_default=False)
    assert EMPTY_SERVER_WARNING in saved.message["content"]
    calls = await h.finished(h.slash("ask", who=OTHER_MEMBER, question=ARTICLE_QUESTION))
    assert NO_DOCUMENTS_HERE in text_of(reply_of(calls).message)


async def test_settings_need_a_manager_and_the_manager_role_works(h: Harness) -> None:
    refused = await run(h, "docs settings", MEMBER, include_default=False)
    assert refused.message["content"] == NOT_A_MANAGER
    assert (await run(h, "docs log", MEMBER)).message["content"] == NOT_A_MANAGER
    assert h.bot.servers.settings(GUILD_ID).include_default

    role_holder = in_guild(GUILD_ID, user_id=USER_ID + 1, roles=(MANAGER_ROLE_ID,))
    assert (await run(h, "docs log", role_holder)).message["content"] == NOT_A_MANAGER
    saved = await run(h, "docs settings", MANAGER, manager_role=RoleOption(MANAGER_ROLE_ID))
    assert f"<@&{MANAGER_ROLE_ID}>" in saved.message["content"]
    assert h.bot.servers.settings(GUILD_ID).manager_role_id == MANAGER_ROLE_ID
    log = await run(h, "docs log", role_holder)
    assert "manager\\_role: doc managers" in text_of(log.message)
    changed = await run(h, "docs settings", role_holder, include_default=False)
    assert "`include_default`): no" in changed.message["content"]
    # The role counts only in its own server.
    other_holder = in_guild(OTHER_GUILD_ID, user_id=USER_ID + 1, roles=(MANAGER_ROLE_ID,))
    assert (await run(h, "docs log", other_holder)).message["content"] == NOT_A_MANAGER

    cleared = await run(h, "docs settings", MANAGER, clear_manager_role=True)
    assert "none (Manage Server only)" in cleared.message["content"]
    assert (await run(h, "docs log", role_holder)).message["content"] == NOT_A_MANAGER
    targets = [e.target for e in h.bot.servers.recent(GUILD_ID, 10)]
    assert targets == [
        "manager_role: none",
        "include_default: off",
        "manager_role: doc managers",
    ]


async def test_a_role_of_another_server_cannot_be_set(h: Harness) -> None:
    foreign = RoleOption(OTHER_MANAGER_ROLE_ID, guild_id=OTHER_GUILD_ID)
    refused = await run(h, "docs settings", MANAGER, manager_role=foreign)
    assert refused.message["content"] == FOREIGN_ROLE
    everyone = await run(h, "docs settings", MANAGER, manager_role=RoleOption(GUILD_ID))
    assert everyone.message["content"] == EVERYONE_ROLE
    assert h.bot.servers.settings(GUILD_ID).manager_role_id is None
    assert h.bot.servers.recent(GUILD_ID, 10) == []


# ----- /docs log ----------------------------------------------------------------------------------


async def test_log_shows_this_server_only_escaped_and_within_limits(h: Harness) -> None:
    servers = h.bot.servers
    servers.record(GUILD_ID, 1111, "add", HOSTILE_NAME, "ok", "3 chunks")
    servers.record(OTHER_GUILD_ID, 2222, "add", "other-secret.txt", "ok")
    for n in range(20):
        servers.record(GUILD_ID, 3333, "remove", f"{n:02d}-" + "x" * 600, "failed " * 80, "d" * 600)
    log = await run(h, "docs log", MANAGER)
    shown = text_of(log.message)
    assert "other-secret" not in shown and "2222" not in shown
    assert "<@3333>" in shown and "**remove** 19-xxx" in shown
    assert "<t:" in shown and ":R>" in shown
    assert "older entr(ies) not shown" in shown  # long entries: as many as fit
    assert limit_problems(log.message) == []

    servers.record(GUILD_ID, 1111, "add", HOSTILE_NAME, "ok")
    newest = (await run(h, "docs log", MANAGER)).message["embeds"][0]["description"]
    latest = newest.splitlines()[0]
    assert latest.startswith("<t:") and "<@1111> **add**" in latest
    assert "@\u200beveryone \\*\\*read me\\*\\* \\<@123> \\_now\\_.txt → ok" in latest

    other = text_of((await run(h, "docs log", OTHER_MANAGER)).message)
    assert "other-secret.txt" in other and "read me" not in other and "<@3333>" not in other


async def test_log_shows_the_last_fifteen_entries(h: Harness) -> None:
    for n in range(20):
        h.bot.servers.record(OTHER_GUILD_ID, 4444, "add", f"file-{n:02d}.txt", "ok")
    log = await run(h, "docs log", OTHER_MANAGER)
    lines = log.message["embeds"][0]["description"].splitlines()
    assert len(lines) == 15
    assert "file-19.txt" in lines[0] and "file-05.txt" in lines[-1]


def test_the_document_list_shows_the_sources_within_discords_limits() -> None:
    from bot.discord.exts.docs.render import SOURCES_MORE, IndexState, render_document_list
    from bot.state.sources import Source

    def source(number: int, result: str) -> Source:
        url = f"https://docs{number}.example.com/" + "[x](y)*_" * 300
        return Source(number, "guild-1", url, number % 3 != 0, "daily", 1.7e9,
                      1.7e9 + number if result else None, result, "", None)

    many = [source(n, ("ok", "failed", "running", "")[n % 4]) for n in range(1, 61)]
    documents = [(f"site/page-{n}-" + "y" * 150 + ".html", 5_000) for n in range(300)]
    for page in (0, 3):
        embed = render_document_list(documents, IndexState(10, None), True, page, many).embed
        assert limit_problems({"embeds": [embed.to_dict()]}) == []
        (field,) = embed.fields
        assert field.name == "Sources" and field.value is not None
        assert field.value.startswith(
            "60 source(s): 40 crawled site(s), 20 single page(s). Last syncs: 15 failed, "
            "15 not synced yet, 15 ok, 15 running.")
        assert "… and " in field.value and field.value.endswith(SOURCES_MORE)
        assert "[x](y)" not in field.value  # addresses escaped
    assert render_document_list(documents, IndexState(10, None), True).embed.fields == []
    one = render_document_list([], IndexState(0, None), True, 0, many[:1]).embed
    assert "`1` site https://docs1.example.com/" in (one.fields[0].value or "")
