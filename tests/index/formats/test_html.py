"""The HTML extractor: main content only, headings as sections, exact spans, declared charsets,
unreadable pages; the bundled article as a web page, indexed and asked the standard question."""

from __future__ import annotations

import codecs
import contextlib
import logging
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.ingest.documents import load_documents
from index.ingest.formats import Extracted, ExtractLimits, UnreadableDocument, extractor_for
from index.ingest.formats.html import NO_TEXT, extract
from tests.index.formats.checks import assert_well_formed, bodies, engine_over, headings
from tests.index.formats.html_fixtures import (
    ARTICLE_CANONICAL,
    ARTICLE_HTML_H1,
    ARTICLE_HTML_TITLE,
    BOILERPLATE,
    article_headings,
    article_paragraphs,
    write_article_html,
)

QUESTION = "Which Russian official visited Seoul?"
LAVROV_SECTION = f"{ARTICLE_HTML_H1} › China and Russia are additional complications"


def extracted(page: str | bytes) -> Extracted:
    """Extract a page (UTF-8 encoded when a string) and check its spans are well formed."""
    data = page.encode("utf-8") if isinstance(page, str) else page
    result = extract(data, ExtractLimits())
    assert_well_formed(result)
    return result


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def test_html_and_htm_files_use_this_extractor():
    assert extractor_for("faq.html") is extract
    assert extractor_for("OLD.HTM") is extract


def test_article_page_keeps_the_article_and_nothing_else(tmp_path: Path):
    result = extracted(write_article_html(tmp_path / "article.html").read_bytes())
    assert result.format == "html"
    assert (result.title, result.url) == (ARTICLE_HTML_TITLE, ARTICLE_CANONICAL)
    assert headings(result) == [ARTICLE_HTML_H1, *article_headings()]
    paragraphs = [part for part in article_paragraphs() if part not in article_headings()]
    assert bodies(result) == paragraphs  # the first paragraph and the short ones included
    for phrase in BOILERPLATE:
        assert phrase not in result.text
    lavrov = next(b for b in result.blocks if "Sergei Lavrov" in result.text[b.start : b.end])
    assert lavrov.section == LAVROV_SECTION
    assert result.blocks[0].section == ARTICLE_HTML_H1


def test_bundled_article_as_a_web_page_answers_with_exact_quotes_and_a_text_link(
    tmp_path: Path,
):
    engine = engine_over(tmp_path, "article.html", write_article_html)

    answer = engine.search(QUESTION)
    first = answer.passages[0]
    assert "Sergei Lavrov" in first.text
    assert first.citation.document == "article.html"
    assert first.citation.section == LAVROV_SECTION
    record = engine.corpus.documents["article.html"]
    assert (record.format, record.title, record.url) == (
        "html", ARTICLE_HTML_TITLE, ARTICLE_CANONICAL
    )
    for passage in answer.passages:
        citation = passage.citation
        assert record.text[citation.start : citation.end] == passage.text
        for phrase in BOILERPLATE:
            assert phrase not in passage.text
    assert first.citation.url is not None
    assert first.citation.url.startswith(ARTICLE_CANONICAL + "#:~:text=")
    for phrase in BOILERPLATE:
        assert phrase not in record.text


def test_short_paragraphs_and_faq_answers_are_kept_without_the_navigation():
    result = extracted(page(
        '<nav><a href="/">Home</a> <a href="/faq">Help centre</a></nav>'
        "<main><h1>FAQ</h1><h3>Can I reset it?</h3><p>Yes</p>"
        "<h3>How?</h3><p>Press Reset to restart</p><h3>Output?</h3><p>Example output</p></main>"
        "<footer><a href='/imprint'>Imprint</a></footer>"
    ))
    assert bodies(result) == ["Yes", "Press Reset to restart", "Example output"]
    assert [b.section for b in result.blocks] == [
        "FAQ › Can I reset it?", "FAQ › How?", "FAQ › Output?"
    ]
    assert headings(result) == ["FAQ", "Can I reset it?", "How?", "Output?"]
    assert "Help centre" not in result.text and "Imprint" not in result.text


def test_lists_tables_quotes_code_and_line_breaks_read_naturally():
    result = extracted(page(
        "<article><h1>Guide</h1>"
        "<p>First line with <b>bold</b>, <a href='/x'>a link</a> and <code>x = 1</code>."
        "<br>Second line.</p>"
        "<ul><li>Alpha</li><li>Beta <i>item</i><ul><li>Nested</li></ul></li></ul>"
        "<ol><li>Step one</li><li>Step two</li></ol>"
        "<table><tr><th>Name</th><th>Value</th></tr><tr><td>Weight</td><td>3 kg</td></tr>"
        "</table>"
        "<blockquote><p>To be or not to be.</p><p>That is the question.</p></blockquote>"
        "<pre><code>def f(x):\n    return x + 1\n</code></pre>"
        "<p>Short.</p></article>"
    ))
    assert bodies(result) == [
        "First line with bold, a link and x = 1.\nSecond line.",
        "- Alpha\n- Beta item\n  - Nested",
        "1. Step one\n2. Step two",
        "Name | Value",
        "Weight | 3 kg",
        "To be or not to be.",
        "That is the question.",
        "def f(x):\n    return x + 1",
        "Short.",
    ]
    assert {b.section for b in result.blocks} == {"Guide"}


