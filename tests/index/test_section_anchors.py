"""A Markdown heading that is only a link gives the section under it that address: a passage
quoted from it links there (a thread's message to its jump link), other passages to the
document's own address; documents without such headings are stored exactly as before."""

from __future__ import annotations

from pathlib import Path

from bot.core.engine import Engine
from index.build.chunk_table import DocumentRecord
from index.ingest.formats import ExtractLimits
from index.ingest.formats.markdown import extract
from index.links import anchor_at
from tests.conftest import isolated_settings

PAGE = """---
url: https://example.com/thread
---

# Modem help

The intro is quoted with the page's own link.

## [Ann](https://discord.com/channels/1/2/3)

Reset the Quillan modem by holding the pinhole button for eleven seconds.

## [Bob *x*](https://discord.com/channels/1/2/4) and more

Not only a link: this heading gives no address.

## [Cy](javascript:alert(1))

Not an http address: none either.
"""


def test_anchor_at_finds_the_part_an_offset_lies_in() -> None:
    anchors = ((10, "https://a.example/1"), (20, ""), (30, "https://a.example/3"))
    assert anchor_at(anchors, 5) is None
    assert anchor_at(anchors, 10) == anchor_at(anchors, 19) == "https://a.example/1"
    assert anchor_at(anchors, 25) is None  # a heading without a link ends the anchor
    assert anchor_at(anchors, 99) == "https://a.example/3"
    assert anchor_at(((0, "https://a.example/" + "x" * 3000),), 1) is None  # too long
    assert anchor_at((), 3) is None


def test_only_a_heading_that_is_one_web_link_is_an_anchor() -> None:
    extracted = extract(PAGE.encode(), ExtractLimits())
    headings = [extracted.text[start:end] for start, end in extracted.headings]
    # markdown-it does not even make a link of a javascript: address
    assert headings == ["Modem help", "Ann", "Bob x and more", "[Cy](javascript:alert(1))"]
    assert [address for _, address in extracted.anchors] == [
        "", "https://discord.com/channels/1/2/3", "", ""]
    assert [offset for offset, _ in extracted.anchors] == [s for s, _ in extracted.headings]
    assert extract(b"# Title\n\nNo links here.\n", ExtractLimits()).anchors == ()


def test_records_store_anchors_only_when_there_are_some() -> None:
    plain = DocumentRecord("a.md", "h", "text", "markdown", None, None, ())
    assert "anchors" not in plain.details()
    anchored = DocumentRecord("a.md", "h", "text", "markdown", None, None, (),
                              ((0, "https://x.example"),))
    assert anchored.details()["anchors"] == [[0, "https://x.example"]]


def test_a_quoted_message_links_to_itself(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "thread.md").write_text(PAGE, encoding="utf-8")
    engine = Engine(isolated_settings(source_dir=sources, index_dir=tmp_path / "idx"))
    engine.rebuild()
    answer = engine.search("How do I reset the Quillan modem?", 4)
    by_text = {p.text: p.citation for p in answer.passages}
    modem = next(c for t, c in by_text.items() if "eleven seconds" in t)
    assert modem.url == "https://discord.com/channels/1/2/3"
    assert modem.section == "Modem help › Ann"
    intro = next(c for t, c in by_text.items() if "intro" in t)
    assert intro.url is not None and intro.url.startswith("https://example.com/thread#:~:text=")
    # Loaded again from disk (the stored details), the same links.
    again = Engine(isolated_settings(source_dir=sources, index_dir=tmp_path / "idx"))
    reloaded = again.search("How do I reset the Quillan modem?", 4)
    assert {p.citation.url for p in reloaded.passages} == {c.url for c in by_text.values()}
