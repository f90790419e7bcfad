"""Hostile questions: arbitrary Unicode through the engine and every renderer of an answer.

Never a crash: an unusable question raises QuestionError (a CitebotError with a clear message),
any other gets an answer whose passage and highlight offsets are exact against the document,
and that renders in the console (plain and rich) and for Discord within every limit.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from bot.cli.render import answer_to_plain, answer_to_rich
from bot.discord.utils.render import limit_problems, render_answer
from index.answer import Answer
from index.errors import CitebotError, QuestionError
from tests.conftest import SOURCE_DIR

WORDS = ["Seoul", "Lavrov", "Russia", "visit", "Moon", "sanctions", "which", "who", "?"]
HOSTILE = [
    "\u202eWhich Russian official visited Seoul?\u202c",  # right-to-left override
    "\u200fمن زار سيول؟\u200f",  # right-to-left marks around Arabic
    "Who\u200dvisited\u200dSeoul\u200b?",  # zero-width joiners and spaces
    "Seoul\x00\x07\x1b[31m?\x7f",  # control characters, a terminal escape
    "Lavrov \ud800 Seoul \udfff?",  # lone surrogates
    "?!…‽¿¡.,;:«»()[]{}",  # only punctuation
    "😀🎉🇰🇷👨‍👩‍👧",  # only emoji
    "\u0301\u0308\u20dd",  # only combining marks
    "\u3000\u2028\u2029\u00a0\ufeff",  # only exotic whitespace
    "[/x] [bold]Seoul[/bold] **Lavrov** `code` @everyone <@123>",  # markup of every kind
    "Seoul " * 20_000,  # 120k characters
    "x" * 100_000,  # one 100k-character word
    "",
]


def document_texts() -> dict[str, str]:
    """The source documents as citebot decodes them (UTF-8, a leading BOM not counted)."""
    return {
        path.relative_to(SOURCE_DIR).as_posix(): path.read_text(encoding="utf-8-sig")
        for path in SOURCE_DIR.rglob("*")
        if path.is_file()
    }


DOCUMENTS = document_texts()


def check_answer(answer: Answer) -> None:
    """Offsets exact, and every renderer copes with the answer."""
    for passage in answer.passages:
        original = DOCUMENTS[passage.citation.document]
        start, end = passage.citation.start, passage.citation.end
        assert original[start:end] == passage.text
        low, high = passage.highlight
        assert 0 <= low < high <= len(passage.text)
        assert original[start + low : start + high] == passage.highlight_text
        assert passage.highlight_text.strip() == passage.highlight_text
    assert answer_to_plain(answer).endswith("\n")
    for width in (40, 120):
        console = Console(
            file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor"
        )
        console.print(answer_to_rich(answer))
    for echo in (True, False):
        rendered = render_answer(answer, echo_question=echo)
        payload = {"content": rendered.content, "embeds": [e.to_dict() for e in rendered.embeds]}
        assert limit_problems(payload) == []


def ask(engine, question: str) -> None:
    try:
        answer = engine.search(question, 3)
    except QuestionError as error:
        message = str(error)
        assert message and "Traceback" not in message and len(message) < 300
        assert isinstance(error, CitebotError)
        return
    assert len(answer.question) <= engine.settings.max_question_chars
    check_answer(answer)


@pytest.mark.parametrize("question", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_questions(engine, question: str) -> None:
    ask(engine, question)


def test_unusable_questions_say_why(engine) -> None:
    for question in ("", "   ", "?!…", "😀🎉", "\u200b\u200d", "\ud800"):
        with pytest.raises(QuestionError, match="type a question"):
            engine.search(question, 3)


def test_a_long_question_is_cut_with_a_notice(engine) -> None:
    answer = engine.search("Which Russian official visited Seoul? " * 5_000, 3)
    assert answer.notices and "only the first" in answer.notices[0]
    check_answer(answer)


# Any code point, surrogates included, with words of the article mixed in.
ANY_CHARACTER = st.characters(codec=None, categories=None)
QUESTIONS = st.lists(
    st.one_of(st.text(ANY_CHARACTER, max_size=12), st.sampled_from(WORDS)), max_size=12
).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(QUESTIONS)
@example("\ud83d")
@example("Seoul\ud83d\ude00 \U0010ffff")
def test_arbitrary_unicode_questions(engine, question: str) -> None:
    ask(engine, question)
