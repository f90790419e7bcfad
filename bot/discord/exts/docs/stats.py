"""``/docs stats [days]``: this server's questions per day, the share found and the votes, as a
chart (PNG) with the key figures in an embed. Managers only; only this server's questions.

The log is read and the chart drawn off the event loop (a chart takes ~0.2 s of CPU); matplotlib
is imported there too, on first use, so the bot starts as fast as before.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.discord.exts.docs.permissions import require_manager
from bot.discord.utils.replies import NO_MENTIONS

if TYPE_CHECKING:
    from bot.core.insights.charts import Period
    from bot.discord.client import CitebotBot

DEFAULT_DAYS = 30
MAX_DAYS = 365
CHART_NAME = "citebot-stats.png"
LOG_OFF = (
    "This server's question log is off, so there is nothing to chart. A manager can turn it on "
    "with `/docs settings log_questions:True`; questions asked from then on are counted."
)


@dataclass(frozen=True)
class Stats:
    """What ``/docs stats`` shows: the period's counts and its chart."""

    period: Period
    png: bytes
    kept_days: int


def collect(bot: CitebotBot, guild_id: int, days: int) -> Stats | None:
    """Server ``guild_id``'s counts of the last ``days`` days and their chart; None when the
    server's log is off. Blocking: call off the event loop."""
    from bot.core.insights.charts import fill_days, render_png

    if not bot.servers.settings(guild_id).log_questions:
        return None
    counts = bot.questions.daily(guild_id, days=days)
    period = fill_days(counts, days)
    kept = max(1, round(bot.questions.retention_s / 86_400))
    return Stats(period, render_png(period, title="Questions in this server"), kept)


def render_stats(stats: Stats, days: int) -> discord.Embed:
    """The embed of the figures, with the chart (attached as ``CHART_NAME``) as its image."""
    period = stats.period
    embed = discord.Embed(
        title=f"Questions in the last {days} day{'s' if days != 1 else ''}",
        colour=discord.Colour.blurple(),
    )
    if period.asked == 0:
        embed.description = f"No questions logged in the last {days} day(s)."
    share = f"{100 * period.found / period.asked:.0f} %" if period.asked else "–"
    embed.add_field(name="Questions", value=str(period.asked))
    embed.add_field(name="Found in the documents", value=share)
    embed.add_field(name="Votes", value=f"👍 {period.up} · 👎 {period.down}")
    busiest = period.busiest
    if busiest is not None:
        shown = date.fromisoformat(busiest.day).strftime("%a %d %b %Y")
        embed.add_field(name="Busiest day", value=f"{shown}: {busiest.asked}")
    note = "Days in UTC. Only this server's questions."
    if days > stats.kept_days:
        note += f" The log keeps {stats.kept_days} days."
    embed.set_footer(text=note)
    embed.set_image(url=f"attachment://{CHART_NAME}")
    return embed


@app_commands.describe(days=f"How many days back (1 to {MAX_DAYS}; default {DEFAULT_DAYS})")
async def stats_command(
    interaction: discord.Interaction[CitebotBot],
    days: app_commands.Range[int, 1, MAX_DAYS] = DEFAULT_DAYS,
) -> None:
    """/docs stats: this server's questions per day, share found and votes, with a chart."""
    guild_id = await require_manager(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    stats = await asyncio.to_thread(collect, interaction.client, guild_id, days)
    if stats is None:
        await interaction.followup.send(LOG_OFF, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    await interaction.followup.send(
        embed=render_stats(stats, days),
        file=discord.File(io.BytesIO(stats.png), filename=CHART_NAME),
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )


def register(group: app_commands.Group) -> None:
    """Add stats to the ``/docs`` group."""
    group.add_command(
        app_commands.Command(
            name="stats",
            description="Questions per day, share found and votes, with a chart (managers only)",
            callback=stats_command,
        )
    )