def test_headings_h1_to_h6_name_sections_and_are_not_blocks():
    levels = "".join(f"<h{n}>Level {n}</h{n}><p>Body {n}.</p>" for n in range(1, 7))
    result = extracted(page(f"<article>{levels}<h2>Back up</h2><p>Body 7.</p></article>"))
    assert headings(result) == [*(f"Level {n}" for n in range(1, 7)), "Back up"]
    paths = [" › ".join(f"Level {i}" for i in range(1, n + 1)) for n in range(1, 7)]
    assert [(b.section, text) for b, text in zip(result.blocks, bodies(result), strict=True)] == [
        *((paths[n - 1], f"Body {n}.") for n in range(1, 7)),
        ("Level 1 › Back up", "Body 7."),  # a heading closes those of its level and deeper
    ]


@pytest.mark.parametrize(
    ("encoding", "declaration"),
    [
        ("iso-8859-1", '<meta charset="iso-8859-1">'),
        ("windows-1252", '<meta http-equiv="Content-Type" content="text/html; charset=cp1252">'),
        ("koi8-r", "<meta charset='KOI8-R'>"),
        ("shift_jis", '<meta charset="Shift_JIS">'),
    ],
)
def test_a_page_is_decoded_by_its_declared_charset(encoding, declaration):
    words = {"koi8-r": "Привет, мир.", "shift_jis": "こんにちは世界。"}.get(
        encoding, "Le café est très bon."
    )
    data = page(f"<article><p>{words}</p></article>", declaration).encode(encoding)
    assert bodies(extracted(data)) == [words]


def test_latin1_labelled_page_reads_windows_1252_quotes_as_browsers_do():
    data = page(
        "<article><p>\u201cQuoted\u201d caf\u00e9 \u20ac.</p></article>",
        '<meta charset="iso-8859-1"><title>Caf\u00e9</title>',
    ).encode("cp1252")
    result = extracted(data)
    assert bodies(result) == ["\u201cQuoted\u201d caf\u00e9 \u20ac."]
    assert result.title == "Caf\u00e9"


@pytest.mark.parametrize(
    "bom", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE]
)
def test_a_byte_order_mark_decides_the_encoding(bom):
    encoding = {
        codecs.BOM_UTF8: "utf-8", codecs.BOM_UTF16_LE: "utf-16-le",
        codecs.BOM_UTF16_BE: "utf-16-be", codecs.BOM_UTF32_LE: "utf-32-le",
    }[bom]
    data = bom + page("<article><p>Grüße aus Köln.</p></article>").encode(encoding)
    assert bodies(extracted(data)) == ["Grüße aus Köln."]


def test_an_xml_declaration_names_the_encoding():
    data = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        + page("<article><p>Señor Núñez.</p></article>")
    ).encode("latin-1")
    assert bodies(extracted(data)) == ["Señor Núñez."]


@pytest.mark.parametrize("charset", ["base64", "rot13", "no-such-charset", "utf-16"])
def test_a_charset_that_is_no_text_encoding_is_ignored(charset):
    data = page("<p>Caf\u00e9 cr\u00e8me.</p>", f'<meta charset="{charset}">').encode("utf-8")
    assert bodies(extracted(data)) == ["Caf\u00e9 cr\u00e8me."]


def test_undeclared_bytes_are_utf8_else_windows_1252():
    assert bodies(extracted(page("<p>Straße</p>").encode("utf-8"))) == ["Straße"]
    assert bodies(extracted(page("<p>Straße \u2013 Ecke</p>").encode("cp1252"))) == [
        "Straße \u2013 Ecke"
    ]


@pytest.mark.parametrize(
    ("link", "url"),
    [
        ('<link rel="canonical" href="https://example.com/a">', "https://example.com/a"),
        ('<link rel="Canonical alternate" href=" http://example.com/b ">', "http://example.com/b"),
        ('<link rel="canonical" href="/relative/page">', None),
        ('<link rel="canonical" href="javascript:alert(1)">', None),
        ('<link rel="alternate" href="https://example.com/c">', None),
        ("", None),
    ],
)
def test_only_an_absolute_http_canonical_link_is_the_address(link, url):
    result = extracted(page("<article><p>Body text.</p></article>", f"<title>T</title>{link}"))
    assert result.url == url


def test_no_title_is_none_and_whitespace_in_the_title_is_collapsed():
    assert extracted(page("<p>Body.</p>")).title is None
    assert extracted(page("<p>Body.</p>", "<title>\n  A   title\n</title>")).title == "A title"


