"""The feedback store: keyed user hashes (never raw ids, key outside the database), one vote per
user per answer, retention of question text, and the `citebot feedback` report."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.feedback_report import print_summary
from bot.cli.main import main
from bot.settings import Settings
from bot.state.database import StateError
from bot.state.feedback import DOWN, UP, FeedbackKeyError, FeedbackStore
from tests.servers.state import is_sqlite, query

USER = 123456789012345678


def vote(store: FeedbackStore, key: str, value: int, user: int = USER, ids=("a#1", "a#2")) -> None:
    store.record(
        answer_key=key, question=f"question {key}?", passage_ids=ids, vote=value, user_id=user
    )


def on(location, tmp_path: Path, **options) -> FeedbackStore:
    """A feedback store on ``location`` (either engine), its key in ``tmp_path``."""
    return FeedbackStore(location, key_path=tmp_path / "feedback.key", **options)


def test_raw_user_id_is_never_stored(state_url, tmp_path: Path) -> None:
    store = on(state_url, tmp_path)
    vote(store, "k1", UP)
    rows = query(state_url, "SELECT user_hash, question, passage_ids, vote FROM votes")
    assert rows == [(store.hash_user(USER), "question k1?", '["a#1", "a#2"]', 1)]
    assert len(rows[0][0]) == 64 and str(USER) not in rows[0][0]
    if is_sqlite(state_url):
        assert str(USER) not in state_url.read_bytes().decode("latin-1")
        assert stat.S_IMODE(state_url.stat().st_mode) == 0o600


def test_key_is_kept_and_differs_between_databases(tmp_path: Path) -> None:
    first = FeedbackStore(tmp_path / "one.sqlite3")
    again = FeedbackStore(tmp_path / "one.sqlite3")
    other = FeedbackStore(tmp_path / "two.sqlite3")
    assert first.hash_user(USER) == again.hash_user(USER)
    assert first.hash_user(USER) != other.hash_user(USER)
    assert first.hash_user(USER) != first.hash_user(USER + 1)


def test_a_second_vote_replaces_the_first(state_url, tmp_path: Path) -> None:
    store = on(state_url, tmp_path)
    vote(store, "k1", UP)
    vote(store, "k1", DOWN)
    vote(store, "k1", UP, user=USER + 1)
    vote(store, "k2", DOWN, ids=("b#1",))
    summary = store.summary()
    assert (summary.up, summary.down, summary.total, summary.questions) == (1, 2, 3, 2)
    by_id = {p.passage_id: (p.up, p.down) for p in summary.passages}
    assert by_id == {"a#1": (1, 1), "a#2": (1, 1), "b#1": (0, 1)}
    assert [q for _, q in summary.recent_down] == ["question k2?", "question k1?"]


def test_bad_vote_is_rejected(state_url, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        vote(on(state_url, tmp_path), "k", 0)


def test_print_summary(state_url, tmp_path: Path) -> None:
    url = None if is_sqlite(state_url) else state_url
    path = state_url if is_sqlite(state_url) else tmp_path / "f.sqlite3"
    settings = Settings(_env_file=None, state_db=path, database_url=url)  # type: ignore[call-arg]
    out = io.StringIO()
    assert print_summary(settings, out) == 0
    assert "No feedback recorded yet" in out.getvalue()
    assert not path.exists()  # reading never creates the database file

    store = FeedbackStore(state_url, key_path=key_file_for_test(path))
    vote(store, "k1", UP)
    vote(store, "k2", DOWN, user=USER + 1)
    out = io.StringIO()
    assert print_summary(settings, out) == 0
    text = out.getvalue()
    assert "2 vote(s) on 2 question(s): 1 up, 1 down." in text
    assert "a#1" in text and "question k2?" in text
    assert str(USER) not in text


# ----- the key lives outside the database ------------------------------------------------------


def stored_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))


def test_key_is_a_private_file_beside_the_database_not_in_it(tmp_path: Path) -> None:
    path = tmp_path / "state" / "feedback.sqlite3"
    store = FeedbackStore(path)
    vote(store, "k1", UP)
    key_file = tmp_path / "state" / "feedback.sqlite3.key"
    assert key_file_for_test(path) == key_file and key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_hex = key_file.read_text().strip()
    assert len(bytes.fromhex(key_hex)) == 32
    expected = hmac.new(bytes.fromhex(key_hex), str(USER).encode(), hashlib.sha256).hexdigest()
    assert store.hash_user(USER) == expected
    # the database alone holds nothing that keys the hashes
    database_bytes = path.read_bytes()
    assert key_hex.encode() not in database_bytes and bytes.fromhex(key_hex) not in database_bytes
    with closing(sqlite3.connect(path)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "meta" not in tables
    store.close()


def key_file_for_test(path: Path) -> Path:
    from bot.state.feedback import key_path_for

    return key_path_for(path)


def test_key_file_is_created_with_0600_and_o_excl(tmp_path: Path, monkeypatch) -> None:
    """Never created readable and chmod-ed afterwards: the mode goes to open() itself."""
    opened: list[tuple[str, int, int]] = []
    real_open = os.open

    def spying_open(path, flags, mode=0o777, *args, **kwargs):
        if ".key" in os.fspath(path) and flags & os.O_CREAT:
            opened.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spying_open)
    old_umask = os.umask(0)
    try:
        store = FeedbackStore(tmp_path / "f.sqlite3")
        store.hash_user(USER)
    finally:
        os.umask(old_umask)
    assert opened and all(mode == 0o600 and flags & os.O_EXCL for _, flags, mode in opened)
    assert stat.S_IMODE((tmp_path / "f.sqlite3.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "f.sqlite3").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.sqlite3", "f.sqlite3.key"]


def test_stores_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    stores = [FeedbackStore(path) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        hashes = set(pool.map(lambda store: store.hash_user(USER), stores))
    assert len(hashes) == 1
    for store in stores:
        store.close()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int, capsys) -> None:
    path = tmp_path / "f.sqlite3"
    FeedbackStore(path).hash_user(USER)
    key_file = tmp_path / "f.sqlite3.key"
    key_file.chmod(mode)
    with pytest.raises(FeedbackKeyError, match="chmod 600"):
        FeedbackStore(path)
    settings = Settings(_env_file=None, state_db=path)  # type: ignore[call-arg]
    assert print_summary(settings, io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "can be read by other users" in err and str(key_file) in err
    assert "Traceback" not in err


@pytest.mark.parametrize("damage", ["directory", "garbage", "short"])
def test_an_unusable_key_file_is_refused_clearly(tmp_path: Path, damage: str) -> None:
    key_file = tmp_path / "f.sqlite3.key"
    if damage == "directory":
        key_file.mkdir(mode=0o700)
        message = "cannot read the feedback key|not a regular file"
    else:
        key_file.write_text("not a key\n" if damage == "garbage" else "abcd\n")
        key_file.chmod(0o600)
        message = "does not hold a key"
    with pytest.raises(FeedbackKeyError, match=message):
        FeedbackStore(tmp_path / "f.sqlite3").hash_user(USER)


def old_database_with_salt(path: Path) -> str:
    """A database as the previous release wrote it: the salt in a meta table beside the hashes."""
    salt = "5a1f" * 16
    old_hash = hmac.new(bytes.fromhex(salt), str(USER).encode(), hashlib.sha256).hexdigest()
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE votes (
                id INTEGER PRIMARY KEY, answer_key TEXT NOT NULL, question TEXT NOT NULL,
                passage_ids TEXT NOT NULL, vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
                user_hash TEXT NOT NULL, created_at TEXT NOT NULL,
                UNIQUE (answer_key, user_hash)
            );
            """
        )
        connection.execute("INSERT INTO meta VALUES ('salt', ?)", (salt,))
        connection.execute(
            "INSERT INTO votes (answer_key, question, passage_ids, vote, user_hash, created_at)"
            " VALUES ('old', 'an old question?', '[\"a#1\"]', -1, ?, ?)",
            (old_hash, datetime.now(UTC).isoformat(timespec="seconds")),
        )
    path.chmod(0o600)
    return salt


