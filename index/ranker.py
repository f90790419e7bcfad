"""The learned ranker: a small tree ensemble over the signals the linear fusion computes.

``CITEBOT_RANKER=learned`` re-orders the best ``rerank`` candidates of the linear fusion
(``index/search.py``) by a gradient-boosted model over per-candidate features (``FEATURES``):
dense and BM25 scores, their z-scores and ranks, the best and second-best sentence similarity,
the heading match, the section's best chunk, chunk length, score gaps. The model is trained by
``benchmarks/train_ranker.py`` on fit halves only (documentation questions' fit half, SQuAD
v1.1 dev even-numbered articles) with scikit-learn, and shipped as a JSON file of its trees
(``index/ranker.json``), evaluated here with numpy: no scikit-learn, no pickle at run time.
``linear`` (the default) ranks exactly as before.

A missing or damaged model file is an error (``RankerError``) naming the file and the remedy
(``CITEBOT_RANKER=linear``), raised when the searcher is made, never a silent fallback: a
ranking that changed without saying so would be worse than none.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import CitebotError

RANKERS = ("linear", "learned")
MODEL_FILE = "ranker.json"
MODEL_FORMAT = 1
# What each feature column is (the model file names them; a file whose names differ is refused).
FEATURES = (
    "linear",  # the linear fusion's chunk score
    "linear_rank",  # log(1 + rank) by the linear score
    "linear_gap",  # best linear score minus this one
    "dense_z",  # chunk cosine, z-scored over the candidates
    "lexical_z",  # chunk BM25, z-scored (0 without BM25)
    "dense",  # chunk cosine
    "dense_rank",  # log(1 + rank) by chunk cosine
    "lexical_share",  # chunk BM25 / best chunk BM25 (0 without BM25)
    "lexical_rank",  # log(1 + rank) by chunk BM25
    "best_evidence",  # the best sentence's fused evidence
    "best_sentence_dense",  # cosine of the chunk's closest sentence
    "second_sentence_dense",  # cosine of its second closest (the best again for one sentence)
    "best_sentence_lexical_share",  # the chunk's best sentence BM25 / best of any sentence
    "sentences",  # sentences in the chunk
    "type_match",  # a sentence has what the question asks for (date, number, name)
    "in_section",  # a section of a structured document (HTML, Markdown)
    "heading_match",  # share of the question's terms in the chunk's heading path
    "section_best_dense",  # best chunk cosine among the candidates of the same section
    "question_terms",  # the question's BM25 terms
)


class RankerError(CitebotError):
    """The learned ranker's model file is missing or unreadable; the message says what to do."""


def default_model_path() -> Path:
    """The model file shipped in the package."""
    return Path(str(resources.files("index").joinpath(MODEL_FILE)))


def model_record(path: Path | None = None) -> dict[str, Any] | None:
    """What an index manifest records of the shipped model (file, sha256, features, what it
    was trained on), or None when no model file is shipped."""
    path = path or default_model_path()
    try:
        data = path.read_bytes()
        trained = json.loads(data).get("trained", {})
    except (OSError, ValueError, AttributeError):
        return None
    return {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "features": len(FEATURES),
        "trained_on": trained.get("data"),
    }


@dataclass(frozen=True, slots=True)
class LearnedRanker:
    """A tree ensemble (flattened node arrays of every tree) scoring feature rows."""

    roots: np.ndarray  # int64[trees]
    feature: np.ndarray  # int64[nodes]
    threshold: np.ndarray  # float64[nodes]
    left: np.ndarray  # int64[nodes] (global node numbers)
    right: np.ndarray
    missing_left: np.ndarray  # bool[nodes]
    is_leaf: np.ndarray  # bool[nodes]
    value: np.ndarray  # float64[nodes] (leaf values, learning rate applied)
    base: float
    depth: int
    rerank: int
    sha256: str

    @classmethod
    def load(cls, path: Path | None = None) -> LearnedRanker:
        """The model at ``path`` (the shipped one by default); RankerError when it is missing
        or not a model of these features."""
        path = path or default_model_path()
        remedy = "reinstall citebot, or set CITEBOT_RANKER=linear"
        try:
            data = path.read_bytes()
        except OSError as error:
            reason = error.strerror or error
            raise RankerError(
                f"the learned ranker's model file {path} cannot be read ({reason}): {remedy}"
            ) from None
        try:
            model = json.loads(data)
            if model.get("format") != MODEL_FORMAT:
                raise ValueError(f"format {model.get('format')!r}, expected {MODEL_FORMAT}")
            if tuple(model["features"]) != FEATURES:
                raise ValueError("its features are not this version's")
            trees = model["trees"]
            sizes = [len(tree["feature"]) for tree in trees]
            offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

            def column(name: str, dtype: Any, shift: bool = False) -> np.ndarray:
                parts = [np.asarray(tree[name], dtype=dtype) for tree in trees]
                if shift:
                    parts = [part + offset for part, offset in zip(parts, offsets, strict=True)]
                return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

            ranker = cls(
                roots=offsets,
                feature=column("feature", np.int64),
                threshold=column("threshold", np.float64),
                left=column("left", np.int64, shift=True),
                right=column("right", np.int64, shift=True),
                missing_left=column("missing_left", bool),
                is_leaf=column("is_leaf", bool),
                value=column("value", np.float64),
                base=float(model["base"]),
                depth=int(model["depth"]),
                rerank=int(model["rerank"]),
                sha256=hashlib.sha256(data).hexdigest(),
            )
            inner = ~ranker.is_leaf
            if (
                np.any(ranker.feature[inner] < 0)
                or np.any(ranker.feature[inner] >= len(FEATURES))
                or np.any(ranker.left[inner] >= len(ranker.feature))
                or np.any(ranker.right[inner] >= len(ranker.feature))
                or ranker.rerank < 1
                or ranker.depth < 0
            ):
                raise ValueError("a node points outside the model")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise RankerError(
                f"the learned ranker's model file {path} is damaged or of another version "
                f"({error}): {remedy}"
            ) from None
        return ranker

    def score(self, features: np.ndarray) -> np.ndarray:
        """float64[n]: the model's score of each feature row (higher: more likely the answer)."""
        rows = len(features)
        if rows == 0:
            return np.zeros(0)
        node = np.broadcast_to(self.roots, (rows, len(self.roots))).copy()
        row_index = np.arange(rows)[:, None]
        for _ in range(self.depth + 1):
            leaf = self.is_leaf[node]
            if leaf.all():
                break
            feature = self.feature[node]
            x = features[row_index, np.where(leaf, 0, feature)]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(leaf, node, np.where(go_left, self.left[node], self.right[node]))
        scores: np.ndarray = self.base + self.value[node].sum(axis=1)
        return scores


