"""Knowledge gaps: the questions the documents did not answer ("not in the source", or voted 👎),
grouped into clusters of the same need by their embeddings, largest first.

Clustering, deterministic and bounded at 100,000 questions (docs/benchmarks.md, "Insights"):

1. the same question asked again (identical stored vector) is clustered once;
2. a first pass in arrival order groups near-identical wordings: a question joins the most
   similar earlier *leader* at cosine ``MICRO_THRESHOLD`` or more, else leads a group of its own;
   blocks of rows against all leaders with numpy, O(questions × leaders). Past ``MAX_LEADERS``
   leaders a question that matches none joins the most similar one at ``threshold``, else stays
   alone, so the work stays bounded whatever the log holds;
3. average-link agglomeration of those groups: the two of highest mean pairwise cosine merge
   while it is at least ``threshold``. The mean of all pairs is the groups' vector sums' dot
   product over the product of their sizes, so this is exact average link over the questions
   without a matrix of them. On distinct wordings the result does not depend on their order.

``THRESHOLD`` was fitted on ``benchmarks/data/gap_questions.json`` by ``benchmarks/insights.py``
(purity × (1 − share of groups split)). Questions logged without an embedding (the encoder
failed) are grouped by their wording alone (case and spacing ignored), and counted in
``GapReport.unembedded``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.citations import citation_label
from bot.state.feedback import DOWN, REASONS
from bot.state.questions import GapRow, QuestionLog, Vote
from index.answer import Answer

THRESHOLD = 0.39
"""Mean cosine similarity at which two clusters merge (average link; fitted: docs/benchmarks.md)."""
DEFAULT_LIMIT = 20
"""How many clusters a report keeps (largest first)."""
MICRO_THRESHOLD = 0.8
"""The first pass groups near-identical wordings (cosine to a leader at least this)."""
MAX_LEADERS = 512
"""Most first-pass groups; later questions that match none closely stay alone."""
OTHER_WORDINGS = 3
MAX_NOTES = 5
_BLOCK = 1_024


@dataclass(frozen=True)
class ClosestPassage:
    """What the documents almost say about a gap: the passage closest to its typical wording."""

    citation: str  # the passage's citation label (document › section › ¶N)
    text: str  # its best-answering sentence
    url: str | None
    similarity: float


def closest_of(answer: Answer) -> ClosestPassage | None:
    """The first passage of ``answer`` as a gap's closest passage (None: it has none)."""
    if not answer.passages:
        return None
    passage = answer.passages[0]
    return ClosestPassage(
        citation_label(passage.citation),
        passage.highlight_text,
        passage.citation.url,
        passage.similarity,
    )


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
    collections: tuple[str, ...] = ()  # the collections searched first, most asked first


@dataclass(frozen=True)
class GapReport:
    """The clusters (largest first) among ``questions`` gap questions of the last ``days``."""

    clusters: tuple[GapCluster, ...]
    questions: int
    days: float
    threshold: float  # the mean cosine similarity at which two clusters merge (average link)
    total_clusters: int = 0  # clusters found, before ``limit`` kept the largest
    unembedded: int = 0  # gap questions logged without an embedding (grouped by wording)


def find_gaps(
    log: QuestionLog,
    guild_id: int | None,
    *,
    days: float = 30,
    collection: str | None = None,
    closest: Callable[[str], ClosestPassage | None] | None = None,
    threshold: float = THRESHOLD,
    limit: int = DEFAULT_LIMIT,
) -> GapReport:
    """The knowledge gaps of ``guild_id`` (None: every server's, for the operator) over the last
    ``days`` days, in one ``collection`` or all: the ``limit`` largest clusters (ties: the most
    recent first), each with ``closest(typical wording)`` when given (called for those only).
    Blocking: call off the event loop."""
    rows = log.gap_rows(guild_id, days=days, collection=collection)
    labels, vectors, vector_of = _labels(rows, threshold)
    sizes = np.bincount(labels) if rows else np.zeros(0, dtype=np.int64)
    last = np.full(sizes.shape[0], -np.inf)
    first_id = np.full(sizes.shape[0], np.iinfo(np.int64).max)
    np.maximum.at(last, labels, np.fromiter((row.at for row in rows), float, len(rows)))
    np.minimum.at(first_id, labels, np.fromiter((row.id for row in rows), np.int64, len(rows)))
    ranked = np.lexsort((first_id, -last, -sizes))[: max(limit, 0)]
    members: dict[int, list[int]] = {int(label): [] for label in ranked}
    for index, label in enumerate(labels.tolist()):
        if label in members:
            members[label].append(index)
    keys = [rows[i].answer_key for group in members.values() for i in group if rows[i].down]
    on_answers = log.votes_on([key for key in keys if key]) if keys else {}
    kept = [
        _summary([rows[i] for i in group], vectors[vector_of[group]], on_answers, closest)
        for group in (members[int(label)] for label in ranked)
    ]
    return GapReport(
        clusters=tuple(kept),
        questions=len(rows),
        days=float(days),
        threshold=float(threshold),
        total_clusters=int(sizes.shape[0]),
        unembedded=sum(1 for row in rows if not row.vector),
    )


