"""The Discord bot, driven through discord.py's real CommandTree on the real model and article.

Each test builds the bot with ``create_bot``, feeds it gateway payloads and asserts on the HTTP
payloads it would send (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from bot.core.builds import BuildOutcome
from bot.core.engine import Engine
from bot.discord.utils.render import FOOTER, limit_problems
from bot.discord.utils.replies import (
    BAD_QUESTION,
    EXPIRED,
    GENERIC_ERROR,
    INDEX_NOT_WRITTEN,
    INDEX_UNAVAILABLE,
    NO_DMS,
    NOT_HERE,
    OWNERS_ONLY,
    REBUILD_RUNNING,
    SOURCE_PROBLEM,
)
from bot.state.answers import AnswerStore
from index.answer import Answer, Citation, Passage
from index.backends.local_store import IndexWriteError
from index.errors import IndexCorruptError, QuestionError, SourceError
from tests.bot.conftest import (
    APP_ID,
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    OTHER_CHANNEL_ID,
    OWNER_ID,
    USER_ID,
    Call,
    Harness,
    application_payload,
    harness_for,
    make_settings,
    team_payload,
)
from tests.servers.state import query

FOUND = "What did Kim Jong Un and Xi Jinping exchange?"
NOT_FOUND = "What is the recipe for chocolate cake?"
EPHEMERAL = 64
NO_MENTIONS = {"parse": []}


def defer_of(calls: list[Call]) -> Call:
    first = calls[0]
    assert first.is_callback and first.response_type == 5, first
    return first


def followup_of(calls: list[Call]) -> Call:
    followups = [call for call in calls if call.is_followup]
    assert len(followups) == 1, calls
    return followups[0]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for row in message.get("components", []) for item in row["components"]]


def custom_id(message: dict[str, Any], prefix: str) -> str:
    return next(b["custom_id"] for b in buttons(message) if b["custom_id"].startswith(prefix))


def sent_message(call: Call) -> dict[str, Any]:
    """The message as Discord would return it (what a later button click carries)."""
    from tests.bot.conftest import message_data

    return message_data(call.message)


def assert_safe(call: Call) -> None:
    """Every message: no mentions allowed, and within Discord's limits."""
    assert call.message.get("allowed_mentions") == NO_MENTIONS, call
    assert limit_problems(call.message) == []


class Wrapped:
    """The real engine with one method swapped (to reach error paths or odd answers)."""

    def __init__(self, engine: Engine, **overrides: Any) -> None:
        self._engine = engine
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._engine, name)


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path)


@pytest.fixture
async def harness(settings, engine):
    async with harness_for(settings, engine) as h:
        yield h


# ----- /ask ---------------------------------------------------------------------------------------


async def test_ask_defers_then_answers_with_cited_highlighted_passages(harness: Harness) -> None:
    token = harness.slash("ask", question=FOUND, k=3)
    calls = await harness.finished(token)
    assert len(calls) == 2
    defer = defer_of(calls)
    assert not defer.ephemeral
    answer = followup_of(calls)
    assert_safe(answer)
    message = answer.message
    assert not answer.ephemeral
    assert message["content"].startswith("**Q:** What did Kim Jong Un and Xi Jinping exchange?")
    assert "Not in the source" not in message["content"]
    embeds = message["embeds"]
    assert len(embeds) == 3
    for rank, embed in enumerate(embeds, start=1):
        assert embed["title"].startswith(f"{rank}. north-korea-allied-coordination.txt › ")
        assert "¶" in embed["title"]
        assert embed["description"].startswith("> ")
        assert "**" in embed["description"]  # the best sentence in bold
        assert re.match(r"Score -?\d+\.\d\d · similarity 0\.\d\d", embed["footer"]["text"])
    assert FOOTER in embeds[-1]["footer"]["text"]
    assert (
        "**North Korean leader Kim Jong Un and Chinese President Xi Jinping exchanged"
        in (embeds[0]["description"])
    )
    labels = [b.get("label") or b["emoji"]["name"] for b in buttons(message)]
    assert labels == ["More", "👍", "👎", "Ask a follow-up"]


