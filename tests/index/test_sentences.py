import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from index.sentences import split_sentences


def texts_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_abbreviations_initials_and_quotes():
    text = (
        "Mr. Smith went to Washington. He met Dr. J. Doe at 5 p.m. on Monday! "
        "Did the U.S. agree? “Yes.” She said so."
    )
    assert texts_of(text) == [
        "Mr. Smith went to Washington.",
        "He met Dr. J. Doe at 5 p.m. on Monday!",
        "Did the U.S. agree?",
        "“Yes.”",
        "She said so.",
    ]


def test_list_items_are_sentences():
    assert texts_of("Steps:\n- first thing\n- second thing") == [
        "Steps:",
        "- first thing",
        "- second thing",
    ]


@given(st.text(alphabet=st.sampled_from(list("ab .?!\n“”A1é")), max_size=200))
def test_spans_cover_all_non_whitespace_in_order(text):
    spans = split_sentences(text)
    covered = "".join(text[s:e] for s, e in spans)
    assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", text)
    for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
        assert e1 <= s2
    for s, e in spans:
        assert s < e and text[s:e] == text[s:e].strip()
