"""Plain text never loses a line: short lines that look like headings (FAQ answers such as
"Yes" or "Press Reset to restart") stay searchable, and chunks cover every character."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.engine import Engine
from index.ingest.documents import parse_document
from tests.conftest import isolated_settings

FAQ = """Router FAQ

Can I restart the router from the app?

Yes

How do I restore the factory settings?

Press Reset to restart

What does the status command print?

Example output

Why is the light orange?

Firmware update pending

Where is the serial number?

Underneath the rubber foot

Contact

Write to the support desk.
"""


def covered(document, chunks) -> str:
    """The document's text with every character inside some chunk blanked out."""
    text = list(document.text)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        for i in range(chunk.start, chunk.end):
            text[i] = " "
    return "".join(text)


def test_every_faq_line_is_indexed_and_found(tmp_path: Path, engine):
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "faq.txt").write_text(FAQ, encoding="utf-8")
    faq = Engine(isolated_settings(source_dir=sources, index_dir=tmp_path / "idx", use_onnx=False))
    faq.rebuild()
    corpus = faq.searcher.corpus
    chunks = list(corpus.chunks)
    document = parse_document("faq.txt", FAQ)
    assert covered(document, chunks).strip() == ""
    for line in (line for line in FAQ.splitlines() if line.strip()):
        answer = faq.search(line, k=3)
        assert any(p.text == line for p in answer.passages), line
    sections = {c.text: c.section for c in chunks}
    assert sections["Can I restart the router from the app?"] == "Router FAQ"
    # a short line after a question is its answer, not a heading; one after a statement is
    assert sections["How do I restore the factory settings?"] == "Router FAQ"
    assert sections["Underneath the rubber foot"] == "Router FAQ"
    assert sections["Write to the support desk."] == "Contact"


def test_the_article_loses_no_character(engine, article_text):
    document = parse_document("north-korea-allied-coordination.txt", article_text)
    assert covered(document, engine.searcher.corpus.chunks).strip() == ""


lines = st.lists(
    st.one_of(
        st.sampled_from(["Yes", "# Heading", "Example output", "No.", "   ", "", "## ##", "A"]),
        st.text(alphabet="ab .,:#\t\r-*", max_size=40),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(lines, st.sampled_from(["\n", "\r\n", "\r"]))
def test_every_non_whitespace_character_of_plain_text_is_in_a_paragraph(parts, newline):
    text = newline.join(parts)
    document = parse_document("any.txt", text)
    rest = list(text)
    for paragraph in document.paragraphs:
        body = text[paragraph.start : paragraph.end]
        assert body == body.strip() and body
        for i in range(paragraph.start, paragraph.end):
            rest[i] = " "
    assert "".join(rest).split() == []
