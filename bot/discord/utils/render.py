"""Answers as Discord messages: escaped, highlighted, and always within Discord's size limits.

Everything that comes from outside the bot (quoted source text, the user's question, document and
section names, engine notices) goes through :func:`escape` (names: :func:`escape_name`), so
``@everyone``, ``<@123>``, ``**``, backticks and masked links ``[text](address)`` render literally.
The only markdown the bot adds itself is the block quote, the bold around the best-answering
sentence and the ``[open](address)`` link to a cited document's own address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import discord

from bot.core.citations import citation_label
from index.answer import Answer, Passage
from index.ingest.addresses import is_web_address

# Discord's documented limits.
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL_LIMIT = 6000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
URL_LIMIT = 2048  # embed url (the title link): longer ones are refused by Discord
ACTION_ROWS_PER_MESSAGE = 5
COMPONENTS_PER_ROW = 5
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80

# Our own margins: stay a little under the totals so rounding never matters.
TOTAL_BUDGET = EMBED_TOTAL_LIMIT - 100
TITLE_BUDGET = 200
QUESTION_ECHO_CHARS = 300
NOTICE_CHARS = 300
MAX_NOTICES = 3

CONTEXT_LINE = "Read together with your previous question: "
FOOTER = "Answers are quotes from the indexed sources — check the citation."
SHORTENED_NOTE = "\n*(Passage shortened — the full text is in the cited source.)*"
NOT_FOUND = "**Not in the source.** I couldn't find an answer to this in the indexed documents."
NOT_FOUND_CLOSEST = " The closest passages are below; they probably don't answer it."
NO_MORE = "No more passages for this question."
ELLIPSIS = "…"

COLOUR_FOUND = discord.Colour.blurple()
COLOUR_NOT_FOUND = discord.Colour.light_grey()
COLOUR_WEAK = discord.Colour.dark_grey()
WEAK_MARK = " · weak match"

# A bare web address, as Discord links it (discord.py's pattern): kept as it is, so it stays a
# working link, except for its brackets and backslashes (below).
_WEB_ADDRESS = re.compile(r"https?://[^\s<]+[^<.,:;\"'\]\s]")
# Markdown characters anywhere: emphasis, code, spoilers, strike-through, masked links
# ``[…](…)`` and ``<@id>``/``<#id>``/``<t:…>``/``<https://…>``. ``discord.utils.escape_markdown``
# escapes a greedy ``[…](…)`` span once, so a second masked link on a line stayed live: every
# bracket is escaped here, one by one.
_ESCAPE_ANYWHERE = "\\*_~`|[]<"  # the backslash first
_ESCAPE_IN_ADDRESS = "\\[]"
# Markdown that only counts at the start of a line, before a space: headings ``#``-``###``,
# subtext ``-#``, quotes ``>``/``>>>``, lists ``-``/``+``/``1.`` (``*`` is escaped anywhere).
_LINE_START = re.compile(r"^(\s*\d*)([#+.>-])(?=[#>]{0,2}\s)", re.MULTILINE)
# Invisible characters that reorder or hide text: bidi marks, embeddings, overrides and
# isolates, zero-width spaces, the soft hyphen, interlinear annotations, and the "tag" characters
# that hide ASCII text. Dropped from every text.
_HIDDEN = (
    "\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufff9-\ufffb\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_HIDDEN_IN_TEXT = re.compile(f"[{_HIDDEN}]")
# Names (documents, sections, citations) lose every format character (Unicode category Cf):
# also the zero-width (non-)joiners that quoted emoji and some scripts need, and the visible
# number signs and hieroglyph controls that quoted text keeps.
_FORMAT = re.compile(
    f"[{_HIDDEN}\u200c\u200d\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd\U00013430-\U0001343f]"
)


def _without(pattern: re.Pattern[str], text: str) -> str:
    return text if text.isascii() else pattern.sub("", text)


def _backslashed(text: str, characters: str) -> str:
    """``text`` with a backslash before each of ``characters`` (str.replace: the fastest way)."""
    for character in characters:
        if character in text:
            text = text.replace(character, "\\" + character)
    return text


def _escape_markdown(text: str) -> str:
    """Backslash before every markdown character (brackets and backslashes only, inside a bare
    web address, so it stays a link)."""
    if "://" in text:
        out: list[str] = []
        position = 0
        for address in _WEB_ADDRESS.finditer(text):
            out.append(_backslashed(text[position : address.start()], _ESCAPE_ANYWHERE))
            out.append(_backslashed(address.group(), _ESCAPE_IN_ADDRESS))
            position = address.end()
        out.append(_backslashed(text[position:], _ESCAPE_ANYWHERE))
        text = "".join(out)
    else:
        text = _backslashed(text, _ESCAPE_ANYWHERE)
    return _LINE_START.sub(r"\1\\\2", text)


def escape(text: str) -> str:
    """Make text render literally: no markdown, no masked links, no mentions, no
    ``<@id>``/``<#id>``/``<t:…>``, no bidi controls or hidden characters."""
    return discord.utils.escape_mentions(_escape_markdown(_without(_HIDDEN_IN_TEXT, text)))


