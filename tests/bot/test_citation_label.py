"""A community thread's passages are cited by channel, title and author, not by their file; every
other document keeps its name first (bot.core.citations), in the terminal and on Discord."""

from __future__ import annotations

from bot.cli.render import answer_to_plain
from bot.core.citations import citation_label
from bot.core.threads import document_name
from bot.discord.utils.render import render_answer
from index.answer import Answer, Citation, Passage

THREAD = document_name(123, 456, "Modem will not connect")
SECTION = "#help › Modem will not connect › Bob"


def passage(document: str, section: str | None) -> Passage:
    text = "Hold the pinhole button for eleven seconds."
    url = "https://discord.com/channels/1/456/789"
    citation = Citation(document, section, 1, 0, len(text), url=url)
    return Passage("id", text, citation, 1.0, (0, len(text)), 0.7)


def test_a_threads_passage_is_cited_by_channel_title_and_author() -> None:
    assert THREAD.startswith("discord/123/")
    assert citation_label(passage(THREAD, SECTION).citation) == f"{SECTION} › ¶1"
    # any other document keeps its name; a thread document without its section too
    assert citation_label(passage("guide.md", "Setup").citation) == "guide.md › Setup › ¶1"
    assert citation_label(passage(THREAD, None).citation) == f"{THREAD} › ¶1"
    assert citation_label(passage("discord/notes.md", SECTION).citation).startswith("discord/")


def test_discord_and_the_terminal_show_the_short_label() -> None:
    answer = Answer("How do I reset it?", (passage(THREAD, SECTION),))
    title = render_answer(answer).embeds[0].title or ""
    assert "Modem will not connect" in title and "discord/" not in title and ".md" not in title
    shown = answer_to_plain(answer)
    assert "Modem will not connect › Bob › ¶1" in shown and ".md" not in shown
