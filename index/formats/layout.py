"""The extracted text of a structured document, built piece by piece: headings and body blocks
in reading order, separated by blank lines, each span recorded as it is written (so offsets are
exact by construction)."""

from __future__ import annotations

from index.formats import Block, Extracted


class TextLayout:
    """Writes headings and blocks one after another; ``extracted`` gives the result."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.headings: list[tuple[int, int]] = []
        self.section: str | None = None

    def heading(self, text: str) -> str | None:
        """A heading (on one line): it names the section of the blocks after it. Returns the
        section name, or None for a blank heading (which changes nothing)."""
        name = " ".join(text.split())
        span = self._add(name)
        if span is None:
            return None
        self.headings.append(span)
        self.section = name
        return name

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
