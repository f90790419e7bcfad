"""The DOCX extractor: paragraphs in body order with heading styles, tables, content controls
and tracked changes; zip bombs and damaged files refused with a reason; the bundled article as a
Word document, indexed and asked the standard question."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from hypothesis import given, settings
from hypothesis import strategies as st

from index.ingest.documents import load_documents
from index.ingest.formats import ExtractLimits, UnreadableDocument, extractor_for
from index.ingest.formats.docx import extract
from tests.index.formats.checks import assert_well_formed, bodies, engine_over, headings
from tests.index.formats.docx_fixtures import (
    ARTICLE_DOCX_TITLE,
    write_article_docx,
    write_random_zip,
    write_truncated_docx,
    write_zip_bomb_docx,
)
from tests.index.formats.html_fixtures import article_headings, article_paragraphs

QUESTION = "Which Russian official visited Seoul?"
LAVROV_SECTION = "China and Russia are additional complications"
NOT_WORD = "not a Word .docx file"


def saved(document: docx.document.Document) -> bytes:
    stream = io.BytesIO()
    document.save(stream)
    return stream.getvalue()


def extracted(data: bytes, limits: ExtractLimits | None = None):
    result = extract(data, limits or ExtractLimits())
    assert_well_formed(result)
    return result


def append_body_xml(document: docx.document.Document, xml: str) -> None:
    """Add raw WordprocessingML (with the w: namespace) at the end of the body."""
    body = document.element.body
    body.insert(len(body) - 1, parse_xml(xml))  # before the final w:sectPr


def test_docx_files_use_this_extractor():
    assert extractor_for("Handbook.DOCX") is extract


def test_article_docx_paragraphs_headings_and_title(tmp_path: Path):
    result = extracted(write_article_docx(tmp_path / "article.docx").read_bytes())
    assert result.format == "docx"
    assert result.title == ARTICLE_DOCX_TITLE  # the Title paragraph wins over core properties
    assert result.url is None
    assert headings(result) == [ARTICLE_DOCX_TITLE, *article_headings()]
    assert bodies(result) == [p for p in article_paragraphs() if p not in article_headings()]
    lavrov = next(b for b in result.blocks if "Sergei Lavrov" in result.text[b.start : b.end])
    assert lavrov.section == LAVROV_SECTION


def test_bundled_article_as_docx_answers_with_exact_quotes(tmp_path: Path):
    engine = engine_over(tmp_path, "article.docx", write_article_docx)

    answer = engine.search(QUESTION)
    first = answer.passages[0]
    assert "Sergei Lavrov" in first.text
    assert (first.citation.document, first.citation.section) == ("article.docx", LAVROV_SECTION)
    record = engine.corpus.documents["article.docx"]
    assert (record.format, record.title) == ("docx", ARTICLE_DOCX_TITLE)
    for passage in answer.passages:
        citation = passage.citation
        assert record.text[citation.start : citation.end] == passage.text


def test_core_properties_title_when_no_title_paragraph():
    document = docx.Document()
    document.core_properties.title = "  Staff handbook  "
    document.add_heading("Leave", level=2)
    document.add_paragraph("Annual leave is 25 days.")
    result = extracted(saved(document))
    assert result.title == "Staff handbook"
    assert [(b.section, t) for b, t in zip(result.blocks, bodies(result), strict=True)] == [
        ("Leave", "Annual leave is 25 days.")
    ]


def test_no_title_anywhere_is_none():
    document = docx.Document()
    document.add_paragraph("Just a paragraph.")
    assert extracted(saved(document)).title is None


def test_every_heading_level_and_styles_based_on_headings_name_sections():
    document = docx.Document()
    for level in range(1, 10):
        document.add_heading(f"Level {level}", level=level)
        document.add_paragraph(f"Body {level}.")
    custom = document.styles.add_style("Chapter Heading", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 1"]
    document.add_paragraph("Custom chapter", style=custom)
    document.add_paragraph("Custom body.")
    document.add_paragraph("Not a heading", style="Subtitle")
    document.add_paragraph("Contents", style="TOC Heading")  # based on Heading 1 in Word
    document.add_paragraph("A quotation.", style="Intense Quote")
    result = extracted(saved(document))
    assert headings(result) == [
        *(f"Level {n}" for n in range(1, 10)), "Custom chapter", "Contents"
    ]
    assert [b.section for b in result.blocks][-3:] == ["Custom chapter"] * 2 + ["Contents"]
    assert bodies(result)[-3:] == ["Custom body.", "Not a heading", "A quotation."]


def test_empty_paragraphs_are_skipped_and_whitespace_is_tidied():
    document = docx.Document()
    document.add_paragraph("")
    document.add_paragraph("   ")
    paragraph = document.add_paragraph("Name:\tAda   Lovelace")
    paragraph.add_run().add_break()
    paragraph.add_run("Second line.")
    document.add_paragraph("")
    result = extracted(saved(document))
    assert bodies(result) == ["Name: Ada Lovelace\nSecond line."]


def test_table_rows_of_plain_cells_are_one_block_each_in_body_order():
    document = docx.Document()
    document.add_paragraph("Before the table.")
    table = document.add_table(rows=3, cols=3)
    rows = [("Item", "Weight", "Colour"), ("Box", "3 kg", ""), ("Bag", "1 kg", "red")]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.add_paragraph("After the table.")
    assert bodies(extracted(saved(document))) == [
        "Before the table.", "Item | Weight | Colour", "Box | 3 kg", "Bag | 1 kg | red",
        "After the table.",
    ]


def test_merged_cells_are_read_once():
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Wide header"
    table.cell(1, 0).merge(table.cell(1, 1)).text = "Left"
    table.cell(1, 2).text = "Right"
    tall = document.add_table(rows=2, cols=2)
    tall.cell(0, 0).merge(tall.cell(1, 0)).text = "Tall"
    tall.cell(0, 1).text = "Top"
    tall.cell(1, 1).text = "Bottom"
    assert bodies(extracted(saved(document))) == [
        "Wide header", "Left | Right", "Tall | Top", "Bottom"
    ]


def test_cells_with_several_paragraphs_headings_or_tables_are_read_paragraph_by_paragraph():
    document = docx.Document()
    layout = document.add_table(rows=1, cols=2)
    left, right = layout.rows[0].cells
    left.paragraphs[0].text = "Chapter in a cell"
    left.paragraphs[0].style = document.styles["Heading 1"]
    left.add_paragraph("First paragraph in the cell.")
    left.add_paragraph("Second paragraph in the cell.")
    right.paragraphs[0].text = "Nested table follows."
    inner = right.add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "Key"
    inner.cell(0, 1).text = "Value"
    result = extracted(saved(document))
    assert headings(result) == ["Chapter in a cell"]
    assert bodies(result) == [
        "First paragraph in the cell.", "Second paragraph in the cell.",
        "Nested table follows.", "Key | Value",
    ]
    assert {b.section for b in result.blocks} == {"Chapter in a cell"}


def test_content_controls_and_tracked_insertions_are_read_deletions_are_not():
    document = docx.Document()
    document.add_paragraph("Visible start.")
    append_body_xml(document, f"""
      <w:sdt {nsdecls("w")}><w:sdtPr><w:alias w:val="Abstract"/></w:sdtPr><w:sdtContent>
        <w:p><w:r><w:t>Text inside a content control.</w:t></w:r></w:p>
      </w:sdtContent></w:sdt>""")
    append_body_xml(document, f"""
      <w:p {nsdecls("w")}>
        <w:r><w:t xml:space="preserve">The fee is </w:t></w:r>
        <w:del w:id="1" w:author="A" w:date="2024-01-01T00:00:00Z">
          <w:r><w:delText>ten</w:delText></w:r></w:del>
        <w:ins w:id="2" w:author="A" w:date="2024-01-01T00:00:00Z">
          <w:r><w:t>twelve</w:t></w:r></w:ins>
        <w:sdt><w:sdtContent>
          <w:r><w:t xml:space="preserve"> euros</w:t></w:r></w:sdtContent></w:sdt>
        <w:hyperlink w:anchor="x">
          <w:r><w:t xml:space="preserve"> (see rates)</w:t></w:r></w:hyperlink>
        <w:r><w:t>.</w:t></w:r>
      </w:p>""")
    assert bodies(extracted(saved(document))) == [
        "Visible start.", "Text inside a content control.", "The fee is twelve euros (see rates).",
    ]


def test_a_document_without_text_is_unreadable():
    with pytest.raises(UnreadableDocument, match="no text in the document"):
        extract(saved(docx.Document()), ExtractLimits())
    only_headings = docx.Document()
    only_headings.add_heading("Just a heading", level=1)
    with pytest.raises(UnreadableDocument, match="no text in the document"):
        extract(saved(only_headings), ExtractLimits())


def test_a_zip_bomb_is_refused_before_it_is_expanded(tmp_path: Path):
    bomb = write_zip_bomb_docx(tmp_path / "bomb.docx")
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(UnreadableDocument) as problem:
        extract(bomb.read_bytes(), ExtractLimits())
    assert str(problem.value) == (
        "its content expands to 200.0 MB, over the 50 MB limit for one source file "
        "(CITEBOT_MAX_SOURCE_MB)"
    )


def test_a_part_compressed_beyond_any_real_document_is_refused_under_the_size_limit(
    tmp_path: Path,
):
    bomb = write_zip_bomb_docx(tmp_path / "bomb.docx", expanded_bytes=20 * 1000 * 1000)
    with pytest.raises(UnreadableDocument, match=r"'word/document.xml' expands \d+ times"):
        extract(bomb.read_bytes(), ExtractLimits())


def test_the_size_limit_is_the_one_given(tmp_path: Path):
    data = write_article_docx(tmp_path / "article.docx").read_bytes()
    with pytest.raises(UnreadableDocument, match=r"over the 0.1 MB limit"):
        extract(data, ExtractLimits(max_bytes=100_000))


def test_too_many_parts_is_refused(tmp_path: Path):
    path = tmp_path / "parts.docx"
    with zipfile.ZipFile(path, "w") as archive:
        for number in range(10_001):
            archive.writestr(f"p/{number}", b"")
    with pytest.raises(UnreadableDocument, match="10001 parts in its zip archive"):
        extract(path.read_bytes(), ExtractLimits())


def _with_content_type(data: bytes, content_type: str) -> bytes:
    """A copy of a .docx whose main part claims another content type."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "[Content_Types].xml":
                content = re.sub(
                    rb'ContentType="application/vnd\.openxmlformats-officedocument\.'
                    rb'wordprocessingml\.document\.main\+xml"',
                    f'ContentType="{content_type}"'.encode(), content,
                )
            target.writestr(member, content)
    return out.getvalue()


