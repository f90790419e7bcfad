"""Conversations: earlier turns, whether a question depends on them, and how it is read with them.

A follow-up ("What could prevent that outcome?", "And on March 25?", "Why not?") has little to
retrieve with on its own. When a question *depends* on the previous turn, it is searched with
the previous question's vector and BM25 scores added at a lower weight (and the one before, when
the previous question was itself a follow-up). A question depends on the previous turn when:

- it starts like an ellipsis ("and …", "what about …", "why not?"): always;
- it is very short (at most two content words: "Where did they come down?") or refers back with
  a pronoun or demonstrative ("he", "they", "it", "that outcome"), unless it has strong evidence
  of its own (a sentence of the sources at cosine >= STRONG_ALONE): "its" in "…to abandon its
  nuclear ambitions?" points inside the question, not back;
- it has weak evidence of its own (no sentence at cosine >= WEAK_ALONE), whatever its words;

but never when it is a full question or an ellipsis with words of its own, none of them in the
sources ("What about bread recipes?": a topic the sources do not hold, "not in the source").
Anything else, a full question with its own evidence, is answered as if it were alone: a change
of topic is not pulled back to the previous one. Weights were set on tests/data/
article_dialogues.jsonl and checked on SQuAD-free ground only (see docs/benchmarks.md).

A follow-up read with the history gets its bold sentence by its own words as well
(``follow_up_highlight``): read with the history alone, the sentence that answered the earlier
question tends to win again. A "who" follow-up's bold sentence must name someone the earlier
questions did not (``adds_wanted``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.build.question_types import expected_type, names

if TYPE_CHECKING:
    from index.answer import Answer

# Weight of the previous question's vector and BM25 scores against the question's own (1.0);
# the turn before it (read when the previous question was itself a follow-up) gets the square.
PREVIOUS_WEIGHT = 0.6
# Below this best-sentence cosine the question alone is weak evidence: read it with the history.
WEAK_ALONE = 0.35
# At or above this, a pronoun is taken to point inside the question itself.
STRONG_ALONE = 0.65
# Very short: at most this many content words.
SHORT_WORDS = 2
# A follow-up's highlight, within each passage found: the scores of its sentences read with the
# history (weight TOGETHER_WEIGHT) plus those of the question alone (ALONE_WEIGHT), less
# SHOWN_PENALTY for a sentence an earlier answer already highlighted; when the passage holds the
# sentence the previous answer bolded, only it or the next one is chosen (follow_up_highlight).
TOGETHER_WEIGHT = 0.5
ALONE_WEIGHT = 1.0
SHOWN_PENALTY = 1.5
# Expected answer types whose values a follow-up's bold sentence must add to the earlier
# questions (``adds_wanted``). Only names: the number detector misses ordinals ("for the third
# year in a row" answers "For how many years in a row?").
NEW_VALUE_TYPES = ("person",)
# How many earlier turns a question may be read with (the previous one and, through a chain of
# follow-ups, the ones before it).
MAX_TURNS = 2

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# Openings that continue the previous question ("In which area?", "With whom?" are short).
_LEADING = (
    "and", "but", "or", "also", "so", "then", "what about", "how about", "what of", "why not",
    "how come",
)
_ANAPHORS = frozenset(
    """he him his she her hers it its they them their theirs this that these those
    either neither both""".split()
)
# Words that carry no topic of their own (question words, auxiliaries, pronouns, fillers).
_FUNCTION_WORDS = frozenset(
    """a an the and but or so then also too of to in on at by for with from about into over
    than as what which who whom whose when where why how whether if is are was were be been being
    do does did done have has had can could will would shall should may might must not no yes
    he him his she her hers it its they them their theirs this that these those there here i me
    my we us our you your one ones other else same such any some all more most much many few
    now just only still ever again year years kind sort way mean means meant happen happens
    happened say says said think thinks thought""".split()
)


@dataclass(frozen=True)
class Turn:
    """An earlier turn: its question, the chunk ids shown for it (best first) and the sentence
    bolded in the first of them (None: not known, then found by asking the question again)."""

    question: str
    passage_ids: tuple[str, ...] = ()
    highlight: str | None = None


def turn_of(answer: Answer) -> Turn:
    """The turn an answer ends: its question, its passages' chunk ids and the bold sentence of
    the first (carried, a follow-up need not ask the question again to learn it)."""
    return Turn(
        answer.question,
        tuple(p.chunk_id for p in answer.passages),
        answer.passages[0].highlight_text if answer.passages else None,
    )


@dataclass(frozen=True)
class Reading:
    """How a question is read with its history: the earlier questions fused into its query
    (most recent first), their weights, and why."""

    reason: str
    questions: tuple[str, ...]
    weights: tuple[float, ...]

    @property
    def context(self) -> str:
        """The earlier question shown to the user ("Read together with …")."""
        return self.questions[0]


def words(question: str) -> list[str]:
    """The question's words, lower-cased."""
    return _WORD.findall(question.lower().replace("’", "'"))


def content_words(question: str) -> list[str]:
    """Words that carry a topic (not question words, auxiliaries, pronouns or fillers)."""
    return [w for w in words(question) if w not in _FUNCTION_WORDS and not w.isdigit()]


def cue(question: str) -> str | None:
    """Why the question's words alone say it continues a conversation, or None.

    ``"ellipsis"`` (starts with "and", "what about"…), ``"short"`` (at most SHORT_WORDS content
    words) and ``"refers back"`` (a pronoun or demonstrative) in that order.
    """
    lowered = " ".join(words(question))
    if any(lowered == lead or lowered.startswith(lead + " ") for lead in _LEADING):
        return "ellipsis"
    if len(content_words(question)) <= SHORT_WORDS:
        return "short"
    if any(w in _ANAPHORS for w in words(question)):
        return "refers back"
    return None


