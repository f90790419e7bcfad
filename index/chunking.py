"""Chunks: sentence-aware pieces of paragraphs, each within the model's token limit."""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.documents import Document
from index.sentences import split_sentences, trim_span

CHUNKER_VERSION = 3
# 2: sentences from sentencex (any script), not the Latin-only rules; 3: documents extracted by
# format (index/formats/), plain-text lines that name sections are kept as paragraphs too
SPECIAL_TOKENS = 2  # [CLS] ... [SEP]

TokenCounter = Callable[[list[str]], list[int]]
"""Counts word pieces (special tokens included) per text, in the embedding model's tokenizer."""

TokenOffsets = Callable[[str], list[tuple[int, int]]]
"""Character spans of each word piece of a text (special tokens excluded)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of one paragraph: ``document.text[start:end] == text``.

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


def normalize_for_search(text: str) -> str:
    """The form of text that is embedded and matched: Unicode NFC."""
    return unicodedata.normalize("NFC", text)


class Chunker:
    """Splits paragraphs at sentence boundaries into chunks of at most ``max_tokens`` word pieces.

    A paragraph that fits stays whole; a longer one is split into balanced runs of sentences;
    a sentence longer than the budget is cut at word boundaries by the tokenizer's offsets.
    Chunks never cross a paragraph (so never a section). Nothing is ever truncated.
    """

    def __init__(self, count_tokens: TokenCounter, token_offsets: TokenOffsets, max_tokens: int):
        if max_tokens <= SPECIAL_TOKENS + 8:
            raise ValueError(f"max_tokens must be more than {SPECIAL_TOKENS + 8}, got {max_tokens}")
        self.count_tokens = count_tokens
        self.token_offsets = token_offsets
        self.max_tokens = max_tokens

    @property
    def parameters(self) -> dict[str, int]:
        """What an index records so that a change of chunking is detected on load."""
        return {"version": CHUNKER_VERSION, "max_tokens": self.max_tokens}

    def chunk(self, document: Document) -> list[Chunk]:
        """All chunks of a document, in order."""
        chunks: list[Chunk] = []
        seen: Counter[str] = Counter()
        text = document.text
        for paragraph in document.paragraphs:
            for start, end, sentences in self._split_paragraph(
                text, paragraph.start, paragraph.end
            ):
                piece = text[start:end]
                seen[piece] += 1
                chunks.append(
                    Chunk(
                        id=chunk_id(document.path, piece, seen[piece]),
                        document=document.path,
                        section=paragraph.section,
                        paragraph=paragraph.number,
                        start=start,
                        end=end,
                        text=piece,
                        sentences=tuple(sentences),
                    )
                )
        return chunks

    def _split_paragraph(
        self, text: str, start: int, end: int
    ) -> list[tuple[int, int, list[tuple[int, int]]]]:
        sentences = split_sentences(text, start, end)
        if self._fits(text[start:end]):
            return [(start, end, sentences)]
        pieces: list[tuple[int, int]] = []
        for sentence in sentences:
            if self._fits(text[sentence[0] : sentence[1]]):
                pieces.append(sentence)
            else:
                pieces.extend(self._split_sentence(text, *sentence))
        return [(group[0][0], group[-1][1], group) for group in self._pack(text, pieces)]

    def _pack(self, text: str, pieces: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
        """Group consecutive pieces into balanced runs that each fit the budget."""
        sizes = self._content_tokens([text[s:e] for s, e in pieces])
        budget = self.max_tokens - SPECIAL_TOKENS
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
        return [g for group in groups for g in self._verified(text, group)]

    def _verified(self, text: str, group: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
        """Exact check of a group's token count; halve it if joining changed the count."""
        if self._fits(text[group[0][0] : group[-1][1]]) or len(group) == 1:
            return [group]
        middle = len(group) // 2
        return self._verified(text, group[:middle]) + self._verified(text, group[middle:])

    def _split_sentence(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Cut an over-long sentence at word boundaries into pieces that fit."""
        budget = self.max_tokens - SPECIAL_TOKENS
        while True:
            offsets = self.token_offsets(text[start:end])
            pieces = _cut_by_offsets(text, start, end, offsets, budget)
            if all(self._fits(text[s:e]) for s, e in pieces):
                return pieces
            budget -= max(1, budget // 10)  # normalisation changed the count: tighten and retry

    def _fits(self, piece: str) -> bool:
        return self.count_tokens([normalize_for_search(piece)])[0] <= self.max_tokens

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
