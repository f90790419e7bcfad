"""Answers rendered for a terminal: rich text on a TTY, plain text otherwise.

Everything shown here comes from documents or users, so it is never parsed as rich markup (it goes
into ``Text`` objects or ``markup=False`` output) and passes through
:func:`bot.core.safe_text.printable` first: control characters, bidi overrides and lone surrogates
are written as visible escapes, so a document cannot recolour, move the cursor, clear or reorder the
terminal."""

from __future__ import annotations

import textwrap

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from bot.core.citations import citation_label
from bot.core.safe_text import printable
from index.answer import Answer, Passage

NOT_FOUND = "Not in the source: nothing in the indexed documents answers this question."
LOW_CONFIDENCE = "Closest passages (low confidence):"
CONTEXT = "Read together with your previous question: "
WEAK = "weak: far below the best passage"
WRAP = 100

def printable_block(text: str) -> str:
    """A passage for display: line breaks and tabs kept (CRLF as one break), the rest escaped."""
    return printable(text.replace("\r\n", "\n"), keep="\n\t")


def citation_line(rank: int, passage: Passage) -> str:
    """'[1] doc › section › ¶N  (score 8.35, similarity 0.62)', safe to print; a weak passage's
    says so: '… similarity 0.17; weak: far below the best passage)'."""
    where = f"{passage.collection} › " if passage.collection is not None else ""
    weak = f"; {WEAK}" if passage.weak else ""
    return printable(
        f"[{rank}] {where}{citation_label(passage.citation)}  "
        f"(score {passage.score:.2f}, similarity {passage.similarity:.2f}{weak})"
    )


def context_line(answer: Answer) -> str | None:
    """'Read together with your previous question: …' when the answer used the conversation."""
    if answer.context is None:
        return None
    return printable(CONTEXT + answer.context)


def answer_to_rich(answer: Answer, first_rank: int = 1) -> Group:
    """The answer as rich renderables: citation lines, quotes with the best sentence in bold."""
    parts: list[RenderableType] = [
        Text(printable(notice), style="yellow") for notice in answer.notices
    ]
    context = context_line(answer)
    if context is not None:
        parts.append(Text(context, style="italic"))
    if not answer.found:
        parts.append(Text(NOT_FOUND, style="bold red"))
        if answer.passages:
            parts.append(Text(LOW_CONFIDENCE, style="dim"))
    for rank, passage in enumerate(answer.passages, start=first_rank):
        strong = answer.found and not passage.weak  # weak ones are dimmed, not highlighted
        parts.append(Text(citation_line(rank, passage), style="bold cyan" if strong else "cyan"))
        if passage.citation.url:
            link = printable(passage.citation.url)
            parts.append(Text("    " + link, style=f"dim link {link}", overflow="fold"))
        before, best, after = (printable_block(part) for part in passage.segments())
        quote = Text("“", style="" if strong else "dim")
        quote.append(before)
        quote.append(best, style="bold yellow" if strong else "bold")
        quote.append(after)
        quote.append("”")
        parts.append(Padding(quote, (0, 0, 0, 4)))
        parts.append(Text(""))
    return Group(*parts)


def answer_to_plain(answer: Answer, first_rank: int = 1, width: int = WRAP) -> str:
    """The answer as plain text; the best sentence is marked **like this**."""
    lines = [printable(notice) for notice in answer.notices]
    context = context_line(answer)
    if context is not None:
        lines.append(context)
    if not answer.found:
        lines.append(NOT_FOUND)
        if answer.passages:
            lines.append(LOW_CONFIDENCE)
    for rank, passage in enumerate(answer.passages, start=first_rank):
        lines.append(citation_line(rank, passage))
        if passage.citation.url:
            lines.append("    " + printable(passage.citation.url))
        before, best, after = (printable_block(part) for part in passage.segments())
        quote = f"“{before}**{best}**{after}”"
        lines.extend(
            textwrap.wrap(quote, width=width, initial_indent="    ", subsequent_indent="    ")
        )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
