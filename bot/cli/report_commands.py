"""``citebot report [--collection NAME] [--days N] --html FILE``: the operator's usage report of
the question log (every server's, or one collection's) as one self-contained HTML page."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.context import EXIT_OK, Context, command
from bot.cli.gaps_commands import chosen_collection, question_log, with_closest
from index.errors import CitebotError

if TYPE_CHECKING:  # matplotlib, SQLAlchemy and numpy load only when the report is made (so
    # other commands, `citebot build` above all, start without them)
    from bot.core.insights.report import PassageInfo
    from bot.state.questions import LoggedQuestion

DEFAULT_DAYS = 30
MAX_DAYS = 3_650


def days_value(text: str) -> int:
    """``--days``: a whole number of days from 1 to 3650."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of days from 1 to {MAX_DAYS}, got {text!r}"
        )
    return int(text)


def report_arguments(parser: argparse.ArgumentParser) -> None:
    """``--collection NAME``, ``--days N`` and ``--html FILE``."""
    parser.add_argument(
        "--collection", metavar="NAME", default=argparse.SUPPRESS,
        help="only the questions asked of collection NAME (default: every server's)",
    )
    parser.add_argument(
        "--days", type=days_value, default=DEFAULT_DAYS, metavar="N",
        help=f"the last N days (default {DEFAULT_DAYS}; the log keeps CITEBOT_QUESTION_LOG_DAYS)",
    )
    parser.add_argument(
        "--html", type=Path, required=True, metavar="FILE",
        help="write the report to FILE (replaced whole when complete)",
    )


@command(
    "report",
    "write an HTML usage report of the question log: charts, knowledge gaps, documents cited, "
    "passages voted down",
    report_arguments,
)
def cmd_report(ctx: Context) -> int:
    """Write the usage report of the question log to ``--html FILE``."""
    from bot.core.insights.gaps import THRESHOLD, GapReport, find_gaps
    from bot.core.insights.report import render_report
    from bot.state.database import describe, location_of

    settings = ctx.base_settings or ctx.settings
    collection = chosen_collection(ctx)
    days: int = ctx.args.days
    target: Path = ctx.args.html
    _check_target(target)
    questions: list[LoggedQuestion] = []
    gaps = GapReport((), 0, days, THRESHOLD)
    log = question_log(settings)
    if log is not None:
        try:
            questions = log.questions(None, days=days, collection=collection)
            gaps = find_gaps(log, None, days=days, collection=collection)
        finally:
            log.close()
    if gaps.clusters:
        gaps = with_closest(ctx, gaps, collection)
    scope = f"collection {collection}" if collection else "all servers"
    page = render_report(
        questions, gaps, scope=scope, days=days, passages=_passages(ctx, questions),
        kept_days=settings.question_log_days,
    )
    write_atomically(target, page)
    what = f"{len(questions)} question(s)" if questions else "no questions logged"
    ctx.out.print(
        f"Wrote the report of {scope}, the last {days} day(s) ({what}; log: "
        f"{describe(location_of(settings))}) to {target}.",
        markup=False, soft_wrap=True, highlight=False,
    )
    return EXIT_OK


def _passages(ctx: Context, questions: Iterable[LoggedQuestion]) -> dict[str, PassageInfo]:
    """The citations of the passage ids logged, from the current indexes of the collections
    the questions were asked of and of ``default`` (which servers also search)."""
    from bot.core.collections import DEFAULT, collection_settings
    from bot.core.insights.passages import passage_names

    settings = ctx.base_settings or ctx.settings
    wanted: set[str] = set()
    names = {DEFAULT}
    for row in questions:
        wanted.update(row.passage_ids)
        names.add(row.collection)
    found: dict[str, PassageInfo] = {}
    for name in sorted(names):
        if not wanted:
            break
        try:
            index_dir = collection_settings(settings, name).index_dir
        except CitebotError:  # a name logged by an older version, not valid now
            continue
        names_found = passage_names(index_dir, wanted)
        found.update(names_found)
        wanted.difference_update(names_found)
    return found


def _check_target(target: Path) -> None:
    """Refuse at once a FILE that cannot be written: a folder, or in a missing folder."""
    if target.is_dir():
        raise CitebotError(f"--html {target} is a folder: give the path of a file to write")
    folder = target.parent
    if not folder.is_dir():
        raise CitebotError(
            f"cannot write {target}: the folder {folder} does not exist (create it first)"
        )


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file in the same folder, renamed over it
    only when complete: a failure leaves the old file (or none) and no temporary file. The file
    is the owner's alone (0600): it holds what people asked."""
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as error:
        raise CitebotError(f"cannot write {target}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CitebotError(f"cannot write {target}: {error.strerror or error}") from None
