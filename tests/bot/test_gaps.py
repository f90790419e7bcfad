"""Knowledge gaps (issue 23): clustering the questions the documents did not answer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.core.engine import Engine
from bot.core.insights import gaps
from bot.core.insights.gaps import ClosestPassage, cluster, find_gaps
from bot.state.feedback import DOWN, UP, FeedbackStore
from bot.state.questions import QuestionLog

LABELLED = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "gap_questions.json"
GUILD, OTHER = 1001, 2002
DAY = 86_400.0


def unit(*values: float) -> np.ndarray:
    """A unit vector of 384 dimensions with ``values`` first."""
    row = np.zeros(384, dtype=np.float32)
    row[: len(values)] = values
    return row / np.linalg.norm(row)


def log_at(tmp_path: Path) -> QuestionLog:
    return QuestionLog(tmp_path / "state.sqlite3")


def add(log: QuestionLog, question: str, vector: np.ndarray | None, *, guild: int = GUILD,
        found: bool = False, key: str | None = None, at: float | None = None,
        collection: str = "guild-1001") -> int:
    return log.record(guild_id=guild, collection=collection, question=question, found=found,
                      passage_ids=["a.md#1"], answer_key=key, user_hash="h", vector=vector, at=at)


def test_real_model_joins_paraphrases_and_separates_needs(tmp_path: Path, engine: Engine) -> None:
    """A slice of the labelled set, embedded with the bundled model: each group's wordings end
    in one cluster, and no cluster holds two groups (close needs included: a password reset
    against an e-mail change, a subscription cancelled against a refund)."""
    wanted = {"password-reset", "change-email", "cancel-subscription", "refund", "pasta-salt",
              "nk-sanctions-effect", "citebot-add-pdf"}
    groups = {group["id"]: group["questions"]
              for group in json.loads(LABELLED.read_text(encoding="utf-8"))["groups"]
              if group["id"] in wanted}
    assert set(groups) == wanted
    log = log_at(tmp_path)
    try:
        order = [(name, question) for name, members in groups.items() for question in members]
        order = order[::2] + order[1::2]  # interleaved, as a log mixes needs
        for _, question in order:
            add(log, question, engine.query_encoder.encode_query(question))
        report = find_gaps(log, GUILD, limit=50)
    finally:
        log.close()
    group_of = {question: name for name, question in order}
    clusters = [{group_of[c.typical], *(group_of[w] for w in c.wordings)} for c in report.clusters]
    assert all(len(names) == 1 for names in clusters), clusters
    assert sorted(c.size for c in report.clusters) == sorted(len(m) for m in groups.values())
    assert report.questions == len(order) and report.total_clusters == len(groups)


def brute_average_link(matrix: np.ndarray, threshold: float) -> set[frozenset[int]]:
    """Average-link agglomeration by the definition (every pair), for comparison."""
    clusters = [[i] for i in range(matrix.shape[0])]
    similarity = matrix @ matrix.T
    while len(clusters) > 1:
        best, pair = -np.inf, (0, 0)
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                score = similarity[np.ix_(clusters[a], clusters[b])].mean()
                if score > best:
                    best, pair = score, (a, b)
        if best < threshold:
            break
        a, b = pair
        clusters[a] += clusters.pop(b)
    return {frozenset(members) for members in clusters}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cluster_is_average_link_over_distinct_vectors(seed: int) -> None:
    """Away from near-duplicates (no pair at 0.8 or more), the clusters are exactly those of
    average-link agglomeration at the threshold, whatever the order of the rows."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((5, 64))
    rows = np.repeat(centres, 8, axis=0) + rng.normal(0, 1.0, (40, 64))
    matrix = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    assert (matrix @ matrix.T - np.eye(40)).max() < 0.8
    expected = brute_average_link(matrix, 0.3)
    assert 1 < len(expected) < 40
    assert {frozenset(c) for c in cluster(matrix, 0.3)} == expected
    order = rng.permutation(40)
    shuffled = {frozenset(int(order[i]) for i in c) for c in cluster(matrix[order], 0.3)}
    assert shuffled == expected


