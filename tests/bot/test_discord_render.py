"""Rendering answers for Discord: escaping, highlighting and every size limit."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.build_child import report_fields
from bot.core.engine import SourceInfo
from bot.discord.utils.render import (
    EMBED_TOTAL_LIMIT,
    FOOTER,
    SHORTENED_NOTE,
    clip,
    escape,
    limit_problems,
    render_answer,
    render_build_report,
    render_passage,
    render_sources,
)
from index.answer import Answer, Citation, Passage
from index.build.builder import BuildReport
from index.ingest.documents import SkippedFile

HOSTILE = "@everyone @here <@123> <@!123456789012345678> <#42> **bold** `code` _it_ ~~s~~ ||x||"


def passage(text: str, highlight: tuple[int, int] | None = None, n: int = 1) -> Passage:
    return Passage(
        chunk_id=f"doc#{n}",
        text=text,
        citation=Citation("doc.md", "Section", n, 0, len(text)),
        score=0.5,
        highlight=highlight or (0, min(len(text), 40)),
    )


def payload(rendered) -> dict:
    return {"content": rendered.content, "embeds": [e.to_dict() for e in rendered.embeds]}


def long_text(chars: int, seed: int = 0) -> str:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "@everyone", "**x**", "`y`", "<@1>"]
    out, i = [], seed
    while sum(len(w) + 1 for w in out) < chars:
        out.append(words[i % len(words)])
        i += 1
    return " ".join(out)[:chars]


def test_escape_makes_mentions_and_markdown_literal() -> None:
    out = escape(HOSTILE)
    assert "@everyone" not in out and "@here" not in out  # zero-width space inserted
    assert "<@" not in out.replace("\\<@", "")
    assert "<#" not in out.replace("\\<#", "")
    assert "**" not in out.replace("\\*", "")
    assert "`" not in out.replace("\\`", "")


def test_highlight_is_bold_and_text_is_escaped() -> None:
    text = "Intro with **stars**. The answer is @everyone here. Tail `code`."
    start = text.index("The answer")
    end = text.index(" Tail")
    rendered, shortened = render_passage(passage(text, (start, end)), 4096)
    assert not shortened
    assert rendered.startswith("> ")
    assert "**The answer is @\u200beveryone here.**" in rendered
    assert "\\*\\*stars\\*\\*" in rendered
    assert "\\`code\\`" in rendered


def test_multiline_highlight_bolds_each_line_inside_the_quote() -> None:
    text = "First line.\nSecond line.\n\nThird."
    rendered, _ = render_passage(passage(text, (0, len("First line.\nSecond line."))), 4096)
    assert rendered.split("\n") == ["> **First line.**", "> **Second line.**", "> ", "> Third."]


def test_long_passage_is_cut_on_a_word_boundary_with_ellipsis_and_note() -> None:
    text = long_text(5000)
    start = text.index("gamma", 2500)
    end = text.index(" ", start + 60)  # highlights are whole sentences: end on a word boundary
    rendered, shortened = render_passage(passage(text, (start, end)), 1000)
    assert shortened
    assert len(rendered) <= 1000
    assert rendered.endswith(SHORTENED_NOTE)
    body = rendered[: -len(SHORTENED_NOTE)]
    assert "…" in body and "**" in body  # the highlight survived
    # every word shown (between the ellipses) is a whole word of the source
    words = set(text.split())
    inner = re.sub(r"(?m)^> ", "", body).replace("…", " ").replace("**", " ")
    for word in inner.split():
        unescaped = re.sub(r"\\(.)", r"\1", word).replace("@\u200b", "@")
        assert unescaped in words, word


def test_ten_passages_of_5000_characters_fit_every_limit() -> None:
    passages = tuple(passage(long_text(5000, n), (1000, 1200), n) for n in range(1, 11))
    rendered = render_answer(Answer("q " * 400, passages))
    data = payload(rendered)
    assert limit_problems(data) == []
    assert len(rendered.embeds) == 10
    assert rendered.shortened == 10
    assert all(e.description.endswith(SHORTENED_NOTE) for e in rendered.embeds)
    assert FOOTER in rendered.embeds[-1].footer.text


def test_more_than_ten_passages_are_capped_at_ten_embeds() -> None:
    passages = tuple(passage(f"Passage number {i}.", None, i) for i in range(1, 15))
    rendered = render_answer(Answer("q", passages))
    assert len(rendered.embeds) == 10
    assert limit_problems(payload(rendered)) == []


def test_short_passages_are_not_shortened_when_one_is_long() -> None:
    passages = (passage("Short one.", None, 1), passage(long_text(5000), (10, 80), 2))
    rendered = render_answer(Answer("q", passages))
    assert rendered.embeds[0].description == "> **Short one.**"
    assert rendered.shortened == 1
    total = sum(len(e.description) for e in rendered.embeds)
    assert total > 3500  # the long one got the room the short one did not need


def test_not_in_the_source_is_said_plainly() -> None:
    rendered = render_answer(Answer("cake?", (passage("Something else."),), found=False))
    assert "Not in the source" in rendered.content
    assert "closest passages" in rendered.content
    empty = render_answer(Answer("cake?", (), found=False))
    assert "Not in the source" in empty.content and not empty.embeds


def test_question_and_notices_are_escaped_and_clipped() -> None:
    answer = Answer(HOSTILE * 20, (passage("x"),), notices=("note **loud** @everyone",))
    rendered = render_answer(answer)
    assert len(rendered.content) <= 2000
    assert "@everyone" not in rendered.content
    assert "\\*\\*loud\\*\\*" in rendered.content


def test_citation_and_rank_in_title_and_score_in_footer() -> None:
    answer = Answer("q", (passage("A.", None, 3), passage("B.", None, 4)))
    rendered = render_answer(answer, offset=3)
    assert rendered.embeds[0].title == "4. doc.md › Section › ¶3"
    assert rendered.embeds[1].title == "5. doc.md › Section › ¶4"
    assert rendered.embeds[0].footer.text == "Score 0.50 · similarity 0.00"
    assert rendered.passage_ids == ("doc#3", "doc#4")


def test_citation_with_an_address_is_a_link_and_pages_are_named() -> None:
    from index.links import passage_link

    text = "Russian Foreign Minister Sergei Lavrov visited Seoul - and met @everyone, 100% sure."
    url = passage_link("https://example.com/a b?x=1#old", "html", text, None)
    assert url == (
        "https://example.com/a b?x=1#:~:text=Russian%20Foreign%20Minister%20Sergei,"
        "met%20%40everyone%2C%20100%25%20sure."
    )
    cited = Passage("c1", text, Citation("r.pdf", "Scoring", 3, 0, len(text), 12, 13,
                                        "https://example.com/r.pdf#page=12"), 0.5, (0, 10))
    plain = Passage("c2", "B.", Citation("a.txt", None, 1, 0, 2), 0.4, (0, 2))
    rendered = render_answer(Answer("q", (cited, plain)))
    data = payload(rendered)
    assert data["embeds"][0]["title"] == "1. r.pdf › Scoring › pp. 12–13 › ¶3"
    assert data["embeds"][0]["url"] == "https://example.com/r.pdf#page=12"
    assert "url" not in data["embeds"][1]
    assert limit_problems(data) == []


def test_links_that_discord_would_refuse_are_left_out() -> None:
    for url in ("javascript:alert(1)", "https://example.com/" + "a" * 3000):
        cited = Passage("c", "A.", Citation("a.html", None, 1, 0, 2, url=url), 0.5, (0, 2))
        data = payload(render_answer(Answer("q", (cited,))))
        assert "url" not in data["embeds"][0]
        assert limit_problems(data) == []
    assert limit_problems({"embeds": [{"title": "t", "url": "ftp://x"}]}) != []
    assert limit_problems({"embeds": [{"title": "t", "url": "https://" + "a" * 2050}]}) != []


def test_sources_and_build_report_fit() -> None:
    sources = [SourceInfo(f"doc_{i}.md", ("A", "B **c**"), i) for i in range(40)]
    embed = render_sources(sources, None).embed
    assert limit_problems({"embeds": [embed.to_dict()]}) == []
    assert "doc\\_0.md" in embed.fields[0].name
    skipped = tuple(
        SkippedFile(f"a_b{i}.md", f"a_b{i}.md: not valid UTF-8", "h") for i in range(12)
    )
    report = BuildReport(2, 30, 90, 30, 0, 1.25, 1000, skipped, Path("build"))
    text = render_build_report(report_fields(report))  # as the build queue reports it
    assert text.startswith("Rebuilt the index: 2 document(s), 30 chunk(s) in 1.2 s.")
    assert "\n- a\\_b0.md: not valid UTF-8\n" in text
    assert "and 2 more" in text


def test_sources_link_documents_with_an_address() -> None:
    long_sections = tuple(f"Section {i} " * 5 for i in range(20))
    sources = [
        SourceInfo("faq.html", long_sections, 3, "https://example.com/help (old)/faq"),
        SourceInfo("evil.md", ("A",), 1, "javascript:alert(1)"),
        SourceInfo("long.pdf", ("A",), 1, "https://example.com/" + "x" * 500),
    ]
    embed = render_sources(sources, None).embed
    data = embed.to_dict()
    assert limit_problems({"embeds": [data]}) == []
    values = [field["value"] for field in data["fields"]]
    assert values[0].startswith("[open](https://example.com/help%20%28old%29/faq) · 3 chunk(s)")
    assert len(values[0]) <= 300
    assert "javascript" not in values[1] and "[open]" not in values[2]


def test_clip_keeps_whole_words() -> None:
    assert clip("one two three four", 12) == "one two…"
    assert clip("short", 10) == "short"


texts = st.lists(
    st.sampled_from([*"ab c\n*_`~|>#-@<:!é😀", "@everyone", "<@123>", "**"]),
    max_size=1500,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(texts, st.integers(0, 3000), st.integers(0, 3000)), min_size=0, max_size=12),
    texts,
    st.booleans(),
)
def test_any_answer_fits_discords_limits(items, question, found) -> None:
    passages = []
    for n, (text, a, b) in enumerate(items, start=1):
        lo, hi = sorted((min(a, len(text)), min(b, len(text))))
        passages.append(passage(text, (lo, hi), n))
    rendered = render_answer(Answer(question, tuple(passages), found=found))
    data = payload(rendered)
    assert limit_problems(data) == []
    assert sum(len(e.get("description", "")) for e in data["embeds"]) <= EMBED_TOTAL_LIMIT


async def test_sources_of_200_documents_with_30_sections_page_within_every_limit() -> None:
    from bot.discord.exts.sources.pages import page_view

    sources = [
        SourceInfo(
            f"doc-{n:03d}-" + "long_name " * 30,
            tuple(f"Section {j} about **things** @everyone <@1>" for j in range(30)),
            30,
        )
        for n in range(200)
    ]
    first = render_sources(sources, None)
    assert first.pages > 1
    names: list[str] = []
    for page in range(first.pages):
        shown = render_sources(sources, None, page)
        data = {"embeds": [shown.embed.to_dict()], "components": page_view(shown).to_components()}
        assert limit_problems(data) == [], page
        assert f"Page {page + 1} of {first.pages}." in shown.embed.description
        names += [field.name for field in shown.embed.fields]
        buttons = data["components"][0]["components"]
        assert [b["disabled"] for b in buttons] == [page == 0, page == first.pages - 1]
    assert [name[:7] for name in names] == [f"doc-{n:03d}" for n in range(200)]  # each once
    assert render_sources(sources, None, 10_000).page == first.pages - 1  # clamped
    single = render_sources(sources[:2], None)
    assert single.pages == 1 and "Page" not in (single.embed.description or "")


def test_a_weak_passage_is_marked_in_its_title_and_colour() -> None:
    strong = passage("The glacier moves two metres a day.", n=1)
    weak = replace(passage("Penguins are birds.", n=2), weak=True)
    long_name = replace(weak, citation=Citation("x" * 400, "Section", 3, 0, 10))
    data = payload(render_answer(Answer("How fast?", (strong, weak, long_name), found=True)))
    titles = [embed["title"] for embed in data["embeds"]]
    assert titles[0] == "1. doc.md › Section › ¶1"
    assert titles[1] == "2. doc.md › Section › ¶2 · weak match"
    assert titles[2].endswith("… · weak match")  # a long citation is cut, never the mark
    colours = [embed["color"] for embed in data["embeds"]]
    assert colours[0] != colours[1] == colours[2]
    assert limit_problems(data) == []
