"""Plain text: blank-line separated paragraphs; the text is the file itself.

No line is ever dropped. A ``#`` line (Markdown style) or a short single-line block without final
punctuation (the style of the bundled article's headings) *also* names the section of what
follows, but stays a searchable paragraph itself: in an FAQ, ``Yes`` or ``Press Reset to
restart`` are answers, not only headings (and a line right after a question is taken for its
answer, not a heading). Every regular expression here matches in linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from index.ingest.formats import Block, Extracted, ExtractLimits, decode_text
from index.ingest.sentences import trim_span

MAX_HEADING_CHARS = 120
MAX_HEADING_WORDS = 16
# Blank-line separators. The lookbehind starts a match only at the start of a run of horizontal
# whitespace, so a long run without two line ends is scanned once, not once per character; the
# atomic group keeps "\r\n" one line end (never "\r" then "\n", which would be a blank line).
_BLOCK_SEPARATOR = re.compile(r"(?<![ \t\f\v])(?:[ \t\f\v]*+(?>\r\n|\r|\n)){2,}")
# A line and its end: "\r\n", "\n" or a lone "\r" (old Mac files). Every match consumes at
# least one character until the end, so finditer never re-scans.
_LINE = re.compile(r"[^\r\n]*+(?:\r\n|\r|\n|$)")
# "#" to "######" and a space; the title (trailing spaces and "#"s are stripped in Python, as
# a lazy ``(.*?)[ \t#]*$`` backtracks quadratically on a long run of them).
_HASH_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.*)")
_FINAL_PUNCTUATION = tuple(".!?:;,…\"'”’)]}")


def extract(data: bytes, limits: ExtractLimits) -> Extracted:
    """The file's UTF-8 text and its paragraphs."""
    return parse_text(decode_text(data))


def parse_text(text: str) -> Extracted:
    """Paragraphs of plain text, each under the latest line that names a section."""
    blocks: list[Block] = []
    section: str | None = None
    for start, end in _blocks(text):
        body_start: int | None = None
        body_end = start
        for line_start, line_end in _lines(text, start, end):
            heading = _HASH_HEADING.match(text, line_start, line_end)
            if heading is None:
                if body_start is None:
                    body_start = line_start
                body_end = line_end
                continue
            if body_start is not None:
                blocks.append(Block(body_start, body_end, section))
                body_start = None
            section = heading.group(2).rstrip(" \t#").strip() or section
            blocks.append(Block(line_start, line_end, section))
        if body_start is None:
            continue
        answers_a_question = bool(blocks) and text[blocks[-1].end - 1] == "?"
        if is_plain_heading(text[body_start:body_end]) and not answers_a_question:
            section = text[body_start:body_end].strip()
        blocks.append(Block(body_start, body_end, section))
    return Extracted(text, tuple(blocks), "text")


def is_plain_heading(block: str) -> bool:
    """A short single line with no final punctuation, starting with a capital or digit."""
    stripped = block.strip()
    if not stripped or "\n" in stripped or "\r" in stripped:
        return False
    if len(stripped) > MAX_HEADING_CHARS or len(stripped.split()) > MAX_HEADING_WORDS:
        return False
    if stripped.endswith(_FINAL_PUNCTUATION):
        return False
    return stripped[0].isupper() or stripped[0].isdigit()


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    """Spans of blank-line separated blocks, trimmed of surrounding whitespace."""
    position = 0
    for separator in _BLOCK_SEPARATOR.finditer(text):
        yield from trim_span(text, position, separator.start())
        position = separator.end()
    yield from trim_span(text, position, len(text))


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the non-blank lines in ``text[start:end]``, trimmed."""
    for match in _LINE.finditer(text, start, end):
        if match.start() == match.end():
            break
        yield from trim_span(text, match.start(), match.end())
