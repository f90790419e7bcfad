"""Evidence that the sources answer a question, and the "not in the source" decision.

Two cheap measures of what one search already computed: the cosine of the corpus sentence most
similar to the question (meaning), and the share of the question's content words that the
corpus contains at all (words). "How many moons does Jupiter have?", asked of an article on
Korean diplomacy ("the Moon administration"), finds a sentence of cosine 0.32, above the old
0.30 bar, but only half of its content words ("moon", not "jupit") exist in the article.

The rule: found when the similarity is at least MIN_SIMILARITY and, for a question with content
words, ``similarity + KNOWN_WEIGHT * known >= MIN_SCORE``. A question whose words are all in
the corpus needs only the floor; one with half of them unknown needs cosine 0.37; one with none
known needs 0.54. The two constants are a logistic fit on half of the calibration pairs of
benchmarks/fit_not_found.py (SQuAD questions on their own article against the same questions on
other articles and half of tests/data/off_topic_questions.jsonl), its bias moved so that 0.5 %
of answerable SQuAD questions are flagged; figures on the held-out half in docs/benchmarks.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.backends.base import LexicalQuery, SearchIndex
    from index.query.search import Ranking

# The dense floor: below it no sentence is similar enough to answer (the only rule before
# lexical evidence).
MIN_SIMILARITY = 0.30
# Above the floor: similarity + KNOWN_WEIGHT * known >= MIN_SCORE (benchmarks/fit_not_found.py).
KNOWN_WEIGHT = 0.3351
MIN_SCORE = 0.5393
# The same for indexes whose sentence vectors were pooled in their chunk's pass (late
# chunking), less index.build.onnx_encoder.CONTEXT_SHARE of the chunk's vector:
# `CITEBOT_LATE_CHUNKING=true benchmarks/fit_not_found.py --floor 0.25`, the floor under which
# as many calibration questions fall as under 0.30 with sentences embedded alone (0.22 %).
IN_CHUNK_MIN_SIMILARITY = 0.25
IN_CHUNK_KNOWN_WEIGHT = 0.3486
IN_CHUNK_MIN_SCORE = 0.5105
# Indexes pooled before the context share was taken out (manifest "in-chunk") keep theirs.
PLAIN_IN_CHUNK_KNOWN_WEIGHT = 0.3759
PLAIN_IN_CHUNK_MIN_SCORE = 0.5211


@dataclass(frozen=True, slots=True)
class Rule:
    """The constants of the rule: the dense floor, and ``similarity + known_weight * known >=
    min_score`` above it."""

    min_similarity: float = MIN_SIMILARITY
    known_weight: float = KNOWN_WEIGHT
    min_score: float = MIN_SCORE


# Fitted for each way an index's sentence vectors are made (its manifest's
# "sentence_vectors", index.build.builder's ALONE / IN_CHUNK / IN_CHUNK_PLAIN): sentences pooled
# inside their chunk's pass (late chunking) are less similar to any question than the same
# sentences embedded alone, so the rule fitted on the latter flagged twice the answerable
# questions; refitted the same way (benchmarks/fit_not_found.py with CITEBOT_LATE_CHUNKING=true,
# docs/benchmarks.md).
RULES = {
    "alone": Rule(),
    "in-chunk-less-0.4": Rule(IN_CHUNK_MIN_SIMILARITY, IN_CHUNK_KNOWN_WEIGHT, IN_CHUNK_MIN_SCORE),
    "in-chunk": Rule(
        IN_CHUNK_MIN_SIMILARITY, PLAIN_IN_CHUNK_KNOWN_WEIGHT, PLAIN_IN_CHUNK_MIN_SCORE
    ),
}


def rule_for(manifest: dict[str, Any]) -> Rule:
    """The rule fitted for the index whose manifest this is (an unknown way: the default)."""
    return RULES.get(str(manifest.get("sentence_vectors", "alone")), RULES["alone"])


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a search found for a question.

    ``similarity``: cosine of the corpus sentence most similar to the question. ``terms``: the
    number of the question's distinct content words (its BM25 terms less a longer stop-word
    list); ``known``: the share of them that occur in the corpus (None when the question has
    no content words or the corpus has no lexical index).
    """

    similarity: float
    terms: int = 0
    known: float | None = None


def gather(
    ranking: Ranking, lexical: LexicalQuery | None, index: SearchIndex | None
) -> Evidence:
    """The evidence of one search, from its ranking and the question's BM25 terms (None, or
    no index given: the dense similarity only). Independent of which page is shown."""
    similarity = ranking.max_similarity
    if index is None or lexical is None:
        return Evidence(similarity)
    distinct = [t for t in dict.fromkeys(lexical.terms) if t not in _stop_words()]
    if not distinct:
        return Evidence(similarity)
    known = sum(index.known_terms(distinct))
    return Evidence(similarity, len(distinct), known / len(distinct))


@cache
def _stop_words() -> frozenset[str]:
    """Words that say nothing about a topic ("about", "most", "up", "can"), as BM25 terms:
    the longer English list of bm25s (NLTK's), which BM25 itself does not drop."""
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    stemmer = Stemmer.Stemmer("english")
    return frozenset(STOPWORDS_EN_PLUS) | frozenset(stemmer.stemWords(list(STOPWORDS_EN_PLUS)))


def score(evidence: Evidence, rule: Rule | None = None) -> float:
    """Similarity plus lexical support (questions with content words only)."""
    assert evidence.known is not None
    known_weight = KNOWN_WEIGHT if rule is None else rule.known_weight
    return evidence.similarity + known_weight * evidence.known


def found_in_source(
    evidence: Evidence, min_similarity: float = MIN_SIMILARITY, rule: Rule | None = None
) -> bool:
    """Whether the sources answer the question: a sentence at least ``min_similarity`` similar
    and, when the question has content words, a score of at least MIN_SCORE (``rule``: the
    constants fitted for the index searched; None: the module's)."""
    if evidence.similarity < min_similarity:
        return False
    min_score = MIN_SCORE if rule is None else rule.min_score
    return evidence.known is None or score(evidence, rule) >= min_score
