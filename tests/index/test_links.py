"""Links to quoted passages: text fragments for web pages, #page=N for PDFs."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from index.links import MAX_LINK_CHARS, passage_link, text_fragment


def test_short_passage_is_one_term_and_long_one_is_start_and_end():
    assert text_fragment("Yes") == "#:~:text=Yes"
    assert text_fragment("  \n ") == ""
    fragment = text_fragment("one two three four five six seven eight nine ten")
    assert fragment == "#:~:text=one%20two%20three%20four,seven%20eight%20nine%20ten"


def test_reserved_characters_are_percent_encoded():
    fragment = text_fragment("North-Korea, Seoul & Tokyo")
    assert fragment == "#:~:text=North%2DKorea%2C%20Seoul%20%26%20Tokyo"


@given(st.text(min_size=1, max_size=300))
def test_every_term_decodes_to_words_of_the_passage(passage):
    fragment = text_fragment(passage)
    if not passage.split():
        assert fragment == ""
        return
    body = fragment.removeprefix("#:~:text=")
    terms = body.split(",")
    assert 1 <= len(terms) <= 2
    for term in terms:
        assert "-" not in term and "&" not in term and " " not in term and "#" not in term
        assert unquote(term) in " ".join(passage.split())


def test_pdf_links_open_the_page_and_replace_an_old_fragment():
    assert passage_link("https://x.org/r.pdf#page=1", "pdf", "text", 12) == (
        "https://x.org/r.pdf#page=12"
    )
    assert passage_link("https://x.org/r.pdf", "pdf", "text", None) == "https://x.org/r.pdf"


def test_web_page_link_keeps_query_and_no_address_no_link():
    link = passage_link("https://x.org/faq?lang=en#top", "html", "Press Reset", None)
    assert link == "https://x.org/faq?lang=en#:~:text=Press%20Reset"
    assert passage_link(None, "html", "Press Reset", None) is None
    assert passage_link("", "markdown", "Press Reset", None) is None


def test_overlong_links_drop_the_fragment_then_the_link():
    base = "https://x.org/" + "a" * (MAX_LINK_CHARS - 30)
    assert passage_link(base, "html", "word " * 50 + "é" * 40, None) == base
    assert passage_link(base + "b" * 100, "html", "word", None) is None
