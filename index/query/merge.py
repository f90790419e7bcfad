"""One answer from several indexes (collections) searched for the same question.

Each index ranks its own passages with its fused hybrid score, but those scores are standard
scores within one index and mean nothing across indexes. The similarity of a passage's best
sentence (cosine, about 0 to 1) does compare across indexes, so the merge keeps every index's
own order and, at each step, takes the next passage of the index whose next passage is most
similar to the question, preferring indexes that found an answer at all. A passage whose text
is already shown (the same document in two collections) is shown once. A passage is weak
(``Passage.weak``) against the best passage ranked above it, whichever collection holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from index.answer import Answer, Passage, mark_weak


def merge_answers(
    question: str, answers: Sequence[tuple[str, Answer]], k: int, offset: int = 0
) -> Answer:
    """Passages ``offset`` to ``offset + k`` of the merged ranking of ``answers`` (pairs of a
    collection name and that collection's answer, each holding at least ``offset + k``
    passages when it has them), each passage labelled with its collection.

    ``found`` when any collection found an answer; notices are kept once each, in order; the
    context is the earlier question any collection read the question together with.
    """
    queues = [
        [replace(passage, collection=name) for passage in answer.passages]
        for name, answer in answers
    ]
    found_in = [answer.found for _, answer in answers]
    heads = [0] * len(queues)
    merged: list[Passage] = []
    seen: set[str] = set()
    while len(merged) < offset + k:
        best = _best_head(queues, heads, found_in)
        if best is None:
            break
        passage = queues[best][heads[best]]
        heads[best] += 1
        if passage.text in seen:
            continue
        seen.add(passage.text)
        merged.append(passage)
    notices = tuple(dict.fromkeys(n for _, answer in answers for n in answer.notices))
    context = next((answer.context for _, answer in answers if answer.context), None)
    ranked = mark_weak(merged)  # across collections, earlier pages included
    return Answer(question, ranked[offset:], any(found_in), notices, context=context)


def _best_head(
    queues: list[list[Passage]], heads: list[int], found_in: list[bool]
) -> int | None:
    best: int | None = None
    best_key: tuple[bool, float] | None = None
    for position, queue in enumerate(queues):
        if heads[position] >= len(queue):
            continue
        key = (found_in[position], queue[heads[position]].similarity)
        if best_key is None or key > best_key:  # ties: the earlier collection
            best, best_key = position, key
    return best