def test_salt_stored_in_an_old_database_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    salt = old_database_with_salt(path)
    assert salt.encode() in path.read_bytes()
    store = FeedbackStore(path)
    assert salt.encode() not in stored_bytes(path)  # gone from the file, not just unlinked
    with closing(sqlite3.connect(path)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        old_hashes = [row[0] for row in connection.execute("SELECT user_hash FROM votes")]
    assert "meta" not in tables
    # the old vote still counts, with its old hash; new votes use the new key
    summary = store.summary()
    assert (summary.up, summary.down, summary.recent_down[0][1]) == (0, 1, "an old question?")
    assert store.hash_user(USER) not in old_hashes
    store.close()


# ----- retention ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float) -> None:
        self.now += days * 86_400


def stored_questions(location) -> list[tuple[str, str, int]]:
    return query(location, "SELECT answer_key, question, vote FROM votes ORDER BY id")


def test_question_text_is_deleted_after_retention_on_write(state_url, tmp_path: Path) -> None:
    path = state_url
    clock = FakeClock()
    store = on(path, tmp_path, retention_days=30, clock=clock)
    vote(store, "k1", DOWN)
    clock.advance(29)
    vote(store, "k2", UP)
    assert stored_questions(path) == [("k1", "question k1?", -1), ("k2", "question k2?", 1)]
    clock.advance(2)  # k1 is 31 days old, k2 2 days
    vote(store, "k3", UP)
    assert stored_questions(path) == [
        ("k1", "", -1),
        ("k2", "question k2?", 1),
        ("k3", "question k3?", 1),
    ]
    if is_sqlite(path):
        assert b"question k1?" not in stored_bytes(path)
    summary = store.summary()
    assert (summary.total, summary.down, summary.expired_questions) == (3, 1, 1)
    assert summary.recent_down == []  # the expired question is not shown
    store.close()


def test_question_text_is_deleted_after_retention_on_open(state_url, tmp_path: Path) -> None:
    path = state_url
    clock = FakeClock()
    store = on(path, tmp_path, clock=clock)  # the default: 90 days
    vote(store, "k1", UP)
    store.close()
    clock.advance(89)
    on(path, tmp_path, clock=clock).close()
    assert stored_questions(path) == [("k1", "question k1?", 1)]
    clock.advance(2)
    on(path, tmp_path, clock=clock).close()
    assert stored_questions(path) == [("k1", "", 1)]


def test_a_changed_vote_does_not_extend_the_question_text(state_url, tmp_path: Path) -> None:
    path = state_url
    clock = FakeClock()
    store = on(path, tmp_path, retention_days=10, clock=clock)
    vote(store, "k1", UP)
    clock.advance(9)
    vote(store, "k1", DOWN)
    clock.advance(2)
    assert store.purge() == 1
    assert stored_questions(path) == [("k1", "", -1)]


def test_feedback_command_uses_the_retention_setting(
    state_url, tmp_path: Path, monkeypatch, capsys
) -> None:
    path = state_url if is_sqlite(state_url) else tmp_path / "f.sqlite3"
    if not is_sqlite(state_url):
        monkeypatch.setenv("CITEBOT_DATABASE_URL", state_url)
    store = FeedbackStore(state_url, key_path=key_file_for_test(path))
    store.record(
        answer_key="old",
        question="an old question?",
        passage_ids=["a#1"],
        vote=DOWN,
        user_id=USER,
        when=datetime.now(UTC) - timedelta(days=8),
    )
    store.close()
    monkeypatch.setenv("CITEBOT_STATE_DB", str(path))
    monkeypatch.setenv("CITEBOT_FEEDBACK_RETENTION_DAYS", "7")
    assert main(["feedback"]) == 0
    out = capsys.readouterr().out
    assert "an old question?" not in out and "deleted after 7 days" in out
    assert stored_questions(state_url) == [("old", "", -1)]


# ----- the report --------------------------------------------------------------------------------


def test_feedback_command_escapes_control_characters(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "f.sqlite3"
    store = FeedbackStore(path)
    hostile = "why\x1b[2J\x1b]8;;http://x\x07 is\r this\u202e reversed\n[bold]?"
    store.record(
        answer_key="k", question=hostile, passage_ids=["doc\x1b[31m.md#1"], vote=DOWN, user_id=USER
    )
    store.close()
    monkeypatch.setenv("CITEBOT_STATE_DB", str(path))
    assert main(["feedback"]) == 0
    out, err = capsys.readouterr()
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in out + err
    assert "why\\x1b[2J\\x1b]8;;http://x\\x07 is\\x0d this\\u202e reversed\\x0a[bold]?" in out
    assert "doc\\x1b[31m.md#1" in out


def test_close_is_final(state_url, tmp_path: Path) -> None:
    store = on(state_url, tmp_path)
    store.close()
    store.close()
    with pytest.raises(StateError, match="closed"):
        vote(store, "k", UP)
