"""Answers rendered for a terminal: rich text on a TTY, plain text otherwise."""

from __future__ import annotations

import textwrap

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from index.answer import Answer, Passage

NOT_FOUND = "Not in the source: nothing in the indexed documents answers this question."
LOW_CONFIDENCE = "Closest passages (low confidence):"
WRAP = 100


def citation_line(rank: int, passage: Passage) -> str:
    """'[1] doc › section › ¶N  (score 8.35, similarity 0.62)'."""
    return (
        f"[{rank}] {passage.citation.label()}  "
        f"(score {passage.score:.2f}, similarity {passage.similarity:.2f})"
    )


def answer_to_rich(answer: Answer, first_rank: int = 1) -> Group:
    """The answer as rich renderables: citation lines, quotes with the best sentence in bold."""
    parts: list[RenderableType] = [Text(notice, style="yellow") for notice in answer.notices]
    if not answer.found:
        parts.append(Text(NOT_FOUND, style="bold red"))
        if answer.passages:
            parts.append(Text(LOW_CONFIDENCE, style="dim"))
    for rank, passage in enumerate(answer.passages, start=first_rank):
        parts.append(Text(citation_line(rank, passage), style="bold cyan"))
        before, best, after = passage.segments()
        quote = Text("“", style="dim" if not answer.found else "")
        quote.append(before)
        quote.append(best, style="bold yellow" if answer.found else "bold")
        quote.append(after)
        quote.append("”")
        parts.append(Padding(quote, (0, 0, 0, 4)))
        parts.append(Text(""))
    return Group(*parts)


def answer_to_plain(answer: Answer, first_rank: int = 1, width: int = WRAP) -> str:
    """The answer as plain text; the best sentence is marked **like this**."""
    lines = list(answer.notices)
    if not answer.found:
        lines.append(NOT_FOUND)
        if answer.passages:
            lines.append(LOW_CONFIDENCE)
    for rank, passage in enumerate(answer.passages, start=first_rank):
        lines.append(citation_line(rank, passage))
        before, best, after = passage.segments()
        quote = f"“{before}**{best}**{after}”"
        lines.extend(
            textwrap.wrap(quote, width=width, initial_indent="    ", subsequent_indent="    ")
        )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