def _damaged_document_xml(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "word/document.xml":
                content = content[: len(content) // 2]
            target.writestr(member, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: write_truncated_docx(p).read_bytes(), "not a zip archive, or a damaged"),
        (lambda p: write_random_zip(p).read_bytes(), "a zip archive without a Word document"),
        (lambda p: b"Plain text saved with a .docx name.\n", "not a zip archive"),
        (lambda p: b"", "not a zip archive"),
        (
            lambda p: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
            "a legacy .doc or a password-protected document",
        ),
        (
            lambda p: _with_content_type(
                write_article_docx(p).read_bytes(),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            ),
            "another kind of Office file",
        ),
        (
            lambda p: _damaged_document_xml(write_article_docx(p).read_bytes()),
            "its XML is damaged",
        ),
    ],
)
def test_files_that_are_not_word_documents_say_why(tmp_path: Path, make, reason):
    with pytest.raises(UnreadableDocument) as problem:
        extract(make(tmp_path / "file.docx"), ExtractLimits())
    assert str(problem.value).startswith(NOT_WORD) and reason in str(problem.value)


def test_a_folder_of_good_and_bad_documents_indexes_the_good_one(tmp_path: Path):
    write_article_docx(tmp_path / "article.docx")
    write_zip_bomb_docx(tmp_path / "bomb.docx")
    write_truncated_docx(tmp_path / "truncated.docx")
    write_random_zip(tmp_path / "archive.docx")
    (tmp_path / "empty.docx").write_bytes(saved(docx.Document()))
    loaded = load_documents(tmp_path)
    assert [d.path for d in loaded.documents] == ["article.docx"]
    assert loaded.documents[0].title == ARTICLE_DOCX_TITLE
    reasons = {s.path: s.reason for s in loaded.skipped}
    assert reasons == {
        "archive.docx": f"archive.docx: {NOT_WORD} (a zip archive without a Word document in "
        "it)",
        "bomb.docx": "bomb.docx: its content expands to 200.0 MB, over the 50 MB limit for one "
        "source file (CITEBOT_MAX_SOURCE_MB)",
        "empty.docx": "empty.docx: no text in the document (empty, or only headings or images)",
        "truncated.docx": f"truncated.docx: {NOT_WORD} (not a zip archive, or a damaged or "
        "incomplete one)",
    }


