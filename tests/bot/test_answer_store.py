"""The answer store: what answer buttons need, kept in the state database (SQLite and
PostgreSQL) so they survive a restart."""

from __future__ import annotations

import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from bot.state.answers import PURGE_BATCH, AnswerContext, AnswerStore
from bot.state.database import StateError
from bot.state.feedback import UP, FeedbackStore
from tests.servers.state import is_sqlite, query

DAY = 86_400.0


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float) -> None:
        self.now += days * DAY


def context(n: int = 0, *, private: bool = False) -> AnswerContext:
    return AnswerContext(
        question=f"Who visited Seoul? ({n}) ¿Quién? 首尔 \x1b[31m",
        k=3,
        offset=3 * n,
        passage_ids=(f"doc.txt#{n}", f"other [x].md#{n + 1}"),
        private=private,
    )


def test_put_and_get_round_trip(state_url) -> None:
    store = AnswerStore(state_url)
    public, private = context(1), context(2, private=True)
    public_key, private_key = store.put(public), store.put(private)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", public_key) and public_key != private_key
    assert store.get(public_key) == public
    assert store.get(private_key) == private
    assert store.get(private_key).passage_ids == ("doc.txt#2", "other [x].md#3")
    store.close()


def test_keys_are_unguessable(state_url) -> None:
    store = AnswerStore(state_url)
    keys = {store.put(context(n)) for n in range(200)}
    assert len(keys) == 200
    assert all(len(key) >= 22 for key in keys)  # at least 128 random bits
    store.close()


def test_answers_survive_a_restart(state_url) -> None:
    path = state_url
    store = AnswerStore(path)
    keys = [store.put(context(n)) for n in range(5)]
    store.close()
    restarted = AnswerStore(path)
    assert [restarted.get(key) for key in keys] == [context(n) for n in range(5)]
    restarted.close()


def test_expired_answers_are_gone(state_url) -> None:
    path = state_url
    clock = FakeClock()
    store = AnswerStore(path, retention_days=30, clock=clock)
    old = store.put(context(1))
    clock.advance(29)
    recent = store.put(context(2))
    assert store.get(old) == context(1)
    clock.advance(2)  # old is 31 days old, recent 2
    assert store.get(old) is None  # never served once expired, even before a purge
    assert store.get(recent) == context(2)
    assert store.purge() == 1
    questions = [row[0] for row in query(path, "SELECT question FROM answers")]
    assert questions == [context(2).question]
    if is_sqlite(path):
        assert b"(1)" not in path.read_bytes()  # the expired question text left the file
    store.close()


def test_expired_answers_are_purged_on_open_and_in_batches_on_put(state_url) -> None:
    path = state_url
    clock = FakeClock()
    store = AnswerStore(path, retention_days=1, clock=clock)
    for n in range(PURGE_BATCH + 50):
        store.put(context(n))
    clock.advance(2)
    store.put(context(999))  # removes one bounded batch of expired rows
    assert count_rows(path) == 51
    store.close()
    AnswerStore(path, retention_days=1, clock=clock).close()  # opening removes the rest
    assert count_rows(path) == 1


def count_rows(location) -> int:
    return query(location, "SELECT COUNT(*) FROM answers")[0][0]


@pytest.mark.parametrize(
    "key",
    ["", "unknownkey", "A" * 24, "x" * 41, "../../etc", "k'; DROP TABLE answers; --", "é", None, 7],
)
def test_unknown_and_garbage_keys_give_none(state_url, key) -> None:
    store = AnswerStore(state_url)
    kept = store.put(context(1))
    assert store.get(key) is None
    assert store.get(kept) == context(1)
    store.close()


def test_concurrent_puts_from_threads(state_url) -> None:
    store = AnswerStore(state_url)
    start = threading.Barrier(8)

    def work(thread: int) -> list[tuple[str, AnswerContext]]:
        start.wait()
        pairs = []
        for n in range(25):
            item = context(thread * 100 + n)
            pairs.append((store.put(item), item))
            assert store.get(pairs[-1][0]) == item
        return pairs

    with ThreadPoolExecutor(8) as pool:
        pairs = [pair for result in pool.map(work, range(8)) for pair in result]
    assert len({key for key, _ in pairs}) == 200
    assert all(store.get(key) == item for key, item in pairs)
    store.close()


def test_two_stores_on_one_database_with_the_feedback_store(state_url, tmp_path: Path) -> None:
    path = state_url
    first, second = AnswerStore(path), AnswerStore(path)
    feedback = FeedbackStore(path, key_path=tmp_path / "feedback.key")

    def put_many(store: AnswerStore, base: int) -> list[str]:
        return [store.put(context(base + n)) for n in range(30)]

    with ThreadPoolExecutor(3) as pool:
        keys_a = pool.submit(put_many, first, 0)
        keys_b = pool.submit(put_many, second, 100)
        voted = pool.submit(
            lambda: [
                feedback.record(
                    answer_key=f"a{n}", question="q?", passage_ids=["d#1"], vote=UP, user_id=n
                )
                for n in range(30)
            ]
        )
        keys_a, keys_b, _ = keys_a.result(), keys_b.result(), voted.result()
    assert [second.get(key) for key in keys_a] == [context(n) for n in range(30)]
    assert [first.get(key) for key in keys_b] == [context(100 + n) for n in range(30)]
    assert feedback.summary().up == 30
    for store in (first, second, feedback):
        store.close()


def test_the_state_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "state.sqlite3"
    AnswerStore(path).close()
    assert path.stat().st_mode & 0o077 == 0


def test_close_is_final(state_url) -> None:
    store = AnswerStore(state_url)
    key = store.put(context(1))
    store.close()
    store.close()
    with pytest.raises(StateError, match="closed"):
        store.get(key)


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="move the file aside"):
        AnswerStore(path)


def test_an_answer_keeps_the_place_it_was_given_in(state_url) -> None:
    from bot.state.answers import place_of

    store = AnswerStore(state_url)
    key = store.put(AnswerContext("q", 3, 0, ("a#1",), False, place_of(42)))
    assert store.get(key).place == "guild:42" != place_of(43) != place_of(None)
    store.close()


def test_a_database_from_before_places_gains_the_column_and_its_answers_have_none(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite3"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "CREATE TABLE answers (answer_key TEXT PRIMARY KEY, question TEXT NOT NULL,"
            " k INTEGER NOT NULL, passage_offset INTEGER NOT NULL, passage_ids TEXT NOT NULL,"
            " private INTEGER NOT NULL, created_at REAL NOT NULL)"
        )
        connection.execute(
            "INSERT INTO answers VALUES ('old-key', 'q', 3, 0, '[\"a#1\"]', 0, 1.8e9)"
        )
    store = AnswerStore(path, clock=FakeClock())
    old = store.get("old-key")
    assert old is not None and old.place == ""  # nowhere: its buttons are refused
    new = store.put(AnswerContext("q", 3, 0, (), False, "dm"))
    assert store.get(new).place == "dm"
    store.close()
    AnswerStore(path, clock=FakeClock()).close()  # opening again leaves the column as it is