async def test_private_ask_is_ephemeral_throughout(harness: Harness) -> None:
    token = harness.slash("ask", question=FOUND, private=True)
    calls = await harness.finished(token)
    assert defer_of(calls).ephemeral
    assert followup_of(calls).ephemeral


async def test_default_k_comes_from_settings(tmp_path: Path, engine: Engine) -> None:
    async with harness_for(make_settings(tmp_path, top_k=2), engine) as h:
        calls = await h.finished(h.slash("ask", question=FOUND))
    assert len(followup_of(calls).message["embeds"]) == 2


async def test_not_in_the_source_is_said_plainly(harness: Harness) -> None:
    calls = await harness.finished(harness.slash("ask", question=NOT_FOUND))
    message = followup_of(calls).message
    assert "**Not in the source.**" in message["content"]
    labels = [b.get("label") or b["emoji"]["name"] for b in buttons(message)]
    assert "More" not in labels  # more low-confidence passages would not help


async def test_question_is_echoed_literally_and_nothing_pings(harness: Harness) -> None:
    question = "@everyone <@123> **bold** `tick` what about Xi Jinping?"
    calls = await harness.finished(harness.slash("ask", question=question))
    answer = followup_of(calls)
    assert_safe(answer)
    content = answer.message["content"]
    assert "@\u200beveryone" in content
    assert "\\<@123>" in content
    assert "\\*\\*bold\\*\\*" in content and "\\`tick\\`" in content


async def test_command_definitions(harness: Harness) -> None:
    tree = harness.bot.tree
    ask = tree.get_command("ask").to_dict(tree)  # type: ignore[union-attr]
    options = {o["name"]: o for o in ask["options"]}
    assert options["question"]["required"] is True
    assert (options["question"]["min_length"], options["question"]["max_length"]) == (1, 500)
    assert (options["k"]["min_value"], options["k"]["max_value"]) == (1, 5)
    assert options["private"]["type"] == 5
    reindex = tree.get_command("reindex").to_dict(tree)  # type: ignore[union-attr]
    assert reindex["default_member_permissions"] == 0  # shown to server administrators only
    assert reindex["contexts"] == [0]  # servers only
    assert {c.name for c in tree.get_commands()} == {
        "ask", "sources", "reindex", "docs", "help", "privacy"
    }
    docs = tree.get_command("docs").to_dict(tree)  # type: ignore[union-attr]
    assert docs["contexts"] == [0]  # servers only: a DM has no documents to manage
    assert docs["default_member_permissions"] is None  # managers are checked per server
    assert {option["name"] for option in docs["options"]} == {
        "add", "remove", "reindex", "list", "settings", "log", "sync", "sources", "stats",
        "gaps",
    }


async def test_start_up_syncs_to_configured_guilds_only(harness: Harness) -> None:
    await harness.bot.setup_hook()
    routes = [call["route"] for call in harness.channel_calls]
    assert routes == ["PUT /applications/{application_id}/guilds/{guild_id}/commands"]
    put = harness.channel_calls[0]["json"]
    assert {command["name"] for command in put} == {
        "ask", "sources", "reindex", "docs", "help", "privacy"
    }
    assert str(GUILD_ID) in harness.recorder.calls[-1].url


# ----- buttons ------------------------------------------------------------------------------------


async def test_more_gives_the_next_k_passages(harness: Harness) -> None:
    first = followup_of(await harness.finished(harness.slash("ask", question=FOUND, k=2)))
    token = harness.click(sent_message(first), custom_id(first.message, "citebot:more:"))
    calls = await harness.finished(token)
    assert defer_of(calls)
    more = followup_of(calls)
    assert_safe(more)
    titles = [embed["title"] for embed in more.message["embeds"]]
    assert [t.split(".")[0] for t in titles] == ["3", "4"]
    first_ids = set(shown(harness, first.message))
    more_ids = set(shown(harness, more.message))
    assert len(more_ids) == 2 and first_ids.isdisjoint(more_ids)
    assert "citebot:more:" in str(more.message["components"])  # and still More after that


