"""``/docs list``, ``/docs settings`` and ``/docs log``: what a server has (its documents and
its sources: crawled sites and added addresses), what it chose, and who changed what.

``list`` is open to every member; ``settings`` and ``log`` need a manager. The list's Previous /
Next buttons carry only a page number: the server is always the one the button is pressed in,
so a button can never show another server's documents, and they keep working after a restart.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.core.collections import collection_for_guild
from bot.discord.exts.docs.permissions import require_manager, server_of
from bot.discord.exts.docs.render import (
    EMPTY_SERVER_WARNING,
    IndexState,
    ListPage,
    render_document_list,
    render_log,
    render_settings,
)
from bot.discord.utils.checks import Refusal, channel_allowed
from bot.discord.utils.errors import report_error
from bot.discord.utils.replies import NO_MENTIONS
from bot.state.servers import MAX_AUTO_ANSWER_CHANNELS

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot
    from bot.state.servers import ServerSettings
    from bot.state.sources import Source

LOG_ENTRIES = 15
FOREIGN_ROLE = "That role is not one of this server's roles; choose a role of this server."
EVERYONE_ROLE = (
    "@everyone cannot be the manager role: it would let every member change this server's "
    "documents. Choose a role given to the people who should manage them."
)
ROLE_AND_CLEAR = "Give either `manager_role` or `clear_manager_role`, not both."
FOREIGN_CHANNEL = (
    "I can't see that channel in this server; choose a text or forum channel of this server "
    "that I can view."
)
CHANNEL_NOT_ALLOWED = (
    "I'm not enabled in that channel (the bot's operator limits me to some channels with "
    "CITEBOT_DISCORD_ALLOWED_CHANNELS); choose one of those, or ask the operator to add it."
)
TOO_MANY_CHANNELS = (
    f"This server already has {MAX_AUTO_ANSWER_CHANNELS} channels answered without a mention, "
    "the most it may have; turn one off first with `auto_answer:#channel auto_answer_off:True`."
)
NO_MESSAGE_CONTENT = (
    "I can't read messages that don't mention me yet, so I won't answer there until the bot's "
    "operator sets `CITEBOT_DISCORD_MESSAGE_CONTENT=true`, turns on **Message Content** under "
    "*Bot → Privileged Gateway Intents* in the Discord Developer Portal, and restarts me. "
    "Until then members can mention me or use `/ask`."
)
NO_THREAD_PERMISSIONS = (
    "I can't {missing} in {channel}: give me those permissions there, or my answers will fail."
)


class DocsListButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:docs-list:(?P<page>[0-9]{1,6}):(?P<direction>prev|next)",
):
    """Previous / Next under a ``/docs list`` page: show page ``page`` of the documents of the
    server the button is pressed in (never a server named by the button)."""

    def __init__(self, page: int, direction: str, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Previous" if direction == "prev" else "Next",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:docs-list:{page}:{direction}",
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> DocsListButton:
        return cls(int(match["page"]), match["direction"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            guild_id = server_of(interaction)
            await interaction.response.defer()  # an update of the message, shown as loading
            shown = await collect_page(cast("CitebotBot", interaction.client), guild_id, self.page)
            await interaction.edit_original_response(
                embed=shown.embed, view=page_view(shown), allowed_mentions=NO_MENTIONS
            )
        except Exception as error:
            await report_error(interaction, error)


def page_view(shown: ListPage) -> discord.ui.View:
    """Previous / Next for ``shown`` (disabled at either end); empty for a single page."""
    view = discord.ui.View(timeout=None)
    if shown.pages > 1:
        last = shown.pages - 1
        view.add_item(DocsListButton(max(shown.page - 1, 0), "prev", shown.page == 0))
        view.add_item(DocsListButton(min(shown.page + 1, last), "next", shown.page == last))
    return view


async def collect_page(bot: CitebotBot, guild_id: int, page: int) -> ListPage:
    """Page ``page`` of server ``guild_id``'s documents as they are on disk now."""
    name = collection_for_guild(guild_id)

    def collect() -> tuple[list[tuple[str, int]], IndexState, bool, list[Source]]:
        documents = [(doc.name, doc.size) for doc in bot.collections.documents(name)]
        summary = bot.collections.summary(name)
        index = IndexState(summary.chunks, summary.built_at, summary.problem)
        sources = bot.sources.of_collection(name)
        return documents, index, bot.servers.settings(guild_id).include_default, sources

    documents, index, include_default, sources = await asyncio.to_thread(collect)
    return render_document_list(documents, index, include_default, page, sources)


