"""PDF extraction on real PDFs drawn with reportlab (see pdf_fixtures): paragraphs, pages,
sections, running headers, hyphenation, and every kind of unreadable file."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.ingest.documents import load_documents, page_of
from index.ingest.formats import Extracted, ExtractLimits, UnreadableDocument
from index.ingest.formats.pdf import extract
from tests.conftest import isolated_settings
from tests.index.formats.checks import assert_well_formed
from tests.index.formats.pdf_fixtures import (
    ARTICLE_TITLE,
    LAVROV_PAGE,
    LAVROV_SECTION,
    Heading,
    Indented,
    article_parts,
    article_pdf_bytes,
    repeated_page_pdf_bytes,
    write_aes_marked_pdf,
    write_article_pdf,
    write_encrypted_pdf,
    write_lines_pdf,
    write_random_pdf,
    write_scanned_pdf,
    write_shared_content_pdf,
    write_sideways_pdf,
    write_truncated_pdf,
)

QUESTION = "Which Russian official visited Seoul?"


def _extract(path: Path) -> Extracted:
    return extract(path.read_bytes(), ExtractLimits())


def _squeezed(text: str) -> str:
    return " ".join(text.split())


def _block_texts(extracted: Extracted) -> list[str]:
    return [extracted.text[block.start : block.end] for block in extracted.blocks]


def _pages_of(extracted: Extracted, start: int, end: int) -> tuple[int, int]:
    return page_of(extracted.pages, start), page_of(extracted.pages, end - 1)


# --- the bundled article as a PDF -------------------------------------------------------------


@pytest.mark.parametrize(
    ("outline", "indented"), [(True, False), (False, False), (True, True)],
    ids=["bookmarks", "heading-fonts", "indented-justified"],
)
def test_article_pdf_gives_the_article_paragraphs_and_sections(tmp_path, outline, indented):
    path = tmp_path / "article.pdf"
    write_article_pdf(path, outline=outline, indented=indented)
    extracted = _extract(path)
    assert_well_formed(extracted)
    assert extracted.format == "pdf"
    assert extracted.title == ARTICLE_TITLE
    parts = article_parts()
    assert [_squeezed(text) for text in _block_texts(extracted)] == [
        _squeezed(text) for text, heading in parts if not heading
    ]
    headings = [extracted.text[start:end] for start, end in extracted.headings]
    assert headings == [text for text, heading in parts if heading]
    lavrov = next(b for b in extracted.blocks if "Sergei Lavrov" in extracted.text[b.start:b.end])
    assert lavrov.section == LAVROV_SECTION
    assert _pages_of(extracted, lavrov.start, lavrov.end) == (LAVROV_PAGE, LAVROV_PAGE)
    assert extracted.blocks[0].section is None
    assert len(extracted.pages) == 3 and extracted.pages[0] == 0


def test_running_header_and_page_footer_are_in_no_block(tmp_path):
    path = tmp_path / "article.pdf"
    write_article_pdf(path)
    extracted = _extract(path)
    assert ARTICLE_TITLE not in extracted.text
    assert re.search(r"Page \d", extracted.text) is None


def test_article_paragraph_split_by_the_page_break_is_one_block(tmp_path):
    path = tmp_path / "article.pdf"
    write_article_pdf(path)
    extracted = _extract(path)
    crossing = [b for b in extracted.blocks if len(set(_pages_of(extracted, b.start, b.end))) > 1]
    assert len(crossing) == 1  # reportlab breaks one paragraph across pages 2 and 3
    block = crossing[0]
    assert _pages_of(extracted, block.start, block.end) == (2, 3)
    assert extracted.text[block.start : block.end].startswith("Washington, Seoul, Beijing")


def test_question_is_answered_from_the_pdf_with_page_and_exact_offsets(tmp_path):
    from bot.core.engine import Engine

    sources = tmp_path / "sources"
    sources.mkdir()
    write_article_pdf(sources / "article.pdf")
    engine = Engine(isolated_settings(source_dir=sources, index_dir=tmp_path / "index"))
    engine.rebuild()
    answer = engine.search(QUESTION, k=3)
    first = answer.passages[0]
    assert "Sergei Lavrov" in first.text
    citation = first.citation
    assert (citation.document, citation.section) == ("article.pdf", LAVROV_SECTION)
    assert (citation.page, citation.page_end) == (LAVROV_PAGE, LAVROV_PAGE)
    assert citation.paragraph == 5  # paragraphs are counted per page
    assert f"p. {LAVROV_PAGE}" in citation.label()
    text = engine.searcher.corpus.documents["article.pdf"].text
    for passage in answer.passages:
        c = passage.citation
        assert text[c.start : c.end] == passage.text
    assert ARTICLE_TITLE not in text


# --- layout: paragraphs, pages, hyphens, headings ---------------------------------------------


def test_paragraph_continued_on_the_next_page_is_one_block(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [
        ["Scoring rules for the league.", "", "A goal scored from inside the area counts two",
         "points, and a goal scored from outside the"],
        ["area counts three points in every match.", "", "Penalties count one point."],
        ["The referee decides ties.", "", "A last paragraph ends here."],
    ], header="League handbook 2026", page_numbers=True)
    extracted = _extract(path)
    assert_well_formed(extracted)
    texts = _block_texts(extracted)
    assert texts == [
        "Scoring rules for the league.",
        "A goal scored from inside the area counts two points, and a goal scored from outside "
        "the area counts three points in every match.",
        "Penalties count one point.",
        "The referee decides ties.",  # a finished sentence before the page break: a new block
        "A last paragraph ends here.",
    ]
    crossing = extracted.blocks[1]
    assert _pages_of(extracted, crossing.start, crossing.end) == (1, 2)
    assert extracted.text[extracted.pages[1] :].startswith("area counts three")
    assert _pages_of(extracted, extracted.blocks[3].start, extracted.blocks[3].end) == (3, 3)
    assert "League handbook" not in extracted.text


def test_headers_that_change_with_the_chapter_but_carry_the_page_number_are_dropped(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [
        ["The basics come first."],
        ["2 points are given for a goal."],
        ["Fouls are punished."],
    ], header=["Chapter 1: Basics 11", "Chapter 2: Scoring 12", "Chapter 3: Fouls 13"])
    assert _block_texts(_extract(path)) == [
        "The basics come first.", "2 points are given for a goal.", "Fouls are punished."
    ]


def test_bulleted_items_are_paragraphs_with_their_hanging_indent(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [[
        "The main features are:",
        "• On-line structure management that needs",
        Indented("no code generation."),
        "• Thread-safety: many handles",
        Indented("may be used in parallel."),
        "",
        "The list ends here.",
    ]])
    assert _block_texts(_extract(path)) == [
        "The main features are:",
        "• On-line structure management that needs no code generation.",
        "• Thread-safety: many handles may be used in parallel.",
        "The list ends here.",
    ]


def test_hyphenated_line_ends_are_joined_and_real_hyphens_kept(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [[
        "The allies need closer coordi-",
        "nation with Seoul, and the North-",
        "Korea desk agrees -",
        "a dash between spaces stays one.",
    ]])
    extracted = _extract(path)
    assert _block_texts(extracted) == [
        "The allies need closer coordination with Seoul, and the North-Korea desk agrees - a "
        "dash between spaces stays one."
    ]


def test_indented_first_lines_start_paragraphs(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [[
        "", "The first paragraph starts indented and", "goes on at the margin.",
        "", "The second one starts indented too and", "also goes on at the margin.",
    ]], indent_paragraphs=True)
    assert _block_texts(_extract(path)) == [
        "The first paragraph starts indented and goes on at the margin.",
        "The second one starts indented too and also goes on at the margin.",
    ]


def test_larger_font_lines_are_headings_without_an_outline(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [
        ["Before any heading.", Heading("Scoring"), "Goals count two points.", "",
         Heading("Fouls and"), Heading("penalties"), "A foul gives a free kick."],
        ["A second foul gives a card."],
    ], title="Rules")
    extracted = _extract(path)
    assert_well_formed(extracted)
    assert extracted.title == "Rules"
    assert [extracted.text[s:e] for s, e in extracted.headings] == [
        "Scoring", "Fouls and penalties"
    ]
    assert [(extracted.text[b.start : b.end], b.section) for b in extracted.blocks] == [
        ("Before any heading.", None),
        ("Goals count two points.", "Scoring"),
        ("A foul gives a free kick.", "Fouls and penalties"),
        ("A second foul gives a card.", "Fouls and penalties"),
    ]


def test_bookmarks_open_sections_where_they_point_even_without_a_heading_line(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [
        ["Opening words.", "", "Kick-off rules.", "", "Goal rules."],
        [],
        ["Foul rules.", "", Heading("Cards"), "A red card ends the game."],
    ], bookmarks=[("Part 1: Start", 1, 2), ("Part 2: Scoring", 1, 4), ("Part 3: Fouls", 2, 0),
                  ("Cards", 3, 2)])
    extracted = _extract(path)
    assert_well_formed(extracted)
    assert [(extracted.text[b.start : b.end], b.section) for b in extracted.blocks] == [
        ("Opening words.", None),
        ("Kick-off rules.", "Part 1: Start"),
        ("Goal rules.", "Part 2: Scoring"),
        ("Foul rules.", "Part 3: Fouls"),  # its bookmark is on the empty page before
        ("A red card ends the game.", "Cards"),
    ]
    assert [extracted.text[s:e] for s, e in extracted.headings] == ["Cards"]


def test_sideways_margin_text_is_dropped_but_a_sideways_page_is_read(tmp_path):
    path = tmp_path / "doc.pdf"
    write_sideways_pdf(path)
    extracted = _extract(path)
    assert_well_formed(extracted)
    assert "arXiv" not in extracted.text
    texts = _block_texts(extracted)
    assert texts[0] == "The upright body text of the first page. It goes on for a second line."
    assert "A landscape page turned a quarter." in extracted.text[extracted.pages[1] :]
    assert "Its text is still indexed." in extracted.text[extracted.pages[1] :]


def test_a_page_without_text_keeps_the_page_count(tmp_path):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, [["First page text."], [], ["Third page text."]])
    extracted = _extract(path)
    assert len(extracted.pages) == 3
    third = extracted.blocks[1]
    assert page_of(extracted.pages, third.start) == 3


words = st.sampled_from(["alpha", "Beta", "coordi-", "nation", "North-", "Korea", "12", "end.",
                         "ii", "Page", "-", "œuvre", "naïve", "ﬁnal", "(see", "below)"])
lines = st.one_of(
    st.lists(words, min_size=1, max_size=8).map(" ".join),
    st.just(""),
    st.lists(words, min_size=1, max_size=3).map(lambda w: Heading(" ".join(w))),
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pages=st.lists(st.lists(lines, max_size=30), min_size=1, max_size=4),
       header=st.one_of(st.none(), st.just("Running header 7")), numbers=st.booleans())
def test_every_visible_character_is_in_a_block_or_heading(tmp_path, pages, header, numbers):
    path = tmp_path / "doc.pdf"
    write_lines_pdf(path, pages, header=header, page_numbers=numbers)
    try:
        extracted = _extract(path)
    except UnreadableDocument as problem:
        assert "no text layer" in str(problem)
        assert not any(line for page in pages for line in page) and not header and not numbers
        return
    assert_well_formed(extracted)
    assert len(extracted.pages) == len(pages)


# --- unreadable files -------------------------------------------------------------------------


BAD_FILES = {
    "scanned.pdf": (write_scanned_pdf, "no text layer (scanned PDF?): OCR is not supported"),
    "locked.pdf": (write_encrypted_pdf, "encrypted PDF (password-protected)"),
    "truncated.pdf": (write_truncated_pdf, "damaged PDF (it ends too early"),
    "random.pdf": (write_random_pdf, "not a PDF (no %PDF header)"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_pdf_gives_its_reason_without_pypdf_warnings(tmp_path, caplog, name):
    write, reason = BAD_FILES[name]
    path = tmp_path / name
    write(path)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UnreadableDocument) as raised:
        _extract(path)
    assert str(raised.value).startswith(reason)
    assert not [record for record in caplog.records if record.name.startswith("pypdf")]


def test_owner_password_only_pdf_is_indexed(tmp_path):
    path = tmp_path / "owner.pdf"
    write_encrypted_pdf(path, user_password="")
    extracted = _extract(path)
    assert any("Sergei Lavrov" in text for text in _block_texts(extracted))


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_encrypted_owner_password_only_pdf_is_indexed(tmp_path, algorithm):
    """What Acrobat and Word write: AES, anyone may open it (cryptography is a dependency)."""
    path = tmp_path / "aes.pdf"
    write_encrypted_pdf(path, user_password="", algorithm=algorithm)
    extracted = _extract(path)
    assert any("Sergei Lavrov" in text for text in _block_texts(extracted))
    locked = tmp_path / "locked-aes.pdf"
    write_encrypted_pdf(locked, algorithm=algorithm)
    with pytest.raises(UnreadableDocument, match=r"^encrypted PDF \(password-protected\)"):
        _extract(locked)


def test_aes_pdf_without_a_crypto_library_says_what_to_install(tmp_path, monkeypatch):
    """A broken install (pypdf finds no AES implementation) is named, with the remedy."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    def no_aes(self, password):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", no_aes)
    path = tmp_path / "aes.pdf"
    write_aes_marked_pdf(path)
    with pytest.raises(UnreadableDocument, match=r"^encrypted PDF \(AES\) .*pip install cryptogr"):
        _extract(path)


