"""``/docs list``, ``/docs settings`` and ``/docs log`` as Discord messages, within every limit.

Names that users chose (document file names, role names, audit targets) go through
:func:`bot.discord.utils.render.escape_name`, so markdown, masked links, mentions and hidden
characters in them render literally. Pages are computed from the data alone, so a page number is
enough to find a page again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.discord.utils.render import (
    COLOUR_FOUND,
    DESCRIPTION_LIMIT,
    FIELD_VALUE_LIMIT,
    clip,
    escape_clipped,
    escape_name_clipped,
)
from bot.state.servers import AuditEntry, ServerSettings

if TYPE_CHECKING:
    from bot.state.sources import Source

DOCUMENT_NAME_CHARS = 200
DOCUMENTS_PER_PAGE = 20
# Room for the document lines of one page (the header lines take at most ~400 characters).
DOCUMENT_LINES_BUDGET = DESCRIPTION_LIMIT - 600
LOG_BUDGET = DESCRIPTION_LIMIT - 200
LOG_TARGET_CHARS = 120
LOG_RESULT_CHARS = 80
LOG_DETAIL_CHARS = 120
SOURCE_URL_CHARS = 100
SOURCES_MORE = "`/docs sources list` shows them all, with how their last sync went."

NO_DOCUMENTS = "This server has no documents yet; a manager can add one with /docs add"
NO_LOG = "Nothing has been changed in this server's documents yet."
EMPTY_SERVER_WARNING = (
    "This server has no documents yet, so questions asked here will be refused until a manager "
    "adds one with `/docs add` (or turns the shared documents back on)."
)


@dataclass(frozen=True)
class ListPage:
    """One page of ``/docs list``: its embed, its number (from 0) and how many pages there are."""

    embed: discord.Embed
    page: int
    pages: int


@dataclass(frozen=True)
class IndexState:
    """What ``/docs list`` says about a server's index: chunks, last build, or why none."""

    chunks: int
    built_at: str | None  # ISO time of the last build
    problem: str | None = None


def size_text(size: int) -> str:
    """A file size for people: bytes, kB or MB (decimal, as the limits are)."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def document_line(name: str, size: int) -> str:
    """One document of ``/docs list``: its escaped name and its size."""
    return f"• {escape_name_clipped(name, DOCUMENT_NAME_CHARS)} — {size_text(size)}"


def paginate_documents(documents: Sequence[tuple[str, int]]) -> list[list[str]]:
    """The documents' lines split into pages that each fit one embed (one page at least)."""
    pages: list[list[str]] = [[]]
    used = 0
    for name, size in sorted(documents):
        line = document_line(name, size)
        page = pages[-1]
        full = used + len(line) + 1 > DOCUMENT_LINES_BUDGET or len(page) >= DOCUMENTS_PER_PAGE
        if page and full:
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += len(line) + 1
    return pages


def _timestamp(iso: str | None) -> str | None:
    if not iso:
        return None
    try:
        stamp = int(datetime.fromisoformat(iso).timestamp())
    except ValueError:
        return None
    return f"<t:{stamp}:f> (<t:{stamp}:R>)"


def sources_summary(sources: Sequence[Source]) -> str:
    """A server's sources in one embed field (at most ``FIELD_VALUE_LIMIT`` characters): how
    many, how their last syncs went, then one short line each while they fit."""
    sites = sum(1 for source in sources if source.crawl)
    results = Counter(source.result or "not synced yet" for source in sources)
    head = (
        f"{len(sources)} source(s): {sites} crawled site(s), {len(sources) - sites} single "
        "page(s). Last syncs: "
        + ", ".join(f"{count} {escape_clipped(result, 20)}"
                    for result, count in sorted(results.items()))
        + "."
    )
    lines = [head]
    used = len(head) + len(SOURCES_MORE) + 40  # room for "… and N more" and the pointer
    for number, source in enumerate(sources):
        synced = f"<t:{int(source.synced_at)}:R>" if source.synced_at else "never"
        line = (
            f"`{source.id}` {'site' if source.crawl else 'page'} "
            f"{escape_clipped(source.url, SOURCE_URL_CHARS)} — {source.schedule}, "
            f"last sync {synced}: {escape_clipped(source.result or 'not synced yet', 20)}"
        )
        if used + len(line) + 1 > FIELD_VALUE_LIMIT:
            lines.append(f"… and {len(sources) - number} more.")
            break
        lines.append(line)
        used += len(line) + 1
    lines.append(SOURCES_MORE)
    return clip("\n".join(lines), FIELD_VALUE_LIMIT)


