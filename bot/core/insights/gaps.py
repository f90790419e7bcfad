"""Knowledge gaps: the questions the documents did not answer ("not in the source", or voted 👎),
grouped into clusters of the same need by their embeddings, largest first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClosestPassage:
    """What the documents almost say about a gap: the passage closest to its typical wording."""

    citation: str  # the passage's citation label (document › section › ¶N)
    text: str  # its best-answering sentence
    url: str | None
    similarity: float


@dataclass(frozen=True)
class GapCluster:
    """Questions of the same need that the documents did not answer."""

    size: int
    typical: str  # the most typical wording (the question nearest the cluster's centre)
    wordings: tuple[str, ...]  # two or three other wordings
    not_found: int  # how many were answered "not in the source"
    voted_down: int  # how many answers were voted 👎
    reasons: tuple[tuple[str, int], ...]  # 👎 reasons (bot.state.feedback.REASONS), most first
    notes: tuple[str, ...]  # the voters' own words with their reasons
    first_at: float
    last_at: float
    closest: ClosestPassage | None = None


@dataclass(frozen=True)
class GapReport:
    """The clusters (largest first) among ``questions`` gap questions of the last ``days``."""

    clusters: tuple[GapCluster, ...]
    questions: int
    days: float
    threshold: float  # the cosine similarity that joins two questions in one cluster
