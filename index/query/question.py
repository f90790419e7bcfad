"""Questions: cleaned, bounded and normalised before they are searched."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from index.errors import QuestionError

DEFAULT_MAX_CHARS = 1000
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Question:
    """A question ready to search, and notices for the user about what was changed."""

    text: str
    notices: tuple[str, ...] = ()


def prepare_question(raw: str, max_chars: int = DEFAULT_MAX_CHARS) -> Question:
    """Strip control characters, collapse whitespace, normalise (NFC) and cut at ``max_chars``.

    Raises QuestionError for an empty question or one with no letters or digits.
    """
    notices = []
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in _without_lone_surrogates(raw)
    )
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", cleaned)).strip()
    if not text:
        raise QuestionError("the question is empty: type a question about the sources")
    if not any(ch.isalnum() for ch in text):
        raise QuestionError("the question has no words in it: type a question about the sources")
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars + 1)
        text = text[: cut if cut > max_chars // 2 else max_chars].rstrip()
        notices.append(
            f"Your question was {len(cleaned):,} characters long; only the first {len(text):,} "
            f"were searched (the limit is {max_chars:,})."
        )
    return Question(text, tuple(notices))


def _without_lone_surrogates(text: str) -> str:
    """Surrogate pairs joined into their character, lone surrogates (which no tokenizer or
    UTF-8 encoder accepts) replaced by U+FFFD."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
