"""Usage charts (issue 23): every day of the period, PNG and SVG, deterministic, cheap, and a
message instead of an error when nothing was logged."""

from __future__ import annotations

import io
import time
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.core.insights.charts import fill_days, render_png, render_svg
from bot.state.questions import DayCount

TODAY = date(2026, 12, 5)
COUNTS = [
    DayCount("2026-11-20", 10, 7, 3, 1),
    DayCount("2026-12-01", 25, 20, 5, 4),
    DayCount("2026-12-05", 3, 1, 0, 2),
]


def test_days_without_questions_are_zeros_over_the_whole_period() -> None:
    period = fill_days(COUNTS, 30, TODAY)
    assert len(period.days) == 30
    assert period.days[0].day == "2026-11-06" and period.days[-1].day == "2026-12-05"
    assert [d.day for d in period.days] == sorted(d.day for d in period.days)
    assert period.days[-2] == DayCount("2026-12-04", 0, 0, 0, 0)
    assert (period.asked, period.found, period.up, period.down) == (38, 28, 8, 7)
    assert period.busiest == COUNTS[1]
    # a partial first day of a 24-hour window older than the range is kept, not dropped
    early = fill_days([DayCount("2026-11-27", 2, 1, 0, 0)], 7, TODAY)
    assert early.days[0].day == "2026-11-27" and early.asked == 2
    assert fill_days([], 7, TODAY).busiest is None
    with pytest.raises(ValueError):
        fill_days(COUNTS, 0, TODAY)


def test_the_png_is_a_real_image_with_bars_in_it() -> None:
    png = render_png(fill_days(COUNTS, 30, TODAY), title="Server 1")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (900, 560)
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None
    counts = {colour: n for n, colour in colours}
    assert counts.get((0x4C, 0x72, 0xB0), 0) > 500  # the questions' bars
    assert counts.get((0x55, 0xA8, 0x68), 0) > 100  # up votes
    assert counts.get((0xC4, 0x4E, 0x52), 0) > 100  # down votes


def test_the_svg_is_a_standalone_document_that_needs_no_fonts() -> None:
    svg = render_svg(fill_days(COUNTS, 30, TODAY))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert "<text" not in svg  # text drawn as paths: nothing depends on the viewer's fonts
    assert 'href="http' not in svg and "url(http" not in svg  # nothing to fetch


def test_charts_are_deterministic() -> None:
    period = fill_days(COUNTS, 30, TODAY)
    assert render_png(period) == render_png(period)
    assert render_svg(period) == render_svg(period)
    other = fill_days([*COUNTS[:2], DayCount("2026-12-05", 4, 1, 0, 2)], 30, TODAY)
    assert render_png(other) != render_png(period)


def test_an_empty_log_draws_a_message_not_an_error() -> None:
    period = fill_days([], 7, TODAY)
    png = render_png(period)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.getextrema()[0] < 128  # there is dark text on it
    svg = render_svg(period)
    assert "<path" in svg
    # the message is different for another period, so the text is really the period's
    assert render_svg(fill_days([], 30, TODAY)) != svg


def test_a_chart_is_cheap_even_for_a_year() -> None:
    year = [DayCount((TODAY - timedelta(days=i)).isoformat(), 50 + i % 40, 30, i % 7, i % 5)
            for i in range(365)]
    for period in (fill_days(COUNTS, 90, TODAY), fill_days(year, 365, TODAY)):
        render_png(period)  # first use loads fonts
        started = time.perf_counter()
        render_png(period)
        render_svg(period)
        # ~0.2 s each here (a year's bars drawn as one shape); slack for a loaded machine
        assert time.perf_counter() - started < 2.0
    image = Image.open(io.BytesIO(render_png(fill_days(year, 365, TODAY)))).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert {colour: n for n, colour in colours}.get((0x4C, 0x72, 0xB0), 0) > 50_000


def test_charts_drawn_from_several_threads_at_once_are_the_same() -> None:
    """/docs stats draws in worker threads: no shared pyplot state between charts."""
    from concurrent.futures import ThreadPoolExecutor

    periods = [fill_days(COUNTS, 30, TODAY), fill_days(COUNTS[:1], 7, TODAY)]
    expected = [(render_png(p), render_svg(p)) for p in periods]
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(lambda i: (render_png(periods[i % 2]), render_svg(periods[i % 2])),
                              range(8)))
    assert drawn == [expected[i % 2] for i in range(8)]
