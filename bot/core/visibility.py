"""Where a community thread may be quoted. A source channel that ``@everyone`` can view is quoted
anywhere in its server; one a manager accepted as private (``/docs add channel:… private:True``)
only in that channel and its threads, so no answer shows a private channel's posts to people who
cannot read it. One rule for every front end; passages of other documents are never affected."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace

from bot.core.threads import channel_of
from bot.state.threads import ThreadChannel
from index.answer import Answer, mark_weak

OVERFETCH = 15
"""Passages searched beyond those shown when some must be left out (the shown ones are then
the best of what may be quoted here)."""


def hidden_channels(
    sources: Iterable[ThreadChannel], guild_id: int, where: Collection[int]
) -> frozenset[int]:
    """The private source channels of ``guild_id`` whose threads may not be quoted in the
    channels ``where`` (the asking channel, and a thread's parent)."""
    return frozenset(
        source.channel_id
        for source in sources
        if source.guild_id == guild_id and source.private and source.channel_id not in where
    )


def quotable(answer: Answer, hidden: frozenset[int], k: int, offset: int) -> Answer:
    """``answer`` (searched from rank 1, beyond ``offset + k``) without the passages of threads
    of ``hidden`` channels: ranks ``offset + 1`` to ``offset + k`` of what is left."""
    kept = [p for p in answer.passages if channel_of(p.citation.document) not in hidden]
    page = tuple(kept[offset : offset + k])
    if not page:
        return replace(answer, passages=(), found=False if not kept else answer.found)
    best_before = max((p.similarity for p in kept[:offset]), default=None)
    return replace(answer, passages=mark_weak(page, best_before))