_WORDS = st.text(  # no "|": it separates cells in the extracted text
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn"), exclude_characters="|"
    ),
    max_size=30,
)
_ITEMS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["Normal", "Heading 1", "Heading 3", "Title", "Quote"]), _WORDS),
        st.tuples(st.just("table"), st.lists(_WORDS, min_size=1, max_size=3)),
    ),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(_ITEMS)
def test_any_document_gives_well_formed_spans_and_keeps_every_word(items):
    document = docx.Document()
    for kind, content in items:
        if kind == "table":
            table = document.add_table(rows=1, cols=len(content))
            for cell, text in zip(table.rows[0].cells, content, strict=True):
                cell.text = text
        else:
            document.add_paragraph(content, style=kind)
    try:
        result = extract(saved(document), ExtractLimits())
    except UnreadableDocument as problem:
        assert str(problem).startswith("no text in the document")
        return
    assert_well_formed(result)
    texts = [
        text for _, content in items
        for text in ([content] if isinstance(content, str) else content)
    ]
    assert [w for w in result.text.split() if w != "|"] == [w for t in texts for w in t.split()]


def test_a_missing_part_is_reported_as_damage(tmp_path: Path):
    data = write_article_docx(tmp_path / "article.docx").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            if member.filename != "word/styles.xml":
                target.writestr(member, source.read(member))
    with pytest.raises(UnreadableDocument, match="a part it refers to is missing"):
        extract(out.getvalue(), ExtractLimits())
