"""The Markdown extractor: rendered text, blocks, headings and front matter; an index of the
bundled article written as Markdown, asked the standard question."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.ingest.formats import Extracted, ExtractLimits, UnreadableDocument, extractor_for
from index.ingest.formats.markdown import extract
from tests.index.formats.checks import assert_well_formed, bodies, engine_over, headings, sections
from tests.index.formats.markdown_fixtures import (
    ARTICLE_HEADINGS,
    ARTICLE_MARKDOWN_TITLE,
    ARTICLE_MARKDOWN_URL,
    write_article_markdown,
)


def extracted(source: str | bytes) -> Extracted:
    """Extract ``source`` (UTF-8 encoded when a string) and check the spans are well formed."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    result = extract(data, ExtractLimits())
    assert_well_formed(result)
    return result


def test_md_and_markdown_files_use_this_extractor():
    assert extractor_for("guide.md") is extract
    assert extractor_for("GUIDE.MARKDOWN") is extract
    assert extracted("# A\n\nB").format == "markdown"


def test_inline_markup_is_rendered_away():
    result = extracted(
        "Some **bold**, *em*, _under_, ~~gone~~ and [link text](https://example.com/x \"t\"), "
        "`code  span`, ![alt](a.png) <span class=\"x\">inline</span> html, \\*escaped\\*, "
        "&amp; &copy; <https://auto.example>.\nA wrapped line.  \nAfter a hard break,<br>and br."
    )
    assert bodies(result) == [
        "Some bold, em, under, gone and link text, code  span, inline html, *escaped*, & © "
        "https://auto.example. A wrapped line.\nAfter a hard break,\nand br."
    ]


def test_reference_links_keep_their_text_not_the_definition():
    result = extracted("See [the docs][docs] now.\n\n[docs]: https://example.com/docs\n")
    assert bodies(result) == ["See the docs now."]


def test_atx_and_setext_headings_name_sections_and_are_not_blocks():
    source = (
        "Before any heading.\n\n"
        "# Title ##  \n\nBody.\n\n"
        "Setext one\n==========\n\nUnder setext.\n\n"
        "Setext *two*\n---\n\nDeeper.\n\n"
        "## ##\n\nEmpty heading keeps the section.\n\n"
        "#hashtag is text.\n\n"
        "### C# ###\n\nCode talk."
    )
    result = extracted(source)
    assert headings(result) == ["Title", "Setext one", "Setext two", "C#"]
    assert sections(result) == [
        (None, "Before any heading."),
        ("Title", "Body."),
        ("Setext one", "Under setext."),  # an h1 closes the previous h1
        ("Setext one › Setext two", "Deeper."),
        ("Setext one › Setext two", "Empty heading keeps the section."),
        ("Setext one › Setext two", "#hashtag is text."),
        ("Setext one › Setext two › C#", "Code talk."),
    ]


def test_fenced_and_indented_code_is_kept_verbatim_and_never_a_heading():
    source = (
        "## Setup\n\nRun this:\n\n"
        "```sh\n# not a heading\nmake  build   # two  spaces\n```\n\n"
        "~~~\n## also not\n~~~\n\n"
        "    # indented code\n    x = 1\n\n"
        "After the code."
    )
    result = extracted(source)
    assert headings(result) == ["Setup"]
    assert sections(result) == [
        ("Setup", "Run this:"),
        ("Setup", "# not a heading\nmake  build   # two  spaces"),
        ("Setup", "## also not"),
        ("Setup", "# indented code\nx = 1"),
        ("Setup", "After the code."),
    ]


def test_an_unclosed_fence_runs_to_the_end_as_code():
    result = extracted("Intro.\n\n```\n# inside\n\nstill code")
    assert bodies(result) == ["Intro.", "# inside\n\nstill code"]
    assert result.headings == ()


def test_each_list_item_is_a_block_without_its_marker():
    source = (
        "- Yes\n- Press Reset to restart\n  (wrapped)\n  - nested item\n"
        "1. first\n2. second\n\n"
        "* loose item\n\n  its second paragraph\n"
    )
    assert bodies(extracted(source)) == [
        "Yes", "Press Reset to restart (wrapped)", "nested item", "first", "second",
        "loose item", "its second paragraph",
    ]


def test_block_quotes_are_paragraphs_without_markers():
    source = "> Quoted **line**\n> continues.\n>\n> > Nested quote.\n\nAfter."
    assert bodies(extracted(source)) == ["Quoted line continues.", "Nested quote.", "After."]


