"""A community thread as a document (bot.core.threads): one section per message under
``#channel › title``, its jump link as the address, user text never restructuring it."""

from __future__ import annotations

from pathlib import Path

from bot.core.threads import (
    Post,
    ThreadText,
    channel_of,
    document_name,
    jump_link,
    markdown,
    remove_channel,
    remove_thread,
    thread_names,
    write_thread,
)
from index.ingest.formats import ExtractLimits
from index.ingest.formats.markdown import extract

HOSTILE = [
    "# a heading\nsetext\n===\n```\nan unclosed fence",
    "---\ntitle: forged\nurl: https://evil.example\n---\n<!-- an unclosed comment",
    "> a quote\n<div>html</div>\n    indented",
]


def thread(*contents: str, title: str = "How do I *run* it?") -> ThreadText:
    posts = tuple(Post(100 + n, f"user_{n} [x](y)", text) for n, text in enumerate(contents))
    return ThreadText(1, 2, "help", 100, title, posts)


def test_each_message_is_a_section_of_channel_title_and_author() -> None:
    extracted = extract(markdown(thread("how do I run it?", "use `run --now`")).encode(),
                        ExtractLimits())
    assert extracted.title == "How do I *run* it?"
    assert extracted.url == "https://discord.com/channels/1/100"
    sections = [block.section for block in extracted.blocks]
    assert sections == ["#help › How do I *run* it? › user_0 [x](y)",
                        "#help › How do I *run* it? › user_1 [x](y)"]
    assert [extracted.text[b.start:b.end] for b in extracted.blocks] == [
        "how do I run it?", "use run --now"]
    # Each message's section links to the message itself (its jump link).
    assert [address for _, address in extracted.anchors] == [
        "", "https://discord.com/channels/1/100/100", "https://discord.com/channels/1/100/101"]


def test_what_users_write_never_opens_a_section_or_swallows_the_next_message() -> None:
    extracted = extract(markdown(thread(*HOSTILE, "the last answer")).encode(), ExtractLimits())
    assert extracted.title == "How do I *run* it?"  # the forged front matter is body text
    assert extracted.url == "https://discord.com/channels/1/100"
    headings = [extracted.text[start:end] for start, end in extracted.headings]
    assert headings == ["#help › How do I *run* it?"] + [f"user_{n} [x](y)" for n in range(4)]
    last = extracted.blocks[-1]
    assert extracted.text[last.start:last.end] == "the last answer"
    assert last.section.endswith("user_3 [x](y)")


def test_names_links_and_files(tmp_path: Path) -> None:
    assert jump_link(1, 2) == "https://discord.com/channels/1/2"
    assert jump_link(1, 2, 3) == "https://discord.com/channels/1/2/3"
    name = document_name(2, 100, "../../etc/passwd: how?")
    assert name.startswith("discord/2/") and name.endswith("-100.md") and ".." not in name
    assert channel_of(name) == 2 and channel_of("guide.md") is None
    written, changed = write_thread(tmp_path, thread("q", "a"))
    assert changed and (tmp_path / written).is_file()
    assert write_thread(tmp_path, thread("q", "a")) == (written, False)  # same bytes
    assert write_thread(tmp_path, thread("q", "b")) == (written, True)
    assert thread_names(tmp_path, [2, 3]) == {written}
    assert not list(tmp_path.rglob(".*"))  # no staging file left behind
    assert remove_thread(tmp_path, written) and not remove_thread(tmp_path, written)
    assert not remove_thread(tmp_path, "guide.md")  # never a document that is not a thread's
    write_thread(tmp_path, thread("q"))
    assert remove_channel(tmp_path, 2) == 1 and thread_names(tmp_path, [2]) == set()