async def list_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/docs list: this server's documents, its index, and whether it searches the shared ones."""
    guild_id = server_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    shown = await collect_page(interaction.client, guild_id, 0)
    await interaction.followup.send(
        embed=shown.embed,
        view=page_view(shown) if shown.pages > 1 else discord.utils.MISSING,
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )


def _checked_role(interaction: discord.Interaction[Any], guild_id: int, role: discord.Role) -> int:
    """The id of ``role`` when it is a role of this server other than @everyone; else Refusal."""
    guild = interaction.guild
    if role.guild.id != guild_id or (guild is not None and guild.get_role(role.id) is None):
        raise Refusal(FOREIGN_ROLE)
    if role.id == guild_id:
        raise Refusal(EVERYONE_ROLE)
    return role.id


class HelpChannel(app_commands.Transformer):
    """A text or forum channel of the server the command is used in, as the bot sees it (a
    channel it cannot see, or another server's, is refused with a message, not an error)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.forum]

    async def transform(
        self, interaction: discord.Interaction[Any], value: Any, /
    ) -> discord.TextChannel | discord.ForumChannel:
        channel = value.resolve() if isinstance(value, app_commands.AppCommandChannel) else value
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            raise Refusal(FOREIGN_CHANNEL)
        if channel.guild.id != interaction.guild_id:
            raise Refusal(FOREIGN_CHANNEL)
        return channel


def _checked_channel(
    bot: CitebotBot, guild_id: int, channel: discord.TextChannel | discord.ForumChannel
) -> int:
    """The id of ``channel`` when it is a channel of this server where the bot may answer."""
    if channel.guild.id != guild_id:
        raise Refusal(FOREIGN_CHANNEL)
    if not channel_allowed(bot.settings, channel.id, None):
        raise Refusal(CHANNEL_NOT_ALLOWED)
    return channel.id


def _permission_warning(channel: discord.TextChannel | discord.ForumChannel) -> str | None:
    """What the bot lacks in ``channel`` to answer there (None: all it needs, or unknown)."""
    me = channel.guild.me
    if me is None:
        return None
    permissions = channel.permissions_for(me)
    missing = []
    if isinstance(channel, discord.TextChannel) and not permissions.create_public_threads:
        missing.append("create public threads")
    if not permissions.send_messages_in_threads:
        missing.append("send messages in threads")
    solved_tag = isinstance(channel, discord.ForumChannel) and any(
        tag.name.strip().casefold() == "solved" for tag in channel.available_tags
    )
    if solved_tag and not permissions.manage_threads:
        missing.append("manage threads (to add the Solved tag)")
    if not missing:
        return None
    return NO_THREAD_PERMISSIONS.format(missing=" or ".join(missing), channel=channel.mention)


@app_commands.describe(
    include_default="Also search the bot's shared documents when answering here",
    manager_role="A role whose members may manage this server's documents",
    clear_manager_role="Remove the manager role (only Manage Server then)",
    log_questions="Log questions asked here for /docs gaps and /docs stats (off deletes the log)",
    auto_answer="Answer each new post (forum) or message (text channel) here without a mention",
    auto_answer_off="Stop answering without a mention: in auto_answer's channel, or everywhere",
    auto_answer_quiet="When the documents don't answer a post, only a quiet note (default on)",
)
async def settings_command(
    interaction: discord.Interaction[CitebotBot],
    include_default: bool | None = None,
    manager_role: discord.Role | None = None,
    clear_manager_role: bool | None = None,
    log_questions: bool | None = None,
    auto_answer: app_commands.Transform[discord.TextChannel | discord.ForumChannel, HelpChannel]
    | None = None,
    auto_answer_off: bool | None = None,
    auto_answer_quiet: bool | None = None,
) -> None:
    """/docs settings: show this server's settings, or change the ones given."""
    guild_id = await require_manager(interaction)
    bot = interaction.client
    clear = bool(clear_manager_role)
    if manager_role is not None and clear:
        raise Refusal(ROLE_AND_CLEAR)
    role_id = None if manager_role is None else _checked_role(interaction, guild_id, manager_role)
    channel_id = None if auto_answer is None else _checked_channel(bot, guild_id, auto_answer)
    turn_off = bool(auto_answer_off)
    auto = channel_id is not None or turn_off or auto_answer_quiet is not None
    if (
        include_default is None and role_id is None and not clear and log_questions is None
        and not auto
    ):
        current = await asyncio.to_thread(bot.servers.settings, guild_id)
        await interaction.response.send_message(
            render_settings(current), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return
    user_id = interaction.user.id
    own = collection_for_guild(guild_id)
    channel_name = "" if auto_answer is None else f"#{auto_answer.name}"

    def change_auto_answer(before: ServerSettings) -> None:
        """Add or remove the auto-answer channel, auditing it and the quiet choice (saved with
        the other settings)."""
        if turn_off:
            removed = bot.servers.remove_auto_answer(guild_id, channel_id)
            where = channel_name if channel_id is not None else "every channel"
            bot.servers.record(
                guild_id, user_id, "settings", f"auto_answer: off in {where}", "ok",
                f"{removed} channel(s) turned off",
            )
        elif channel_id is not None:
            if not bot.servers.add_auto_answer(guild_id, channel_id):
                bot.servers.record(
                    guild_id, user_id, "settings", f"auto_answer: {channel_name}", "refused",
                    f"already {MAX_AUTO_ANSWER_CHANNELS} channels",
                )
                raise Refusal(TOO_MANY_CHANNELS)
            bot.servers.record(
                guild_id, user_id, "settings", f"auto_answer: {channel_name}", "ok",
                f"channel id {channel_id}",
            )
        if auto_answer_quiet is not None:
            was = "on" if before.auto_answer_quiet else "off"
            shown = "on" if auto_answer_quiet else "off"
            bot.servers.record(
                guild_id, user_id, "settings", f"auto_answer_quiet: {shown}", "ok", f"was {was}"
            )

    def change() -> tuple[str, bool]:
        before = bot.servers.settings(guild_id)
        if auto:
            change_auto_answer(before)
        after = bot.servers.update_settings(
            guild_id,
            include_default=include_default,
            manager_role_id=role_id,
            clear_manager_role=clear,
            log_questions=log_questions,
            auto_answer_quiet=auto_answer_quiet,
        )
        if include_default is not None:
            shown = "on" if include_default else "off"
            was = "on" if before.include_default else "off"
            bot.servers.record(
                guild_id, user_id, "settings", f"include_default: {shown}", "ok", f"was {was}"
            )
        if role_id is not None or clear:
            name = manager_role.name if manager_role is not None else "none"
            bot.servers.record(
                guild_id, user_id, "settings", f"manager_role: {name}", "ok",
                f"role id {after.manager_role_id}" if after.manager_role_id else "cleared",
            )
        if log_questions is not None:
            shown = "on" if log_questions else "off"
            was = "on" if before.log_questions else "off"
            detail = f"was {was}" + ("; logged questions deleted" if not log_questions else "")
            bot.servers.record(
                guild_id, user_id, "settings", f"log_questions: {shown}", "ok", detail
            )
        searchable = after.include_default or bot.collections.exists(own)
        return render_settings(after, "Settings saved"), searchable

    text, searchable = await asyncio.to_thread(change)
    if not searchable:
        text += "\n\n⚠️ " + EMPTY_SERVER_WARNING
    if channel_id is not None and not turn_off and auto_answer is not None:
        if not bot.settings.discord_message_content:
            text += "\n\n⚠️ " + NO_MESSAGE_CONTENT
        warning = _permission_warning(auto_answer)
        if warning is not None:
            text += "\n\n⚠️ " + warning
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def log_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/docs log: the latest changes to this server's documents and settings."""
    guild_id = await require_manager(interaction)
    entries = await asyncio.to_thread(interaction.client.servers.recent, guild_id, LOG_ENTRIES)
    await interaction.response.send_message(
        embed=render_log(entries), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


def register(group: app_commands.Group) -> None:
    """Add list, settings and log to the ``/docs`` group."""
    group.add_command(
        app_commands.Command(
            name="list",
            description="This server's documents, its index, and its settings",
            callback=list_command,
        )
    )
    group.add_command(
        app_commands.Command(
            name="settings",
            description="Show or change this server's settings (managers only)",
            callback=settings_command,
        )
    )
    group.add_command(
        app_commands.Command(
            name="log", description="Recent changes to this server's documents (managers only)",
            callback=log_command,
        )
    )

