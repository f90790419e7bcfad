"""Quality floors on the bundled article's own question set: the build fails if retrieval
regresses. Figures at the time of writing: hit@1 0.97, hit@3 1.0, highlight@1 0.92."""

from pathlib import Path

import pytest

from index.evaluation import evaluate, load_jsonl

QUESTIONS = Path(__file__).resolve().parent.parent / "data" / "article_questions.jsonl"


@pytest.fixture(scope="module")
def report(engine):
    questions = load_jsonl(QUESTIONS)
    assert sum(1 for q in questions if q.answers) >= 30
    assert sum(1 for q in questions if not q.answers) >= 5
    return evaluate(engine.search, questions, k=5).report()


def test_every_answerable_question_has_its_answer_in_the_top_3(report):
    assert report.hit_at_3 == 1.0


def test_first_passage_and_highlight_floors(report):
    assert report.hit_at_1 >= 0.9
    assert report.highlight_at_1 >= 0.8


def test_unanswerable_questions_are_not_in_the_source(report):
    assert report.no_answer_recall == 1.0
    assert report.answerable_said_not_found == 0.0