def _labels(
    rows: Sequence[GapRow], threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's cluster number (0, 1, … with no gaps: by embedding, else by wording), the
    distinct vectors, and each row's vector among them (-1: none)."""
    distinct: dict[bytes, int] = {}  # the same question asked again is clustered once
    wordings: dict[str, int] = {}
    of_row = np.empty(len(rows), dtype=np.int64)
    embedded = np.zeros(len(rows), dtype=bool)
    for index, row in enumerate(rows):
        if row.vector:
            of_row[index] = distinct.setdefault(row.vector, len(distinct))
            embedded[index] = True
        else:
            of_row[index] = wordings.setdefault(_normal(row.question), len(wordings))
    labels = np.empty(len(rows), dtype=np.int64)
    vectors = np.zeros((1, 1), dtype=np.float32)
    count = 0
    if distinct:
        vectors = _unpack(list(distinct))
        _, dense = np.unique(cluster_labels(vectors, threshold), return_inverse=True)
        labels[embedded] = dense.reshape(-1)[of_row[embedded]]
        count = int(dense.max()) + 1
    labels[~embedded] = of_row[~embedded] + count
    return labels, vectors, np.where(embedded, of_row, -1)


def _unpack(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored int8 vectors as unit float32 rows (as ``unpack_vectors``, with less memory
    traffic: this runs over every gap question)."""
    stored = np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(len(blobs), -1)
    matrix = stored.astype(np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    matrix /= np.where(norms == 0, 1.0, norms)[:, None]
    return matrix


def cluster(matrix: np.ndarray, threshold: float) -> list[list[int]]:
    """Clusters of the unit rows ``matrix`` (see the module's docstring): each cluster's row
    indices, clusters in order of first appearance."""
    members: dict[int, list[int]] = {}
    for index, label in enumerate(cluster_labels(matrix, threshold).tolist()):
        members.setdefault(label, []).append(index)
    return list(members.values())


def cluster_labels(matrix: np.ndarray, threshold: float) -> np.ndarray:
    """Each unit row's cluster label (equal labels: one cluster; labels are not dense)."""
    if matrix.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    micro = _leaders(rows, max(threshold, MICRO_THRESHOLD), threshold)
    grouped = micro >= 0
    if not grouped.any():
        return micro
    groups = int(micro.max()) + 1
    sums = np.zeros((groups, rows.shape[1]), dtype=np.float64)
    chosen = np.flatnonzero(grouped)
    chosen = chosen[np.argsort(micro[chosen], kind="stable")]
    labels = micro[chosen]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    sums[labels[starts]] = np.add.reduceat(rows[chosen], starts, axis=0)
    counts = np.bincount(micro[grouped], minlength=groups).astype(np.float64)
    root = _average_link(sums, counts, threshold)
    return np.where(grouped, root[np.maximum(micro, 0)], micro)


def _leaders(rows: np.ndarray, threshold: float, fallback: float) -> np.ndarray:
    """Each row's micro-cluster (its leader's number): a row joins the most similar earlier
    leader at ``threshold`` or more, else leads a new one; past ``MAX_LEADERS`` leaders it joins
    the most similar at ``fallback`` or more, else stays alone (a negative label)."""
    labels = np.full(rows.shape[0], -1, dtype=np.int64)
    leaders = np.zeros((0, rows.shape[1]), dtype=np.float32)
    for start in range(0, rows.shape[0], _BLOCK):
        block = rows[start : start + _BLOCK]
        best = np.full(block.shape[0], -np.inf, dtype=np.float32)
        chosen = np.full(block.shape[0], -1, dtype=np.int64)
        if leaders.shape[0]:
            similarity = block @ leaders.T
            chosen = np.argmax(similarity, axis=1)
            best = similarity[np.arange(block.shape[0]), chosen]
        open_rows = np.flatnonzero(best < threshold)
        if open_rows.size:
            # Within the block, in order: a row joins the best of this block's new leaders.
            within = block[open_rows] @ block[open_rows].T
            new: list[int] = []  # positions in open_rows of this block's new leaders
            for position, row in enumerate(open_rows.tolist()):
                if new:
                    scores = within[position, new]
                    top = int(np.argmax(scores))
                    if scores[top] > best[row]:
                        best[row] = scores[top]
                        chosen[row] = leaders.shape[0] + top
                    if best[row] >= threshold:
                        continue
                if leaders.shape[0] + len(new) < MAX_LEADERS:
                    chosen[row] = leaders.shape[0] + len(new)
                    new.append(position)
                elif best[row] < fallback:
                    chosen[row] = -2 - start - row  # alone, never a leader
            if new:
                leaders = np.vstack([leaders, block[open_rows[new]]])
        labels[start : start + block.shape[0]] = chosen
    return labels


def _average_link(sums: np.ndarray, counts: np.ndarray, threshold: float) -> np.ndarray:
    """Average-link agglomeration of groups given by their vector ``sums`` and sizes: the two
    groups of highest mean pairwise similarity (their sums' dot product over the product of
    their sizes, exact for dot products) merge while it is at least ``threshold``. Each group's
    final group (the lowest number merged into it)."""
    size = counts.shape[0]
    root = np.arange(size)
    if size < 2:
        return root
    similarity = (sums @ sums.T) / np.outer(counts, counts)
    np.fill_diagonal(similarity, -np.inf)
    best = similarity.max(axis=1)
    partner = similarity.argmax(axis=1)
    while True:
        first = int(np.argmax(best))
        if best[first] < threshold:
            break
        keep, gone = sorted((first, int(partner[first])))
        sums[keep] += sums[gone]
        counts[keep] += counts[gone]
        root[root == gone] = keep
        similarity[gone, :] = -np.inf
        similarity[:, gone] = -np.inf
        best[gone] = -np.inf
        row = (sums @ sums[keep]) / (counts * counts[keep])
        row[best == -np.inf] = -np.inf  # merged away (or alone) groups stay out
        row[keep] = -np.inf
        similarity[keep, :] = row
        similarity[:, keep] = row
        stale = np.flatnonzero((partner == keep) | (partner == gone))
        stale = stale[best[stale] > -np.inf]
        best[stale] = similarity[stale].max(axis=1)
        partner[stale] = similarity[stale].argmax(axis=1)
        better = row > best
        best[better] = row[better]
        partner[better] = keep
        best[keep] = row.max()
        partner[keep] = int(row.argmax())
    return root


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _summary(
    rows: Sequence[GapRow],
    vectors: np.ndarray,
    on_answers: dict[str, tuple[Vote, ...]],
    closest: Callable[[str], ClosestPassage | None] | None,
) -> GapCluster:
    """One cluster as a GapCluster: its typical wording (nearest the centre of its questions'
    ``vectors``, one per row; without embeddings the latest), other wordings (nearest the
    centre first), votes and the closest passage."""
    ranked = list(reversed(rows))
    if rows[0].vector:  # a cluster's rows are all embedded or none is
        similarity = vectors @ vectors.mean(axis=0)
        ranked = [rows[i] for i in np.argsort(-similarity, kind="stable").tolist()]
    typical = ranked[0].question
    seen = {_normal(typical)}
    wordings: list[str] = []
    for row in ranked:
        if len(wordings) == OTHER_WORDINGS:
            break
        key = _normal(row.question)
        if key not in seen:
            seen.add(key)
            wordings.append(row.question)
    reasons: Counter[str] = Counter()
    notes: list[str] = []
    for row in reversed(rows):  # the most recent notes first
        for vote in on_answers.get(row.answer_key or "", ()):
            if vote.vote != DOWN:
                continue
            if vote.reason:
                reasons[vote.reason] += 1
            text = vote.text.strip()
            if text and len(notes) < MAX_NOTES:
                label = REASONS.get(vote.reason, "")
                notes.append(f"{label}: {text}" if label else text)
    return GapCluster(
        size=len(rows),
        typical=typical,
        wordings=tuple(wordings),
        not_found=sum(1 for row in rows if not row.found),
        voted_down=sum(1 for row in rows if row.down),
        reasons=_most_first(reasons),
        notes=tuple(notes),
        first_at=min(row.at for row in rows),
        last_at=max(row.at for row in rows),
        closest=closest(typical) if closest is not None else None,
        collections=tuple(name for name, _ in _most_first(Counter(r.collection for r in rows))),
    )


def _most_first(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    """(name, count) pairs, the largest count first (ties: by name)."""
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