async def test_votes_are_stored_with_a_salted_hash(harness: Harness, settings) -> None:
    first = followup_of(await harness.finished(harness.slash("ask", question=FOUND, k=2)))
    message = sent_message(first)
    token = harness.click(message, _vote_id(first.message, "up"))
    calls = await harness.finished(token, 1)
    assert calls[0].response_type == 4 and calls[0].ephemeral
    assert "👍" in calls[0].message["content"]
    voter = USER_ID + 7
    token = harness.click(message, _vote_id(first.message, "down"), who={"user_id": voter})
    await harness.finished(token, 1)
    with closing(sqlite3.connect(settings.state_db)) as connection:
        rows = connection.execute("SELECT question, passage_ids, vote, user_hash FROM votes")
        rows = rows.fetchall()
    assert sorted(row[2] for row in rows) == [-1, 1]
    assert all(row[0] == FOUND and len(json.loads(row[1])) == 2 for row in rows), rows
    assert str(USER_ID) not in settings.state_db.read_bytes().decode("latin-1")
    assert {row[3] for row in rows} == {
        harness.bot.feedback.hash_user(USER_ID),
        harness.bot.feedback.hash_user(voter),
    }


def shown(harness: Harness, message: dict[str, Any]) -> tuple[str, ...]:
    """The passage ids an answer message showed (from the context its buttons point at)."""
    key = custom_id(message, "citebot:vote:").split(":")[2]
    context = harness.bot.answers.get(key)
    assert context is not None
    return context.passage_ids


def _vote_id(message: dict[str, Any], which: str) -> str:
    return next(b["custom_id"] for b in buttons(message) if b["custom_id"].endswith(f":{which}"))


async def test_buttons_of_an_answer_past_retention_say_so(harness: Harness, settings) -> None:
    first = followup_of(await harness.finished(harness.slash("ask", question=FOUND)))
    past_retention = time.time() + (settings.feedback_retention_days + 1) * 86_400
    harness.bot.answers.close()
    harness.bot.answers = AnswerStore(
        settings.state_db, settings.feedback_retention_days, clock=lambda: past_retention
    )
    token = harness.click(sent_message(first), _vote_id(first.message, "up"))
    calls = await harness.finished(token, 1)
    assert calls[0].message["content"] == EXPIRED and calls[0].ephemeral


async def test_buttons_keep_working_after_a_restart(state_url, tmp_path, engine) -> None:
    """More and votes on an answer sent before a restart (a new bot on the same state: the
    SQLite file, or PostgreSQL)."""
    if isinstance(state_url, Path):
        settings = make_settings(tmp_path, state_db=state_url)
    else:
        settings = make_settings(tmp_path, database_url=state_url)
    async with harness_for(settings, engine) as before:
        first = followup_of(await before.finished(before.slash("ask", question=FOUND, k=2)))
    async with harness_for(settings, engine) as after:
        message = sent_message(first)
        more = followup_of(
            await after.finished(after.click(message, custom_id(first.message, "citebot:more:")))
        )
        assert [e["title"].split(".")[0] for e in more.message["embeds"]] == ["3", "4"]
        calls = await after.finished(after.click(message, _vote_id(first.message, "up")), 1)
        assert "👍" in calls[0].message["content"]
    assert query(state_url, "SELECT question, vote FROM votes") == [(FOUND, 1)]


# ----- policy -------------------------------------------------------------------------------------


async def test_cooldown_refuses_with_a_short_ephemeral_message(tmp_path, engine) -> None:
    settings = make_settings(tmp_path, discord_cooldown_questions=2, discord_cooldown_seconds=60)
    async with harness_for(settings, engine) as h:
        for _ in range(2):
            await h.finished(h.slash("ask", question=FOUND))
        calls = await h.finished(h.slash("ask", question=FOUND), 1)
        assert len(calls) == 1
        refusal = calls[0]
        assert refusal.response_type == 4 and refusal.ephemeral
        assert refusal.message["content"].startswith("Slow down: you can ask 2 question(s) every")
        assert refusal.message["allowed_mentions"] == NO_MENTIONS
        # another user is not affected
        other = await h.finished(h.slash("ask", question=FOUND, who={"user_id": USER_ID + 1}))
        assert followup_of(other)


