"""``citebot report`` (issue 23): the operator's HTML report of every server's question log, or
one collection's; written whole; bad paths and an empty log handled."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.core.engine import Engine
from bot.core.insights.passages import passage_names
from bot.state.feedback import DOWN, FeedbackStore
from bot.state.questions import QuestionLog

HOSTILE = "<script>alert(1)</script> @everyone"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state database with questions of two servers (one hostile), a 👎 with a reason, and
    the settings pointing at it."""
    path = tmp_path / "state.sqlite3"
    monkeypatch.setenv("CITEBOT_STATE_DB", str(path))
    monkeypatch.setenv("CITEBOT_COLLECTIONS_DIR", str(tmp_path / "collections"))
    monkeypatch.setenv("CITEBOT_INDEX_DIR", str(tmp_path / "no-index"))
    log = QuestionLog(path)
    feedback = FeedbackStore(path, key_path=tmp_path / "state.sqlite3.key")
    now = time.time()
    try:
        for i in range(12):
            log.record(
                guild_id=1, collection="guild-1", question=f"server one question {i}",
                found=i % 3 != 0, passage_ids=["guide.md#2"] if i % 3 else [],
                answer_key=f"a{i}", user_hash="h", at=now - i * 3_600,
            )
        log.record(
            guild_id=2, collection="guild-2", question=HOSTILE, found=True,
            passage_ids=["faq.md#1"], answer_key="b1", user_hash="h", at=now - 60,
        )
        feedback.record(answer_key="a1", question="server one question 1",
                        passage_ids=["guide.md#2"], vote=DOWN, user_id=5)
        feedback.give_reason(answer_key="a1", user_id=5, reason="outdated", text="")
    finally:
        log.close()
        feedback.close()
    return path


