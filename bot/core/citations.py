"""A citation as people read it, for every front end: ``document › section › p. N › ¶N``, except
that a community thread's document (``discord/<channel>/<title>-<id>.md``, bot.core.threads) is
named by what its section already says — ``#channel › thread title › author`` — not by its file."""

from __future__ import annotations

from bot.core.threads import channel_of
from index.answer import Citation

SEPARATOR = " › "


def citation_label(citation: Citation) -> str:
    """The citation's label; a thread's without its file name."""
    label = citation.label(SEPARATOR)
    prefix = citation.document + SEPARATOR
    if citation.section and channel_of(citation.document) is not None and label.startswith(prefix):
        return label[len(prefix) :]
    return label