async def test_channel_allow_list(tmp_path, engine) -> None:
    settings = make_settings(tmp_path, discord_allowed_channels=[CHANNEL_ID])
    async with harness_for(settings, engine) as h:
        ok = await h.finished(h.slash("ask", question=FOUND))
        assert followup_of(ok)
        token = h.slash("ask", question=FOUND, who={"channel_id": OTHER_CHANNEL_ID})
        calls = await h.finished(token, 1)
        assert len(calls) == 1 and calls[0].ephemeral
        assert calls[0].message["content"] == NOT_HERE


async def test_dms_on_and_off(tmp_path, engine) -> None:
    async with harness_for(make_settings(tmp_path, discord_allow_dms=True), engine) as h:
        calls = await h.finished(h.slash("ask", question=FOUND, who={"dm": True}))
        assert followup_of(calls)
    async with harness_for(make_settings(tmp_path, discord_allow_dms=False), engine) as h:
        calls = await h.finished(h.slash("ask", question=FOUND, who={"dm": True}), 1)
        assert calls[0].message["content"] == NO_DMS and calls[0].ephemeral
        assert h.bot.tree.get_command("ask").allowed_contexts.dm_channel is False  # type: ignore


# ----- errors -------------------------------------------------------------------------------------


async def test_unexpected_error_is_generic_for_the_user_and_logged(
    tmp_path, engine, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("secret internals /srv/citebot")

    caplog.set_level(logging.ERROR, logger="citebot.discord")
    async with harness_for(make_settings(tmp_path), Wrapped(engine, search=explode)) as h:
        calls = await h.finished(h.slash("ask", question=FOUND))
    reply = followup_of(calls)
    assert reply.message["content"] == GENERIC_ERROR
    assert reply.message["allowed_mentions"] == NO_MENTIONS
    assert all("secret internals" not in str(call.payload) for call in calls)
    record = next(r for r in caplog.records if r.exc_info)
    assert "secret internals" in caplog.text and "Traceback" in caplog.text
    assert record.name == "citebot.discord"


async def test_engine_errors_get_a_fixed_message_never_their_text(tmp_path, engine) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Answer:
        raise QuestionError("the question is empty: type a question")

    def broken(*args: Any, **kwargs: Any) -> Answer:
        raise IndexCorruptError("index at /srv/secret/path is damaged: run `citebot build`")

    async with harness_for(make_settings(tmp_path), Wrapped(engine, search=refuse)) as h:
        calls = await h.finished(h.slash("ask", question="   "), 1)
        assert calls[0].response_type == 4 and calls[0].ephemeral  # refused before deferring
        calls = await h.finished(h.slash("ask", question="x"))
    assert followup_of(calls).message["content"] == BAD_QUESTION
    async with harness_for(make_settings(tmp_path), Wrapped(engine, search=broken)) as h:
        calls = await h.finished(h.slash("ask", question="x"))
    content = followup_of(calls).message["content"]
    assert content == INDEX_UNAVAILABLE and "/srv/secret" not in str(calls)


async def test_huge_passages_never_break_discords_limits(tmp_path, engine) -> None:
    text = ("word " * 1000)[:5000]
    passages = tuple(
        Passage(f"d#{i}", text, Citation("d.md", "S " * 200, i, 0, 5000), 0.9, (100, 400))
        for i in range(10)
    )

    def huge(question: str, k: int | None = None, offset: int = 0) -> Answer:
        return Answer(question, passages)

    async with harness_for(make_settings(tmp_path), Wrapped(engine, search=huge)) as h:
        calls = await h.finished(h.slash("ask", question="x" * 500, k=5))
    answer = followup_of(calls)
    assert_safe(answer)
    assert len(answer.message["embeds"]) == 10
    assert all("shortened" in e["description"] for e in answer.message["embeds"])


async def test_citation_of_a_document_with_an_address_is_a_link(tmp_path) -> None:
    from tests.index.formats.pdf_fixtures import write_article_pdf

    sources = tmp_path / "sources"
    sources.mkdir()
    write_article_pdf(sources / "report.pdf")
    (sources / "sources.toml").write_text(
        '[files]\n"report.pdf" = "https://example.org/files/report.pdf"\n', encoding="utf-8"
    )
    settings = make_settings(tmp_path, source_dir=sources, index_dir=tmp_path / "pdf-index")
    pdf_engine = Engine(settings)
    pdf_engine.load()
    async with harness_for(settings, pdf_engine) as h:
        calls = await h.finished(h.slash("ask", question="Which Russian official visited Seoul?"))
    answer = followup_of(calls)
    assert_safe(answer)
    first = answer.message["embeds"][0]
    assert first["title"].startswith("1. report.pdf › China and Russia are additional "
                                      "complications › p. 2 › ¶")
    assert first["url"] == "https://example.org/files/report.pdf#page=2"
    assert "Sergei Lavrov" in first["description"]


# ----- /sources and /reindex ----------------------------------------------------------------------


async def test_sources_lists_documents(harness: Harness) -> None:
    calls = await harness.finished(harness.slash("sources"))
    assert defer_of(calls).ephemeral
    reply = followup_of(calls)
    assert_safe(reply)
    embed = reply.message["embeds"][0]
    assert "Index built <t:" in embed["description"]
    field = embed["fields"][0]
    assert field["name"] == "north-korea-allied-coordination.txt"
    assert field["value"].startswith("20 chunk(s) · sections: ")
    assert "China and Russia are additional complications" in field["value"]


OWNER = {"user_id": OWNER_ID}
ADMINISTRATOR = 1 << 3


def _rebuild_attempts(
    harness: Harness,
    kind: str = "SourceError",
    message: str = "no .txt or .md files in source_docs: add some",
) -> list[int]:
    """Make the build queue record each build asked of it, which ends at once as one failing
    with ``kind`` and ``message`` would (a child's error kind is its exception's name)."""
    attempts: list[int] = []

    def submit(key: str, settings: Any, on_progress: Any = None, collection: Any = None) -> Any:
        attempts.append(1)
        done = asyncio.get_running_loop().create_future()
        done.set_result(BuildOutcome(error_kind=kind, message=message))
        return done

    harness.bot.builds.submit = submit  # type: ignore[method-assign]
    return attempts


def rebuilding(bot: Any) -> bool:
    """Whether a /reindex is queued or running."""
    return bool(bot.get_cog("Reindex").running.locked())


async def test_reindex_is_refused_to_server_admins_who_are_not_owners(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="citebot.discord")
    attempts = _rebuild_attempts(harness)
    admin = {"permissions": MEMBER_PERMISSIONS | MANAGE_GUILD | ADMINISTRATOR}
    calls = await harness.finished(harness.slash("reindex", who=admin), 1)
    assert len(calls) == 1 and calls[0].response_type == 4 and calls[0].ephemeral
    assert calls[0].message["content"] == OWNERS_ONLY
    assert attempts == []
    assert f"user {USER_ID} in server {GUILD_ID} is not an owner" in caplog.text
    calls = await harness.finished(harness.slash("reindex", who=OWNER))
    assert followup_of(calls).message["content"] == SOURCE_PROBLEM
    assert attempts == [1]
    assert f"/reindex run by owner {OWNER_ID} in server {GUILD_ID}" in caplog.text


async def test_reindex_owners_are_the_team_and_the_setting_asked_once(
    tmp_path: Path, engine: Engine
) -> None:
    extra = USER_ID + 50
    admin, developer, read_only, team_owner = (USER_ID + n for n in (1, 2, 3, 4))
    roles = {admin: "admin", developer: "developer", read_only: "read_only"}
    async with harness_for(make_settings(tmp_path, owner_ids=[extra]), engine) as h:
        h.application = application_payload(team=team_payload(team_owner, roles))
        attempts = _rebuild_attempts(h)
        for user in (admin, developer, team_owner, extra, read_only, OWNER_ID):
            await h.finished(h.slash("reindex", who={"user_id": user}), 1)
            await h.recorder.wait_for(lambda: not rebuilding(h.bot))
        asked = [c for c in h.recorder.calls if c.path == "/oauth2/applications/@me"]
    # The application's owner field is ignored when a team owns it; read-only members are not
    # owners; Discord is asked once.
    assert len(attempts) == 4
    assert len(asked) == 1


async def test_reindex_rebuilds_while_questions_are_answered(
    tmp_path: Path, own_engine: Engine
) -> None:
    """/reindex builds in a child process through the build queue (as /docs does); the bot
    answers from the old index meanwhile and serves the new one as soon as it is live."""
    sources = Path(own_engine.settings.source_dir)
    (sources / "tea.md").write_text(
        "# Tea\n\nGreen tea leaves are steamed or pan-fired soon after picking to stop "
        "oxidation.\n\nOolong tea is partly oxidised before it is rolled and dried.\n",
        encoding="utf-8",
    )
    tea = "How are green tea leaves processed after picking?"
    gate = tmp_path / "go"
    held = tmp_path / "held-python"  # the build child's interpreter, held until ``gate`` exists
    held.write_text(
        f"#!/bin/sh\nwhile [ ! -e '{gate}' ]; do sleep 0.05; done\nexec '{sys.executable}' \"$@\"\n"
    )
    held.chmod(0o755)
    admin = OWNER
    async with harness_for(make_settings(tmp_path), own_engine) as h:
        h.bot.builds.python = str(held)
        token = h.slash("reindex", who=admin)
        await h.recorder.wait_for(lambda: len(h.recorder.for_token(token)) >= 1)
        assert defer_of(h.recorder.for_token(token)).ephemeral
        busy = await h.finished(h.slash("reindex", who=admin), 1)
        # While the rebuild is held, questions are answered from the old index.
        asks = [h.slash("ask", question=tea, who={"user_id": USER_ID + i}) for i in range(5)]
        during = [followup_of(await h.finished(t)) for t in asks]
        assert h.bot.builds.depth == 1  # the rebuild runs in its child, not in the bot
        assert not any(c.is_followup for c in h.recorder.for_token(token))  # not reported yet
        gate.touch()
        await h.recorder.wait_for(lambda: not rebuilding(h.bot), timeout=300)
        calls = h.recorder.for_token(token)
        after = followup_of(await h.finished(h.slash("ask", question=tea, k=1)))
    assert busy[0].message["content"] == REBUILD_RUNNING and busy[0].ephemeral
    for answer in during:
        assert "Not in the source" in answer.message["content"]
        assert all("tea.md" not in e["title"] for e in answer.message["embeds"])
    report = followup_of(calls)
    assert report.ephemeral
    assert report.message["content"].startswith("Rebuilt the index: 2 document(s), ")
    assert after.message["embeds"][0]["title"].startswith("1. tea.md")
    assert "Not in the source" not in after.message["content"]


async def test_reindex_with_a_skipped_file_reports_success(
    tmp_path: Path, own_engine: Engine
) -> None:
    sources = Path(own_engine.settings.source_dir)
    (sources / "empty_notes.md").write_text("", encoding="utf-8")
    async with harness_for(make_settings(tmp_path), own_engine) as h:
        calls = await h.finished(h.slash("reindex", who=OWNER), timeout=300)
    content = followup_of(calls).message["content"]
    assert content.startswith("Rebuilt the index: 1 document(s), ")
    assert "Skipped 1 file(s):\n- empty\\_notes.md: has no text" in content


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (SourceError("no .txt or .md files in source_docs: add some"), SOURCE_PROBLEM),
        (
            IndexWriteError("no space left on /srv/source_docs/.citebot: free some"),
            INDEX_NOT_WRITTEN,
        ),
    ],
)
async def test_reindex_failure_is_reported_to_the_admin(
    harness: Harness, error: Exception, expected: str
) -> None:
    attempts = _rebuild_attempts(harness, type(error).__name__, str(error))
    calls = await harness.finished(harness.slash("reindex", who=OWNER))
    reply = followup_of(calls)
    assert reply.message["content"] == expected
    assert "source_docs" not in str(calls) and "source\\_docs" not in str(calls)
    assert attempts == [1] and not rebuilding(harness.bot)


