"""``citebot feedback``: a terminal report of the 👍 / 👎 votes.

The store itself lives in :mod:`bot.state.feedback`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.core.safe_text import printable
from bot.settings import Settings
from bot.state.database import is_url, location_of
from bot.state.feedback import FeedbackStore, FeedbackSummary, key_path_for
from index.errors import CitebotError

QUESTION_CHARS = 100


def format_summary(summary: FeedbackSummary, retention_days: int | None = None) -> str:
    """Plain-text report for the terminal; stored text has its control characters escaped."""
    if summary.total == 0:
        return "No feedback recorded yet."
    lines = [
        f"{summary.total} vote(s) on {summary.questions} question(s): "
        f"{summary.up} up, {summary.down} down.",
    ]
    if summary.expired_questions:
        after = f" after {retention_days} days" if retention_days else ""
        lines.append(f"Question text of {summary.expired_questions} vote(s) deleted{after}.")
    lines += ["", "Passages with the most votes:", f"  {'up':>4} {'down':>4}  passage"]
    for item in summary.passages:
        lines.append(f"  {item.up:>4} {item.down:>4}  {printable(item.passage_id)}")
    if summary.recent_down:
        lines += ["", "Recent questions voted down:"]
        for when, question in summary.recent_down:
            shown = question if len(question) <= QUESTION_CHARS else question[:99] + "…"
            lines.append(f"  {printable(when)}  {printable(shown)}")
    return "\n".join(lines)


def print_summary(settings: Settings, out: TextIO | None = None) -> int:
    """``citebot feedback``: print a summary of the stored votes; returns the exit status."""
    out = out or sys.stdout
    path = Path(settings.state_db)
    location = location_of(settings)
    if not is_url(location) and not path.exists():
        print(f"No feedback recorded yet (no database at {printable(str(path))}).", file=out)
        return 0
    store = None
    try:
        store = FeedbackStore(
            location, retention_days=settings.feedback_retention_days, key_path=key_path_for(path)
        )
        summary = store.summary()
    except CitebotError as error:
        print(f"citebot: error: {printable(str(error))}", file=sys.stderr)
        return 1
    finally:
        if store is not None:
            store.close()
    print(format_summary(summary, settings.feedback_retention_days), file=out)
    return 0