def test_visible_text_is_the_fallback_when_trafilatura_finds_nothing():
    result = extracted(page(
        "<nav><a href='/'>Home</a><a href='/more'>More pages</a></nav>"
        "<div id='cookie-notice'>We use cookies.</div>"
        "Hello world, this is the whole page."
        "<script>var hidden = 1;</script><footer>Imprint and legal notice</footer>"
    ))
    assert bodies(result) == ["Hello world, this is the whole page."]


@pytest.mark.parametrize(
    "body",
    [
        "<script>var a = 1;</script><style>p { color: red }</style>",
        "<script>document.write('hi')</script><noscript></noscript>",
        "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>",
        "",
    ],
)
def test_a_page_without_readable_text_is_unreadable(body):
    with pytest.raises(UnreadableDocument, match="no readable text in the page"):
        extract(page(body, "<style>body {}</style><script>x()</script>").encode(), ExtractLimits())
    assert NO_TEXT == "no readable text in the page (only scripts, styles or navigation)"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "binary data (NUL bytes), not a web page"),
        (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "a PDF file, not a web page"),
        (b"PK\x03\x04\x14\x00\x00\x00", "a zip archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
        (b"", "an empty page"),
        (b"  \n\t ", "an empty page"),
    ],
)
def test_binary_or_empty_files_named_html_say_what_they_are(data, reason):
    with pytest.raises(UnreadableDocument, match=re.escape(reason)):
        extract(data, ExtractLimits())


def test_plain_text_named_html_is_still_read():
    assert bodies(extracted(b"Just some text\n\nin a file named .html.")) == [
        "Just some text\nin a file named .html."
    ]


def test_trafilatura_logs_nothing_while_reading_bad_pages(caplog):
    with caplog.at_level(logging.DEBUG):
        for data in (b"<html><body><script>x()</script></body></html>", b"<p>tiny</p>"):
            with contextlib.suppress(UnreadableDocument):
                extract(data, ExtractLimits())
    noisy = [r for r in caplog.records if r.name.split(".")[0] in ("trafilatura", "htmldate")]
    assert noisy == []


def test_deeply_nested_markup_keeps_its_text():
    """libxml2 drops text below 256 levels by default."""
    nested = "<div>" * 2000 + "<p>Deep paragraph.</p>" + "</div>" * 2000
    assert "Deep paragraph." in bodies(extracted(page(nested)))


def test_a_text_node_over_ten_megabytes_is_kept():
    """libxml2 drops a text node over 10 MB by default."""
    result = extracted(page("<article><p>" + "word " * 2_200_000 + "end.</p></article>"))
    assert len(result.text) == 11_000_004 and result.text.endswith("word end.")


def test_a_large_page_is_read_in_linear_time(tmp_path: Path):
    """A generous bound: 200 copies of the article (about 1.3 MB) well under a minute."""
    import time

    one = write_article_html(tmp_path / "one.html").read_text(encoding="utf-8")
    head, rest = one.split("<article>")
    article, tail = rest.split("</article>")
    big = head + "<article>" + article * 200 + "</article>" + tail
    started = time.perf_counter()
    result = extracted(big)
    assert time.perf_counter() - started < 60
    assert len(result.blocks) == 200 * 17


_TAGS = st.sampled_from(
    ["p", "div", "span", "h2", "li", "ul", "td", "blockquote", "pre", "b", "nav", "script", "br"]
)
_TEXTS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40
)


@st.composite
def _markup(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 4 and draw(st.booleans()):
            tag = draw(_TAGS)
            parts.append(f"<{tag}>{draw(_markup(depth + 1))}</{tag}>")
        else:
            parts.append(draw(_TEXTS).replace("<", "&lt;").replace("&", "&amp;"))
    return "".join(parts)


@settings(max_examples=150, deadline=None)
@given(_markup())
def test_any_page_gives_well_formed_spans_or_a_reason(body):
    try:
        result = extract(page(f"<article>{body}</article>").encode("utf-8"), ExtractLimits())
    except UnreadableDocument as problem:
        assert str(problem) in (NO_TEXT, "an empty page")
        return
    assert_well_formed(result)
    assert result.blocks


def test_a_folder_of_good_and_bad_pages_indexes_the_good_one(tmp_path: Path):
    write_article_html(tmp_path / "article.html")
    (tmp_path / "scripts.html").write_text(
        page("<script>track()</script><style>p {}</style>"), encoding="utf-8"
    )
    (tmp_path / "binary.html").write_bytes(bytes(range(256)) * 4)
    loaded = load_documents(tmp_path)
    assert [d.path for d in loaded.documents] == ["article.html"]
    reasons = {s.path: s.reason for s in loaded.skipped}
    assert reasons == {
        "binary.html": "binary.html: binary data (NUL bytes), not a web page: is the file "
        "name's ending right?",
        "scripts.html": f"scripts.html: {NO_TEXT}",
    }
