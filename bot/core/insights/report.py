"""The usage report (issue 23): one self-contained HTML page of a question log — key figures, the
chart, the knowledge gaps, the documents cited most, the passages voted down most and the
reasons given — that opens in a browser with no network (no external CSS, scripts or fonts; the
chart is inline SVG).

Everything people typed (questions, voters' words) and everything from documents (citations,
passage texts, addresses) is HTML-escaped; a link is made only of an http(s) address.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.core.insights.charts import Period, fill_days, render_svg
from bot.core.insights.gaps import GapCluster, GapReport
from bot.state.feedback import DOWN, REASONS
from bot.state.questions import DayCount, LoggedQuestion

TOP_DOCUMENTS = 15
WORST_PASSAGES = 15
NO_REASON = "no reason given"


@dataclass(frozen=True)
class PassageInfo:
    """What a logged passage id stands for in the current index: its document, its citation
    label (document › section › ¶N) and its address (None when it has none)."""

    document: str
    citation: str
    url: str | None = None


@dataclass(frozen=True)
class PassageVotes:
    """A passage shown in answers, with the votes on those answers."""

    passage_id: str
    shown: int
    up: int
    down: int


def daily_counts(questions: Iterable[LoggedQuestion]) -> list[DayCount]:
    """Per day (UTC) that had questions: asked, found, 👍 and 👎 (oldest day first)."""
    per_day: dict[int, list[int]] = {}  # by days since 1970-01-01 (UTC): no datetime per row
    for row in questions:
        counts = per_day.setdefault(int(row.at // 86_400), [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += row.found
        if row.votes:
            counts[2] += row.up
            counts[3] += row.down
    return [
        DayCount(datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d"), *counts)
        for day, counts in sorted(per_day.items())
    ]


def document_of(passage_id: str, passages: Mapping[str, PassageInfo]) -> str | None:
    """The document of a logged passage id: from the index's record of it, else from an id of
    the form ``<document>#<n>``; None when the index no longer has it."""
    info = passages.get(passage_id)
    if info is not None:
        return info.document
    if "#" in passage_id:
        return passage_id.rsplit("#", 1)[0] or None
    return None


def top_documents(
    questions: Iterable[LoggedQuestion], passages: Mapping[str, PassageInfo]
) -> tuple[list[tuple[str, int]], int]:
    """The documents whose passages were shown most (each answer counts a document once), most
    first, and how many shown passages are no longer in the index."""
    cited: Counter[str] = Counter()
    unknown = 0
    for row in questions:
        documents = set()
        for passage_id in row.passage_ids:
            document = document_of(passage_id, passages)
            if document is None:
                unknown += 1
            else:
                documents.add(document)
        cited.update(documents)
    return sorted(cited.items(), key=lambda item: (-item[1], item[0])), unknown


def worst_passages(questions: Iterable[LoggedQuestion]) -> list[PassageVotes]:
    """The passages shown in answers voted 👎, most 👎 first (then fewest 👍)."""
    shown: Counter[str] = Counter()
    up: Counter[str] = Counter()
    down: Counter[str] = Counter()
    for row in questions:
        once = set(row.passage_ids)
        shown.update(once)
        if row.votes:
            ups, downs = row.up, row.down
            for passage_id in once:
                up[passage_id] += ups
                down[passage_id] += downs
    ranked = sorted((p for p in down if down[p] > 0), key=lambda p: (-down[p], up[p], p))
    return [PassageVotes(p, shown[p], up[p], down[p]) for p in ranked]


def reason_counts(questions: Iterable[LoggedQuestion]) -> list[tuple[str, int]]:
    """The 👎 reasons given (their labels; "no reason given" too), most first."""
    counts: Counter[str] = Counter()
    for row in questions:
        for vote in row.votes:
            if vote.vote == DOWN:
                counts[REASONS.get(vote.reason, NO_REASON) if vote.reason else NO_REASON] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def render_report(
    questions: Sequence[LoggedQuestion],
    gaps: GapReport,
    *,
    scope: str,
    days: int,
    passages: Mapping[str, PassageInfo] | None = None,
    kept_days: int | None = None,
    now: datetime | None = None,
) -> str:
    """The report of ``questions`` (the log of the last ``days`` days of ``scope``, e.g. "all
    servers" or "collection guild-1") with the knowledge ``gaps``, as one HTML page.
    ``passages`` names the passage ids logged (from the current index); ``kept_days`` is how
    long the log keeps questions (said when ``days`` asks for more)."""
    passages = passages or {}
    now = now or datetime.now(UTC)
    period = fill_days(daily_counts(questions), days, now.date())
    title = f"citebot usage report: {scope}"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="period">The last {_days(days)} (to {now:%Y-%m-%d %H:%M} UTC), '
        f"from the question log{_kept(days, kept_days)}.</p>",
    ]
    if not questions:
        body.append(f'<p class="empty">No questions logged in the last {_days(days)}.</p>')
    body += [
        _figures(period, questions),
        '<section id="activity"><h2>Activity</h2>',
        f'<figure class="chart">{_inline_svg(render_svg(period, title="Questions per day"))}'
        "<figcaption>Questions per day (bars), the share found in the documents (line), and "
        "the votes on the answers (up above, down below the line).</figcaption></figure>",
        _collections(questions),
        "</section>",
        _gaps(gaps),
        _documents(questions, passages),
        _worst(questions, passages),
        _reasons(questions),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main>\n{chr(10).join(part for part in body if part)}\n</main></body></html>\n"
    )