def escape_name(text: str) -> str:
    """:func:`escape` for a name (document, section, citation, title): also without any
    zero-width character, so two names that look the same are the same."""
    return escape(_without(_FORMAT, text))


def plain_name(text: str) -> str:
    """A name shown where Discord renders no markdown (thread names, autocomplete choices):
    without bidi controls, zero-width or other invisible format characters."""
    return _without(_FORMAT, text)


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to at most ``limit`` characters, on a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    cut = text[: limit - len(ELLIPSIS)]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= len(cut) // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _clip_start(text: str, limit: int) -> str:
    """Keep at most ``limit`` characters from the end of ``text``, starting on a word boundary."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS if text else ""
    cut = text[len(text) - (limit - len(ELLIPSIS)) :]
    space = min((i for i in (cut.find(" "), cut.find("\n")) if i >= 0), default=-1)
    if 0 <= space <= len(cut) // 2:
        cut = cut[space + 1 :]
    return ELLIPSIS + cut.lstrip()


def cut_escaped(text: str, limit: int) -> str:
    """The first ``limit`` characters of escaped ``text``, never ending in half an escape (a
    lone backslash would escape whatever the message puts next)."""
    text = text[:limit]
    trailing = len(text) - len(text.rstrip("\\"))
    return text[:-1] if trailing % 2 else text


def escape_clipped(text: str, limit: int, *, name: bool = False) -> str:
    """Escape ``text`` (as a name: :func:`escape_name`) and make sure the escaped form fits
    ``limit`` characters."""
    escaper = escape_name if name else escape
    raw = limit
    while True:
        out = escaper(clip(text, raw))
        if len(out) <= limit or raw <= 1:
            return cut_escaped(out, limit)
        raw -= max(1, len(out) - limit)


def escape_name_clipped(text: str, limit: int) -> str:
    """:func:`escape_clipped` for a name (document, section, citation, title)."""
    return escape_clipped(text, limit, name=True)


def _bold(text: str) -> str:
    """Escape ``text`` and bold it line by line (markers must hug non-space characters)."""
    lines = []
    for line in text.split("\n"):
        core = line.strip()
        if not core:
            lines.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        trail = line[len(line.rstrip()) :]
        lines.append(f"{lead}**{escape(core)}**{trail}")
    return "\n".join(lines)


def _quote_block(markdown: str) -> str:
    """Prefix every line with ``> `` so the passage renders as a quotation."""
    return "\n".join(f"> {line}" for line in markdown.split("\n"))


def _render_segments(before: str, highlight: str, after: str) -> str:
    return _quote_block(escape(before) + _bold(highlight) + escape(after))


def _window(before: str, highlight: str, after: str, size: int) -> tuple[str, str, str]:
    """At most ~``size`` raw characters around the highlight: highlight first, then context."""
    shown = clip(highlight, size) if highlight else ""
    rest = max(0, size - len(shown))
    if not shown:
        # No highlight: show the start of the passage.
        return "", "", clip(before + after, max(rest, 1))
    after_share = rest * 2 // 3 if before else rest
    tail = clip(after, after_share) if after_share > 0 else (ELLIPSIS if after.strip() else "")
    head_room = rest - len(tail)
    head = _clip_start(before, head_room) if head_room > 0 else (ELLIPSIS if before.strip() else "")
    if tail and not tail[0].isspace() and after[:1].isspace():
        tail = " " + tail
    if head and not head[-1].isspace() and before[-1:].isspace():
        head = head + " "
    return head, shown, tail


def render_passage(passage: Passage, limit: int) -> tuple[str, bool]:
    """The passage as a quotation with its best sentence in bold, at most ``limit`` characters.

    Returns ``(markdown, shortened)``. A shortened passage keeps the highlighted sentence (cut
    on a word boundary only if it alone is too long), ends with an ellipsis and carries a note.
    """
    before, highlight, after = passage.segments()
    full = _render_segments(before, highlight, after)
    if len(full) <= limit:
        return full, False
    budget = limit - len(SHORTENED_NOTE)
    if budget <= len("> " + ELLIPSIS):
        return (("> " + ELLIPSIS)[:limit], True)
    low, high = 1, len(passage.text)
    best = "> " + ELLIPSIS
    while low <= high:
        mid = (low + high) // 2
        candidate = _render_segments(*_window(before, highlight, after, mid))
        if len(candidate) <= budget:
            best, low = candidate, mid + 1
        else:
            high = mid - 1
    return best + SHORTENED_NOTE, True


def _share(needs: Sequence[int], total: int, cap: int) -> list[int]:
    """Split ``total`` between items wanting ``needs``: small ones get all, large share the rest."""
    shares = [0] * len(needs)
    remaining = total
    pending = sorted(range(len(needs)), key=lambda i: needs[i])
    while pending:
        fair = remaining // len(pending)
        index = pending[0]
        want = min(needs[index], cap)
        if want <= fair:
            shares[index] = want
            remaining -= want
            pending.pop(0)
            continue
        for index in pending:
            shares[index] = min(fair, cap)
        break
    return shares


@dataclass(frozen=True)
class RenderedAnswer:
    """A message ready to send: ``content`` plus ``embeds``, all within Discord's limits."""

    content: str
    embeds: list[discord.Embed] = field(default_factory=list)
    passage_ids: tuple[str, ...] = ()
    shortened: int = 0