def render_document_list(
    documents: Sequence[tuple[str, int]],
    index: IndexState,
    include_default: bool,
    page: int = 0,
    sources: Sequence[Source] = (),
) -> ListPage:
    """Page ``page`` (clamped) of a server's documents, with its index, whether the server
    also searches the bot's shared documents, and its sources (a field, on every page)."""
    listed = _render_document_list(documents, index, include_default, page)
    if sources:
        listed.embed.add_field(name="Sources", value=sources_summary(sources), inline=False)
    return listed


def _render_document_list(
    documents: Sequence[tuple[str, int]],
    index: IndexState,
    include_default: bool,
    page: int,
) -> ListPage:
    shared = (
        "Questions here also search the bot's shared documents."
        if include_default
        else "Questions here search only this server's documents."
    )
    if not documents:
        embed = discord.Embed(
            title="This server's documents",
            description=f"{NO_DOCUMENTS}.\n{shared}",
            colour=COLOUR_FOUND,
        )
        return ListPage(embed, 0, 1)
    pages = paginate_documents(documents)
    page = min(max(page, 0), len(pages) - 1)
    total = sum(size for _, size in documents)
    lines = [f"{len(documents)} document(s), {size_text(total)} in all."]
    built = _timestamp(index.built_at)
    if built is not None:
        lines.append(f"Index: {index.chunks} chunk(s), built {built}.")
    elif index.problem not in (None, "not built"):  # never its text: it can name server paths
        lines.append("Index: unavailable; a manager can rebuild it with `/docs reindex`.")
    else:
        lines.append("Index: not built yet (a manager can run `/docs reindex`).")
    lines.append(shared)
    if len(pages) > 1:
        lines.append(f"Page {page + 1} of {len(pages)}.")
    description = "\n".join(lines) + "\n\n" + "\n".join(pages[page])
    embed = discord.Embed(
        title="This server's documents", description=description, colour=COLOUR_FOUND
    )
    return ListPage(embed, page, len(pages))


def role_text(role_id: int | None) -> str:
    """A role as Discord shows it (sent without pinging anyone), or "none"."""
    return f"<@&{role_id}>" if role_id is not None else "none (Manage Server only)"


def render_settings(settings: ServerSettings, heading: str = "Settings of this server") -> str:
    """A server's settings as a short message."""
    shared = "yes" if settings.include_default else "no"
    return (
        f"**{heading}**\n"
        f"• Also search the bot's shared documents (`include_default`): {shared}\n"
        f"• Role that may manage documents besides Manage Server (`manager_role`): "
        f"{role_text(settings.manager_role_id)}\n"
        f"• Log questions asked here for `/docs gaps` and `/docs stats` (`log_questions`): "
        f"{'yes' if settings.log_questions else 'no'}\n"
        f"• Answer each new post without a mention (`auto_answer`): "
        f"{channels_text(settings.auto_answer_channels)}\n"
        f"• When the documents don't answer such a post, only a quiet note "
        f"(`auto_answer_quiet`): {'yes' if settings.auto_answer_quiet else 'no'}"
    )


def channels_text(channel_ids: Sequence[int]) -> str:
    """Channels as Discord shows them (links, which ping nobody), or "none"."""
    return ", ".join(f"<#{channel_id}>" for channel_id in channel_ids) or "none"


def log_line(entry: AuditEntry) -> str:
    """One audit entry: when, who (a mention that pings nobody), action, target, result."""
    stamp = int(entry.at.timestamp())
    target = escape_name_clipped(entry.target, LOG_TARGET_CHARS)
    result = escape_clipped(entry.result, LOG_RESULT_CHARS)
    line = f"<t:{stamp}:R> <@{entry.user_id}> **{entry.action}** {target} → {result}"
    if entry.detail:
        line += f" ({escape_clipped(entry.detail, LOG_DETAIL_CHARS)})"
    return line


def render_log(entries: Sequence[AuditEntry]) -> discord.Embed:
    """The latest audit entries (newest first) in one embed within its limits."""
    if not entries:
        return discord.Embed(title="Recent changes", description=NO_LOG, colour=COLOUR_FOUND)
    lines: list[str] = []
    used = 0
    for shown, entry in enumerate(entries):
        line = log_line(entry)
        if used + len(line) + 1 > LOG_BUDGET:
            lines.append(f"… and {len(entries) - shown} older entr(ies) not shown.")
            break
        lines.append(line)
        used += len(line) + 1
    return discord.Embed(
        title="Recent changes", description=clip("\n".join(lines), DESCRIPTION_LIMIT),
        colour=COLOUR_FOUND,
    )
