"""Source channels, their backfill cursor and the threads read, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.state.threads import ThreadSourceStore


class Clock:
    def __init__(self) -> None:
        self.now = 5.0

    def __call__(self) -> float:
        return self.now


def test_channels_cursor_and_threads_per_server(state_url) -> None:
    clock = Clock()
    store = ThreadSourceStore(state_url, clock=clock)
    try:
        help_ = store.add_channel(1, 10, "guild-1", "help", solved_by="tag", tag="solved")
        store.add_channel(2, 20, "guild-2", "questions", solved_by="all")
        assert (help_.solved_by, help_.tag, help_.backfilled) == ("tag", "solved", False)
        assert [c.channel_id for c in store.channels(1)] == [10]
        assert {c.channel_id for c in store.channels()} == {10, 20}

        store.set_cursor(10, "2026-01-01T00:00:05+00:00")
        assert store.channel(10).backfill_before == "2026-01-01T00:00:05+00:00"
        store.record(10, 100, "discord/10/100.md", solved=True, last_message_id=105)
        store.record(10, 101, None, solved=False, last_message_id=101)
        assert store.threads(10)[100].name == "discord/10/100.md"
        assert not store.threads(10)[101].solved
        store.set_cursor(10, None, done=True)
        assert store.channel(10).backfilled

        # Added again with another rule: the backfill starts over; the threads read stay,
        # read before the new registration (so its backfill reads them again).
        assert store.threads(10)[100].read_at == 5.0
        clock.now = 9.0
        again = store.add_channel(1, 10, "guild-1", "help", solved_by="reaction")
        assert (again.solved_by, again.tag, again.backfilled) == ("reaction", None, False)
        assert again.added_at == 9.0
        assert set(store.threads(10)) == {100, 101}
        assert all(r.read_at < again.added_at for r in store.threads(10).values())

        store.forget_thread(101)
        assert set(store.threads(10)) == {100}
        store.forget_server(1)
        assert store.channel(10) is None and store.threads(10) == {}
        assert store.channel(20) is not None
        store.forget_channel(20)
        assert store.channels() == []
        with pytest.raises(ValueError):
            store.add_channel(1, 11, "guild-1", "x", solved_by="never")
    finally:
        store.close()