def render_answer(answer: Answer, *, offset: int = 0, echo_question: bool = True) -> RenderedAnswer:
    """Render an Answer: the question and notices in the content, one embed per passage."""
    lines: list[str] = []
    if echo_question:
        lines.append(f"**Q:** {escape_clipped(answer.question, QUESTION_ECHO_CHARS)}")
    passages = answer.passages[:EMBEDS_PER_MESSAGE]
    if not answer.found:
        lines.append(NOT_FOUND + (NOT_FOUND_CLOSEST if passages else ""))
    elif not passages:
        lines.append(NO_MORE if offset else NOT_FOUND)
    if answer.context:
        lines.append(f"*{CONTEXT_LINE}{escape_clipped(answer.context, QUESTION_ECHO_CHARS)}*")
    for notice in answer.notices[:MAX_NOTICES]:
        lines.append(f"*{escape_clipped(notice, NOTICE_CHARS)}*")
    content = clip("\n".join(lines), CONTENT_LIMIT)

    colour = COLOUR_FOUND if answer.found else COLOUR_NOT_FOUND
    titles = [_title(p, offset + rank) for rank, p in enumerate(passages, start=1)]
    footers = [f"Score {p.score:.2f} · similarity {p.similarity:.2f}" for p in passages]
    if footers:
        footers[-1] += f" · {FOOTER}"
    overhead = sum(len(t) + len(f) for t, f in zip(titles, footers, strict=True))
    needs = [len(_render_segments(*p.segments())) for p in passages]
    limits = _share(needs, max(0, TOTAL_BUDGET - overhead), DESCRIPTION_LIMIT)

    embeds = []
    shortened = 0
    for passage, title, footer, limit in zip(passages, titles, footers, limits, strict=True):
        description, was_cut = render_passage(passage, limit)
        shortened += was_cut
        embed = discord.Embed(
            title=title,
            description=description,
            colour=COLOUR_WEAK if passage.weak else colour,
            url=_link(passage),
        )
        embed.set_footer(text=footer)
        embeds.append(embed)
    return RenderedAnswer(
        content=content,
        embeds=embeds,
        passage_ids=tuple(p.chunk_id for p in passages),
        shortened=shortened,
    )


SERVER_COLLECTION = "This server"
SHARED_COLLECTION = "Shared"


def collection_title(name: str) -> str:
    """How a collection is named to Discord users: a server only ever sees its own
    collection and the shared (default) one, so no server name or id is needed."""
    return SHARED_COLLECTION if name == "default" else SERVER_COLLECTION


