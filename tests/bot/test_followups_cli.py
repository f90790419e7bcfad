"""Follow-ups from the command line and the console: ``ask --follow-up-of``, ``eval`` on
conversations, the console's conversation and ``:new``, and the "Read together" line."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from bot.cli.console import run_console
from bot.cli.main import main
from bot.cli.render import CONTEXT, answer_to_plain, answer_to_rich
from tests.conftest import SOURCE_DIR

DIALOGUES = Path(__file__).resolve().parent.parent / "data" / "article_dialogues.jsonl"
FIRST = "Did the Moon administration criticize Kim's regime?"
GOLD = "not offending the Kim regime is the most effective way"


def _ask(built_index_dir, capsys, *args: str) -> dict:
    status = main(
        ["--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR), "ask", *args]
    )
    out = capsys.readouterr().out
    assert status == 0
    return json.loads(out)


def test_ask_follow_up_of_reads_the_question_with_the_earlier_one(built_index_dir, capsys):
    data = _ask(built_index_dir, capsys, "--json", "--follow-up-of", FIRST, "Why not?")
    assert data["context"] == FIRST and data["question"] == "Why not?"
    assert GOLD in data["passages"][0]["text"]
    alone = _ask(built_index_dir, capsys, "--json", "Why not?")
    assert alone["context"] is None
    assert all(GOLD not in passage["text"] for passage in alone["passages"])


def test_ask_follow_up_of_is_repeatable_oldest_first(built_index_dir, capsys):
    data = _ask(
        built_index_dir, capsys, "--json",
        "--follow-up-of", "Which Russian official visited Seoul?",
        "--follow-up-of", "What did he urge?",
        "How was his trip portrayed?",
    )
    assert data["context"] == "What did he urge?"  # the previous question is the one named
    assert "counter-movement to the American diplomatic offensive" in data["passages"][0]["text"]


def test_ask_says_in_plain_text_what_it_was_read_with(built_index_dir, capsys):
    status = main([
        "--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR),
        "ask", "--follow-up-of", FIRST, "Why not?",
    ])
    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines()[0] == f"{CONTEXT}{FIRST}"


def test_ask_follow_up_of_a_full_question_on_another_topic_is_not_read_with_it(
    built_index_dir, capsys
):
    question = "Which Chinese state tabloid commented on Lavrov's visit?"
    data = _ask(built_index_dir, capsys, "--json", "--follow-up-of", FIRST, question)
    assert data["context"] is None and "Global Times" in data["passages"][0]["text"]


def test_eval_reports_first_turns_follow_ups_and_topic_changes(built_index_dir, capsys):
    status = main([
        "--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR),
        "eval", str(DIALOGUES), "--json",
    ])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(report) == {"first_turns", "follow_ups", "topic_changes"}
    follow_ups = report["follow_ups"]
    assert follow_ups["answerable"] >= 30
    assert follow_ups["hit_at_1"] >= 0.80 and follow_ups["hit_at_3"] >= 0.95
    assert report["topic_changes"]["hit_at_1"] == 1.0
    # Every topic change is answered alone, the off-topic "How many moons does Jupiter have?"
    # too ("Moon" is in the article, "Jupiter" is not: a new topic), so it is not in the source.
    changes = report["topic_changes"]
    assert changes["read_with_context"] == 0.0
    assert changes["no_answer_recall"] == 1.0
    assert report["first_turns"]["read_with_context"] == 0.0
    assert report["first_turns"]["hit_at_1"] >= 0.95


def test_eval_on_conversations_prints_a_table(built_index_dir, capsys):
    status = main([
        "--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR),
        "eval", str(DIALOGUES),
    ])
    out = capsys.readouterr().out
    assert status == 0
    assert "follow ups" in out and "topic changes" in out and "hit_at_1" in out


def test_eval_refuses_a_malformed_conversation(built_index_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"turns": [{"answers": ["x"]}]}\n', encoding="utf-8")
    status = main([
        "--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR), "eval", str(bad),
    ])
    assert status == 1
    assert "bad.jsonl:1: expected" in capsys.readouterr().err


def _console(engine, lines: str) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    assert run_console(engine, console, 1, stdin=io.StringIO(lines)) == 0
    return out.getvalue()


def test_console_questions_form_a_conversation_until_new(engine):
    out = _console(engine, f"{FIRST}\nWhy not?\n:more\n:new\nWhy not?\n")
    line = f"{CONTEXT}{FIRST}"
    # "Why not?" and its :more are read with the first question; after :new it stands alone.
    assert out.count(line) == 2
    assert "New conversation" in out
    before, after = out.split("New conversation", 1)
    assert GOLD in " ".join(before.split()) and line not in after
    assert "Not in the source" in after


def test_console_reads_each_follow_up_with_the_question_before_it(engine):
    sanctions = "Why have decades of sanctions failed to stop North Korea's nuclear program?"
    session_lines = "".join(f"{q}\n" for q in (
        "Which Russian official visited Seoul?", "What did he urge?", "How was his trip portrayed?",
        sanctions, "Which country undermines them?",
    ))
    out = _console(engine, session_lines)
    assert out.count(CONTEXT) == 3  # the change of topic (sanctions) is read alone
    assert f"{CONTEXT}What did he urge?" in out
    last = " ".join(out.rsplit(CONTEXT, 1)[1].split())
    assert last.startswith(sanctions) and "economic lifeline" in last


def test_the_context_line_in_plain_and_rich_text_is_escaped(engine):
    answer = engine.search("Why not?", 1, history=())
    assert CONTEXT not in answer_to_plain(answer)
    from dataclasses import replace

    read = replace(answer, context="What about \x1b[31mred?")
    plain = answer_to_plain(read)
    assert plain.splitlines()[0] == CONTEXT + "What about \\x1b[31mred?"
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=200).print(answer_to_rich(read))
    assert "What about \\x1b[31mred?" in out.getvalue() and "\x1b[31mred" not in out.getvalue()


def test_ask_cuts_a_long_follow_up_of_like_the_question_and_says_so(built_index_dir, capsys):
    """100,000 characters given as the earlier question were searched and echoed whole."""
    earlier = (FIRST + " ") * (100_000 // (len(FIRST) + 1))
    data = _ask(built_index_dir, capsys, "--json", "--follow-up-of", earlier, "Why not?")
    assert data["context"] is not None and FIRST in data["context"]
    assert len(data["context"]) <= 1000
    assert data["notices"] == [
        f"Your earlier question (--follow-up-of) was {len(earlier):,} characters long; only the "
        f"first {len(data['context']):,} were searched (the limit is 1,000)."
    ]
    assert GOLD in data["passages"][0]["text"]


def test_ask_names_which_follow_up_of_is_empty(built_index_dir, capsys):
    status = main([
        "--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR),
        "ask", "--follow-up-of", FIRST, "--follow-up-of", " \t ", "Why not?",
    ])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert captured.err.strip() == (
        "citebot: error: --follow-up-of #2: the earlier question is empty: type a question "
        "about the sources"
    )
