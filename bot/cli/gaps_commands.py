"""``citebot gaps``: the knowledge gaps of the question log for the operator — every server's
questions, or one collection's — with the passage each gap's typical wording comes closest to."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.context import EXIT_OK, Context, command, to_json
from bot.core.safe_text import printable
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.core.collections import Collections
    from bot.core.insights.gaps import ClosestPassage, GapCluster, GapReport
    from bot.settings import Settings
    from bot.state.questions import QuestionLog

WORDING_CHARS = 200
NOTE_CHARS = 200
PASSAGE_CHARS = 300


def days_value(text: str) -> float:
    """``--days``: a number of days from 1 to 3650."""
    try:
        days = float(text)
    except ValueError:
        days = 0.0
    if not 1 <= days <= 3_650:
        raise argparse.ArgumentTypeError(f"must be a number of days from 1 to 3650, got {text!r}")
    return days


def gaps_arguments(parser: argparse.ArgumentParser) -> None:
    """``citebot gaps [--collection NAME] [--days N] [--json]``."""
    parser.add_argument(
        "--collection",
        metavar="NAME",
        default=argparse.SUPPRESS,  # else it would hide the global --collection
        help="only the questions of collection NAME (default: every server's)",
    )
    parser.add_argument(
        "--days", type=days_value, default=None,
        help="the last N days (default: CITEBOT_QUESTION_LOG_DAYS, all that is kept)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


@command(
    "gaps",
    "what people asked that the documents do not answer, grouped by need (knowledge gaps)",
    gaps_arguments,
)
def cmd_gaps(ctx: Context) -> int:
    """Print the largest clusters of questions answered "not in the source" or voted 👎."""
    from bot.core.insights.gaps import THRESHOLD, GapReport, find_gaps

    settings = ctx.base_settings or ctx.settings
    collection = chosen_collection(ctx)
    days = ctx.args.days or float(settings.question_log_days)
    report = GapReport((), 0, days, THRESHOLD)
    log = question_log(settings)
    if log is not None:
        try:
            report = find_gaps(log, None, days=days, collection=collection)
        finally:
            log.close()
    if report.clusters:
        report = with_closest(ctx, report, collection)
    if ctx.args.json:
        ctx.out.out(to_json(_as_json(report, days, collection)), highlight=False)
        return EXIT_OK
    for line in gap_lines(report, days, collection):
        ctx.out.print(line, markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def chosen_collection(ctx: Context) -> str | None:
    """``--collection NAME``, checked; None for every server's questions."""
    from bot.core.collections import validate_name

    collection: str | None = getattr(ctx.args, "collection", None)
    return validate_name(collection) if collection is not None else None


def question_log(settings: Settings) -> QuestionLog | None:
    """The question log to read, or None when nothing was ever logged: no state database yet
    (reading the log must not create one)."""
    from bot.state.database import is_url, location_of
    from bot.state.questions import QuestionLog

    location = location_of(settings)
    if not is_url(location) and not Path(location).is_file():
        return None
    return QuestionLog(location, retention_days=settings.question_log_days)


def with_closest(ctx: Context, report: GapReport, collection: str | None) -> GapReport:
    """``report`` with each cluster's closest passage, searched in ``collection`` or else in the
    collection its questions were asked in most (none when that collection has no index)."""
    from bot.core.collections import Collections

    collections = Collections(ctx.base_settings or ctx.settings)
    clusters = []
    for cluster in report.clusters:
        name = collection or (cluster.collections[0] if cluster.collections else None)
        found = closest_passage(collections, name, cluster.typical) if name else None
        clusters.append(dataclasses.replace(cluster, closest=found))
    return dataclasses.replace(report, clusters=tuple(clusters))


def closest_passage(collections: Collections, name: str, question: str) -> ClosestPassage | None:
    """The first passage collection ``name`` gives for ``question``: its citation label, best
    sentence, address and similarity; None when the collection has no index (or no passage)."""
    from bot.core.insights.gaps import closest_of

    try:
        answer = collections.search(name, question, k=1)
    except CitebotError:  # no index (any more): the gap is still worth showing
        return None
    return closest_of(answer)


def gap_lines(report: GapReport, days: float, collection: str | None) -> list[str]:
    """The report as lines for the terminal (stored text with its control characters escaped)."""
    where = f"collection {collection}" if collection else "all servers"
    period = f"the last {days:g} days"
    if report.questions == 0:
        return [
            f"No knowledge gaps in {period} ({where}): no logged question was answered "
            '"not in the source" or voted 👎. Questions asked with /ask in a server are logged '
            "unless the server turned its log off (/docs settings log_questions:False)."
        ]
    lines = [
        f"Knowledge gaps in {period} ({where}): {report.questions} question(s) answered "
        f'"not in the source" or voted 👎, in {report.total_clusters} cluster(s) of the same '
        f"need (cosine ≥ {report.threshold:.2f}); the {len(report.clusters)} largest:"
    ]
    if report.unembedded:
        lines.append(
            f"({report.unembedded} question(s) were logged without an embedding and are "
            "grouped by their exact wording.)"
        )
    for number, cluster in enumerate(report.clusters, 1):
        lines.append("")
        lines += _cluster_lines(number, cluster)
    return lines


def _cluster_lines(number: int, cluster: GapCluster) -> list[str]:
    from bot.state.feedback import REASONS

    lines = [f"{number}. {cluster.size} × {_quoted(cluster.typical, WORDING_CHARS)}"]
    for wording in cluster.wordings:
        lines.append(f"     also: {_quoted(wording, WORDING_CHARS)}")
    counts = f"{cluster.not_found} not in the source, {cluster.voted_down} voted 👎"
    if cluster.reasons:
        reasons = ", ".join(f"{REASONS.get(name, name)} {count}" for name, count in cluster.reasons)
        counts += f" ({printable(reasons)})"
    where = f" in {printable(', '.join(cluster.collections))}" if cluster.collections else ""
    lines.append(f"   {counts}; asked {_day(cluster.first_at)} to {_day(cluster.last_at)}{where}")
    for note in cluster.notes:
        lines.append(f"   note: {_quoted(note, NOTE_CHARS)}")
    closest = cluster.closest
    if closest is None:
        lines.append("   closest passage: none (no index to search)")
    else:
        address = f" <{printable(closest.url)}>" if closest.url else ""
        lines.append(
            f"   closest passage ({closest.similarity:.2f}): {printable(closest.citation)}"
            f"{address}: {_quoted(closest.text, PASSAGE_CHARS)}"
        )
    return lines


def _quoted(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters, quoted, made safe to print."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return f"“{printable(flat)}”"


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _as_json(report: GapReport, days: float, collection: str | None) -> dict[str, Any]:
    """The report for ``--json`` (times as ISO 8601, UTC)."""
    clusters = []
    for cluster in report.clusters:
        item = dataclasses.asdict(cluster)
        item["first_at"], item["last_at"] = _iso(cluster.first_at), _iso(cluster.last_at)
        item["reasons"] = [{"reason": name, "count": count} for name, count in cluster.reasons]
        clusters.append(item)
    return {
        "days": days,
        "collection": collection,
        "questions": report.questions,
        "total_clusters": report.total_clusters,
        "unembedded": report.unembedded,
        "threshold": report.threshold,
        "clusters": clusters,
    }
