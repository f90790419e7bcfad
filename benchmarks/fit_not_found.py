"""Fit the "not in the source" rule of index/query/evidence.py on the calibration half only.

    .venv/bin/python benchmarks/fit_not_found.py [--articles N] [--cache /tmp/not-found.pkl]

Pairs (benchmarks/not_found_data.py): answerable = SQuAD v1.1 questions against their own
article; off-topic = the same questions against a random and against the closest other article,
plus the even lines of tests/data/off_topic_questions.jsonl. Only pairs that the dense rule alone
would answer (similarity >= 0.30) are fitted: below it the answer is "not in the source" anyway.
A logistic model of (similarity, known), classes weighted equally, gives the direction; the
bias is then moved so that at most ``--budget`` of the calibration half's answerable SQuAD
questions are flagged (the dense rule's own flags included). Divided by the similarity's
weight, it is evidence.py's ``similarity + KNOWN_WEIGHT * known >= MIN_SCORE``, printed to be
copied there; held-out figures are benchmarks/not_found.py's job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import not_found_data as data

from index.query.evidence import MIN_SIMILARITY, Evidence

NEGATIVE_GROUPS = ("wrong-random", "wrong-close", "off-topic")


def logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray, steps: int = 50) -> np.ndarray:
    """Weighted logistic regression by Newton's method (tiny L2 for stability); [bias, w...]."""
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (weights * (y - p)) - 1e-3 * beta
        hessian = (design * (weights * p * (1 - p))[:, None]).T @ design + 1e-3 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--budget", type=float, default=0.005,
                        help="share of calibration SQuAD questions that may be flagged")
    args = parser.parse_args()
    pairs = [p for p in data.collect(args.cache, args.articles)[0] if p.half == "fit"]
    usable = [p for p in pairs if p.evidence.known is not None
              and p.evidence.similarity >= MIN_SIMILARITY
              and (p.group == "squad" or p.group in NEGATIVE_GROUPS)]
    x = np.array([_features(p.evidence) for p in usable])
    y = np.array([1.0 if p.answerable else 0.0 for p in usable])
    weights = np.where(y == 1, 0.5 / y.sum(), 0.5 / (len(y) - y.sum())) * len(y)
    beta = logistic(x, y, weights)
    squad = [p.evidence for p in pairs if p.group == "squad"]
    margins = np.sort([_margin(e, beta) for e in squad])
    allowed = int(args.budget * len(squad))
    # raise the bias until `allowed` questions fall below zero (the dense floor counts too)
    bias = beta[0] - (margins[allowed] - 1e-6) if allowed < len(margins) else beta[0]
    beta[0] = bias
    known_weight, min_score = beta[2] / beta[1], -beta[0] / beta[1]
    print(f"fitted on {len(usable)} pairs ({int(y.sum())} answerable) of the calibration half")
    print(f"KNOWN_WEIGHT = {known_weight:.4f}\nMIN_SCORE = {min_score:.4f}")
    for group in ("squad", *NEGATIVE_GROUPS, "squad2-impossible"):
        chosen = [p.evidence for p in pairs if p.group == group]
        if chosen:
            flagged = np.mean([_margin(e, beta) < 0 for e in chosen])
            print(f"  {group}: {len(chosen)} pairs, flagged {flagged:.4f}")


def _features(evidence: Evidence) -> tuple[float, float]:
    assert evidence.known is not None
    return (evidence.similarity, evidence.known)


def _margin(evidence: Evidence, beta: np.ndarray) -> float:
    if evidence.similarity < MIN_SIMILARITY:
        return -np.inf
    if evidence.known is None:
        return np.inf
    return float(beta[0] + np.dot(beta[1:], _features(evidence)))


if __name__ == "__main__":
    main()
