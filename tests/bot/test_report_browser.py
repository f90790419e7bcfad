"""The HTML report opened in a real headless browser (Debian's ``chromium``, which
``scripts/bootstrap.py test`` installs when missing), with its network cut: it renders, its
chart is drawn, the screenshot is not blank, and a question holding a script stays text.

Without chromium these tests fail (saying how to install it); they are never skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from bot.core.insights.charts import ASKED, DOWN, UP
from bot.core.insights.report import render_report
from tests.bot.report_samples import (
    HOSTILE,
    NOW,
    PASSAGES,
    parse,
    sample_gaps,
    sample_questions,
)

WIDTH, HEIGHT = 1200, 2000
OFFLINE = (
    # Every request the page could make goes nowhere: a dead proxy, and no name resolves.
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
)


def chromium() -> str:
    path = shutil.which("chromium")
    assert path is not None, (
        "the browser test needs Debian's chromium: `python3 scripts/bootstrap.py test` installs "
        "it, or run `apt-get install -y chromium`"
    )
    return path


def browse(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Open ``page`` in headless chromium with ``args``; its profile and home under tmp."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    command: Sequence[str] = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}", *OFFLINE, *args, page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "LANG": "C.UTF-8"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, env=env, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    html = render_report(
        sample_questions(), sample_gaps(), scope="all servers", days=30, passages=PASSAGES,
        now=NOW,
    )
    path.write_text(html, encoding="utf-8")
    return path


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def test_the_report_renders_with_its_chart_in_a_headless_browser(
    page: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "shot.png"
    browse(page, tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    colours = image.getcolors(maxcolors=WIDTH * HEIGHT)
    assert colours is not None
    counts = {colour: n for n, colour in colours}
    assert len(counts) > 100  # text, chart and tables, anti-aliased: not a blank page
    background = max(counts.values())
    assert background < 0.97 * WIDTH * HEIGHT
    # the chart is drawn: its bars' colours cover real areas of the screenshot
    assert counts.get(hex_rgb(ASKED), 0) > 2_000
    assert counts.get(hex_rgb(UP), 0) > 200 and counts.get(hex_rgb(DOWN), 0) > 200
    # and they lie in the chart's region (below the figures, above the gaps)
    pixels = enumerate(image.get_flattened_data())
    bars = [(i % WIDTH, i // WIDTH) for i, pixel in pixels if pixel == hex_rgb(ASKED)]
    top = min(y for _, y in bars)
    assert 150 < top < 1200


def test_the_dom_holds_the_chart_and_no_injected_element(page: Path, tmp_path: Path) -> None:
    dom = browse(page, tmp_path, "--dump-dom").stdout
    elements = parse(dom)
    tags = [tag for tag, _ in elements.tags]
    assert tags.count("svg") == 1 and re.search(r'<figure class="chart"><svg', dom)
    assert tags.count("path") > 50  # the chart's drawing, inside the page
    # the question holding a script, and a voter's <img onerror>, stayed text and never ran
    assert not {"script", "img", "b"} & set(tags)
    body = next(attrs for tag, attrs in elements.tags if tag == "body")
    assert "data-pwned" not in body
    assert HOSTILE in "".join(elements.text)
    assert "How do I bring a bike on the night ferry?" in "".join(elements.text)