def test_a_table_is_one_block_a_row_per_line():
    source = (
        "## Prices\n\n| Item | Price |\n|:-----|------:|\n| **Tea** | 2 |\n| Cake |  |\n"
        "| `a\\|b` escaped \\| pipe | 3 |\n"
    )
    result = extracted(source)
    assert sections(result) == [
        ("Prices", "Item | Price\nTea | 2\nCake | \na|b escaped | pipe | 3"),
    ]


def test_html_blocks_keep_their_text_without_tags():
    source = (
        '<div align="center">\n  <b>Centered</b>   title\n  <p>A &amp; B</p>\n</div>\n\n'
        "<!-- a comment only -->\n\n"
        "<script>\nalert('no');\n</script>\n\n"
        "<details><summary>More</summary>\n\nMarkdown **inside**.\n\n</details>\n\n"
        "After."
    )
    assert bodies(extracted(source)) == [
        "Centered title\nA & B", "More", "Markdown inside.", "After."
    ]


def test_deeply_nested_html_keeps_its_text():
    source = "<div>" * 3000 + "deep words" + "</div>" * 3000 + "\n"
    assert "deep words" in extracted(source).text


@pytest.mark.parametrize("line_end", ["\r\n", "\r"])
def test_crlf_and_lone_cr_line_ends_read_like_line_feeds(line_end):
    source = (
        "---\ntitle: Old\nurl: https://example.com/old\n---\n"
        "# Title\nIntro line.\n\nSetext\n---\n\nBody one.\nstill body.\n\n"
        "```\n# code\n```\n\n- item\n"
    )
    expected = extracted(source)
    result = extracted(source.replace("\n", line_end))
    assert result == expected
    assert sections(result) == [
        ("Title", "Intro line."), ("Title › Setext", "Body one. still body."),
        ("Title › Setext", "# code"),
        ("Title › Setext", "item"),
    ]
    assert (result.title, result.url) == ("Old", "https://example.com/old")


def test_a_byte_order_mark_is_dropped_and_front_matter_still_read():
    result = extracted(b"\xef\xbb\xbf---\ntitle: Marked\n---\n# Head\n\nBody.")
    assert result.title == "Marked"
    assert result.text == "Head\n\nBody."


def test_front_matter_gives_title_and_url_and_is_not_body_text():
    source = (
        "---\ntitle: \"The  Guide\"\nurl: https://docs.example.com/guide\ntags: [a, b]\n---\n"
        "Body text."
    )
    result = extracted(source)
    assert (result.title, result.url) == ("The Guide", "https://docs.example.com/guide")
    assert result.text == "Body text."
    assert result.headings == ()


@pytest.mark.parametrize(
    "url", ["/guide/", "ftp://example.com/x", "javascript:alert(1)", "https://", "[1, 2]",
            "http://exa mple.com", "http://[::1"],
)
def test_front_matter_url_must_be_absolute_http(url):
    result = extracted(f"---\ntitle: T\nurl: \"{url}\"\n---\nBody.")
    assert (result.title, result.url) == ("T", None)


@pytest.mark.parametrize(
    "front",
    [
        "---\ntitle: [unclosed\nurl: https://example.com\n---\n",  # not YAML
        "---\njust a sentence\n---\n",  # YAML, but not a mapping
        "---\ntitle: " + "[" * 5000 + "\n---\n",  # hostile nesting
        "---\ntitle: No closing line\n",  # never closed
    ],
)
def test_malformed_front_matter_is_read_as_markdown_and_nothing_is_lost(front):
    result = extracted(front + "\nBody paragraph.")
    assert (result.title, result.url) == (None, None)
    assert bodies(result)[-1] == "Body paragraph."
    visible = "".join(headings(result) + bodies(result))
    first_word = front.split("\n")[1].split()[0]
    assert first_word in visible


def test_front_matter_only_at_the_very_start():
    result = extracted("\n---\ntitle: Late\n---\nBody.")
    assert result.title is None
    assert "title: Late" in result.text


def test_aliases_in_front_matter_are_not_expanded():
    aliases = "".join(f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}, *l{i - 1}]\n" for i in range(1, 40))
    result = extracted(f"---\nl0: &l0 [x]\n{aliases}title: Bomb\n---\nBody.")
    assert (result.title, bodies(result)) == ("Bomb", ["Body."])


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"# Title\x00\x01\x02 binary", "NUL bytes"), (b"# Caf\xe9\n", "not valid UTF-8")],
)
def test_binary_or_non_utf8_file_is_unreadable_with_a_reason(data, reason):
    with pytest.raises(UnreadableDocument, match=reason):
        extract(data, ExtractLimits())