async def test_a_real_build_that_fails_is_reported_and_the_old_index_answers(
    tmp_path: Path, own_engine: Engine
) -> None:
    """No stand-in: the child finds no usable document and fails; the admin gets the fixed
    text, and questions are still answered from the index before."""
    sources = Path(own_engine.settings.source_dir)
    for path in sources.iterdir():
        path.unlink()
    (sources / "empty.md").write_text("", encoding="utf-8")
    async with harness_for(make_settings(tmp_path), own_engine) as h:
        calls = await h.finished(h.slash("reindex", who=OWNER), timeout=300)
        answer = followup_of(await h.finished(h.slash("ask", question=FOUND)))
    assert followup_of(calls).message["content"] == SOURCE_PROBLEM
    assert "Not in the source" not in answer.message["content"]


# ----- mentions -----------------------------------------------------------------------------------


async def test_mention_is_answered_with_a_reply_that_pings_nobody(harness: Harness) -> None:
    posted = harness.post_message(f"<@{APP_ID}> {FOUND} @everyone")
    sends = await harness.channel_sends()
    assert [s["route"] for s in sends] == ["POST /channels/{channel_id}/messages"]
    body = sends[0]["json"]
    assert body["allowed_mentions"]["parse"] == []
    assert body["allowed_mentions"].get("replied_user", False) is False  # Discord's default: off
    assert str(body["message_reference"]["message_id"]) == posted["id"]
    assert body["message_reference"]["fail_if_not_exists"] is False
    assert f"<@{APP_ID}>" not in body["content"] and "@\u200beveryone" in body["content"]
    assert body["embeds"] and "**" in body["embeds"][0]["description"]
    assert limit_problems(body) == []
    assert "citebot:vote:" in str(body["components"])


