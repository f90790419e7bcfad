"""The extracted text of a structured document, built piece by piece: headings and body blocks
in reading order, separated by blank lines, each span recorded as it is written (so offsets are
exact by construction)."""

from __future__ import annotations

from index.ingest.formats import Block, Extracted

SECTION_SEPARATOR = " › "
"""Joins a heading path: a block's section is "Page › Section › Subsection"."""


class HeadingPath:
    """The headings above the current point of a document, by level: a heading of level L
    closes every open heading of level L or deeper. A heading without a level (formats that do
    not say) replaces the whole path."""

    def __init__(self) -> None:
        self.open: list[tuple[int, str]] = []

    def enter(self, name: str, level: int | None) -> str:
        """Record a heading; returns the section it names (its path)."""
        if level is None:
            self.open = [(0, name)]
        else:
            while self.open and self.open[-1][0] >= level:
                self.open.pop()
            self.open.append((level, name))
        return SECTION_SEPARATOR.join(heading for _, heading in self.open)


class TextLayout:
    """Writes headings and blocks one after another; ``extracted`` gives the result."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.headings: list[tuple[int, int]] = []
        self.section: str | None = None
        self.path = HeadingPath()

    def heading(self, text: str, level: int | None = None) -> str | None:
        """A heading (on one line): it names the section of the blocks after it, with the
        headings above it when ``level`` (1 for h1) is given. Returns the section name, or None
        for a blank heading (which changes nothing)."""
        name = " ".join(text.split())
        span = self._add(name)
        if span is None:
            return None
        self.headings.append(span)
        self.section = self.path.enter(name, level)
        return self.section

    def block(self, text: str) -> None:
        """A body block, trimmed (blank ones are skipped)."""
        span = self._add(text)
        if span is not None:
            self.blocks.append(Block(*span, self.section))

    def text(self) -> str:
        """The text written so far."""
        return "".join(self.pieces)

    def extracted(self, format: str, title: str | None = None, url: str | None = None) -> Extracted:
        """The document: its text, blocks and heading spans."""
        return Extracted(
            self.text(), tuple(self.blocks), format, tuple(self.headings), title=title, url=url
        )

    def _add(self, text: str) -> tuple[int, int] | None:
        text = text.strip()
        if not text:
            return None
        if self.pieces:
            self.pieces.append("\n\n")
            self.length += 2
        start = self.length
        self.pieces.append(text)
        self.length += len(text)
        return start, self.length
