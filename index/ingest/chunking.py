"""Chunks: sentence-aware pieces of paragraphs, each within the model's token limit."""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.ingest.documents import Document
from index.ingest.sentences import split_sentences, trim_span

CHUNKER_VERSION = 4
# 2: sentences from sentencex (any script), not the Latin-only rules; 3: documents extracted by
# format (index/formats/), plain-text lines that name sections are kept as paragraphs too;
# 4: HTML without documentation sites' chrome (permalink signs, edit links, banners, copy
# buttons, tab labels), sections of HTML and Markdown named by their heading path
SPECIAL_TOKENS = 2  # [CLS] ... [SEP]
# Retrieval switches (benchmarks/docs_quality.py measures each side by side):
HEADINGS_IN_SEARCH: str | None = None
"""What of a chunk's section is written before its text in what is embedded and matched by BM25:
"path" (the heading path, "Page › Section › Subsection"), "heading" (the last heading only), or
None (nothing). The quoted passage and its offsets never include it."""
SECTION_SEPARATOR = " › "
"""Joins the headings of a heading path (``Chunk.section`` of structured documents)."""
MAX_PREFIX_CHARS = 160
"""Longest heading prefix: a longer path is shortened to its last heading, a longer heading is
left out (so a prefix never takes more than about a fifth of the token budget)."""
SECTION_CHUNKS: bool | str = False
"""Whether a chunk of a structured document (HTML, Markdown) spans a section's consecutive
paragraphs up to the token budget, instead of one paragraph."""

TokenCounter = Callable[[list[str]], list[int]]
"""Counts word pieces (special tokens included) per text, in the embedding model's tokenizer."""

TokenOffsets = Callable[[str], list[tuple[int, int]]]
"""Character spans of each word piece of a text (special tokens excluded)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of one paragraph (or, with ``SECTION_CHUNKS``, consecutive paragraphs of one
    section): ``document.text[start:end] == text``.

    ``sentences`` are absolute (start, end) spans inside the document's text.
    """

    id: str
    document: str
    section: str | None
    paragraph: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]


SECTION_FORMATS = frozenset({"html", "markdown"})
"""Formats whose chunks span a section's paragraphs when ``SECTION_CHUNKS`` is on: True joins a
section's paragraphs into balanced runs up to the budget; "attach" joins only what belongs
together (a paragraph ending with a colon and what follows it, pieces under ``ATTACH_TOKENS``
to their neighbours), so prose stays paragraph-sized and code examples keep their lead-in."""
ATTACH_TOKENS = 40


@dataclass(frozen=True, slots=True)
class _Unit:
    """A span that becomes a chunk: its first paragraph's number, section and sentences."""

    paragraph: int
    section: str | None
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]


def normalize_for_search(text: str) -> str:
    """The form of text that is embedded and matched: Unicode NFC."""
    return unicodedata.normalize("NFC", text)


def heading_prefix(section: str | None) -> str:
    """What of a section is searched with its chunks' text (see ``HEADINGS_IN_SEARCH``)."""
    if not HEADINGS_IN_SEARCH or not section:
        return ""
    if HEADINGS_IN_SEARCH == "path" and len(section) <= MAX_PREFIX_CHARS:
        return section
    last = section.rsplit(SECTION_SEPARATOR, 1)[-1]
    return last if len(last) <= MAX_PREFIX_CHARS else ""


def search_text(text: str, section: str | None) -> str:
    """The form of a chunk that is embedded and matched by BM25: its heading prefix (if any),
    a blank line, and its text, normalised. Quotes and offsets use the text alone."""
    prefix = heading_prefix(section)
    return normalize_for_search(f"{prefix}\n\n{text}" if prefix else text)


def chunk_search_text(chunk: Chunk) -> str:
    """``search_text`` of a chunk."""
    return search_text(chunk.text, chunk.section)