def _figures(period: Period, questions: Sequence[LoggedQuestion]) -> str:
    busiest = period.busiest
    cells = [
        ("questions", str(period.asked)),
        ("found in the documents", _percent(period.found, period.asked)),
        ('"not in the source"', str(period.asked - period.found)),
        ("up votes", str(period.up)),
        ("down votes", str(period.down)),
        ("busiest day", f"{busiest.day} ({busiest.asked})" if busiest else "–"),
        ("servers", str(len({row.guild_id for row in questions}))),
    ]
    items = "".join(
        f'<div class="figure"><span class="value">{_e(value)}</span>'
        f'<span class="label">{_e(label)}</span></div>'
        for label, value in cells
    )
    return f'<section id="figures" class="figures">{items}</section>'


def _collections(questions: Sequence[LoggedQuestion]) -> str:
    per: dict[str, list[int]] = {}
    for row in questions:
        counts = per.setdefault(row.collection, [0, 0])
        counts[0] += 1
        counts[1] += int(row.found)
    if len(per) < 2:
        return ""
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class='n'>{asked}</td>"
        f"<td class='n'>{_percent(found, asked)}</td></tr>"
        for name, (asked, found) in sorted(per.items(), key=lambda item: (-item[1][0], item[0]))
    )
    return (
        "<h3>By collection</h3><table><thead><tr><th>collection</th><th>questions</th>"
        f"<th>found</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _gaps(gaps: GapReport) -> str:
    head = '<section id="gaps"><h2>Knowledge gaps</h2>'
    if not gaps.clusters:
        return (
            f"{head}<p class='empty'>No knowledge gaps: no group of questions answered "
            f"\"not in the source\" or voted down ({gaps.questions} such question(s)).</p>"
            "</section>"
        )
    intro = (
        f"<p>{gaps.questions} question(s) answered \"not in the source\" or voted down, in "
        f"{len(gaps.clusters)} group(s) of the same need, largest first (questions join a "
        f"group at cosine similarity {gaps.threshold:.2f}).</p>"
    )
    return head + intro + "".join(_cluster(i, c) for i, c in enumerate(gaps.clusters, 1)) + (
        "</section>"
    )


def _cluster(number: int, cluster: GapCluster) -> str:
    first = datetime.fromtimestamp(cluster.first_at, UTC).strftime("%Y-%m-%d")
    last = datetime.fromtimestamp(cluster.last_at, UTC).strftime("%Y-%m-%d")
    parts = [
        f'<article class="gap"><h3><span class="size">{cluster.size}</span> '
        f"{_e(cluster.typical)}</h3>",
        f'<p class="meta">#{number} · {cluster.not_found} "not in the source", '
        f"{cluster.voted_down} voted down · {first} to {last}</p>",
    ]
    if cluster.wordings:
        items = "".join(f"<li>{_e(wording)}</li>" for wording in cluster.wordings)
        parts.append(f'<p class="sub">Also asked as:</p><ul class="wordings">{items}</ul>')
    if cluster.closest is not None:
        closest = cluster.closest
        parts.append(
            '<div class="closest"><p class="sub">Closest passage (similarity '
            f"{closest.similarity:.2f}): {_link(closest.citation, closest.url)}</p>"
            f"<blockquote>{_e(closest.text)}</blockquote></div>"
        )
    if cluster.reasons:
        reasons = ", ".join(
            f"{_e(REASONS.get(name, name or NO_REASON))} ({count})"
            for name, count in cluster.reasons
        )
        parts.append(f'<p class="sub">Down-vote reasons: {reasons}</p>')
    if cluster.notes:
        notes = "".join(f"<li>{_e(note)}</li>" for note in cluster.notes)
        parts.append(f'<p class="sub">In the voters\' words:</p><ul class="notes">{notes}</ul>')
    return "".join(parts) + "</article>"


def _documents(questions: Sequence[LoggedQuestion], passages: Mapping[str, PassageInfo]) -> str:
    ranked, unknown = top_documents(questions, passages)
    head = '<section id="documents"><h2>Documents cited most</h2>'
    if not ranked:
        text = "No passage was shown" if not unknown else "No shown passage is in the index now"
        return f"{head}<p class='empty'>{text}.</p></section>"
    rows = "".join(
        f"<tr><td>{_e(document)}</td><td class='n'>{count}</td></tr>"
        for document, count in ranked[:TOP_DOCUMENTS]
    )
    note = (
        f"<p class='note'>{unknown} shown passage(s) are no longer in the index (rebuilt "
        "since) and are not counted.</p>" if unknown else ""
    )
    return (
        f"{head}<table><thead><tr><th>document</th><th>answers citing it</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{note}</section>"
    )


def _worst(questions: Sequence[LoggedQuestion], passages: Mapping[str, PassageInfo]) -> str:
    ranked = worst_passages(questions)
    head = '<section id="worst"><h2>Passages voted down most</h2>'
    if not ranked:
        return f"{head}<p class='empty'>No answer was voted down.</p></section>"
    rows = []
    for item in ranked[:WORST_PASSAGES]:
        info = passages.get(item.passage_id)
        if info is not None:
            label = _link(info.citation, info.url)
        else:
            label = f"{_e(item.passage_id)} <span class='note'>(not in the index now)</span>"
        rows.append(
            f"<tr><td>{label}</td><td class='n'>{item.down}</td><td class='n'>{item.up}</td>"
            f"<td class='n'>{item.shown}</td></tr>"
        )
    return (
        f"{head}<table><thead><tr><th>passage</th><th>down</th><th>up</th><th>shown</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _reasons(questions: Sequence[LoggedQuestion]) -> str:
    counts = reason_counts(questions)
    head = '<section id="reasons"><h2>Why answers were voted down</h2>'
    if not counts:
        return f"{head}<p class='empty'>No down votes.</p></section>"
    rows = "".join(
        f"<tr><td>{_e(label)}</td><td class='n'>{count}</td></tr>" for label, count in counts
    )
    return (
        f"{head}<table><thead><tr><th>reason</th><th>votes</th></tr></thead><tbody>{rows}"
        "</tbody></table></section>"
    )


def _inline_svg(svg: str) -> str:
    """An SVG document as an element inside HTML (its XML prolog and doctype dropped)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


def _link(text: str, url: str | None) -> str:
    """``text`` escaped, as a link when ``url`` is an http(s) address."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(text)}</a>'
    return _e(text)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _kept(days: int, kept_days: int | None) -> str:
    if kept_days is None or days <= kept_days:
        return ""
    return f" (it keeps questions {kept_days} day{'' if kept_days == 1 else 's'})"


def _days(count: int) -> str:
    return "day" if count == 1 else f"{count} days"


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f} %" if whole else "–"


STYLE = """
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec;
  --accent: #4c72b0; --bad: #c44e52; --soft: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 32px 0 12px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 0 0 4px; }
.period, .meta, .note, figcaption { color: var(--muted); font-size: 0.9rem; }
.empty { background: var(--soft); border-left: 4px solid var(--accent); padding: 10px 14px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 20px 0; }
.figure { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 16px; min-width: 130px; }
.figure .value { display: block; font-size: 1.5rem; font-weight: 600; }
.figure .label { color: var(--muted); font-size: 0.85rem; }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: anywhere; }
th { background: var(--soft); font-weight: 600; }
td.n { text-align: right; width: 7em; font-variant-numeric: tabular-nums; }
.gap { border: 1px solid var(--line); border-left: 4px solid var(--bad); border-radius: 6px;
  padding: 12px 16px; margin: 12px 0; overflow-wrap: anywhere; }
.gap .size { display: inline-block; min-width: 2em; text-align: center; background: var(--bad);
  color: #fff; border-radius: 12px; padding: 0 8px; margin-right: 6px; }
.sub { margin: 8px 0 2px; font-weight: 600; font-size: 0.9rem; }
ul { margin: 2px 0; padding-left: 22px; }
blockquote { margin: 4px 0; padding: 6px 12px; background: var(--soft);
  border-left: 3px solid var(--accent); }
a { color: var(--accent); }
"""
