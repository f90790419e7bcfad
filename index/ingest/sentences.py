"""Sentence boundaries: exact character spans in any script, from ``sentencex``.

sentencex (Wikimedia's rule-based segmenter, ~300 languages, compiled, no data files and no
downloads) finds the boundaries: terminal punctuation of every script (``.!?…`` and ``。！？``,
Devanagari ``।``…), a lowercase next sentence, and English abbreviations, all in linear time.
Only where it says a sentence *starts* is used: the spans between two starts are trimmed of
whitespace, so together they cover every non-whitespace character exactly once whatever the
library returns. Markdown list items (a line starting ``-``, ``*``, ``1.``…) always start one.
"""

from __future__ import annotations

import logging
import re

import sentencex

# The rules of this language are used for every document: its abbreviations ("Dr.", "e.g.",
# "no. 5") are English, its terminators and casing rules cover every script.
LANGUAGE = "en"
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_OTHER_SPACE = re.compile(r"[^\S\x00-\x7f]")  # whitespace that is not ASCII
log = logging.getLogger(__name__)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences in ``text[start:end]``, trimmed of whitespace, in order.

    Together the spans cover every non-whitespace character of the range exactly once.
    """
    end = len(text) if end is None else end
    cuts = {start + offset for offset in _sentence_starts(text[start:end])}
    cuts.update(match.start() for match in _LIST_ITEM.finditer(text, start, end))
    spans = []
    position = start
    for cut in sorted(cut for cut in cuts if start < cut < end):
        spans.extend(trim_span(text, position, cut))
        position = cut
    spans.extend(trim_span(text, position, end))
    return _attach_stray_punctuation(text, spans)


def _attach_stray_punctuation(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A "sentence" with no letter or digit (the lone "." of "Korea. .") joins the one before,
    so it can never be chosen as a highlight on its own."""
    merged: list[tuple[int, int]] = []
    for span in spans:
        if merged and not any(char.isalnum() for char in text[span[0] : span[1]]):
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return merged


def _sentence_starts(piece: str) -> list[int]:
    """Offsets in ``piece`` where sentencex starts a sentence (code points, like ``str``).

    Whitespace outside ASCII (a no-break space, common in web pages) is given to sentencex as a
    plain space (one code point for one: offsets do not move): sentencex 0.x slices bytes
    around it and panics on "H\u00a0." (a name initial). Should it panic on anything else, the
    piece is one sentence rather than a failed build.
    """
    piece = _OTHER_SPACE.sub(" ", _SURROGATE.sub("\ufffd", piece))
    try:
        boundaries = sentencex.get_sentence_boundaries(LANGUAGE, piece)
    except BaseException as error:  # a Rust panic is a BaseException (pyo3's PanicException)
        if type(error).__name__ != "PanicException":
            raise
        log.warning("sentence splitter failed on a %d-character piece; kept as one", len(piece))
        return []
    return [int(boundary["start_index"]) for boundary in boundaries]


def trim_span(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``[(start, end)]`` narrowed to exclude surrounding whitespace; ``[]`` if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []
