"""Expected answer types: a question asking "when" or "how many" is best answered by a sentence
holding a date or a number, a "who" question by one naming someone."""

from __future__ import annotations

import re

import numpy as np

_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fifteen|twenty"
    r"|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|several)"
)
_MONTHS = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
)
_HAS_NUMBER = re.compile(r"\d|\b" + _NUMBER_WORDS + r"\b", re.IGNORECASE)
_HAS_DATE = re.compile(
    r"\b(?:1\d{3}|20\d{2}|\d{2,4}s)\b|\b" + _MONTHS + r"\b|\bcentur(?:y|ies)\b"
    r"|\b\d+(?:st|nd|rd|th)\b|\b(?:BC|AD|BCE|CE)\b",
    re.IGNORECASE,
)
_HAS_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+")
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|long|old|far|large|big|high|tall|fast|often|deep|wide|heavy)\b"
    r"|\bwhat (?:percentage|percent|number|amount|proportion|fraction)\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(
    r"\bwhen\b|\b(?:what|which|in what|during what) (?:year|years|century|decade|date|month|day"
    r"|era|time period)\b|\bwhat time\b",
    re.IGNORECASE,
)
_ASKS_PERSON = re.compile(r"^\s*(?:who|whom|whose)\b", re.IGNORECASE)

TYPES = ("date", "number", "person")


def expected_type(question: str) -> str | None:
    """'date', 'number', 'person' or None."""
    if _ASKS_DATE.search(question):
        return "date"
    if _ASKS_NUMBER.search(question):
        return "number"
    if _ASKS_PERSON.search(question):
        return "person"
    return None


def names(text: str) -> frozenset[str]:
    """The capitalised words of ``text`` not opening a sentence (names, lower-cased)."""
    return frozenset(word.lower() for word in _HAS_NAME.findall(text))


def sentence_types(sentences: list[str]) -> np.ndarray:
    """uint8[n, 3]: whether each sentence holds a date, a number, a (capitalised) name."""
    flags = np.zeros((len(sentences), len(TYPES)), dtype=np.uint8)
    for row, text in enumerate(sentences):
        flags[row] = (
            bool(_HAS_DATE.search(text)),
            bool(_HAS_NUMBER.search(text)),
            bool(_HAS_NAME.search(text)),
        )
    return flags
