from pathlib import Path

import pytest

from index.documents import compare_sources, is_plain_heading, load_documents, parse_document
from index.errors import SourceError
from tests.conftest import ARTICLE, SOURCE_DIR


def test_article_sections_and_paragraphs():
    documents = load_documents(SOURCE_DIR).documents
    assert [d.path for d in documents] == ["north-korea-allied-coordination.txt"]
    document = documents[0]
    assert document.sections == (
        "The United States and South Korea do not fully agree on North Korea’s policy",
        "China and Russia are additional complications",
        "US has few credible options to coerce North Korea",
    )
    assert [p.number for p in document.paragraphs] == list(range(1, 18))
    lavrov = next(p for p in document.paragraphs if "Lavrov" in document.text[p.start : p.end])
    assert (lavrov.number, lavrov.section) == (11, "China and Russia are additional complications")
    # headings are metadata, never paragraphs
    for paragraph in document.paragraphs:
        assert document.text[paragraph.start : paragraph.end] not in document.sections
    assert document.paragraphs[0].section is None


def test_paragraph_offsets_point_into_original_text():
    document = load_documents(SOURCE_DIR).documents[0]
    original = ARTICLE.read_bytes().decode("utf-8")
    assert document.text == original
    for paragraph in document.paragraphs:
        body = original[paragraph.start : paragraph.end]
        assert body == body.strip() and "\n\n" not in body


def test_markdown_headings_and_crlf():
    text = "# Title\r\nIntro line.\r\n\r\n## Part two\r\n\r\nBody one.\r\nstill body.\r\n"
    document = parse_document("a.md", text)
    assert [(p.number, p.section) for p in document.paragraphs] == [(1, "Title"), (2, "Part two")]
    second = document.paragraphs[1]
    assert text[second.start : second.end] == "Body one.\r\nstill body."


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("China and Russia are additional complications", True),
        ("A sentence that ends with a period.", False),
        ("lower case start without punctuation", False),
        (
            "The Japanese government said North Korea launched two ballistic missiles into a sea "
            "near Japan on March 25, fueling tensions (Reuters)",
            False,
        ),
        ("Two\nlines", False),
    ],
)
def test_plain_heading_rule(line, heading):
    assert is_plain_heading(line) is heading


def test_bad_files_are_skipped_with_reason(tmp_path: Path):
    (tmp_path / "good.txt").write_text("A fine paragraph of text.", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me.".encode("latin-1"))
    (tmp_path / "empty.md").write_text("   \n\n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / ".hidden.txt").write_text("Secret.", encoding="utf-8")
    result = load_documents(tmp_path)
    assert [d.path for d in result.documents] == ["good.txt"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert set(reasons) == {"latin1.txt", "empty.md"}
    assert "latin1.txt" in reasons["latin1.txt"] and "UTF-8" in reasons["latin1.txt"]
    assert "empty.md" in reasons["empty.md"]


def test_bom_is_not_counted(tmp_path: Path):
    (tmp_path / "bom.txt").write_bytes("\ufeffHello there.".encode())
    document = load_documents(tmp_path).documents[0]
    paragraph = document.paragraphs[0]
    assert document.text[paragraph.start : paragraph.end] == "Hello there."
    assert paragraph.start == 0


def test_missing_dir_and_empty_dir(tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        load_documents(tmp_path / "nope")
    with pytest.raises(SourceError, match=r"no \.txt or \.md files"):
        load_documents(tmp_path)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(SourceError, match=r"bad\.txt"):
        load_documents(tmp_path)


def test_compare_sources(tmp_path: Path):
    (tmp_path / "a.txt").write_text("One.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Two.", encoding="utf-8")
    recorded = {d.path: d.content_hash for d in load_documents(tmp_path).documents}
    assert not compare_sources(tmp_path, recorded)
    (tmp_path / "a.txt").write_text("One changed.", encoding="utf-8")
    (tmp_path / "b.txt").unlink()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("Three.", encoding="utf-8")
    changes = compare_sources(tmp_path, recorded)
    assert changes.modified == ("a.txt",)
    assert changes.removed == ("b.txt",)
    assert changes.added == ("sub/c.md",)
