"""``citebot gaps``: the operator's knowledge gaps, from a real question log and a real index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.state.questions import QuestionLog
from tests.bot.test_cli import run_cli

SANCTIONS = [
    "have the sanctions on north korea actually worked",
    "How effective were UN sanctions against North Korea?",
    "did sanctions stop the DPRK's nuclear program",
]
HOSTILE = "how do I reset my password \x1b[31m@everyone **now**"
PASSWORD = ["I forgot my password, how can I change it?", HOSTILE]


def environment(tmp_path: Path, index: Path) -> dict[str, str]:
    return {
        "CITEBOT_STATE_DB": str(tmp_path / "state.sqlite3"),
        "CITEBOT_INDEX_DIR": str(index),
        "CITEBOT_SOURCE_DIR": str(tmp_path / "sources"),
        "CITEBOT_COLLECTIONS_DIR": str(tmp_path / "collections"),
    }


@pytest.fixture
def logged(tmp_path: Path, engine: Engine) -> Path:
    """A state database whose log holds two needs in ``default``, one question of another
    collection, and an answered question (not a gap)."""
    (tmp_path / "sources").mkdir()
    log = QuestionLog(tmp_path / "state.sqlite3")
    try:
        for guild, collection, question, found in [
            *((1, "default", q, False) for q in SANCTIONS),
            *((2, "default", q, False) for q in PASSWORD),
            (3, "guild-3", "what is the capital of australia", False),
            (1, "default", "who leads north korea", True),
        ]:
            log.record(guild_id=guild, collection=collection, question=question, found=found,
                       passage_ids=[], answer_key=None, user_hash="h",
                       vector=engine.query_encoder.encode_query(question))
    finally:
        log.close()
    return tmp_path


def test_gaps_text_groups_needs_with_the_closest_passage_and_escapes(
    logged: Path, index_copy: Path
) -> None:
    result = run_cli("gaps", env=environment(logged, index_copy))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "6 question(s)" in out and "in 3 cluster(s)" in out
    first = out.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    assert first.startswith("3 × ") and "sanctions" in first.lower()
    assert "3 not in the source, 0 voted 👎" in first and "in default" in first
    assert "closest passage (0." in first and "north-korea-allied-coordination" in first
    assert "\x1b" not in out and "\\x1b[31m@everyone" in out
    assert "closest passage: none" in out  # guild-3 has no index: still shown, without one


def test_gaps_json_of_one_collection(logged: Path, index_copy: Path) -> None:
    result = run_cli("gaps", "--collection", "default", "--days", "7", "--json",
                     env=environment(logged, index_copy))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["collection"], data["days"], data["questions"]) == ("default", 7, 5)
    assert [c["size"] for c in data["clusters"]] == [3, 2]
    sanctions, password = data["clusters"]
    assert {sanctions["typical"], *sanctions["wordings"]} == set(SANCTIONS)
    assert {password["typical"], *password["wordings"]} == set(PASSWORD)
    assert sanctions["closest"]["citation"] and sanctions["closest"]["text"]
    assert 0 < sanctions["closest"]["similarity"] <= 1
    assert sanctions["first_at"].endswith("+00:00") and sanctions["collections"] == ["default"]
    assert "capital of australia" not in result.stdout


def test_gaps_with_nothing_logged_says_so(tmp_path: Path, index_copy: Path) -> None:
    env = environment(tmp_path, index_copy)
    result = run_cli("gaps", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No knowledge gaps in the last 30 days (all servers)")
    assert "log_questions:False" in result.stdout
    assert not (tmp_path / "state.sqlite3").exists()  # looking created nothing
    empty = run_cli("--collection", "default", "gaps", "--json", env=env)
    assert empty.returncode == 0
    assert json.loads(empty.stdout)["clusters"] == []


def test_gaps_refuses_a_bad_number_of_days(tmp_path: Path, index_copy: Path) -> None:
    result = run_cli("gaps", "--days", "0", env=environment(tmp_path, index_copy))
    assert result.returncode == 2
    assert "must be a number of days from 1 to 3650" in result.stderr
    assert "Traceback" not in result.stderr
