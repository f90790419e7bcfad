"""``/docs gaps [days]``: what this server's members asked that its documents do not answer,
grouped into clusters of the same need (managers only, shown to them alone).

Only this server's logged questions are read, and the closest passages are searched in the
collections a question asked here searches, so nothing of another server can appear. Every text
people typed (questions, 👎 notes) and every citation is escaped: markdown, masked links and
mentions render literally, and the reply is sent with mentions disabled.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.insights.gaps import (
    ClosestPassage,
    GapCluster,
    GapReport,
    closest_of,
    find_gaps,
)
from bot.discord.exts.docs.permissions import require_manager
from bot.discord.utils.checks import Refusal
from bot.discord.utils.render import (
    COLOUR_NOT_FOUND,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    TOTAL_BUDGET,
    escape_clipped,
    escape_name_clipped,
)
from bot.discord.utils.replies import NO_MENTIONS
from bot.state.feedback import REASONS
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

CLUSTERS_SHOWN = 8
WORDING_CHARS = 150
PASSAGE_CHARS = 220
CITATION_CHARS = 150
FOOTER = "Only you see this. Askers are never named; the log keeps no user ids."
LOG_OFF = (
    "This server's question log is off, so there are no knowledge gaps to show. A manager can "
    "turn it on with `/docs settings log_questions:True`: questions asked here are then kept "
    "for {days} days, for this server's managers only."
)


def closest_search(bot: CitebotBot, guild_id: int, question: str) -> ClosestPassage | None:
    """The first passage the server's search gives for ``question`` (blocking: what ``/ask``
    would quote, the private-channel rule included); None when it has nothing to search."""
    try:
        answer = bot.search_now(question, 1, 0, guild_id, ())
    except (Refusal, CitebotError):  # no documents (any more): the gap is still shown
        return None
    return closest_of(answer)


def render_gaps(report: GapReport) -> discord.Embed:
    """The report as one embed within Discord's limits: a field per cluster, largest first."""
    days = f"{report.days:g}"
    embed = discord.Embed(title=f"Knowledge gaps — last {days} days", colour=COLOUR_NOT_FOUND)
    embed.set_footer(text=FOOTER)
    if not report.clusters:
        embed.description = (
            f"No knowledge gaps in the last {days} days: no question asked here was answered "
            "“not in the source” or voted 👎."
        )
        return embed
    shown = report.clusters[:CLUSTERS_SHOWN]
    description = (
        f"{report.questions} question(s) answered “not in the source” or voted 👎, in "
        f"{report.total_clusters} cluster(s) of the same need; the {len(shown)} largest below. "
        "Each shows its typical wording, others, and the passage the documents come closest "
        "with: write the missing page, or fix that one."
    )
    if report.unembedded:
        description += (
            f" ({report.unembedded} question(s) without an embedding are grouped by wording.)"
        )
    embed.description = description
    used = len(embed.title or "") + len(description) + len(FOOTER)
    budget = (TOTAL_BUDGET - used) // len(shown)
    for number, cluster in enumerate(shown, 1):
        prefix = f"{number}. {cluster.size} × "
        typical = escape_clipped(_flat(cluster.typical), FIELD_NAME_LIMIT - len(prefix) - 2)
        name = f"{prefix}“{typical}”"
        value = _field_value(cluster, min(FIELD_VALUE_LIMIT, budget - len(name)))
        embed.add_field(name=name, value=value, inline=False)
    return embed


def _field_value(cluster: GapCluster, budget: int) -> str:
    """One cluster's lines, whole lines only, within ``budget`` characters."""
    lines = []
    if cluster.wordings:
        lines.append("Also: " + " · ".join(
            f"“{escape_clipped(_flat(w), WORDING_CHARS)}”" for w in cluster.wordings
        ))
    counts = f"{cluster.not_found} not in the source · {cluster.voted_down} voted 👎"
    if cluster.reasons:
        reasons = ", ".join(f"{REASONS.get(name, name)} {count}" for name, count in cluster.reasons)
        counts += f" ({escape_clipped(reasons, 200)})"
    lines.append(f"{counts} · asked {_when(cluster.first_at)} – {_when(cluster.last_at)}")
    closest = cluster.closest
    if closest is None:
        lines.append("Closest passage: none (no documents to search)")
    else:
        where = escape_name_clipped(closest.citation, CITATION_CHARS)
        text = escape_clipped(_flat(closest.text), PASSAGE_CHARS)
        lines.append(f"Closest passage: **{where}** — “{text}”")
    for note in cluster.notes[:2]:
        lines.append(f"Note: “{escape_clipped(_flat(note), WORDING_CHARS)}”")
    value = ""
    for line in lines:
        joined = f"{value}\n{line}" if value else line
        if len(joined) > budget:
            break
        value = joined
    return value or "…"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _when(at: float) -> str:
    return discord.utils.format_dt(datetime.fromtimestamp(at).astimezone(), "d")


@app_commands.describe(days="How many days back (default: all that is kept)")
async def gaps_command(
    interaction: discord.Interaction[CitebotBot],
    days: app_commands.Range[int, 1, 3650] | None = None,
) -> None:
    """/docs gaps: the clusters of questions asked here that the documents do not answer."""
    guild_id = await require_manager(interaction)
    bot = interaction.client
    kept_days = bot.settings.question_log_days
    await interaction.response.defer(thinking=True, ephemeral=True)
    logging_on = (await asyncio.to_thread(bot.servers.settings, guild_id)).log_questions
    if not logging_on:
        await interaction.followup.send(
            LOG_OFF.format(days=kept_days), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return

    # The clustering runs on a thread of its own; only the searches take the search worker, so
    # questions asked meanwhile wait for one search at a time, never for the whole report.
    report = await asyncio.to_thread(
        find_gaps,
        bot.questions,
        guild_id,
        days=min(days or kept_days, kept_days),
        limit=CLUSTERS_SHOWN,
    )
    clusters = []
    for cluster in report.clusters:
        closest = await bot.in_worker(closest_search, bot, guild_id, cluster.typical)
        clusters.append(dataclasses.replace(cluster, closest=closest))
    report = dataclasses.replace(report, clusters=tuple(clusters))
    await interaction.followup.send(
        embed=render_gaps(report), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


def register(group: app_commands.Group) -> None:
    """Add gaps to the ``/docs`` group."""
    group.add_command(
        app_commands.Command(
            name="gaps",
            description="What people asked here that the documents do not answer (managers only)",
            callback=gaps_command,
        )
    )