async def test_messages_without_a_mention_or_from_bots_are_ignored(harness: Harness) -> None:
    harness.post_message(FOUND, mention_bot=False)
    harness.post_message(f"<@{APP_ID}> {FOUND}", author_id=APP_ID)
    harness.post_message(f"<@{APP_ID}> {FOUND}", channel_id=CHANNEL_ID, author_id=APP_ID)
    await asyncio.sleep(0.5)
    assert harness.channel_calls == []


async def test_mentions_outside_the_allow_list_are_ignored(tmp_path, engine) -> None:
    settings = make_settings(tmp_path, discord_allowed_channels=[CHANNEL_ID])
    async with harness_for(settings, engine) as h:
        h.post_message(f"<@{APP_ID}> {FOUND}", channel_id=OTHER_CHANNEL_ID)
        await asyncio.sleep(0.5)
        assert h.channel_calls == []
        h.post_message(f"<@{APP_ID}> {FOUND}", channel_id=CHANNEL_ID)
        assert len(await h.channel_sends()) == 1


async def test_empty_mention_gets_help(harness: Harness) -> None:
    harness.post_message(f"<@{APP_ID}>")
    sends = await harness.channel_sends()
    assert "/ask" in sends[0]["json"]["content"]


# ----- load ---------------------------------------------------------------------------------------


