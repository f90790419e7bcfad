"""Questions judged by the section that answers them (documentation question sets)."""

import json
from pathlib import Path

import pytest

from index.answer import Answer, Citation, Passage
from index.evaluation import (
    EvaluationDataError,
    LabelledQuestion,
    Tally,
    first_hit,
    load_jsonl,
    load_split,
    same_section,
)

DOCS_QUESTIONS = Path(__file__).resolve().parent.parent / "data" / "docs_questions.jsonl"


def _passage(document: str, section: str | None, text: str = "some text") -> Passage:
    return Passage("id", text, Citation(document, section, 1, 0, len(text)), 1.0, (0, len(text)))


def test_a_section_matches_by_the_last_heading_of_a_path_without_permalink_signs() -> None:
    assert same_section("Logging HOWTO › Basic Logging Tutorial › Loggers", "Loggers")
    assert same_section("Loggers¶", "Loggers")
    assert not same_section("Logging HOWTO › Loggers › Handlers", "Loggers")
    assert not same_section(None, "Loggers")


def test_a_question_judged_by_section_counts_the_first_passage_of_that_section() -> None:
    labelled = LabelledQuestion("q", (), "howto/logging.html", "Handlers")
    answer = Answer("q", (
        _passage("howto/logging.html", "Logging HOWTO › Loggers"),
        _passage("library/logging.html", "logging › Handlers"),  # another page
        _passage("howto/logging.html", "Logging HOWTO › Advanced › Handlers"),
    ))
    assert labelled.answerable
    assert first_hit(answer, labelled) == 3
    tally = Tally()
    tally.add(labelled, answer, 0.001)
    report = tally.report()
    assert (report.hit_at_1, report.hit_at_3, report.unanswerable) == (0.0, 1.0, 0)


def test_gold_strings_still_judge_by_text() -> None:
    answer = Answer("q", (_passage("a", None, "nothing"), _passage("a", None, "the answer")))
    assert first_hit(answer, ("answer",)) == 2
    assert first_hit(answer, LabelledQuestion("q", ("answer",))) == 2


def test_the_docs_question_set_has_fit_and_held_out_halves_over_the_same_pages() -> None:
    fit, held_out = load_split(DOCS_QUESTIONS, "fit"), load_split(DOCS_QUESTIONS, "heldout")
    assert len(fit) >= 40 and len(held_out) >= 40
    assert len(fit) + len(held_out) == len(load_jsonl(DOCS_QUESTIONS))
    assert {q.document for q in fit} == {q.document for q in held_out}
    assert all(q.section and q.document and not q.answers for q in fit + held_out)
    assert not any(q.document.startswith("faq/") for q in fit + held_out)  # kept for a check


def test_a_section_without_its_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "q", "section": "Loggers"}) + "\n")
    with pytest.raises(EvaluationDataError):
        load_jsonl(path)
    with pytest.raises(EvaluationDataError):
        load_split(path, "nothing-of-this-split")
