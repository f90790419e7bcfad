"""``/sources``: the indexed documents, their sections and chunk counts, and the build time,
a page at a time (Discord refuses embeds over 6,000 characters in all).

The previous / next buttons carry only the page they lead to; the page is recomputed from the
engine when pressed, so they keep working after a restart.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.discord_render import SourcesPage, render_sources
from bot.exts.errors import report_error
from bot.exts.replies import NO_MENTIONS

if TYPE_CHECKING:
    from bot.discord_app import CitebotBot


class SourcesPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:sources:(?P<page>[0-9]{1,6}):(?P<direction>prev|next)",
):
    """◀ / ▶ under a /sources page: show page ``page`` in the same message."""

    def __init__(self, page: int, direction: str, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Previous" if direction == "prev" else "Next",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:sources:{page}:{direction}",
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SourcesPageButton:
        return cls(int(match["page"]), match["direction"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await interaction.response.defer()  # an update of the message, shown as loading
            shown = await collect_page(cast("CitebotBot", interaction.client), self.page)
            await interaction.edit_original_response(
                embed=shown.embed, view=page_view(shown), allowed_mentions=NO_MENTIONS
            )
        except Exception as error:
            await report_error(interaction, error)


def page_view(shown: SourcesPage) -> discord.ui.View:
    """Previous / Next for ``shown`` (disabled at either end); empty for a single page."""
    view = discord.ui.View(timeout=None)
    if shown.pages > 1:
        last = shown.pages - 1
        view.add_item(SourcesPageButton(max(shown.page - 1, 0), "prev", shown.page == 0))
        view.add_item(SourcesPageButton(min(shown.page + 1, last), "next", shown.page == last))
    return view


async def collect_page(bot: CitebotBot, page: int) -> SourcesPage:
    """Page ``page`` of the sources as the engine has them now."""

    def collect() -> tuple[list[Any], datetime | None]:
        bot.ensure_loaded()
        return list(bot.engine.sources()), bot.engine.built_at

    sources, built_at = await bot.in_worker(collect)
    return render_sources(sources, built_at, page)


async def sources_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/sources: the indexed documents, their sections and chunk counts, and when it was built."""
    bot = cast("CitebotBot", interaction.client)
    await interaction.response.defer(thinking=True, ephemeral=True)
    shown = await collect_page(bot, 0)
    await interaction.followup.send(
        embed=shown.embed,
        view=page_view(shown) if shown.pages > 1 else discord.utils.MISSING,
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )


def commands() -> list[app_commands.Command[Any, ..., Any]]:
    """This feature's slash commands (fresh objects: each bot gets its own)."""
    return [
        app_commands.Command(
            name="sources", description="List the indexed documents", callback=sources_command
        )
    ]


DYNAMIC_ITEMS = (SourcesPageButton,)
