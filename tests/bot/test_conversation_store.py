"""The conversation store: the turns before each answer, kept minutes, per answer and asker
(on SQLite and PostgreSQL)."""

from __future__ import annotations

from bot.state.conversations import ConversationStore
from index.query.conversation import Turn
from tests.servers.state import query

MINUTE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def turn(question: str, *ids: str) -> Turn:
    return Turn(question, tuple(ids))


def test_an_answer_keeps_its_conversation_and_only_the_last_turns(state_url) -> None:
    store = ConversationStore(state_url, max_turns=3)
    turns = [turn(f"q{i}", f"c{i}") for i in range(5)]
    store.remember(100, 7, 1, turns)
    assert store.by_message(100) == tuple(turns[-3:])
    assert store.by_message(101) == ()
    store.close()


def test_latest_is_per_channel_and_per_asker(state_url) -> None:
    clock = Clock()
    store = ConversationStore(state_url, clock=clock)
    store.remember(1, 7, 10, [turn("first of ten")])
    clock.now += 1
    store.remember(2, 7, 11, [turn("eleven")])
    clock.now += 1
    store.remember(3, 7, 10, [turn("first of ten"), turn("second of ten")])
    store.remember(4, 8, 10, [turn("elsewhere")])
    assert [t.question for t in store.latest(7, 10)] == ["first of ten", "second of ten"]
    assert [t.question for t in store.latest(7, 11)] == ["eleven"]
    assert [t.question for t in store.latest(8, 10)] == ["elsewhere"]
    assert store.latest(9, 10) == ()
    store.close()


def test_a_conversation_is_forgotten_after_its_lifetime_and_deleted(state_url) -> None:
    clock = Clock()
    path = state_url
    store = ConversationStore(path, lifetime_seconds=15 * MINUTE, clock=clock)
    store.remember(1, 7, 10, [turn("old question")])
    clock.now += 14 * MINUTE
    assert store.by_message(1) and store.latest(7, 10)
    clock.now += 2 * MINUTE
    assert store.by_message(1) == () and store.latest(7, 10) == ()
    store.remember(2, 8, 11, [turn("new")])  # a write deletes what expired
    kept = query(path, "SELECT turns FROM conversation_turns")
    assert len(kept) == 1 and "old question" not in kept[0][0]
    store.close()


def test_a_restart_keeps_the_conversation(state_url) -> None:
    path = state_url
    store = ConversationStore(path)
    store.remember(1, 7, 10, [turn("before the restart", "c1", "c2")])
    store.close()
    again = ConversationStore(path)
    assert again.by_message(1) == (turn("before the restart", "c1", "c2"),)
    again.close()


def test_a_turn_keeps_its_bold_sentence_and_rows_without_one_read_as_before(state_url) -> None:
    store = ConversationStore(state_url)
    bold = Turn("Which Russian official visited Seoul?", ("a#1",), "…welcomed Sergei Lavrov…")
    store.remember(1, 7, 10, [turn("before", "c1"), bold])
    assert store.by_message(1) == (turn("before", "c1"), bold)
    # A turn without one is stored as rows were before the sentence was kept (no new column,
    # no key): such rows, old or new, read back with None.
    (stored,) = query(state_url, "SELECT turns FROM conversation_turns")[0]
    assert stored.count('"highlight"') == 1
    assert store.by_message(1)[0].highlight is None
    store.close()
