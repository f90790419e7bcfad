"""The state schema is kept by migrations: run on start and by `citebot db upgrade`, bringing a
state file of the previous release up to date without losing a row, and refusing a schema newer
than this citebot. On SQLite and PostgreSQL."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot.cli.main import main
from bot.state.answers import AnswerContext, AnswerStore
from bot.state.conversations import ConversationStore
from bot.state.database import StateError, _engine_url, is_url
from bot.state.feedback import FeedbackStore
from bot.state.schema import metadata
from bot.state.servers import ServerSettings, ServerStore
from bot.state.upgrade import MIGRATIONS, head
from index.query.conversation import Turn
from tests.bot.legacy_state import (
    ANSWER_KEY,
    AUDIT_TARGETS_NEWEST_FIRST,
    CHANNEL,
    GUILD,
    MESSAGE,
    USER,
    write_legacy_state,
)
from tests.servers.state import execute, is_sqlite, query

ROOT = Path(__file__).resolve().parents[2]
FUTURE = "9999_from_a_newer_citebot"


def tables(location) -> set[str]:
    engine = create_engine(_engine_url(location))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def use(location, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the command line at ``location``."""
    if is_url(location):
        monkeypatch.setenv("CITEBOT_DATABASE_URL", location)
        monkeypatch.setenv("CITEBOT_STATE_DB", str(tmp_path / "feedback.sqlite3"))
    else:
        monkeypatch.setenv("CITEBOT_STATE_DB", str(location))


def test_a_new_database_gets_the_whole_schema_on_start(state_url) -> None:
    ServerStore(state_url).close()
    assert query(state_url, "SELECT version_num FROM alembic_version") == [(head(),)]
    assert set(metadata.tables) <= tables(state_url)
    assert head() == "0008"


def test_a_state_file_of_the_previous_release_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    now = write_legacy_state(path)
    assert "alembic_version" not in tables(path)

    answers = AnswerStore(path)  # the first store opened migrates the file
    assert query(path, "SELECT version_num FROM alembic_version") == [(head(),)]
    assert answers.get(ANSWER_KEY) == AnswerContext(
        "old question?", 3, 0, ("a#1", "b#2"), True, f"guild:{GUILD}"
    )
    feedback = FeedbackStore(path)
    summary = feedback.summary()
    assert (summary.down, summary.recent_down[0][1]) == (1, "old question?")
    conversations = ConversationStore(path)
    assert conversations.by_message(MESSAGE) == (Turn("old question?", ("a#1",)),)
    assert conversations.latest(CHANNEL, USER) == (Turn("old question?", ("a#1",)),)
    servers = ServerStore(path, clock=lambda: now)
    assert servers.settings(GUILD) == ServerSettings(False, USER)
    assert [e.target for e in servers.recent(GUILD)] == AUDIT_TARGETS_NEWEST_FIRST
    assert servers.due_for_deletion(0) == [GUILD]
    servers.record(GUILD, USER, "remove", "fourth.pdf", "ok")  # same time: still newest first
    assert [e.target for e in servers.recent(GUILD)][:2] == ["fourth.pdf", "third.pdf"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for store in (answers, feedback, conversations, servers):
        store.close()


def test_a_state_file_from_before_the_other_stores_gains_their_tables(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    write_legacy_state(path)
    execute(path, "DROP TABLE answers")
    execute(path, "DROP TABLE audit_log")
    ServerStore(path).close()
    assert set(metadata.tables) <= tables(path)
    assert query(path, "SELECT COUNT(*) FROM votes") == [(1,)]


def test_db_upgrade_migrates_explicitly_then_has_nothing_to_do(
    state_url, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    if is_sqlite(state_url):
        write_legacy_state(state_url)
    use(state_url, monkeypatch, tmp_path)
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"upgraded from nothing to {head()}" in out
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"at {head()}." in out
    if is_url(state_url):
        password = state_url.split(":")[2].split("@")[0]
        assert password not in out and "***" in out
    else:
        assert query(state_url, "SELECT COUNT(*) FROM audit_log") == [(3,)]


def test_a_newer_schema_is_refused_with_the_remedy(
    state_url, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    store = ServerStore(state_url)
    store.record(GUILD, USER, "add", "kept.pdf", "ok")
    store.close()
    execute(state_url, "UPDATE alembic_version SET version_num = :v", v=FUTURE)
    with pytest.raises(StateError) as refused:
        ServerStore(state_url)
    message = str(refused.value)
    assert FUTURE in message and "newer citebot" in message and f"up to {head()}" in message
    assert "pip install -U citebot" in message
    use(state_url, monkeypatch, tmp_path)
    assert main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert "newer citebot" in err and "Traceback" not in err
    # nothing was touched
    assert query(state_url, "SELECT version_num FROM alembic_version") == [(FUTURE,)]
    assert query(state_url, "SELECT target FROM audit_log") == [("kept.pdf",)]


def test_the_migrations_ship_in_the_package() -> None:
    """Revisions are modules of packages (an __init__.py in each folder); the other files of
    the Alembic environment are package data."""
    assert (MIGRATIONS / "__init__.py").is_file()
    assert (MIGRATIONS / "versions" / "__init__.py").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = project["tool"]["setuptools"]["package-data"]["bot.state.migrations"]
    others = {p.name for p in MIGRATIONS.iterdir() if p.is_file() and p.suffix != ".py"}
    assert others == set(data)
    revisions = sorted(p.name for p in (MIGRATIONS / "versions").glob("0*.py"))
    assert revisions == [
        "0001_state_schema.py",
        "0002_audit_log_order.py",
        "0003_sources.py",
        "0004_question_log.py",
        "0005_source_exclusions.py",
        "0006_auto_answer.py",
        "0007_thread_sources.py",
        "0008_private_thread_sources.py",
    ]