def test_pdf_without_pages_is_damaged(tmp_path):
    from pypdf import PdfWriter

    path = tmp_path / "empty.pdf"
    PdfWriter().write(path)
    with pytest.raises(UnreadableDocument, match=r"^damaged PDF \(no pages"):
        _extract(path)


def test_a_page_whose_content_cannot_be_decoded_is_named():
    import io

    from pypdf import PdfReader

    data = bytearray(ARTICLE_BYTES)
    contents = PdfReader(io.BytesIO(ARTICLE_BYTES)).pages[1].raw_get("/Contents")
    stream = data.index(b"stream", data.index(b"\n%d 0 obj" % contents.idnum)) + len(b"stream")
    assert b"/ASCII85Decode" in data[stream - 200 : stream]
    data[stream + 20 : stream + 24] = b"{{{{"  # not ASCII85 digits
    with pytest.raises(UnreadableDocument, match=r"^damaged PDF \(the content of page 2 cann"):
        extract(bytes(data), ExtractLimits())


def test_damaged_pdf_body_after_a_valid_header(tmp_path):
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    with pytest.raises(UnreadableDocument, match=r"^damaged PDF \("):
        _extract(path)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_corrupted_bytes_never_raise_anything_else(data):
    original = bytearray(ARTICLE_BYTES)
    for _ in range(data.draw(st.integers(1, 20))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    try:
        extracted = extract(bytes(original), ExtractLimits())
    except UnreadableDocument as problem:
        assert str(problem)
    else:
        assert_well_formed(extracted)


ARTICLE_BYTES = article_pdf_bytes()


def test_content_over_the_size_limit_once_decompressed_is_refused():
    with pytest.raises(UnreadableDocument, match=r"^a part of it is over 0.002 MB once decomp"):
        extract(ARTICLE_BYTES, ExtractLimits(max_bytes=2000))


def test_text_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "plain.pdf"
    write_lines_pdf(path, [["A line of text that is repeated on every page."] * 40] * 3,
                    compress=False)
    text_length = len(_extract(path).text)
    with pytest.raises(UnreadableDocument, match=r"^more than .* MB of text"):
        extract(path.read_bytes(), ExtractLimits(max_bytes=text_length // 2))


def test_pages_sharing_one_huge_content_stream_are_refused_within_the_budget(tmp_path,
                                                                            monkeypatch):
    import index.ingest.formats.pdf as pdf

    path = tmp_path / "shared.pdf"
    write_shared_content_pdf(path, pages=20, strokes=1000)  # 60,000 operations in 20 pages
    assert len(_extract(path).pages) == 20
    monkeypatch.setattr(pdf, "MIN_OPERATIONS", 30_000)
    with pytest.raises(UnreadableDocument, match=r"^too much to read: .*drawing operations"):
        _extract(path)


def test_a_page_repeated_thousands_of_times_is_refused_before_its_content_is_parsed():
    # Issue 20, item 2: 32 KB, 2,000 listings of one page whose content inflates to 20 MB of
    # whitespace; few operations and under the decompression cap, it took ~50 minutes.
    data = repeated_page_pdf_bytes()
    assert len(data) < 40_000
    with pytest.raises(UnreadableDocument, match=r"^too much to read: its pages decode to over "
                       r"10\.6 MB of drawing instructions by page 1, far more than a file of "
                       r"32 kB should \(one page repeated thousands of times\?"):
        extract(data, ExtractLimits())


def test_repeats_of_one_content_stream_count_against_the_budget_each_time():
    once = extract(repeated_page_pdf_bytes(pages=1, padding=4_000_000), ExtractLimits())
    assert len(once.pages) == 1  # 4 MB is within the budget once...
    with pytest.raises(UnreadableDocument, match=r"by page 3, far more than a file of 5 kB"):
        extract(repeated_page_pdf_bytes(pages=4, padding=4_000_000), ExtractLimits())


def test_extraction_stops_at_the_deadline_and_says_which_setting_sets_it():
    # Small pages, within every budget, but 2,000 of them: seconds of work, stopped at 0.2 s.
    data = repeated_page_pdf_bytes(pages=2000, padding=3000)
    with pytest.raises(UnreadableDocument, match=r"^reading it took over 0\.2 s \(the limit for "
                       r"one document, CITEBOT_EXTRACT_TIMEOUT_SECONDS\) and was stopped"):
        extract(data, ExtractLimits(timeout_seconds=0.2))
    few = repeated_page_pdf_bytes(pages=20, padding=3000)
    assert len(extract(few, ExtractLimits()).pages) == 20


def test_build_indexes_the_good_pdf_and_skips_each_bad_one_with_its_reason(tmp_path):
    write_article_pdf(tmp_path / "good.pdf")
    for name, (write, _) in BAD_FILES.items():
        write(tmp_path / name)
    loaded = load_documents(tmp_path)
    assert [document.path for document in loaded.documents] == ["good.pdf"]
    good = loaded.documents[0]
    assert good.format == "pdf" and len(good.pages) == 3
    reasons = {skipped.path: skipped.reason for skipped in loaded.skipped}
    assert sorted(reasons) == sorted(BAD_FILES)
    for name, (_, reason) in BAD_FILES.items():
        assert reasons[name].startswith(f"{name}: {reason}")