def _title(passage: Passage, rank: int) -> str:
    """``rank. citation`` (escaped, clipped), marked when the passage is a weak match: far
    below the answer's best one."""
    number = f"{rank}. "
    mark = WEAK_MARK if passage.weak else ""
    budget = TITLE_BUDGET - len(number) - len(mark)
    return number + escape_name_clipped(_cited(passage), budget) + mark


def _cited(passage: Passage) -> str:
    """The citation, led by its collection's name when the answer searched several."""
    label = citation_label(passage.citation)
    if passage.collection is None:
        return label
    return f"{collection_title(passage.collection)} › {label}"


def _link(passage: Passage) -> str | None:
    """The citation's link for the embed title, when it is one Discord accepts (in ASCII: see
    :func:`_ascii_address`)."""
    url = _ascii_address(passage.citation.url) if passage.citation.url else None
    return url if url and len(url) <= URL_LIMIT else None


SOURCE_NAME_CHARS = FIELD_NAME_LIMIT // 2
SOURCE_VALUE_CHARS = 300
# Room left on a /sources page for the title, description and footer (at most ~250 characters).
SOURCES_FIELD_BUDGET = TOTAL_BUDGET - 400
SOURCES_FIELDS_PER_PAGE = FIELDS_PER_EMBED - 1


@dataclass(frozen=True)
class SourcesPage:
    """One page of ``/sources``: its embed, its number (from 0) and how many pages there are."""

    embed: discord.Embed
    page: int
    pages: int


def source_field(source: Any) -> tuple[str, str]:
    """One document as an embed field: its name, then a link to it (when it has an address),
    its chunks and sections."""
    sections = [escape_name(s) for s in source.sections if s]
    value = f"{source.chunks} chunk(s)"
    if sections:
        value += " · sections: " + ", ".join(sections)
    link = _markdown_link(getattr(source, "url", None))
    if link:
        value = link + " · " + clip(value, SOURCE_VALUE_CHARS - len(link) - 3)
    else:
        value = clip(value, SOURCE_VALUE_CHARS)
    return escape_name_clipped(source.document, SOURCE_NAME_CHARS), value


SOURCE_LINK_CHARS = 160
# Kept as they are in a link's address (letters and digits always are); "%" keeps what the
# address already encodes.
_LINK_SAFE = "!#$%&'*+,-./:;=?@^_`{|}~"


def _ascii_address(url: str) -> str | None:
    """``url`` in ASCII: an international host name in its punycode form (so it cannot pass for
    another), anything in the rest that could end a markdown link or hide in it (brackets,
    parentheses, angle brackets, backslashes, spaces, controls, any non-ASCII character such as
    a bidi override) percent-encoded. None when it is no http(s) address or its host has no
    ASCII form."""
    if not is_web_address(url):
        return None
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        try:
            netloc = (parts.hostname or "").encode("idna").decode("ascii")
            port = parts.port
        except (UnicodeError, ValueError):
            return None
        user = parts.netloc.rpartition("@")[0]
        netloc = (f"{user}@" if user else "") + netloc + (f":{port}" if port else "")
    return quote(urlunsplit(parts._replace(netloc=netloc)), safe=_LINK_SAFE)


def _markdown_link(url: str | None) -> str | None:
    """``[open](url)`` for a short http(s) address (see :func:`_ascii_address`), or None."""
    safe = _ascii_address(url) if url else None
    return f"[open]({safe})" if safe and len(safe) <= SOURCE_LINK_CHARS else None


def paginate_sources(sources: Sequence[Any]) -> list[list[tuple[str, str]]]:
    """The documents' fields split into pages that each fit one embed (always one page at least).

    Deterministic: the same sources give the same pages, so a page number is enough to find a
    page again (the buttons carry only that)."""
    pages: list[list[tuple[str, str]]] = [[]]
    used = 0
    for name, value in map(source_field, sources):
        size = len(name) + len(value)
        page = pages[-1]
        if page and (used + size > SOURCES_FIELD_BUDGET or len(page) >= SOURCES_FIELDS_PER_PAGE):
            pages.append([])
            used = 0
        pages[-1].append((name, value))
        used += size
    return pages