def text_of(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", page, flags=re.S)).split())


def test_the_report_of_every_server(state: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old report")
    assert main(["report", "--html", str(target)]) == 0
    page = target.read_text(encoding="utf-8")
    text = text_of(page)
    assert "citebot usage report: all servers" in text
    assert "13 questions" in text and "2 servers" in text
    assert "guide.md" in text and "faq.md" in text  # the documents cited
    assert "Outdated 1" in text  # the 👎 reason
    assert "<script>" not in page
    assert "<svg" in page
    assert list(target.parent.iterdir()) == [target]  # no temporary file left
    assert target.stat().st_mode & 0o077 == 0  # what people asked: the owner's alone
    out = capsys.readouterr().out
    assert "13 question(s)" in out and str(target) in out


def test_one_collection_only(state: Path, tmp_path: Path) -> None:
    target = tmp_path / "one.html"
    assert main(["report", "--collection", "guild-2", "--days", "7", "--html", str(target)]) == 0
    text = text_of(target.read_text(encoding="utf-8"))
    assert "citebot usage report: collection guild-2" in text and "The last 7 days" in text
    assert "1 questions" in text and "server one" not in text and "guide.md" not in text
    long = tmp_path / "long.html"
    assert main(["report", "--days", "90", "--html", str(long)]) == 0
    assert "(it keeps questions 30 days)" in text_of(long.read_text(encoding="utf-8"))
    assert "keeps questions" not in text


def test_an_empty_or_missing_log_makes_a_page_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_STATE_DB", str(tmp_path / "none.sqlite3"))
    target = tmp_path / "empty.html"
    assert main(["report", "--html", str(target)]) == 0
    assert "No questions logged in the last 30 days." in text_of(target.read_text("utf-8"))
    assert not (tmp_path / "none.sqlite3").exists()  # a report creates no database


def test_bad_paths_fail_with_a_clear_message(state: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", "--html", str(tmp_path / "missing" / "r.html")]) == 1
    assert "the folder" in capsys.readouterr().err
    assert main(["report", "--html", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o500)
    try:
        code = main(["report", "--html", str(readonly / "r.html")])
        err = capsys.readouterr().err
    finally:
        readonly.chmod(0o700)
    if code == 0:  # root ignores the folder's mode
        assert (readonly / "r.html").exists()
    else:
        assert code == 1 and "cannot write" in err and "Traceback" not in err
        assert list(readonly.iterdir()) == []
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--days", "0", "--html", str(tmp_path / "r.html")])
    assert exit_.value.code == 2


def test_logged_passage_ids_are_named_from_the_current_index(
    engine: Engine, built_index_dir: Path
) -> None:
    answer = engine.search("Which Russian official visited Seoul?", 3)
    ids = [passage.chunk_id for passage in answer.passages]
    names = passage_names(built_index_dir, [*ids, "0000000000000000", "not-an-id"])
    assert set(names) == set(ids)
    for passage in answer.passages:
        named = names[passage.chunk_id]
        assert named.citation == passage.citation.label()
        assert named.document == passage.citation.document
    assert passage_names(built_index_dir.parent / "nothing", ids) == {}


def test_matplotlib_loads_only_when_a_chart_is_drawn() -> None:
    """Every ``citebot`` command and the bot's start import these modules: matplotlib (~0.9 s
    with its dependencies here) must wait for a report or /docs stats."""
    code = (
        "import sys\n"
        "import bot.cli.main, bot.discord.exts.docs.stats, bot.discord.exts.docs.cog\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "import bot.core.insights.report\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_reports_day_counts_are_the_logs_own(state: Path) -> None:
    """The report counts days from the rows it already holds: the same as QuestionLog.daily."""
    from bot.core.insights.report import daily_counts

    log = QuestionLog(state)
    try:
        for guild in (None, 1, 2):
            assert daily_counts(log.questions(guild, days=30)) == log.daily(guild, days=30)
        assert sum(day.down for day in log.daily(None, days=30)) == 1
    finally:
        log.close()


def test_the_report_shows_the_knowledge_gaps(tmp_path: Path, monkeypatch) -> None:
    """Gap questions with their embeddings: the page shows each need once, with its size and its
    typical wording; a question that was found and not voted down is no gap."""
    import numpy as np

    path = tmp_path / "state.sqlite3"
    monkeypatch.setenv("CITEBOT_STATE_DB", str(path))
    monkeypatch.setenv("CITEBOT_COLLECTIONS_DIR", str(tmp_path / "collections"))
    monkeypatch.setenv("CITEBOT_INDEX_DIR", str(tmp_path / "no-index"))
    rng = np.random.default_rng(7)
    needs = {name: rng.standard_normal(384).astype(np.float32) for name in ("refund", "dark")}
    wordings = {
        "refund": ["How do I get a refund?", "refund my order please", "Can I get my money back?"],
        "dark": ["Is there a dark mode?", "how to turn on dark theme"],
    }
    log = QuestionLog(path)
    try:
        for name, questions in wordings.items():
            for n, question in enumerate(questions):
                noise = rng.standard_normal(384).astype(np.float32) * 0.05
                vector = needs[name] + noise
                log.record(guild_id=1, collection="guild-1", question=question, found=False,
                           passage_ids=[], answer_key=f"{name}{n}", user_hash="h",
                           vector=vector / np.linalg.norm(vector))
        log.record(guild_id=1, collection="guild-1", question="Where is the ferry?", found=True,
                   passage_ids=["x"], answer_key="f", user_hash="h",
                   vector=needs["refund"] / np.linalg.norm(needs["refund"]))
    finally:
        log.close()
    target = tmp_path / "gaps.html"
    assert main(["report", "--html", str(target)]) == 0
    text = text_of(target.read_text(encoding="utf-8"))
    assert "Where is the ferry?" not in text
    refund = [w for w in wordings["refund"] if w in text]
    dark = [w for w in wordings["dark"] if w in text]
    assert len(refund) >= 2 and len(dark) >= 2  # the typical wording and the others
    assert text.index(refund[0]) < text.index(dark[0])  # the larger need first
