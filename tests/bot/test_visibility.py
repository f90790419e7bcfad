"""Where a private source channel's threads may be quoted (bot.core.visibility): only inside it;
the pages of an answer are the best of what may be quoted here."""

from __future__ import annotations

from bot.core.threads import document_name
from bot.core.visibility import hidden_channels, quotable
from bot.state.threads import ThreadChannel
from index.answer import Answer, Citation, Passage

PRIVATE, PUBLIC, OTHER_SERVER = 11, 12, 13


def source(channel_id: int, guild_id: int, private: bool) -> ThreadChannel:
    return ThreadChannel(channel_id, guild_id, f"guild-{guild_id}", "c", "all", None, 0.0, None,
                         None, private)


def passage(document: str, similarity: float) -> Passage:
    citation = Citation(document, None, 1, 0, 4)
    return Passage(document, "text", citation, similarity, (0, 4), similarity)


SOURCES = [source(PRIVATE, 1, True), source(PUBLIC, 1, False), source(OTHER_SERVER, 2, True)]


def test_a_private_sources_threads_are_hidden_except_inside_it() -> None:
    assert hidden_channels(SOURCES, 1, where=(99,)) == {PRIVATE}
    assert hidden_channels(SOURCES, 1, where=(555, PRIVATE)) == frozenset()  # a thread of it
    assert hidden_channels(SOURCES, 2, where=()) == {OTHER_SERVER}


def test_pages_are_the_best_of_what_may_be_quoted() -> None:
    secret = document_name(PRIVATE, 5, "staff only")
    shown = [passage("a.md", 0.9), passage(secret, 0.8), passage("b.md", 0.7),
             passage(secret, 0.6), passage("c.md", 0.5)]
    answer = Answer("q", tuple(shown))
    first = quotable(answer, frozenset({PRIVATE}), k=2, offset=0)
    assert [p.citation.document for p in first.passages] == ["a.md", "b.md"]
    second = quotable(answer, frozenset({PRIVATE}), k=2, offset=2)
    assert [p.citation.document for p in second.passages] == ["c.md"]
    assert quotable(answer, frozenset(), k=5, offset=0).passages == answer.passages
    only_secret = Answer("q", (passage(secret, 0.8),))
    left = quotable(only_secret, frozenset({PRIVATE}), k=3, offset=0)
    assert left.passages == () and not left.found  # nothing here may be quoted: not found
