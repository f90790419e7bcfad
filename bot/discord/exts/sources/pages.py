"""``/sources``: the indexed documents, their sections and chunk counts, and the build time,
a page at a time (Discord refuses embeds over 6,000 characters in all).

In a server: the documents that server's questions search (its own, and the shared ones unless
it turned them off), each led by its collection's name when there are both; in a DM the shared
ones. The previous / next buttons carry only the page they lead to; the page is recomputed when
pressed, for the server the button is pressed in, so they keep working after a restart and can
never show another server's documents.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.core.collections import DEFAULT
from bot.discord.utils.errors import report_error
from bot.discord.utils.places import everywhere, placed
from bot.discord.utils.render import SourcesPage, collection_title, render_sources
from bot.discord.utils.replies import NO_MENTIONS
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot


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
            bot = cast("CitebotBot", interaction.client)
            shown = await collect_page(bot, self.page, interaction.guild_id)
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


async def collect_page(bot: CitebotBot, page: int, guild_id: int | None) -> SourcesPage:
    """Page ``page`` of the sources that questions in ``guild_id`` (None: a DM) search now."""

    def collect() -> tuple[list[Any], datetime | None]:
        names = bot.collections_for(guild_id)
        sources: list[Any] = []
        built: list[datetime] = []
        for name in names:
            if name == DEFAULT:
                bot.ensure_loaded()
            engine = bot.collections.engine(name)
            for source in engine.sources():
                if len(names) > 1:
                    title = f"{collection_title(name)} › {source.document}"
                    source = replace(source, document=title)
                sources.append(source)
            if engine.built_at is not None:
                built.append(engine.built_at)
        return sources, max(built, default=None)

    sources, built_at = await bot.in_worker(collect)
    return render_sources(sources, built_at, page)


async def sources_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/sources: the indexed documents, their sections and chunk counts, and when it was built."""
    bot = interaction.client
    await interaction.response.defer(thinking=True, ephemeral=True)
    shown = await collect_page(bot, 0, interaction.guild_id)
    await interaction.followup.send(
        embed=shown.embed,
        view=page_view(shown) if shown.pages > 1 else discord.utils.MISSING,
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )


def commands(settings: Settings) -> list[app_commands.Command[Any, ..., Any]]:
    """This feature's slash commands (fresh objects: each bot gets its own), with where
    they may run."""
    return [
        placed(
            app_commands.Command(
                name="sources", description="List the indexed documents", callback=sources_command
            ),
            everywhere(settings),
        )
    ]

