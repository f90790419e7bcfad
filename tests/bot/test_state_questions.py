"""The question log, reasons on 👎 and forgetting an asker, on SQLite and PostgreSQL
(``state_url``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot.state.database import StateError
from bot.state.feedback import DOWN, UP, FeedbackStore
from bot.state.questions import QuestionLog, pack_vector, unpack_vectors
from bot.state.servers import ServerStore

DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def unit(seed: int, size: int = 384) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(size).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_vectors_are_stored_as_int8_and_come_back_close() -> None:
    vectors = [unit(seed) for seed in range(5)]
    blobs = [pack_vector(v) for v in vectors]
    assert all(blob is not None and len(blob) == 384 for blob in blobs)
    restored = unpack_vectors([b for b in blobs if b is not None])
    similarities = np.sum(restored * np.stack(vectors), axis=1)
    assert similarities.min() > 0.999  # int8 keeps the direction
    assert pack_vector(None) is None


def test_the_log_keeps_questions_per_server_with_their_votes(
    state_url, tmp_path: Path
) -> None:
    clock = Clock()
    log = QuestionLog(state_url, retention_days=30, clock=clock)
    feedback = FeedbackStore(state_url, key_path=tmp_path / "key", clock=clock)
    try:
        asker = feedback.hash_user(7)
        first = log.record(
            guild_id=1, collection="guild-1", question="How do I reset it?", found=False,
            passage_ids=["a#1"], answer_key="k1", user_hash=asker, vector=unit(1),
        )
        log.record(
            guild_id=1, collection="guild-1", question="Where is the ferry?", found=True,
            passage_ids=["b#2", "c#3"], answer_key="k2", user_hash=feedback.hash_user(8),
        )
        log.record(
            guild_id=2, collection="default", question="@everyone secret of server 2",
            found=False, passage_ids=[], answer_key=None, user_hash=asker,
        )
        feedback.record(answer_key="k2", question="Where is the ferry?", passage_ids=["b#2"],
                        vote=DOWN, user_id=9)
        assert feedback.give_reason(answer_key="k2", user_id=9, reason="outdated",
                                    text="  the  timetable\nchanged ")
        assert not feedback.give_reason(answer_key="k1", user_id=9, reason="other")  # no 👎
        with pytest.raises(ValueError):
            feedback.give_reason(answer_key="k2", user_id=9, reason="because")

        rows = log.questions(1, with_vectors=True)
        assert [r.question for r in rows] == ["How do I reset it?", "Where is the ferry?"]
        assert rows[0].id == first and not rows[0].found and rows[0].vector is not None
        assert rows[1].passage_ids == ("b#2", "c#3") and rows[1].vector is None
        assert (rows[1].up, rows[1].down) == (0, 1)
        assert rows[1].votes[0].reason == "outdated"
        assert rows[1].votes[0].text == "the timetable changed"
        # the gaps: not found, or voted down; never another server's
        assert [r.question for r in log.questions(1, gaps_only=True)] == [
            "How do I reset it?", "Where is the ferry?"]
        assert [r.guild_id for r in log.questions(2)] == [2]
        assert len(log.questions(None)) == 3  # the operator sees every server
        assert [r.question for r in log.questions(None, collection="default")] == [
            "@everyone secret of server 2"]
        day = log.daily(1, days=7)
        assert [(d.asked, d.found, d.up, d.down) for d in day] == [(2, 1, 0, 1)]

        # a vote changed to 👍 loses its reason
        feedback.record(answer_key="k2", question="Where is the ferry?", passage_ids=["b#2"],
                        vote=UP, user_id=9)
        assert log.questions(1)[1].votes[0].reason == ""

        # /privacy forget: the asker's questions in every server, and their votes
        assert log.forget_asker(asker) == 2
        assert feedback.forget_user(9) == 1
        assert [r.question for r in log.questions(None)] == ["Where is the ferry?"]
        assert log.questions(1)[0].votes == ()
    finally:
        log.close()
        feedback.close()


def test_old_questions_are_not_shown_and_are_deleted(state_url) -> None:
    clock = Clock()
    log = QuestionLog(state_url, retention_days=30, clock=clock)
    try:
        log.record(guild_id=1, collection="default", question="old", found=True,
                   passage_ids=[], answer_key=None, user_hash="h", at=clock.now - 31 * DAY)
        log.record(guild_id=1, collection="default", question="last week", found=True,
                   passage_ids=[], answer_key=None, user_hash="h", at=clock.now - 7 * DAY)
        log.record(guild_id=1, collection="default", question="today", found=True,
                   passage_ids=[], answer_key=None, user_hash="h")
        assert [r.question for r in log.questions(1)] == ["last week", "today"]
        assert [r.question for r in log.questions(1, days=1)] == ["today"]
        assert log.count(1) == 2 and log.count(1, days=1) == 1
        assert log.count(None) == 2  # the first record deleted the expired one
        clock.now += 24 * DAY
        assert log.purge() == 1  # "last week" is now 31 days old
        assert [r.question for r in log.questions(None)] == ["today"]
    finally:
        log.close()


def test_turning_the_log_off_deletes_the_servers_questions(state_url) -> None:
    clock = Clock()
    log = QuestionLog(state_url, clock=clock)
    servers = ServerStore(state_url, clock=clock)
    try:
        assert servers.settings(1).log_questions  # on by default
        for guild in (1, 2):
            log.record(guild_id=guild, collection="default", question="q", found=True,
                       passage_ids=[], answer_key=None, user_hash="h")
        settings = servers.update_settings(1, log_questions=False)
        assert not settings.log_questions and settings.include_default
        assert not servers.settings(1).log_questions
        assert log.count(1) == 0 and log.count(2) == 1
        assert servers.update_settings(1, include_default=False).log_questions is False
        assert servers.update_settings(1, log_questions=True).log_questions
        servers.forget(2)
        assert log.count(2) == 0
    finally:
        log.close()
        servers.close()


def test_retention_deletes_while_questions_keep_coming(state_url) -> None:
    """Expired rows are deleted by a purge running beside four threads logging questions and a
    reader: no new row is lost, no expired row survives, no thread fails."""
    clock = Clock()
    log = QuestionLog(state_url, retention_days=30, clock=clock)
    try:
        old = clock.now - 40 * DAY
        log.record(guild_id=1, collection="default", question="first", found=True,
                   passage_ids=[], answer_key=None, user_hash="h")  # purges nothing yet
        for n in range(1_000):
            log.record(guild_id=1 + n % 3, collection="default", question=f"old {n}",
                       found=bool(n % 2), passage_ids=["a#1"], answer_key=None,
                       user_hash="h", at=old)
        errors: list[BaseException] = []

        def writer(guild: int) -> None:
            try:
                for n in range(50):
                    log.record(guild_id=guild, collection="default", question=f"new {n}",
                               found=True, passage_ids=["b#2"], answer_key=None,
                               user_hash="h", vector=unit(n))
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        def cleaner() -> None:
            try:
                for _ in range(5):
                    log.purge()
                    log.questions(1, gaps_only=True)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(g,)) for g in (1, 2, 3, 4)]
        threads.append(threading.Thread(target=cleaner))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        rows = log.questions(None)
        assert len(rows) == 201 and all(not r.question.startswith("old") for r in rows)
        assert log.purge() == 0
    finally:
        log.close()


def test_submitted_questions_are_written_together_by_the_writer(state_url) -> None:
    """``submit`` queues (the bot's path: no database work for the answer); the writer thread
    writes the queue within a second, working out the deferred collection and embedding there,
    and drops the questions of a server whose log is off; reads and close write it first."""
    clock = Clock()
    log = QuestionLog(state_url, clock=clock)
    servers = ServerStore(state_url, clock=clock)
    calls: list[str] = []
    try:
        servers.update_settings(2, log_questions=False)

        def where() -> str:
            calls.append("collection")
            return "guild-1"

        def failing_vector() -> np.ndarray:
            raise RuntimeError("the encoder is gone")

        log.submit(guild_id=1, collection=where, question="deferred", found=False,
                   passage_ids=["a#1"], answer_key="k1", user_hash="h", vector=lambda: unit(3))
        log.submit(guild_id=1, collection="default", question="no vector", found=True,
                   passage_ids=[], answer_key=None, user_hash="h", vector=failing_vector)
        log.submit(guild_id=2, collection="default", question="log off", found=True,
                   passage_ids=[], answer_key=None, user_hash="h")
        assert calls == []  # nothing is computed on the caller's thread
        deadline = time.monotonic() + 10
        while calls == [] and time.monotonic() < deadline:  # the writer, within FLUSH_EVERY_S
            time.sleep(0.05)
        assert calls == ["collection"]
        rows = log.questions(None, with_vectors=True)
        assert [(r.guild_id, r.collection, r.question) for r in rows] == [
            (1, "guild-1", "deferred"), (1, "default", "no vector")]
        assert rows[0].vector is not None and rows[1].vector is None

        log.submit(guild_id=1, collection="default", question="on close", found=True,
                   passage_ids=[], answer_key=None, user_hash="h")
    finally:
        log.close()
        servers.close()
    with pytest.raises(StateError):
        log.submit(guild_id=1, collection="default", question="after", found=True,
                   passage_ids=[], answer_key=None, user_hash="h")
    reopened = QuestionLog(state_url, clock=clock)
    try:
        assert [r.question for r in reopened.questions(1)][-1] == "on close"
    finally:
        reopened.close()