def render_sources(sources: Sequence[Any], built_at: datetime | None, page: int = 0) -> SourcesPage:
    """Page ``page`` (clamped to the pages there are) of the indexed documents: one field per
    document (name, chunks, sections), within every embed limit."""
    pages = paginate_sources(sources)
    page = min(max(page, 0), len(pages) - 1)
    if built_at is not None:
        stamp = int(built_at.timestamp())
        description = f"Index built <t:{stamp}:f> (<t:{stamp}:R>)."
    else:
        description = "The index has not been built yet."
    total_chunks = sum(int(source.chunks) for source in sources)
    description += f"\n{len(sources)} document(s), {total_chunks} chunk(s)."
    if len(pages) > 1:
        description += f"\nPage {page + 1} of {len(pages)}."
    embed = discord.Embed(title="Indexed sources", description=description, colour=COLOUR_FOUND)
    for name, value in pages[page]:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=FOOTER)
    return SourcesPage(embed, page, len(pages))


def render_build_report(report: dict[str, Any]) -> str:
    """A rebuild summary from a queued build's report: documents, chunks, seconds, and any
    skipped files."""
    text = (
        f"Rebuilt the index: {report.get('documents', 0)} document(s), "
        f"{report.get('chunks', 0)} chunk(s) in {float(report.get('seconds', 0)):.1f} s."
    )
    skipped = [str(reason) for _path, reason in report.get("skipped") or []]
    if skipped:
        text += f"\nSkipped {len(skipped)} file(s):"
        for reason in skipped[:10]:  # the reason starts with the file's name
            text += f"\n- {escape_clipped(reason, 300)}"
        if len(skipped) > 10:
            text += f"\n- and {len(skipped) - 10} more"
    return clip(text, CONTENT_LIMIT)


def embed_length(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6000 total for one embed payload."""
    total = len(embed.get("title", "") or "") + len(embed.get("description", "") or "")
    total += len((embed.get("footer") or {}).get("text", "") or "")
    total += len((embed.get("author") or {}).get("name", "") or "")
    for item in embed.get("fields", []) or []:
        total += len(item.get("name", "")) + len(item.get("value", ""))
    return total


def limit_problems(payload: dict[str, Any]) -> list[str]:
    """Every Discord size limit a message payload breaks (empty when it is fine to send)."""
    problems = []
    content = payload.get("content") or ""
    if len(content) > CONTENT_LIMIT:
        problems.append(f"content is {len(content)} > {CONTENT_LIMIT}")
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"{len(embeds)} embeds > {EMBEDS_PER_MESSAGE}")
    total = 0
    for number, embed in enumerate(embeds):
        checks = [
            ("title", len(embed.get("title", "") or ""), TITLE_LIMIT),
            ("description", len(embed.get("description", "") or ""), DESCRIPTION_LIMIT),
            ("footer", len((embed.get("footer") or {}).get("text", "") or ""), FOOTER_LIMIT),
            ("author", len((embed.get("author") or {}).get("name", "") or ""), AUTHOR_LIMIT),
            ("fields", len(embed.get("fields", []) or []), FIELDS_PER_EMBED),
            ("url", len(embed.get("url", "") or ""), URL_LIMIT),
        ]
        url = embed.get("url")
        if url and not str(url).startswith(("https://", "http://")):
            problems.append(f"embed {number} url {str(url)[:40]!r} is not an http(s) address")
        for item in embed.get("fields", []) or []:
            checks.append(("field name", len(item.get("name", "")), FIELD_NAME_LIMIT))
            checks.append(("field value", len(item.get("value", "")), FIELD_VALUE_LIMIT))
        for name, size, limit in checks:
            if size > limit:
                problems.append(f"embed {number} {name} is {size} > {limit}")
        total += embed_length(embed)
    if total > EMBED_TOTAL_LIMIT:
        problems.append(f"embeds total {total} > {EMBED_TOTAL_LIMIT}")
    rows = payload.get("components") or []
    if len(rows) > ACTION_ROWS_PER_MESSAGE:
        problems.append(f"{len(rows)} action rows > {ACTION_ROWS_PER_MESSAGE}")
    for row in rows:
        items = row.get("components") or []
        if len(items) > COMPONENTS_PER_ROW:
            problems.append(f"{len(items)} components in a row > {COMPONENTS_PER_ROW}")
        for item in items:
            custom_id = item.get("custom_id") or ""
            if len(custom_id) > CUSTOM_ID_LIMIT:
                problems.append(f"custom_id {custom_id[:20]!r}… is {len(custom_id)} > 100")
            if len(item.get("label") or "") > LABEL_LIMIT:
                problems.append(f"button label is {len(item['label'])} > {LABEL_LIMIT}")
    return problems
