"""Several processes on one state database, and what only PostgreSQL has: processes starting
together migrate once (both engines), share votes and audit entries, a database that goes down
is reported with the remedy and recovered from, and `citebot db migrate-from-sqlite` copies an
existing state file in."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.state.answers import AnswerContext, AnswerStore
from bot.state.conversations import ConversationStore
from bot.state.database import StateError
from bot.state.feedback import DOWN, UP, FeedbackStore
from bot.state.schema import metadata
from bot.state.servers import ServerSettings, ServerStore
from bot.state.upgrade import head, open_database
from index.query.conversation import Turn
from tests.bot.legacy_state import (
    ANSWER_KEY,
    AUDIT_TARGETS_NEWEST_FIRST,
    GUILD,
    MESSAGE,
    USER,
    write_legacy_state,
)
from tests.servers.postgres import PostgresCluster
from tests.servers.state import query

ROOT = Path(__file__).resolve().parents[2]

OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from bot.state.feedback import DOWN, FeedbackStore
    from bot.state.servers import ServerStore

    url, key = sys.argv[1], Path(sys.argv[2])
    feedback, servers = FeedbackStore(url, key_path=key), ServerStore(url)
    for n in range(20):
        feedback.record(answer_key=f"other-{n}", question="q?", passage_ids=["o#1"], vote=DOWN,
                        user_id=n)
        servers.record(GUILD, 2, "add", f"other-{n}.pdf", "ok")
    # the same user on the same answer as the first process: replaces that vote
    feedback.record(answer_key="shared", question="q?", passage_ids=["s#1"], vote=DOWN,
                    user_id=USER)
    print(feedback.summary().total, len(servers.recent(GUILD, 1000)))
    """
).replace("GUILD", str(GUILD)).replace("USER", str(USER))


def password_of(url: str) -> str:
    return url.split(":")[2].split("@")[0]


def other_process(url: str, key: Path) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, url, str(key)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=key.parent,
    )