def test_repeats_and_near_duplicates_join_and_past_the_leader_cap_stay_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same question asked again joins its first asking (also past the cap); past
    MAX_LEADERS first-pass groups a question that matches none stays alone (bounded work), one
    that matches at the threshold joins."""
    monkeypatch.setattr(gaps, "MAX_LEADERS", 2)
    a, b, c, d = unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1), unit(0, 0, 0, 1)
    near_a, between = unit(1, 0.1, 0), unit(1, 0.9, 0)  # cosine 0.74 to a: joins it at 0.5
    matrix = np.stack([a, b, a, c, near_a, d, between])
    assert sorted(map(sorted, cluster(matrix, 0.5))) == [[0, 2, 4, 6], [1], [3], [5]]
    log = log_at(tmp_path)
    try:
        for name, vector in zip("abacndxc", [*matrix, c], strict=True):
            add(log, name, vector)
        report = find_gaps(log, GUILD, threshold=0.5)
    finally:
        log.close()
    assert [(c.size, c.typical) for c in report.clusters][:2] == [(4, "n"), (2, "c")]
    assert report.total_clusters == 4
    monkeypatch.setattr(gaps, "MAX_LEADERS", 0)  # no leader at all: every question alone
    assert sorted(map(sorted, cluster(matrix, 0.5))) == [[i] for i in range(7)]


def test_report_counts_votes_reasons_notes_times_and_order(tmp_path: Path) -> None:
    """Sizes, largest first (ties: most recent); typical wording nearest the centre; other
    distinct wordings; not found and 👎 counts; 👎 reasons with counts and notes; first and last
    time; found answers voted 👍 only are not gaps; another server's rows never count."""
    log = log_at(tmp_path)
    feedback = FeedbackStore(tmp_path / "state.sqlite3")
    now = time.time()
    try:
        add(log, "reset password", unit(1, 0.3), at=now - 5 * DAY)
        add(log, "how do I reset my password", unit(1, 0), at=now - 4 * DAY)
        add(log, "how do I reset my password", unit(1, 0), at=now - 3 * DAY)
        add(log, "password reset??", unit(1, -0.3), found=True, key="k1", at=now - 2 * DAY)
        add(log, "cancel plan", unit(0, 1), at=now - 1 * DAY)
        add(log, "stop my subscription", unit(0, 1, 0.2), found=True, key="k2", at=now - 100)
        add(log, "answered fine", unit(0, 0, 1), found=True, key="k3")
        add(log, "other server's need", unit(1, 0), guild=OTHER)
        for user, key, vote in ((1, "k1", DOWN), (2, "k1", DOWN), (3, "k2", DOWN), (4, "k3", UP)):
            feedback.record(answer_key=key, question="q", passage_ids=[], vote=vote, user_id=user)
        feedback.give_reason(answer_key="k1", user_id=1, reason="outdated", text="old page")
        feedback.give_reason(answer_key="k1", user_id=2, reason="outdated")
        feedback.give_reason(answer_key="k2", user_id=3, reason="not_in_docs", text="none")
        asked: list[str] = []

        def closest(question: str) -> ClosestPassage:
            asked.append(question)
            return ClosestPassage("doc › ¶1", "A sentence.", None, 0.5)

        report = find_gaps(log, GUILD, closest=closest)
        one = find_gaps(log, GUILD, closest=closest, limit=1)
    finally:
        log.close()
        feedback.close()
    assert report.questions == 6 and report.total_clusters == 2 and report.unembedded == 0
    password, cancel = report.clusters
    assert (password.size, cancel.size) == (4, 2)
    assert password.typical == "how do I reset my password"
    assert set(password.wordings) == {"reset password", "password reset??"}
    assert (password.not_found, password.voted_down) == (3, 1)
    assert password.reasons == (("outdated", 2),)
    assert password.notes == ("Outdated: old page",)
    assert password.first_at == pytest.approx(now - 5 * DAY)
    assert password.last_at == pytest.approx(now - 2 * DAY)
    assert (cancel.not_found, cancel.voted_down, cancel.reasons) == (1, 1, (("not_in_docs", 1),))
    assert password.closest == ClosestPassage("doc › ¶1", "A sentence.", None, 0.5)
    assert password.collections == ("guild-1001",)
    assert asked == ["how do I reset my password", cancel.typical, "how do I reset my password"]
    assert len(one.clusters) == 1 and one.total_clusters == 2