@pytest.mark.parametrize("marker", ["> ", "- ", "1. ", "> - ", "* > "])
def test_ten_thousand_levels_of_nesting_keep_all_text(marker):
    """What is nested deeper than markdown-it parses is kept as its source lines (a list item
    cut off this way runs to the end of the file: still nothing is lost)."""
    result = extracted(marker * 10_000 + "innermost words\n\nNext paragraph.\n")
    assert "innermost words" in result.text
    assert bodies(result)[-1].endswith("Next paragraph.")


def test_deeply_indented_nested_list_keeps_every_item():
    source = "".join("  " * level + f"- item{level}\n" for level in range(40))
    text = extracted(source).text
    assert all(f"item{level}" in text for level in range(40))


def test_a_five_megabyte_single_line_is_one_block():
    unit = "plain words " * 40 + "**bold** [link](https://example.com) `code` "
    count = 5_000_000 // len(unit)
    result = extracted(unit * count)
    assert len(result.blocks) == 1
    assert result.text.startswith("plain words plain")
    assert result.text.count("bold link code") == count


MARKDOWN_PIECES = [
    *"#->`|*_[]()!<>\\=~:+. \t\n\r", "a", "b", "Z", "é", "1.", "---", "```", "    ", "\r\n",
    "<div>", "</div>", "<!--", "-->", "&amp;", "&#", "![", "](", "http://x", "title: t", "\u2028",
]
MARKDOWNISH = st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=120).map("".join)


@settings(max_examples=400, deadline=None)
@given(MARKDOWNISH)
def test_any_markdownish_text_gives_well_formed_spans(source):
    try:
        result = extract(source.encode("utf-8"), ExtractLimits())
    except UnreadableDocument:
        return
    assert_well_formed(result)


def test_bundled_article_as_markdown_answers_with_exact_rendered_quotes(tmp_path: Path):
    engine = engine_over(tmp_path, "article.md", write_article_markdown)

    answer = engine.search("Which Russian official visited Seoul?")
    first = answer.passages[0]
    assert "Sergei Lavrov" in first.text and "Sergei Lavrov" in first.highlight_text
    assert "**" not in first.text and "](" not in first.text
    assert "welcomed Russian Foreign Minister Sergei Lavrov for a bilateral visit" in first.text
    assert "The Global Times, a Chinese state tabloid" in first.text
    citation = first.citation
    assert citation.document == "article.md"
    assert citation.section == "China and Russia are additional complications"
    record = engine.corpus.documents["article.md"]
    assert record.format == "markdown"
    assert record.title == ARTICLE_MARKDOWN_TITLE
    assert record.url == ARTICLE_MARKDOWN_URL
    for passage in answer.passages:
        c = passage.citation
        assert record.text[c.start : c.end] == passage.text
    assert citation.url is not None
    assert citation.url.startswith(ARTICLE_MARKDOWN_URL + "#:~:text=")
    assert "not a heading" not in engine.corpus.sections["article.md"]
    assert engine.corpus.sections["article.md"] == ARTICLE_HEADINGS
    assert "title:" not in record.text and "---" not in record.text


def test_article_markdown_code_block_is_its_own_block(tmp_path: Path):
    path = write_article_markdown(tmp_path / "article.md")
    result = extracted(path.read_bytes())
    assert (result.title, result.url) == (ARTICLE_MARKDOWN_TITLE, ARTICLE_MARKDOWN_URL)
    assert headings(result) == list(ARTICLE_HEADINGS)
    code = [i for i, body in enumerate(bodies(result)) if "# not a heading" in body]
    assert len(code) == 1
    assert bodies(result)[code[0]] == "# not a heading\nmake build"
    following = result.blocks[code[0] + 1]
    assert following.section == "China and Russia are additional complications"
    assert result.text[following.start : following.end].startswith("Just days after Blinken")


def test_running_out_of_stack_is_a_clear_reason_not_a_crash():
    """markdown-it recurses once per level of nesting (bounded by MAX_NESTING); should the
    stack still run out, the file is unreadable with a reason."""
    import inspect
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 40)
    try:
        with pytest.raises(UnreadableDocument, match="nested too deeply"):
            extract(b"> " * 19 + b"deep", ExtractLimits())
    finally:
        sys.setrecursionlimit(limit)