def test_two_processes_on_one_database_see_each_others_votes_and_audit_entries(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = postgres_cluster.new_database()
    key = tmp_path / "feedback.sqlite3.key"  # one key file for every process
    feedback, servers = FeedbackStore(url, key_path=key), ServerStore(url)
    feedback.record(answer_key="shared", question="q?", passage_ids=["s#1"], vote=UP, user_id=USER)
    other = other_process(url, key)  # writes while this process writes too
    for n in range(20):
        feedback.record(
            answer_key=f"this-{n}", question="q?", passage_ids=["t#1"], vote=UP, user_id=n
        )
        servers.record(GUILD, 1, "add", f"this-{n}.pdf", "ok")
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    assert int(out.split()[1]) >= 20 and int(out.split()[0]) >= 21  # its own at least
    summary = feedback.summary()
    assert (summary.up, summary.down) == (20, 21)  # "shared" counts once: the other's 👎
    targets = {entry.target for entry in servers.recent(GUILD, 1000)}
    assert targets == {f"{who}-{n}.pdf" for who in ("this", "other") for n in range(20)}
    again = other_process(url, key)  # a later process reads what both wrote
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert out.split() == ["41", "60"]  # its 20 votes again replace themselves; entries add up
    feedback.close()
    servers.close()


STARTING_TOGETHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bot.state.servers import ServerStore
    Path(sys.argv[2]).touch()  # imported: ready
    while not Path(sys.argv[3]).exists():
        time.sleep(0.001)
    store = ServerStore(sys.argv[1])
    store.record(1, 2, "add", "x", "ok")
    store.close()
    """
)


@pytest.mark.parametrize("attempt", range(3))  # without the lock, most attempts collide
def test_processes_starting_together_on_a_new_database_migrate_it_once(
    state_url, tmp_path: Path, attempt: int
) -> None:
    """On PostgreSQL an advisory lock, on SQLite the write lock, makes one of them migrate."""
    url = str(state_url)
    go = tmp_path / "go"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    ready = [tmp_path / f"ready-{n}" for n in range(4)]
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", STARTING_TOGETHER, url, str(flag), str(go)],
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # all four open the new database at the same moment
    for process in starting:
        assert process.wait(timeout=120) == 0, process.stderr.read()  # type: ignore[union-attr]
    assert query(url, "SELECT version_num FROM alembic_version") == [(head(),)]
    assert query(url, "SELECT COUNT(*) FROM audit_log") == [(4,)]


def test_a_database_that_is_down_is_reported_with_the_remedy_and_recovered_from(
    postgres_cluster: PostgresCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    url = postgres_cluster.new_database()
    servers = ServerStore(url)
    servers.record(GUILD, USER, "add", "before.pdf", "ok")
    postgres_cluster.stop()
    try:
        with pytest.raises(StateError) as down:
            servers.recent(GUILD)
        message = str(down.value)
        assert "cannot reach the state database" in message
        assert "check that PostgreSQL is running and CITEBOT_DATABASE_URL is right" in message
        assert password_of(url) not in message and "***" in message
        with pytest.raises(StateError, match="cannot reach"):
            ConversationStore(url)  # a process starting now
        monkeypatch.setenv("CITEBOT_DATABASE_URL", url)
        monkeypatch.setenv("CITEBOT_STATE_DB", str(tmp_path / "feedback.sqlite3"))
        assert main(["feedback"]) == 1
        assert main(["db", "upgrade"]) == 1
        err = capsys.readouterr().err
        assert err.count("cannot reach the state database") == 2
        assert "Traceback" not in err and password_of(url) not in err
    finally:
        postgres_cluster.start()
    servers.record(GUILD, USER, "add", "after.pdf", "ok")  # the same store reconnects
    assert [entry.target for entry in servers.recent(GUILD)] == ["after.pdf", "before.pdf"]
    servers.close()


def test_migrate_from_sqlite_copies_every_table_and_leaves_the_file_as_it_was(
    postgres_cluster: PostgresCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    source = tmp_path / "feedback.sqlite3"
    now = write_legacy_state(source)
    before = source.read_bytes()
    url = postgres_cluster.new_database()
    monkeypatch.setenv("CITEBOT_DATABASE_URL", url)
    monkeypatch.setenv("CITEBOT_STATE_DB", str(source))
    assert main(["db", "migrate-from-sqlite", str(source)]) == 0
    out = capsys.readouterr().out
    assert "1 votes" in out and "3 audit_log" in out and f"{source}.key" in out
    assert password_of(url) not in out
    assert source.read_bytes() == before  # a copy of the file was upgraded, not the file

    snapshot = tmp_path / "upgraded.sqlite3"
    snapshot.write_bytes(before)
    open_database(snapshot).close()  # the same rows at the current schema, to compare with
    for table in metadata.sorted_tables:
        order = ", ".join(column.name for column in table.primary_key.columns)
        columns = ", ".join(column.name for column in table.columns)
        sql = f"SELECT {columns} FROM {table.name} ORDER BY {order}"
        assert query(url, sql) == query(snapshot, sql), table.name

    answers, servers = AnswerStore(url), ServerStore(url, clock=lambda: now)
    assert answers.get(ANSWER_KEY) == AnswerContext(
        "old question?", 3, 0, ("a#1", "b#2"), True, f"guild:{GUILD}"
    )
    assert ConversationStore(url).by_message(MESSAGE) == (Turn("old question?", ("a#1",)),)
    assert servers.settings(GUILD) == ServerSettings(False, USER)
    assert [e.target for e in servers.recent(GUILD)] == AUDIT_TARGETS_NEWEST_FIRST
    servers.record(GUILD, USER, "add", "new.pdf", "ok")  # the key sequences moved past the copy
    assert servers.recent(GUILD)[0].target == "new.pdf"
    feedback = FeedbackStore(url, key_path=tmp_path / "feedback.sqlite3.key")
    feedback.record(answer_key="new", question="q?", passage_ids=["a#1"], vote=DOWN, user_id=1)
    assert feedback.summary().down == 2

    # a second run finds the rows there and copies nothing
    assert main(["db", "migrate-from-sqlite", str(source)]) == 1
    err = capsys.readouterr().err
    assert "already holds state" in err and "nothing was copied" in err
    assert "Traceback" not in err
    assert query(url, "SELECT COUNT(*) FROM audit_log") == [(4,)]
    for store in (answers, servers, feedback):
        store.close()


def test_migrate_from_sqlite_needs_a_postgres_target_and_a_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    source = tmp_path / "feedback.sqlite3"
    write_legacy_state(source)
    monkeypatch.setenv("CITEBOT_STATE_DB", str(tmp_path / "other.sqlite3"))
    assert main(["db", "migrate-from-sqlite", str(source)]) == 1
    assert "set CITEBOT_DATABASE_URL to the PostgreSQL database" in capsys.readouterr().err
    monkeypatch.setenv("CITEBOT_DATABASE_URL", "postgresql://citebot@127.0.0.1:9/none")
    assert main(["db", "migrate-from-sqlite", str(tmp_path / "missing.sqlite3")]) == 1
    assert "is not a file: give the SQLite state file" in capsys.readouterr().err
    (tmp_path / "garbage.sqlite3").write_bytes(b"not a database" * 100)
    assert main(["db", "migrate-from-sqlite", str(tmp_path / "garbage.sqlite3")]) == 1
    assert "cannot" in capsys.readouterr().err


def test_without_the_driver_the_message_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    with pytest.raises(StateError, match=r"pip install 'citebot\[postgres\]'"):
        AnswerStore("postgresql://citebot:secret@127.0.0.1:5432/citebot")


def test_a_url_of_another_database_is_refused() -> None:
    with pytest.raises(StateError, match="names a mysql database"):
        ServerStore("mysql://citebot:secret@127.0.0.1/citebot")


def test_a_bad_database_url_setting_is_never_echoed() -> None:
    from bot.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as bad:
        load_settings(_env_file=None, database_url=12345678)  # not a string
    assert "CITEBOT_DATABASE_URL" in str(bad.value) and "12345678" not in str(bad.value)