class Chunker:
    """Splits paragraphs at sentence boundaries into chunks of at most ``max_tokens`` word pieces.

    A paragraph that fits stays whole; a longer one is split into balanced runs of sentences;
    a sentence longer than the budget is cut at word boundaries by the tokenizer's offsets.
    Chunks never cross a section; they cross paragraphs only with ``SECTION_CHUNKS``. The
    budget counts the heading prefix searched with a chunk (``HEADINGS_IN_SEARCH``). Nothing is
    ever truncated.
    """

    def __init__(self, count_tokens: TokenCounter, token_offsets: TokenOffsets, max_tokens: int):
        if max_tokens <= SPECIAL_TOKENS + 8:
            raise ValueError(f"max_tokens must be more than {SPECIAL_TOKENS + 8}, got {max_tokens}")
        self.count_tokens = count_tokens
        self.token_offsets = token_offsets
        self.max_tokens = max_tokens

    @property
    def parameters(self) -> dict[str, int | str]:
        """What an index records so that a change of chunking is detected on load."""
        parameters: dict[str, int | str] = {
            "version": CHUNKER_VERSION, "max_tokens": self.max_tokens
        }
        if HEADINGS_IN_SEARCH:
            parameters["headings"] = HEADINGS_IN_SEARCH
        if SECTION_CHUNKS:
            parameters["sections"] = SECTION_CHUNKS if isinstance(SECTION_CHUNKS, str) else 1
        return parameters

    def chunk(self, document: Document) -> list[Chunk]:
        """All chunks of a document, in order."""
        chunks: list[Chunk] = []
        seen: Counter[str] = Counter()
        text = document.text
        units: list[_Unit] = [
            _Unit(paragraph.number, paragraph.section, start, end, tuple(sentences))
            for paragraph in document.paragraphs
            for start, end, sentences in self._split_paragraph(
                text, paragraph.start, paragraph.end, paragraph.section
            )
        ]
        if SECTION_CHUNKS and document.format in SECTION_FORMATS:
            units = self._merge_sections(text, units)
        for unit in units:
            piece = text[unit.start : unit.end]
            seen[piece] += 1
            chunks.append(
                Chunk(
                    id=chunk_id(document.path, piece, seen[piece]),
                    document=document.path,
                    section=unit.section,
                    paragraph=unit.paragraph,
                    start=unit.start,
                    end=unit.end,
                    text=piece,
                    sentences=unit.sentences,
                )
            )
        return chunks

    def _merge_sections(self, text: str, units: list[_Unit]) -> list[_Unit]:
        """Consecutive pieces of one section joined into balanced runs that fit the budget, so
        an explanation keeps its code example, list and caveat."""
        merged: list[_Unit] = []
        run: list[_Unit] = []
        for unit in [*units, None]:
            if run and (unit is None or unit.section != run[0].section):
                by_start = {u.start: u for u in run}
                spans = [(u.start, u.end) for u in run]
                groups = (
                    self._attach(text, spans, run[0].section) if SECTION_CHUNKS == "attach"
                    else self._pack(text, spans, run[0].section)
                )
                for group in groups:
                    members = [by_start[start] for start, _ in group]
                    merged.append(_Unit(
                        members[0].paragraph, members[0].section, group[0][0], group[-1][1],
                        tuple(span for member in members for span in member.sentences),
                    ))
                run = []
            if unit is not None:
                run.append(unit)
        return merged

    def _attach(
        self, text: str, spans: list[tuple[int, int]], section: str | None
    ) -> list[list[tuple[int, int]]]:
        """Runs of spans where each span joins the previous run when the run ends with a colon
        (it introduces what follows), or when either is short and the span is no lead-in itself;
        and only while the whole fits."""
        sizes = self._content_tokens([text[s:e] for s, e in spans])
        groups: list[list[tuple[int, int]]] = []
        used = 0
        for span, size in zip(spans, sizes, strict=True):
            if groups:
                last = groups[-1]
                lead_in = text[span[0] : span[1]].rstrip().endswith(":")  # belongs with the next
                joins = text[last[-1][0] : last[-1][1]].rstrip().endswith(":") or (
                    not lead_in and (size < ATTACH_TOKENS or used < ATTACH_TOKENS)
                )
                if joins and self._fits(text[last[0][0] : span[1]], section):
                    last.append(span)
                    used += size
                    continue
            groups.append([span])
            used = size
        return groups

    def _split_paragraph(
        self, text: str, start: int, end: int, section: str | None = None
    ) -> list[tuple[int, int, list[tuple[int, int]]]]:
        sentences = split_sentences(text, start, end)
        if self._fits(text[start:end], section):
            return [(start, end, sentences)]
        pieces: list[tuple[int, int]] = []
        for sentence in sentences:
            if self._fits(text[sentence[0] : sentence[1]], section):
                pieces.append(sentence)
            else:
                pieces.extend(self._split_sentence(text, *sentence, section))
        return [
            (group[0][0], group[-1][1], group) for group in self._pack(text, pieces, section)
        ]

    def _pack(
        self, text: str, pieces: list[tuple[int, int]], section: str | None = None
    ) -> list[list[tuple[int, int]]]:
        """Group consecutive pieces into balanced runs that each fit the budget."""
        sizes = self._content_tokens([text[s:e] for s, e in pieces])
        budget = self._budget(section)
        target = sum(sizes) / max(1, math.ceil(sum(sizes) / budget))
        groups: list[list[tuple[int, int]]] = []
        current: list[tuple[int, int]] = []
        used = 0
        for piece, size in zip(pieces, sizes, strict=True):
            if current and (used + size > budget or used >= target):
                groups.append(current)
                current, used = [], 0
            current.append(piece)
            used += size
        if current:
            groups.append(current)
        return [g for group in groups for g in self._verified(text, group, section)]

    def _verified(
        self, text: str, group: list[tuple[int, int]], section: str | None
    ) -> list[list[tuple[int, int]]]:
        """Exact check of a group's token count; halve it if joining changed the count."""
        if self._fits(text[group[0][0] : group[-1][1]], section) or len(group) == 1:
            return [group]
        middle = len(group) // 2
        return (
            self._verified(text, group[:middle], section)
            + self._verified(text, group[middle:], section)
        )

    def _split_sentence(
        self, text: str, start: int, end: int, section: str | None = None
    ) -> list[tuple[int, int]]:
        """Cut an over-long sentence at word boundaries into pieces that fit."""
        budget = self._budget(section)
        while True:
            offsets = self.token_offsets(text[start:end])
            pieces = _cut_by_offsets(text, start, end, offsets, budget)
            if all(self._fits(text[s:e], section) for s, e in pieces):
                return pieces
            budget -= max(1, budget // 10)  # normalisation changed the count: tighten and retry

    def _budget(self, section: str | None) -> int:
        """Word pieces left for a chunk's own text (after special tokens and heading prefix)."""
        prefix = heading_prefix(section)
        used = self._content_tokens([prefix + "\n\n"])[0] if prefix else 0
        return max(8, self.max_tokens - SPECIAL_TOKENS - used)

    def _fits(self, piece: str, section: str | None = None) -> bool:
        return self.count_tokens([search_text(piece, section)])[0] <= self.max_tokens

    def _content_tokens(self, pieces: Sequence[str]) -> list[int]:
        counts = self.count_tokens([normalize_for_search(p) for p in pieces])
        return [count - SPECIAL_TOKENS for count in counts]


def _cut_by_offsets(
    text: str, start: int, end: int, offsets: list[tuple[int, int]], budget: int
) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into runs of at most ``budget`` word pieces, preferring spaces."""
    pieces = []
    first = 0
    while first < len(offsets):
        last = min(first + budget, len(offsets))
        if last < len(offsets):
            # back up to a word piece that starts after whitespace, so words stay whole
            cut = last
            while cut > first + 1 and offsets[cut][0] == offsets[cut - 1][1]:
                cut -= 1
            if cut > first + 1:
                last = cut
        piece_start = start + offsets[first][0]
        piece_end = start + offsets[last][0] if last < len(offsets) else end
        pieces.extend(trim_span(text, piece_start, piece_end))
        first = last
    return pieces


def chunk_id(document: str, text: str, occurrence: int) -> str:
    """Stable id from content: the document, the chunk text and which repeat of that text it is."""
    digest = hashlib.sha256(f"{document}\0{occurrence}\0{text}".encode()).hexdigest()
    return digest[:16]
