"""Sentence boundaries: exact character spans, rule-based (no data files, no downloads)."""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    (
        "mr mrs ms dr prof sr jr st mt ft gen sen rep gov lt col sgt capt adm cmdr pres "
        "inc ltd co corp bros dept univ est approx vs etc al fig figs no nos vol vols pp ed eds "
        "jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n a.m p.m"
    ).split()
)
# A boundary candidate: terminal punctuation, optional closing quotes/brackets, whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ]")
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]")
_WORD_BEFORE = re.compile(r"([A-Za-z](?:\.?[A-Za-z])*)\.$")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences in ``text[start:end]``, trimmed of whitespace, in order.

    Together the spans cover every non-whitespace character of the range exactly once.
    """
    end = len(text) if end is None else end
    cuts = []
    for match in _BOUNDARY.finditer(text, start, end):
        if not _NEXT_START.match(text, match.end(), end):
            continue
        if match.group().startswith(".") and _is_abbreviation(text, start, match.start() + 1):
            continue
        cuts.append(match.end())
    for match in _LIST_ITEM.finditer(text, start, end):
        cuts.append(match.start())
    spans = []
    position = start
    for cut in sorted(set(cuts)):
        spans.extend(trim_span(text, position, cut))
        position = cut
    spans.extend(trim_span(text, position, end))
    return spans


def _is_abbreviation(text: str, start: int, period_end: int) -> bool:
    """Whether the period ending at ``period_end`` closes an abbreviation or an initial."""
    window = text[max(start, period_end - 12) : period_end]
    match = _WORD_BEFORE.search(window)
    if not match:
        return False
    word = match.group(1)
    if len(word) == 1 and word.isupper():
        return True  # an initial: "J. Smith"
    return word.lower() in _ABBREVIATIONS


def trim_span(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``[(start, end)]`` narrowed to exclude surrounding whitespace; ``[]`` if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []
