"""The HTML usage report (issue 23): self-contained, every typed text escaped, the figures,
chart, gaps, documents, passages and reasons of the log it is given."""

from __future__ import annotations

import re

from bot.core.insights.gaps import GapReport
from bot.core.insights.report import (
    PassageInfo,
    daily_counts,
    document_of,
    reason_counts,
    render_report,
    top_documents,
    worst_passages,
)
from tests.bot.report_samples import (
    HOSTILE,
    NOW,
    PASSAGES,
    parse,
    sample_gaps,
    sample_questions,
)

EMPTY_GAPS = GapReport(clusters=(), questions=0, days=30, threshold=0.0)


def report() -> str:
    return render_report(
        sample_questions(), sample_gaps(), scope="all servers", days=30, passages=PASSAGES,
        now=NOW,
    )


def test_the_page_is_self_contained() -> None:
    page = report()
    elements = parse(page)
    names = {tag for tag, _ in elements.tags}
    assert "script" not in names and "link" not in names and "img" not in names
    assert "svg" in names  # the chart, inline
    for _, attrs in elements.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value or value.startswith("https://example.com/"), (name, value)
    assert "@import" not in page
    assert re.findall(r"url\(([^)]*)\)", page) and all(  # the chart's own clip paths only
        ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", page)
    )


def test_typed_text_is_escaped_everywhere() -> None:
    page = report()
    elements = parse(page)
    assert not any(tag in ("script", "b", "img") for tag, _ in elements.tags)
    text = "".join(elements.text)
    assert HOSTILE in text  # shown as typed, as text
    assert "<img src=x onerror=alert(1)> the page is from 2019" in text
    assert "&lt;script&gt;" in page
    assert 'href="javascript:' not in page  # an address that is not http(s) is no link
    assert "fares.html › Prices › ¶1" in text


def test_the_figures_gaps_documents_passages_and_reasons() -> None:
    page = report()
    text = " ".join("".join(parse(page).text).split())
    assert "41questions" in text.replace(" ", "")
    assert "76 %found in the documents" in text
    assert "9downvotes" in text.replace(" ", "")
    # the gaps, largest first, with wordings, closest passage and reasons
    assert text.index("How do I bring a bike") < text.index("Is there a senior discount?")
    assert "Closest passage (similarity 0.61): ferries.md › Luggage › ¶4" in text
    assert "Down-vote reasons: Outdated (2), Other (1)" in text
    assert 'href="https://example.com/ferries#:~:text=Bicycles"' in page
    # documents and the passages voted down, and the passage no longer in the index
    assert re.search(r"<td>ferries\.md</td><td class='n'>30</td>", page)
    assert "1 shown passage(s) are no longer in the index" in text
    assert "gone-from-index (not in the index now)" in text
    compact = text.replace(" ", "")
    assert "Outdated4" in compact and "Wrongpassage4" in compact and "Notinthedocs1" in compact
    assert "By collection" in text  # two collections in the log


def test_an_empty_log_makes_a_page_that_says_so() -> None:
    page = render_report([], EMPTY_GAPS, scope="collection guild-9", days=7, now=NOW)
    text = " ".join("".join(parse(page).text).split())
    assert "No questions logged in the last 7 days." in text
    assert "No answer was voted down." in text and "No down votes." in text
    assert "No passage was shown." in text
    assert "<svg" in page  # the chart says it too
    assert "citebot usage report: collection guild-9" in text


def test_counting_helpers() -> None:
    questions = sample_questions()
    days = daily_counts(questions)
    assert sum(d.asked for d in days) == len(questions)
    assert [d.day for d in days] == sorted(d.day for d in days)
    ranked, unknown = top_documents(questions, PASSAGES)
    assert dict(ranked) == {"ferries.md": 30, "fares.html": 30} and unknown == 1
    assert document_of("guide.md#3", {}) == "guide.md"
    assert document_of("c94547294033b887", {}) is None
    assert document_of("x", {"x": PassageInfo("a.txt", "a.txt › ¶1")}) == "a.txt"
    worst = worst_passages(questions)
    assert worst[0].down >= worst[-1].down and worst[-1].passage_id == "gone-from-index"
    assert reason_counts(questions)[0] in (("Outdated", 4), ("Wrong passage", 4))