def depends(
    question: str,
    evidence_alone: float,
    words_in_sources: bool = True,
    names_unknown: bool = False,
) -> str | None:
    """Why ``question`` depends on the previous turn, or None when it stands alone.

    ``evidence_alone`` is the best cosine of a source sentence to the question by itself;
    ``words_in_sources`` whether any of its content words occurs in the sources (BM25). A full
    question or an ellipsis that names something ("What about bread recipes?", "How many moons
    does Jupiter have?") none of whose words are in the sources starts a topic the sources do
    not hold: it stands alone, so it can be "not in the source". (Short questions and those
    that refer back are not held to this: "Where did they come down?" names no topic.)
    ``names_unknown``: some content word is not in the sources. A question that does not refer
    back and is not an ellipsis, and names something the sources lack ("How many moons does
    Jupiter have?": short, but "Jupiter" is nowhere), starts a new topic too.
    """
    reason = cue(question)
    if not words_in_sources and reason in (None, "ellipsis") and content_words(question):
        return None
    refers_back = any(w in _ANAPHORS for w in words(question))
    if names_unknown and reason in (None, "short") and not refers_back:
        return None
    if reason == "ellipsis":
        return reason
    if evidence_alone < WEAK_ALONE:
        return reason or "weak evidence alone"
    if reason is not None and evidence_alone < STRONG_ALONE:
        return reason
    return None


def read_with_history(
    question: str,
    history: Sequence[Turn],
    evidence_alone: float,
    words_in_sources: bool = True,
    names_unknown: bool = False,
) -> Reading | None:
    """The earlier questions to read ``question`` with, or None to answer it alone.

    The previous turn is always the first; the turns before it follow while each later one was
    itself a follow-up by its words (``cue``), up to MAX_TURNS, each at PREVIOUS_WEIGHT times
    the weight of the one after it.
    """
    if not history:
        return None
    reason = depends(question, evidence_alone, words_in_sources, names_unknown)
    if reason is None:
        return None
    questions = [history[-1].question]
    weights = [PREVIOUS_WEIGHT]
    for earlier in reversed(history[:-1]):
        if len(questions) >= MAX_TURNS or cue(questions[-1]) is None:
            break
        questions.append(earlier.question)
        weights.append(weights[-1] * PREVIOUS_WEIGHT)
    return Reading(reason, tuple(questions), tuple(weights))


def fuse_vectors(
    vector: np.ndarray, earlier: Sequence[np.ndarray], weights: Sequence[float]
) -> np.ndarray:
    """The question's vector plus the earlier ones at their weights, unit length, float32[1, d]."""
    fused: np.ndarray = vector.astype(np.float32, copy=True)
    for other, weight in zip(earlier, weights, strict=True):
        fused = fused + np.float32(weight) * other
    norm = float(np.linalg.norm(fused))
    return (fused / norm if norm > 0 else fused).astype(np.float32)


def fuse_scores(
    scores: np.ndarray, earlier: Sequence[np.ndarray], weights: Sequence[float]
) -> np.ndarray:
    """Per-chunk BM25 scores of the question plus the earlier questions' at their weights."""
    fused: np.ndarray = scores.astype(np.float32, copy=True)
    for other, weight in zip(earlier, weights, strict=True):
        fused = fused + np.float32(weight) * other
    return fused


def wants_new_value(question: str) -> bool:
    """Whether a follow-up asks for a value of a type it must learn anew ("Who raised it?")."""
    return expected_type(question) in NEW_VALUE_TYPES


def adds_wanted(sentence: str, question: str, earlier: Sequence[str]) -> bool:
    """Whether ``sentence`` names someone neither ``question`` nor the ``earlier`` questions
    named: after "What is … friction between Washington and Seoul?", a sentence naming only
    Washington and Seoul cannot answer "Who raised it?"."""
    known = names(question).union(*(names(text) for text in earlier))
    return bool(names(sentence) - known)


def follow_up_highlight(
    together: np.ndarray,
    alone: np.ndarray,
    shown: np.ndarray,
    last: int | None = None,
    adds: np.ndarray | None = None,
) -> int:
    """Which sentence of a passage to highlight for a follow-up: ``together`` / ``alone`` are
    its sentences' highlight scores with the history and without, ``shown`` marks the sentences
    earlier answers highlighted, ``last`` is the one the previous answer bolded (None: not in
    this passage). The history finds the passage, but read with the history the sentence that
    answered the earlier question tends to win again ("What did he call on all countries to do?"
    after "Which Russian official visited Seoul?"); the follow-up asks for something new, in its
    own words. A conversation moves forward: a follow-up's answer is in the sentence bolded
    before or in the next one (in all 46 follow-ups of the two dialogue sets whose first passage
    holds both the answer and the sentence bolded before), so only those two compete when the
    passage holds ``last``; otherwise a word of the follow-up met by chance ("trip" in "How was
    his trip portrayed?", of Blinken's trip) pulls the bold sentence anywhere. ``adds`` (None:
    the follow-up wants no new value, ``wants_new_value``) marks the sentences that add a value
    of the type asked for (``adds_wanted``); when one of those that may be chosen does, the
    others are not chosen: "Who raised it?" is not answered by a sentence naming no one new."""
    scores = TOGETHER_WEIGHT * together + ALONE_WEIGHT * alone - SHOWN_PENALTY * shown
    if last is not None:
        nearby = np.full(len(scores), -np.inf)
        nearby[last:last + 2] = 0.0
        scores = scores + nearby
    if adds is not None and np.any(adds & np.isfinite(scores)):
        scores = np.where(adds, scores, -np.inf)
    return int(np.argmax(scores))
