"""The answer to a question: passages quoted from the sources, each with its citation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

WEAK_SHARE = 0.4
"""A passage is weak when the similarity of its highlighted sentence to the question is below
this share of the best similarity among the passages ranked above it (0.17 next to 0.50 is).
Fitted with benchmarks/weak_passages.py on SQuAD v1.1 dev: it marks about 2 % of the passages
below rank 1 that hold the answer, and the passages it marks hold it 2 to 4 times less often
than the others (docs/benchmarks.md)."""


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a passage comes from: ``extracted_text[start:end]`` of ``document`` is the passage.

    ``page`` is the page the passage starts on (documents with pages, e.g. PDF) and
    ``page_end`` the page it ends on; ``paragraph`` counts from 1 per page there, per document
    elsewhere. ``url`` links to the passage where the document's address is known.
    """

    document: str
    section: str | None
    paragraph: int
    start: int
    end: int
    page: int | None = None
    page_end: int | None = None
    url: str | None = None

    def label(self, separator: str = " › ") -> str:
        """Human-readable citation: document › section › p. N › ¶N."""
        parts = [self.document]
        if self.section:
            parts.append(self.section)
        if self.page is not None:
            if self.page_end is not None and self.page_end != self.page:
                parts.append(f"pp. {self.page}–{self.page_end}")
            else:
                parts.append(f"p. {self.page}")
        parts.append(f"¶{self.paragraph}")
        return separator.join(parts)


@dataclass(frozen=True, slots=True)
class Passage:
    """One quoted passage. ``highlight`` is the best-answering sentence, relative to ``text``.

    ``score`` ranks passages within one answer (fused relevance, higher is better);
    ``similarity`` is the cosine similarity (about 0 to 1) of the highlighted sentence to the
    question, comparable across questions and across indexes. ``collection`` names the
    collection the passage came from when an answer merges several (else None). ``weak``
    marks a passage far below the answer's best one, for every front end to show as such.
    """

    chunk_id: str
    text: str
    citation: Citation
    score: float
    highlight: tuple[int, int]
    similarity: float = 0.0
    collection: str | None = None
    weak: bool = False

    @property
    def highlight_text(self) -> str:
        """The best-answering sentence itself."""
        return self.text[self.highlight[0] : self.highlight[1]]

    def segments(self) -> tuple[str, str, str]:
        """The passage split into (before, highlighted sentence, after)."""
        start, end = self.highlight
        return self.text[:start], self.text[start:end], self.text[end:]


@dataclass(frozen=True, slots=True)
class Answer:
    """Top passages for a question.

    ``found`` is False when nothing in the index answers the question ("not in the source");
    the passages are then the closest ones, to be shown as low-confidence.
    ``notices`` are messages for the user about the question itself (e.g. it was shortened).
    ``context`` is the earlier question of the conversation this one was read together with
    (None when it was answered alone).
    """

    question: str
    passages: tuple[Passage, ...]
    found: bool = True
    notices: tuple[str, ...] = field(default_factory=tuple)
    context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (schema documented in the README)."""
        passages = []
        for rank, passage in enumerate(self.passages, start=1):
            start, end = passage.highlight
            offset = passage.citation.start
            passages.append(
                {
                    "rank": rank,
                    "id": passage.chunk_id,
                    "text": passage.text,
                    "score": round(passage.score, 4),
                    "similarity": round(passage.similarity, 4),
                    "highlight": {
                        "start": offset + start,
                        "end": offset + end,
                        "text": passage.highlight_text,
                    },
                    "citation": asdict(passage.citation),
                    "collection": passage.collection,
                    "weak": passage.weak,
                }
            )
        return {
            "question": self.question,
            "found": self.found,
            "notices": list(self.notices),
            "context": self.context,
            "passages": passages,
        }


def mark_weak(
    passages: Sequence[Passage], best_before: float | None = None
) -> tuple[Passage, ...]:
    """``passages`` (best first) with ``weak`` set on each whose similarity is below
    ``WEAK_SHARE`` of the best one ranked above it, here or on earlier pages (``best_before``),
    and cleared on the others. A passage is judged only against those shown before it, so its
    mark does not change with ``k`` or with the page it is shown on."""
    best = best_before
    marked = []
    for passage in passages:
        best = passage.similarity if best is None else max(best, passage.similarity)
        weak = best > 0 and passage.similarity < WEAK_SHARE * best
        marked.append(passage if passage.weak == weak else replace(passage, weak=weak))
    return tuple(marked)