def test_ties_in_size_put_the_most_recent_first_and_days_bound_the_window(tmp_path: Path) -> None:
    log = log_at(tmp_path)
    now = time.time()
    try:
        add(log, "old need", unit(1, 0), at=now - 10 * DAY)
        add(log, "new need", unit(0, 1), at=now - 1 * DAY)
        both = find_gaps(log, GUILD)
        recent = find_gaps(log, GUILD, days=5)
        everyone = find_gaps(log, None)
    finally:
        log.close()
    assert [c.typical for c in both.clusters] == ["new need", "old need"]
    assert [c.typical for c in recent.clusters] == ["new need"] and recent.days == 5
    assert everyone.questions == 2


def test_questions_without_an_embedding_are_grouped_by_wording(tmp_path: Path) -> None:
    log = log_at(tmp_path)
    try:
        add(log, "Where is the  API key?", None)
        add(log, "where is the api key?", None)
        add(log, "something else", None)
        add(log, "embedded", unit(1))
        report = find_gaps(log, GUILD)
    finally:
        log.close()
    assert report.unembedded == 3 and report.questions == 4
    assert [c.size for c in report.clusters] == [2, 1, 1]
    assert report.clusters[0].typical.casefold().split() == "where is the api key?".split()


def test_empty_log(tmp_path: Path) -> None:
    log = log_at(tmp_path)
    try:
        report = find_gaps(log, GUILD, collection="guild-1001")
    finally:
        log.close()
    assert report.clusters == () and report.questions == 0 and report.total_clusters == 0


def test_the_gap_rows_on_each_engine(state_url: Any, tmp_path: Path) -> None:
    """SQLite and PostgreSQL alike: only gap questions (not found, or voted 👎 — a 👍 alone is
    not one), with their 👎 flag; votes fetched only for the answers asked about."""
    log = QuestionLog(state_url)
    feedback = FeedbackStore(state_url, key_path=tmp_path / "key")
    try:
        add(log, "not found", unit(1), key="k1")
        add(log, "found, voted down", unit(0, 1), found=True, key="k2")
        add(log, "found, voted up", unit(0, 0, 1), found=True, key="k3")
        add(log, "found, no vote", unit(0, 0, 1), found=True)
        add(log, "not found, no key", None)
        add(log, "another server's", unit(1), guild=OTHER)
        feedback.record(answer_key="k2", question="q", passage_ids=[], vote=DOWN, user_id=1)
        feedback.give_reason(answer_key="k2", user_id=1, reason="wrong_passage", text="nope")
        feedback.record(answer_key="k3", question="q", passage_ids=[], vote=UP, user_id=1)
        rows = log.gap_rows(GUILD)
        votes = log.votes_on(["k2", "k3"])
        report = find_gaps(log, GUILD)
    finally:
        log.close()
        feedback.close()
    assert [(r.question, r.found, r.down) for r in rows] == [
        ("not found", False, False), ("found, voted down", True, True),
        ("not found, no key", False, False),
    ]
    assert rows[0].vector is not None and rows[2].vector is None
    assert [(v.vote, v.reason, v.text) for v in votes["k2"]] == [(DOWN, "wrong_passage", "nope")]
    assert [v.vote for v in votes["k3"]] == [UP]
    down = next(c for c in report.clusters if c.typical == "found, voted down")
    assert (down.voted_down, down.reasons, down.notes) == (
        1, (("wrong_passage", 1),), ("Wrong passage: nope",)
    )
    assert report.questions == 3 and report.unembedded == 1
