"""Escaping for Discord: no masked link, markdown, mention or hidden character from a document,
a question or a name ever renders as such, in any text the bot sends (issue 20, item 1)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.engine import SourceInfo
from bot.discord.exts.docs.render import IndexState, render_document_list, render_log
from bot.discord.utils.render import (
    escape,
    escape_clipped,
    escape_name,
    render_answer,
    render_build_report,
    render_sources,
)
from bot.state.servers import AuditEntry
from index.answer import Answer, Citation, Passage
from tests.bot.live_links import live_links, payload_links

TWO_LINKS = (
    "see [the policy](https://example.com/policy) or the "
    "[Official refund form](https://evil.example/phish)"
)
HIDDEN = "\u202e\u2066\u200b\ufeff\U000e0041"  # bidi override and isolate, zero-width, a tag


def passage(text: str, citation: Citation | None = None, weak: bool = False) -> Passage:
    return Passage(
        chunk_id="doc#1",
        text=text,
        citation=citation or Citation("doc.md", "Section", 1, 0, len(text)),
        score=0.5,
        highlight=(0, len(text) // 2),
        weak=weak,
    )


def answer_payload(answer: Answer) -> dict:
    rendered = render_answer(answer)
    return {"content": rendered.content, "embeds": [e.to_dict() for e in rendered.embeds]}


def test_the_detector_sees_the_second_link_that_escape_markdown_left_live() -> None:
    # What discord.utils.escape_markdown made of the line: one backslash for the greedy span.
    assert live_links(discord.utils.escape_markdown(TWO_LINKS)) == ["https://evil.example/phish"]
    assert live_links(TWO_LINKS) == ["https://example.com/policy", "https://evil.example/phish"]


def test_no_masked_link_of_a_document_line_survives() -> None:
    assert live_links(escape(TWO_LINKS)) == []
    assert live_links(escape_name(TWO_LINKS)) == []
    # Both addresses stay readable (and linked as bare addresses, which show where they go).
    assert "https://evil.example/phish" in escape(TWO_LINKS)


def test_answers_echo_cite_and_quote_without_live_links() -> None:
    citation = Citation(TWO_LINKS, TWO_LINKS, 1, 0, len(TWO_LINKS))
    answer = Answer(TWO_LINKS, (passage(TWO_LINKS, citation),), found=True,
                    notices=(TWO_LINKS,), context=TWO_LINKS)
    data = answer_payload(answer)
    assert payload_links(data) == []
    assert "evil.example/phish" in data["content"] and "evil.example/phish" in str(data["embeds"])


def test_sources_docs_list_and_log_without_live_links() -> None:
    sources = [SourceInfo(TWO_LINKS, (TWO_LINKS, "A"), 2), SourceInfo("b.md", ("x",), 1)]
    assert payload_links({"embeds": [render_sources(sources, None).embed.to_dict()]}) == []
    listed = render_document_list([(TWO_LINKS, 10)], IndexState(2, None), True).embed
    assert payload_links({"embeds": [listed.to_dict()]}) == []
    entry = AuditEntry(datetime.now(UTC), 1, "add", TWO_LINKS, TWO_LINKS, TWO_LINKS)
    assert payload_links({"embeds": [render_log([entry]).to_dict()]}) == []


def test_the_citation_link_citebot_makes_still_works_and_is_safe() -> None:
    url = "https://example.com/a (b)/[c]<d>\\e\u202e"
    field = render_sources([SourceInfo("doc.md", ("A",), 1, url)], None).embed.fields[0]
    assert live_links(field.value) == ["https://example.com/a%20%28b%29/%5Bc%5D%3Cd%3E%5Ce%E2%80%AE"]
    assert payload_links({"embeds": [{"fields": [{"name": "x", "value": field.value}]}]}) == (
        live_links(field.value)
    )


def test_hidden_characters_leave_names_titles_and_citations() -> None:
    name = f"refund{HIDDEN}form.pdf"
    citation = Citation(name, f"Sec{HIDDEN}tion", 1, 0, 5)
    data = answer_payload(Answer("q", (passage("Hello there.", citation),), found=True))
    assert data["embeds"][0]["title"] == "1. refundform.pdf › Section › ¶1"
    field = render_sources([SourceInfo(name, (f"Sec{HIDDEN}tion",), 1)], None).embed.fields[0]
    assert field.name == "refundform.pdf" and "Section" in field.value
    listed = render_document_list([(name, 10)], IndexState(2, None), True).embed.description
    assert "refundform.pdf" in str(listed)
    # Quoted text loses the bidi controls and tags but keeps the joiners emoji need.
    assert escape("a\u202eb\u2067c\u200dd") == "abc\u200dd"


def test_names_lose_every_format_character_and_quotes_every_hidden_one() -> None:
    every = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"]
    assert len(every) > 150
    assert [c for c in every if escape_name(f"a{c}b") != "ab"] == []
    kept = {c for c in every if escape(f"a{c}b") != "ab"}  # shown in quotes: joiners, signs
    assert {"\u200c", "\u200d", "\u0600"} <= kept
    assert not kept & {"\u202e", "\u2067", "\u200b", "\u200e", "\ufeff", "\U000e0041"}


def test_markdown_at_the_start_of_a_line_is_literal() -> None:
    assert escape("# Head\n- item\n12. x\n> q\n-# small") == (
        "\\# Head\n\\- item\n12\\. x\n\\> q\n\\-# small"
    )
    assert escape("127.0.0.1 is #1 - and well-known") == "127.0.0.1 is #1 - and well-known"


def test_a_bare_address_stays_a_working_link() -> None:
    assert escape("see https://example.com/a_b*c~d") == "see https://example.com/a_b*c~d"
    assert escape("a_b https://x.org/[y](https://evil.example)") == (
        "a\\_b https://x.org/\\[y\\](https://evil.example)"
    )


def test_clipping_never_leaves_half_an_escape() -> None:
    for limit in range(1, 40):
        out = escape_clipped("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", limit)
        assert len(out) <= limit
        assert (len(out) - len(out.rstrip("\\"))) % 2 == 0, out


def test_the_build_report_escapes_skipped_names() -> None:
    report = {"documents": 1, "chunks": 2, "seconds": 0.5, "skipped": [["x.md", TWO_LINKS]]}
    assert live_links(render_build_report(report)) == []


# Text made of the characters that matter, in any order: brackets, parentheses, backslashes,
# addresses, markdown, mentions, hidden characters.
hostile = st.lists(
    st.sampled_from(
        [*"[]()\\<>*_~`|#-. \n@!aZ9:/", "http://", "https://e.x/", "](", "[a](https://e.x)",
         "\\[", "\\]", "<@1>", "@everyone", *HIDDEN]
    ),
    max_size=80,
).map("".join)
any_text = st.one_of(hostile, st.text(max_size=200))


@settings(max_examples=300, deadline=None)
@given(any_text, any_text, any_text, st.booleans())
def test_no_rendered_payload_carries_a_live_link(text, name, section, weak) -> None:
    citation = Citation(name, section, 1, 0, len(text))
    answer = Answer(text, (passage(text, citation, weak),), found=True, notices=(text,),
                    context=name)
    assert payload_links(answer_payload(answer)) == []
    sources = [SourceInfo(name, (section, text), 1)]
    assert payload_links({"embeds": [render_sources(sources, None).embed.to_dict()]}) == []
    listed = render_document_list([(name, 1)], IndexState(1, None), False).embed
    entry = AuditEntry(datetime.now(UTC), 1, "add", name, text, section)
    for embed in (listed, render_log([entry])):
        assert payload_links({"embeds": [embed.to_dict()]}) == []
    shown = escape_name(name).replace("@\u200b", "@")  # the one zero-width space: ours
    assert not set(HIDDEN) & set(shown)


def test_link_targets_are_ascii_with_international_hosts_in_punycode() -> None:
    url = "https://exämple.com:8080/päth (x)#\u202etxt"
    field = render_sources([SourceInfo("doc.md", ("A",), 1, url)], None).embed.fields[0]
    safe = "https://xn--exmple-cua.com:8080/p%C3%A4th%20%28x%29#%E2%80%AEtxt"
    assert field.value.startswith(f"[open]({safe}) · ")
    citation = Citation("doc.md", "A", 1, 0, 5, url=url)
    data = answer_payload(Answer("q", (passage("Hello there.", citation),), found=True))
    assert data["embeds"][0]["url"] == safe
    bad = Citation("doc.md", "A", 1, 0, 5, url="https://\u202e.example/")
    data = answer_payload(Answer("q", (passage("Hello there.", bad),), found=True))
    assert "url" not in data["embeds"][0]
