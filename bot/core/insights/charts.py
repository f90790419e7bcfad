"""Usage charts of a question log (issue 23): questions per day, the share found and the votes,
as PNG bytes (``/docs stats``) or SVG text (``citebot report``).

Drawn with matplotlib's object API on the Agg canvas: no display, no pyplot and its global
figure list, so charts can be drawn from any worker thread at once. The output is deterministic
for the same counts (no timestamps in the files, fixed SVG ids), and every day of the period is
shown, days without questions as zeros.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from bot.state.questions import DayCount

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 5.6, 100
ASKED, FOUND, UP, DOWN = "#4c72b0", "#dd8452", "#55a868", "#c44e52"
MAX_BARS = 92
"""Up to this many days, one bar each (a quarter); beyond, a filled step outline."""
MAX_DATE_LABELS = 12
"""At most this many dates under the bars (every n-th day beyond that)."""

_SVG_LOCK = threading.Lock()
"""The SVG writer reads its id salt from matplotlib's global settings: one SVG at a time."""


@dataclass(frozen=True)
class Period:
    """The days a chart covers (oldest first), each with its counts (zeros when none)."""

    days: tuple[DayCount, ...]
    requested: int

    @property
    def asked(self) -> int:
        return sum(day.asked for day in self.days)

    @property
    def found(self) -> int:
        return sum(day.found for day in self.days)

    @property
    def up(self) -> int:
        return sum(day.up for day in self.days)

    @property
    def down(self) -> int:
        return sum(day.down for day in self.days)

    @property
    def busiest(self) -> DayCount | None:
        """The day with the most questions (the earliest of equals), None when none was asked."""
        best = max(self.days, key=lambda day: day.asked, default=None)
        return best if best is not None and best.asked > 0 else None


def fill_days(counts: Sequence[DayCount], days: int, today: date | None = None) -> Period:
    """Every day from ``days - 1`` days before ``today`` (UTC) to ``today``, with the counts of
    ``counts`` and zeros for days without questions; an earlier day in ``counts`` (the partial
    first day of a window of ``days`` × 24 hours) extends the range rather than being dropped."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = today or datetime.now(UTC).date()
    by_day = {count.day: count for count in counts}
    first = today - timedelta(days=days - 1)
    if by_day:
        first = min(first, date.fromisoformat(min(by_day)))
    last = max(today, date.fromisoformat(max(by_day))) if by_day else today
    filled = []
    day = first
    while day <= last:
        key = day.isoformat()
        filled.append(by_day.get(key, DayCount(key, 0, 0, 0, 0)))
        day += timedelta(days=1)
    return Period(tuple(filled), days)


def render_png(period: Period, title: str = "Questions") -> bytes:
    """The chart of ``period`` as PNG bytes."""
    figure = _figure(period, title)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def render_svg(period: Period, title: str = "Questions") -> str:
    """The chart of ``period`` as a standalone SVG document (text drawn as paths: no fonts
    needed where it is shown)."""
    figure = _figure(period, title)
    buffer = io.StringIO()
    FigureCanvasSVG(figure)
    with _SVG_LOCK, matplotlib.rc_context({"svg.hashsalt": "citebot", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _figure(period: Period, title: str) -> Figure:
    """Questions per day (bars) with the share found (line, right axis, %) above, the votes of
    each day (👍 up, 👎 down) below; or a message when no question was logged."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    if period.asked == 0:
        axes = figure.add_subplot()
        axes.set_axis_off()
        axes.text(
            0.5, 0.5, f"No questions logged in the last {_days(period.requested)}",
            ha="center", va="center", fontsize=16, color="#555555", transform=axes.transAxes,
        )
        figure.suptitle(title, fontsize=14, fontweight="bold")
        return figure
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    positions = list(range(len(period.days)))
    asked = [day.asked for day in period.days]
    _bars(top, asked, ASKED, "questions asked")
    top.set_ylabel("questions per day")
    top.set_ylim(0, max(asked) * 1.15)
    top.yaxis.get_major_locator().set_params(integer=True)
    share = top.twinx()
    shares = [100.0 * day.found / day.asked if day.asked else float("nan") for day in period.days]
    share.plot(positions, shares, color=FOUND, marker="o", markersize=3, linewidth=1.8,
               label="share found (%)")
    share.set_ylim(0, 105)
    share.set_ylabel("share found (%)")
    handles = top.get_legend_handles_labels()[0] + share.get_legend_handles_labels()[0]
    top.legend(handles=handles, **_LEGEND)
    top.set_title(
        f"{period.asked} question(s) in {_days(len(period.days))}, "
        f"{_percent(period.found, period.asked)} found",
        fontsize=10, loc="left",
    )
    up = [day.up for day in period.days]
    down = [-day.down for day in period.days]
    _bars(bottom, up, UP, f"up votes ({period.up})")
    _bars(bottom, down, DOWN, f"down votes ({period.down})")
    bottom.axhline(0, color="#333333", linewidth=0.6)
    bottom.set_ylabel("votes (down below 0)")
    limit = max([1, *up, *(-d for d in down)])
    bottom.set_ylim(-limit * 1.2, limit * 1.2)
    bottom.yaxis.get_major_locator().set_params(integer=True)
    bottom.legend(**_LEGEND)
    bottom.set_xlabel("day (UTC)")
    _date_labels(bottom, period)
    for axes in (top, bottom):
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
    figure.suptitle(title, fontsize=14, fontweight="bold")
    return figure


_LEGEND: dict[str, Any] = {
    # above the plot, right-aligned: never over the bars or the line
    "loc": "lower right", "bbox_to_anchor": (1.0, 1.0), "ncols": 2, "fontsize": 8,
    "frameon": False, "borderaxespad": 0.2,
}


def _bars(axes: Axes, values: list[int], colour: str, label: str) -> None:
    """One bar per day; past ``MAX_BARS`` days one filled step outline instead (the same
    shape, drawn as one shape rather than hundreds: a year's chart stays cheap)."""
    if len(values) <= MAX_BARS:
        axes.bar(range(len(values)), values, color=colour, label=label)
    else:
        edges = [i - 0.5 for i in range(len(values) + 1)]
        axes.stairs(values, edges, fill=True, color=colour, label=label)


def _date_labels(axes: Axes, period: Period) -> None:
    """Dates under the bars: every day, or every n-th (and always the last) when many."""
    count = len(period.days)
    step = max(1, -(-count // MAX_DATE_LABELS))
    ticks = list(range(count - 1, -1, -step))[::-1]
    axes.set_xticks(ticks, [date.fromisoformat(period.days[i].day).strftime("%b %d")
                            for i in ticks], rotation=45, ha="right", fontsize=8)
    axes.set_xlim(-0.6, count - 0.4)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f} %" if whole else "–"