async def test_fifty_concurrent_asks_are_each_deferred_before_their_search_starts(
    tmp_path: Path, engine: Engine
) -> None:
    """Order, not time: each /ask is acknowledged before its search begins (latency figures
    belong to benchmarks/latency.py). The load caps are raised so all 50 are taken."""
    settings = make_settings(tmp_path, discord_max_queued_per_server=50)
    async with harness_for(settings, engine) as harness:
        await _fifty_concurrent_asks(harness)


async def _fifty_concurrent_asks(harness: Harness) -> None:
    engine = harness.bot.engine
    calls_at_search_start: dict[str, int] = {}

    def search(question: str, k: int | None = None, offset: int = 0) -> Answer:
        calls_at_search_start[question] = len(harness.recorder.calls)
        return engine.search(question, k=k, offset=offset)

    harness.bot.engine = Wrapped(engine, search=search)
    questions = [FOUND, NOT_FOUND, "Who leads North Korea?", "sanctions relief"]
    asked = {
        harness.slash("ask", question=f"{questions[i % 4]} ({i})", who={"user_id": USER_ID + i}): (
            f"{questions[i % 4]} ({i})"
        )
        for i in range(50)
    }
    await harness.recorder.wait_for(
        lambda: all(len(harness.recorder.for_token(t)) >= 2 for t in asked), timeout=120
    )
    for token, question in asked.items():
        calls = harness.recorder.for_token(token)
        assert len(calls) == 2
        defer = harness.recorder.calls.index(defer_of(calls))
        assert defer < calls_at_search_start[question], question
        assert_safe(followup_of(calls))


