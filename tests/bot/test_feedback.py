"""The feedback store: salted user hashes (never raw ids), one vote per user per answer, summary."""

from __future__ import annotations

import io
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from bot.feedback import DOWN, UP, FeedbackStore, print_summary
from bot.settings import Settings

USER = 123456789012345678


def vote(store: FeedbackStore, key: str, value: int, user: int = USER, ids=("a#1", "a#2")) -> None:
    store.record(
        answer_key=key, question=f"question {key}?", passage_ids=ids, vote=value, user_id=user
    )


def test_raw_user_id_is_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "feedback.sqlite3"
    store = FeedbackStore(path)
    vote(store, "k1", UP)
    assert str(USER) not in path.read_bytes().decode("latin-1")
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT user_hash, question, passage_ids, vote FROM votes")
        rows = rows.fetchall()
    assert rows == [(store.hash_user(USER), "question k1?", '["a#1", "a#2"]', 1)]
    assert len(rows[0][0]) == 64 and str(USER) not in rows[0][0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_salt_is_kept_and_differs_between_databases(tmp_path: Path) -> None:
    first = FeedbackStore(tmp_path / "one.sqlite3")
    again = FeedbackStore(tmp_path / "one.sqlite3")
    other = FeedbackStore(tmp_path / "two.sqlite3")
    assert first.hash_user(USER) == again.hash_user(USER)
    assert first.hash_user(USER) != other.hash_user(USER)
    assert first.hash_user(USER) != first.hash_user(USER + 1)


def test_a_second_vote_replaces_the_first(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    vote(store, "k1", UP)
    vote(store, "k1", DOWN)
    vote(store, "k1", UP, user=USER + 1)
    vote(store, "k2", DOWN, ids=("b#1",))
    summary = store.summary()
    assert (summary.up, summary.down, summary.total, summary.questions) == (1, 2, 3, 2)
    by_id = {p.passage_id: (p.up, p.down) for p in summary.passages}
    assert by_id == {"a#1": (1, 1), "a#2": (1, 1), "b#1": (0, 1)}
    assert [q for _, q in summary.recent_down] == ["question k2?", "question k1?"]


def test_bad_vote_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        vote(FeedbackStore(tmp_path / "f.sqlite3"), "k", 0)


def test_print_summary(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, feedback_db=tmp_path / "f.sqlite3")  # type: ignore[call-arg]
    out = io.StringIO()
    assert print_summary(settings, out) == 0
    assert "No feedback recorded yet" in out.getvalue()
    assert not (tmp_path / "f.sqlite3").exists()  # reading never creates the database

    store = FeedbackStore(tmp_path / "f.sqlite3")
    vote(store, "k1", UP)
    vote(store, "k2", DOWN, user=USER + 1)
    out = io.StringIO()
    assert print_summary(settings, out) == 0
    text = out.getvalue()
    assert "2 vote(s) on 2 question(s): 1 up, 1 down." in text
    assert "a#1" in text and "question k2?" in text
    assert str(USER) not in text
