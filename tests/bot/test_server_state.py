"""Per-server state (issue 11): settings, audit log, removal and erasure, limits; never one
server's rows in another's results. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.state.database import StateError
from bot.state.servers import (
    MAX_TEXT_CHARS,
    ServerLimits,
    ServerSettings,
    ServerStore,
    check_limits,
)
from tests.servers.state import clear

A, B = 111, 222
DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_settings_default_then_change_only_what_is_given(state_url):
    store = ServerStore(state_url)
    assert store.settings(A) == ServerSettings(True, None)
    assert store.update_settings(A, include_default=False) == ServerSettings(False, None)
    assert store.update_settings(A, manager_role_id=42) == ServerSettings(False, 42)
    assert store.settings(B) == ServerSettings()
    assert store.update_settings(A, clear_manager_role=True) == ServerSettings(False, None)
    store.close()
    reopened = ServerStore(state_url)
    assert reopened.settings(A) == ServerSettings(False, None)
    reopened.close()
    with pytest.raises(StateError):
        store.settings(A)


def test_audit_log_is_per_server_newest_first_and_capped(state_url):
    clock = Clock()
    store = ServerStore(state_url, clock)
    for n in range(15):
        clock.now += 1
        store.record(A, 7, "add", f"doc{n}.pdf", "ok", "3 chunks")
    store.record(B, 8, "remove", "secret-plans.pdf", "ok")
    store.record(A, 7, "settings", "x" * 5000, "refused", "@everyone **bold**")
    entries = store.recent(A, limit=10)
    assert len(entries) == 10
    assert entries[0].action == "settings" and len(entries[0].target) == MAX_TEXT_CHARS
    assert entries[0].detail == "@everyone **bold**"  # stored as given; rendering escapes
    assert [e.target for e in entries[1:4]] == ["doc14.pdf", "doc13.pdf", "doc12.pdf"]
    assert all("secret" not in e.target for e in store.recent(A, limit=100))
    assert [e.target for e in store.recent(B)] == ["secret-plans.pdf"]
    assert store.recent(333) == []
    with pytest.raises(ValueError):
        store.record(A, 7, "drop-tables", "x", "ok")


def test_removal_grace_period_return_and_erasure(state_url):
    clock = Clock()
    store = ServerStore(state_url, clock)
    store.update_settings(A, include_default=False)
    store.record(A, 7, "add", "a.pdf", "ok")
    store.update_settings(B, manager_role_id=5)
    store.record(B, 8, "add", "b.pdf", "ok")
    store.mark_removed(A)
    clock.now += 10 * DAY
    store.mark_removed(B)
    store.mark_removed(A)  # a repeated event keeps the first time
    assert store.due_for_deletion(grace_days=30) == []
    clock.now += 21 * DAY
    assert store.due_for_deletion(grace_days=30) == [A]
    store.mark_returned(A)
    assert store.due_for_deletion(grace_days=30) == []
    clock.now += 10 * DAY
    assert store.due_for_deletion(grace_days=30) == [B]
    assert store.due_for_deletion(grace_days=0) == [B]
    store.forget(B)
    assert store.due_for_deletion(grace_days=0) == []
    assert store.recent(B) == [] and store.settings(B) == ServerSettings()
    assert [e.target for e in store.recent(A)] == ["a.pdf"]
    assert store.settings(A) == ServerSettings(False, None)


LIMITS = ServerLimits(max_documents=3, max_bytes=10_000_000, max_file_bytes=4_000_000)


@pytest.mark.parametrize(
    ("documents", "total", "new", "expected"),
    [
        (0, 0, 1_000, None),
        (2, 5_000_000, 4_000_000, None),
        (0, 0, 4_000_001, "over the 4.0 MB limit for one file"),
        (3, 1_000, 10, "already has 3 documents, the most it may have (3)"),
        (2, 7_000_000, 3_500_000, "would pass the 10.0 MB limit"),
    ],
)
def test_limit_messages_name_the_limit_and_the_remedy(documents, total, new, expected):
    message = check_limits(documents, total, new, LIMITS)
    if expected is None:
        assert message is None
    else:
        assert expected in message
        assert "/docs remove" in message or "CITEBOT_ATTACHMENT_MAX_MB" in message


def test_threads_recording_at_once_lose_nothing(state_url):
    store = ServerStore(state_url)
    other = ServerStore(state_url)  # a second store, as another process

    def write(target: ServerStore, guild: int) -> None:
        for n in range(50):
            target.record(guild, 1, "add", f"{guild}-{n}", "ok")

    threads = [threading.Thread(target=write, args=(s, g))
               for s, g in ((store, A), (store, B), (other, A), (other, B))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.recent(A, 1000)) == 100 and len(other.recent(B, 1000)) == 100
    assert all(e.target.startswith(f"{A}-") for e in store.recent(A, 1000))


operations = st.lists(
    st.tuples(
        st.sampled_from(["record", "settings", "role", "remove", "return", "forget"]),
        st.sampled_from([A, B]),
        st.text(max_size=12),
    ),
    max_size=40,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(operations)
def test_random_interleavings_never_mix_servers(state_url, ops):
    clear(state_url)  # one database for all examples, emptied before each
    store = ServerStore(state_url)
    expected: dict[int, list[str]] = {A: [], B: []}
    expected_settings = {A: ServerSettings(), B: ServerSettings()}
    for op, guild, text in ops:
        tagged = f"{guild}:{text}"
        if op == "record":
            store.record(guild, guild, "add", tagged, "ok")
            expected[guild].append(tagged)
        elif op == "settings":
            store.update_settings(guild, include_default=len(text) % 2 == 0)
            expected_settings[guild] = ServerSettings(
                len(text) % 2 == 0, expected_settings[guild].manager_role_id
            )
        elif op == "role":
            store.update_settings(guild, manager_role_id=guild)
            expected_settings[guild] = ServerSettings(expected_settings[guild].include_default,
                                                      guild)
        elif op == "remove":
            store.mark_removed(guild)
        elif op == "return":
            store.mark_returned(guild)
        else:
            store.forget(guild)
            expected[guild] = []
            expected_settings[guild] = ServerSettings()
    for guild in (A, B):
        entries = store.recent(guild, 1000)
        assert sorted(e.target for e in entries) == sorted(expected[guild])
        assert all(e.user_id == guild for e in entries)
        assert store.settings(guild) == expected_settings[guild]
        assert set(store.due_for_deletion(0)) <= {A, B}
    store.close()