def features(
    *,
    linear: np.ndarray,
    dense: np.ndarray,
    lexical: np.ndarray | None,
    evidence: np.ndarray,
    sentence_dense: np.ndarray,
    sentence_lexical: np.ndarray | None,
    types: np.ndarray,
    starts: np.ndarray,
    in_section: np.ndarray | None,
    heading_match: np.ndarray | None,
    section_ids: np.ndarray | None,
    question_terms: int,
) -> np.ndarray:
    """float64[n, len(FEATURES)]: each candidate chunk's features, in ``FEATURES`` order.

    Chunk arrays are float[n] in candidate order; sentence arrays float[m], grouped per chunk
    (``starts``: where each chunk's sentences begin); ``evidence``: each sentence's fused
    evidence; ``types``: whether each sentence has the expected answer type."""
    n = len(linear)
    counts = np.diff(np.append(starts, len(sentence_dense)))
    best_sentence = np.maximum.reduceat(sentence_dense, starts)
    # the second best: the best once the first best of each chunk is masked
    group = np.repeat(np.arange(n), counts)
    is_best = sentence_dense == best_sentence[group]
    first_best = np.zeros(len(sentence_dense), dtype=bool)
    first_best[np.flatnonzero(is_best)[np.unique(group[is_best], return_index=True)[1]]] = True
    masked = np.where(first_best, -np.inf, sentence_dense)
    second = np.maximum.reduceat(masked, starts)
    second = np.where(counts > 1, second, best_sentence)
    lexical_z = _z(lexical) if lexical is not None else np.zeros(n)
    lexical_top = float(lexical.max()) if lexical is not None and n else 0.0
    lexical_share = (
        lexical / lexical_top if lexical is not None and lexical_top > 0 else np.zeros(n)
    )
    if sentence_lexical is not None and len(sentence_lexical):
        sentence_top = float(sentence_lexical.max())
        best_lexical = np.maximum.reduceat(sentence_lexical, starts)
        best_lexical = best_lexical / sentence_top if sentence_top > 0 else np.zeros(n)
    else:
        best_lexical = np.zeros(n)
    sectioned = in_section.astype(np.float64) if in_section is not None else np.zeros(n)
    heading = heading_match * sectioned if heading_match is not None else np.zeros(n)
    section_best = dense.astype(np.float64)
    if section_ids is not None and in_section is not None and in_section.any():
        keys = np.where(in_section & (section_ids >= 0), section_ids, -1 - np.arange(n))
        _, inverse = np.unique(keys, return_inverse=True)
        best_of = np.full(inverse.max() + 1, -np.inf)
        np.maximum.at(best_of, inverse, dense)
        section_best = best_of[inverse]
    columns = (
        linear,
        _log_rank(linear),
        linear.max() - linear,
        _z(dense),
        lexical_z,
        dense,
        _log_rank(dense),
        lexical_share,
        _log_rank(lexical) if lexical is not None else np.zeros(n),
        np.maximum.reduceat(evidence, starts),
        best_sentence,
        second,
        best_lexical,
        counts,
        np.maximum.reduceat(types, starts),
        sectioned,
        heading,
        section_best,
        np.full(n, float(question_terms)),
    )
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


def rerank(linear: np.ndarray, scores: np.ndarray, top: np.ndarray) -> np.ndarray:
    """The final chunk scores: the candidates ``top`` (the best by ``linear``) ordered by the
    model's ``scores``, every other candidate below them in its linear order (its linear score
    shifted under the lowest model score)."""
    final = linear.astype(np.float64).copy()
    if len(top) == 0:
        return final
    rest = np.ones(len(linear), dtype=bool)
    rest[top] = False
    floor = float(scores.min())
    if rest.any():
        final[rest] = floor - 1.0 - (float(linear[top].min()) - final[rest])
    final[top] = scores
    return final


def _log_rank(values: np.ndarray) -> np.ndarray:
    """log(1 + rank) of each value, the largest ranked 0 (ties in order)."""
    order = np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")
    rank = np.empty(len(values), dtype=np.float64)
    rank[order] = np.arange(len(values))
    return np.log1p(rank)


def _z(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    scaled: np.ndarray = (values - values.mean()) / (values.std() + 1e-6)
    return scaled
