"""A question log and knowledge gaps to draw reports from (tests of the HTML report, the
browser test and the CLI), with hostile text where people type."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from bot.core.insights.gaps import ClosestPassage, GapCluster, GapReport
from bot.core.insights.report import PassageInfo
from bot.state.feedback import DOWN, UP
from bot.state.questions import LoggedQuestion, Vote

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DAY = 86_400.0
HOSTILE = '<script>document.body.dataset.pwned="1"</script> @everyone **bold** <b>x</b>'


def sample_questions() -> list[LoggedQuestion]:
    """Questions over ten days in two servers: found and not, with votes and reasons."""
    base = NOW.timestamp()
    rows = []
    for i in range(40):
        day = i % 10
        found = i % 4 != 0
        votes: tuple[Vote, ...] = ()
        if i % 5 == 0:
            votes = (Vote(DOWN, "outdated" if i % 10 == 0 else "wrong_passage", "old page"),)
        elif i % 3 == 0:
            votes = (Vote(UP),)
        rows.append(
            LoggedQuestion(
                id=i + 1,
                guild_id=1 if i % 2 else 2,
                at=base - day * DAY - 60 * i,
                collection="guild-1" if i % 2 else "default",
                question=HOSTILE if i == 7 else f"question {i} about the ferry?",
                found=found,
                passage_ids=("p-ferry", "p-fares") if found else (),
                answer_key=f"k{i}",
                votes=votes,
            )
        )
    rows.append(
        LoggedQuestion(
            id=100, guild_id=1, at=base - 3600, collection="guild-1", question="old one",
            found=True, passage_ids=("gone-from-index",), answer_key="k100",
            votes=(Vote(DOWN, "not_in_docs", ""),),
        )
    )
    return sorted(rows, key=lambda row: row.at)


PASSAGES = {
    "p-ferry": PassageInfo("ferries.md", "ferries.md › Timetable › ¶2", "https://example.com/f"),
    "p-fares": PassageInfo("fares.html", "fares.html › Prices › ¶1", "javascript:alert(1)"),
}


def sample_gaps() -> GapReport:
    """Two clusters, one with hostile wordings and notes and a closest passage."""
    base = NOW.timestamp()
    return GapReport(
        clusters=(
            GapCluster(
                size=7,
                typical="How do I bring a bike on the night ferry?",
                wordings=(HOSTILE, "bikes on the ferry at night"),
                not_found=5,
                voted_down=2,
                reasons=(("outdated", 2), ("other", 1)),
                notes=("<img src=x onerror=alert(1)> the page is from 2019",),
                first_at=base - 6 * DAY,
                last_at=base - DAY,
                closest=ClosestPassage(
                    citation="ferries.md › Luggage › ¶4",
                    text="Bicycles travel free on day sailings.",
                    url="https://example.com/ferries#:~:text=Bicycles",
                    similarity=0.61,
                ),
            ),
            GapCluster(
                size=3,
                typical="Is there a senior discount?",
                wordings=("discount for pensioners",),
                not_found=3,
                voted_down=0,
                reasons=(),
                notes=(),
                first_at=base - 2 * DAY,
                last_at=base - DAY,
            ),
        ),
        questions=14,
        days=30,
        threshold=0.72,
    )


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text outside tags, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Elements:
    """The elements of ``page``."""
    parser = Elements()
    parser.feed(page)
    return parser