# ----- the question log ---------------------------------------------------------------------------


async def test_questions_asked_in_a_server_are_logged_for_its_admins(harness: Harness) -> None:
    found = followup_of(await harness.finished(harness.slash("ask", question=FOUND, k=2)))
    await harness.finished(harness.slash("ask", question=NOT_FOUND))
    rows = harness.bot.questions.questions(GUILD_ID, with_vectors=True)
    assert [(r.question, r.found) for r in rows] == [(FOUND, True), (NOT_FOUND, False)]
    assert rows[0].passage_ids == shown(harness, found.message)
    assert rows[0].answer_key == custom_id(found.message, "citebot:vote:").split(":")[2]
    assert all(r.vector is not None and len(r.vector) == 384 for r in rows)
    assert rows[0].collection == "default"


async def test_a_server_with_its_log_off_logs_nothing(harness: Harness) -> None:
    harness.bot.servers.update_settings(GUILD_ID, log_questions=False)
    await harness.finished(harness.slash("ask", question=FOUND))
    assert harness.bot.questions.count(None) == 0


async def test_a_thumbs_down_asks_why_and_keeps_the_reason(harness: Harness) -> None:
    first = followup_of(await harness.finished(harness.slash("ask", question=NOT_FOUND, k=2)))
    message = sent_message(first)
    voter = {"user_id": USER_ID + 3}
    token = harness.click(message, _vote_id(first.message, "down"), voter)
    calls = await harness.finished(token, 1)
    assert calls[0].response_type == 9  # the reason form
    form = calls[0].payload["data"]
    key = custom_id(first.message, "citebot:vote:").split(":")[2]
    assert form["custom_id"] == f"citebot:reason:{key}"
    options = form["components"][0]["component"]["options"]
    assert [o["value"] for o in options] == ["wrong_passage", "outdated", "not_in_docs", "other"]
    assert form["components"][1]["component"]["required"] is False
    rows = harness.bot.questions.questions(GUILD_ID)
    assert rows[0].down == 1 and rows[0].votes[0].reason == ""  # the 👎 counts at once

    words = "@everyone the **ferry** page\nis gone"
    token = harness.submit_form(
        f"citebot:reason:{key}", {"reason": ["not_in_docs"], "words": words}, voter
    )
    reply = (await harness.finished(token, 1))[0]
    assert reply.ephemeral and "reason" in reply.message["content"]
    vote = harness.bot.questions.questions(GUILD_ID)[0].votes[0]
    assert (vote.reason, vote.text) == ("not_in_docs", "@everyone the **ferry** page is gone")


async def test_a_reason_without_a_thumbs_down_saves_nothing(harness: Harness) -> None:
    first = followup_of(await harness.finished(harness.slash("ask", question=FOUND, k=2)))
    message = sent_message(first)
    await harness.finished(harness.click(message, _vote_id(first.message, "down")), 1)
    key = custom_id(first.message, "citebot:vote:").split(":")[2]
    await harness.finished(harness.click(message, _vote_id(first.message, "up")), 1)  # changed
    token = harness.submit_form(f"citebot:reason:{key}", {"reason": ["outdated"], "words": ""})
    reply = (await harness.finished(token, 1))[0]
    assert "no longer there" in reply.message["content"]
    assert harness.bot.questions.questions(GUILD_ID)[0].votes[0].reason == ""
