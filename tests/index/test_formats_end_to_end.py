"""The bundled article in every format: the same question finds the Lavrov passage first, with
the right section, page and link, and offsets exact in the stored extracted text; and no
character of any document's body is left out of the chunks."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.engine import Engine
from index.ingest.documents import load_documents
from tests.conftest import ARTICLE, isolated_settings
from tests.index.formats.docx_fixtures import write_article_docx
from tests.index.formats.html_fixtures import ARTICLE_HTML_H1, write_article_html
from tests.index.formats.markdown_fixtures import ARTICLE_MARKDOWN_URL, write_article_markdown
from tests.index.formats.pdf_fixtures import write_article_pdf

QUESTION = "Which Russian official visited Seoul?"
SECTION = "China and Russia are additional complications"
CANONICAL = "https://news.example/analysis/north-korea-allied-coordination"
MIRROR = "https://files.example/articles/"


def write_article_text(path: Path) -> None:
    shutil.copy(ARTICLE, path)


def write_html(path: Path) -> None:
    write_article_html(path, canonical=CANONICAL)


WRITERS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "text": ("article.txt", write_article_text),
    "markdown": ("article.md", write_article_markdown),
    "html": ("article.html", write_html),
    "docx": ("article.docx", write_article_docx),
    "pdf": ("article.pdf", write_article_pdf),
}


@pytest.fixture(scope="module")
def every_format(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("formats")
    for name, write in WRITERS.values():
        write(folder / name)
    return folder


@pytest.mark.parametrize("format", list(WRITERS))
def test_lavrov_first_in_every_format(format: str, every_format: Path, tmp_path: Path):
    name = WRITERS[format][0]
    sources = tmp_path / "src"
    sources.mkdir()
    shutil.copy(every_format / name, sources / name)
    (sources / "sources.toml").write_text(f'[folders]\n"" = "{MIRROR}"\n', encoding="utf-8")
    engine = Engine(isolated_settings(source_dir=sources, index_dir=tmp_path / "idx"))
    report = engine.rebuild()
    assert report.skipped == ()
    first = engine.search(QUESTION).passages[0]
    citation = first.citation
    assert "Sergei Lavrov" in first.text
    # a web page's h1 heads the path of its h2 sections
    section = f"{ARTICLE_HTML_H1} › {SECTION}" if format == "html" else SECTION
    assert citation.document == name and citation.section == section
    stored = engine.searcher.corpus.documents[name]
    assert stored.format == format
    assert stored.text[citation.start : citation.end] == first.text
    if format == "pdf":
        assert citation.page == citation.page_end == 2 and "› p. 2 ›" in citation.label()
        assert citation.url == MIRROR + "article.pdf#page=2"
    else:
        assert citation.page is None
    # the document's own address wins over a folder's; a folder's gives the rest theirs
    if format == "html":
        assert citation.url.startswith(CANONICAL + "#:~:text=")
    elif format == "markdown":
        assert citation.url.startswith(ARTICLE_MARKDOWN_URL + "#:~:text=")
    elif format != "pdf":
        assert citation.url.startswith(f"{MIRROR}{name}#:~:text=")


def test_every_body_character_is_in_a_chunk(every_format: Path, engine):
    chunker = engine.chunker()
    documents = load_documents(every_format).documents
    assert {d.format for d in documents} == set(WRITERS)
    for document in documents:
        rest = list(document.text)
        for start, end in document.headings:
            rest[start:end] = " " * (end - start)
        for chunk in chunker.chunk(document):
            assert document.text[chunk.start : chunk.end] == chunk.text
            rest[chunk.start : chunk.end] = " " * (chunk.end - chunk.start)
        left = "".join(rest).split()
        assert left == [], f"{document.path}: {left[:10]}"


def test_build_skips_each_bad_file_with_its_reason_and_indexes_the_rest(tmp_path: Path, capsys):
    """What a new user sees from `citebot build` on a folder of good and broken documents."""
    from bot.cli.main import main
    from tests.index.formats.docx_fixtures import write_truncated_docx, write_zip_bomb_docx
    from tests.index.formats.pdf_fixtures import (
        write_encrypted_pdf,
        write_scanned_pdf,
        write_truncated_pdf,
    )

    sources = tmp_path / "src"
    sources.mkdir()
    write_article_text(sources / "article.txt")
    write_article_docx(sources / "handbook.docx")
    write_scanned_pdf(sources / "scanned.pdf")
    write_encrypted_pdf(sources / "locked.pdf")
    write_truncated_pdf(sources / "truncated.pdf")
    write_zip_bomb_docx(sources / "bomb.docx")
    write_truncated_docx(sources / "cut.docx")
    (sources / "scripts.html").write_text(
        "<html><head><script>var a = 1;</script><style>p{}</style></head><body>"
        "<script>document.write('hi')</script></body></html>", encoding="utf-8")
    (sources / "binary.md").write_bytes(bytes(range(256)) * 4)
    write_article_pdf(tmp_path / "outside.pdf")
    (sources / "linked.pdf").symlink_to(tmp_path / "outside.pdf")

    status = main(["--index-dir", str(tmp_path / "idx"), "--source-dir", str(sources), "build"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "Traceback" not in out + err
    assert "Indexed 2 document(s)" in out + err
    expected = {
        "scanned.pdf": "no text layer (scanned PDF?): OCR is not supported",
        "locked.pdf": "encrypted PDF (password-protected)",
        "truncated.pdf": "damaged PDF",
        "bomb.docx": "over the 50 MB limit",
        "cut.docx": "not a Word .docx file",
        "scripts.html": "no readable text in the page",
        "binary.md": "UTF-8",
        "linked.pdf": "a link to a file outside the source folder",
    }
    skipped = [line for line in err.splitlines() if line.startswith("citebot: warning: skipped ")]
    assert len(skipped) == len(expected), err
    for name, reason in expected.items():
        assert any(line.startswith(f"citebot: warning: skipped {name}: ") and reason in line
                   for line in skipped), (name, err)
