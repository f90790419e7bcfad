"""Threads as a source (issue 24), for every front end: a community thread (a question and the
messages that answer it) becomes ONE Markdown document of the server's collection.

The document is ``discord/<channel id>/<title>-<thread id>.md``. Its front matter gives the
thread's title and its address (the thread's jump link, so citations link to Discord); its first
heading is ``#channel › thread title`` and each message is a section of its own headed by its
author's display name linked to the message (a heading that is only a link gives its section that
address: ``index.ingest.formats.markdown``), so a passage cites ``#channel › title › author`` and
links to the very message it quotes. Everything users wrote is
made inert Markdown: names and titles are escaped, and a message's body keeps its inline
formatting but can never open a heading, a front matter, an HTML block or a code block that
swallows the messages after it. Mentions are never in the text: the Discord side gives the
messages' ``clean_content`` (``@name``, never ``<@id>``).

Files are written whole and atomically (a hidden temporary file, then a rename: builds never read
hidden files); the caller runs ONE incremental build per batch through the build queue.
All functions block (files): Discord runs them on threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.ingest.intake import limit_length, safe_file_name

FOLDER = "discord"
"""The folder of a collection's source folder that holds its threads (one folder per channel)."""
MAX_TITLE_CHARS = 60
MAX_MESSAGE_CHARS = 4_000  # Discord's own limit (with Nitro); more is not a message
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")
_BLOCK_START = re.compile(r"^( {0,3})(#|>|<|=+\s*$|-+\s*$|\++\s|\*\s|\d+[.)]\s)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Post:
    """One message of a thread: its id, its author as Discord shows them (display name), its
    text without mentions, and the channel it is in (None: the thread; a text channel's thread
    starts from a message of the channel)."""

    id: int
    author: str
    content: str
    channel_id: int | None = None


@dataclass(frozen=True)
class ThreadText:
    """A thread as it becomes a document: where it is, its title and its messages in order
    (the starter post first)."""

    guild_id: int
    channel_id: int
    channel_name: str
    thread_id: int
    title: str
    posts: tuple[Post, ...]


def jump_link(guild_id: int, channel_id: int, message_id: int | None = None) -> str:
    """Discord's link to a channel or thread (and to one of its messages)."""
    link = f"https://discord.com/channels/{int(guild_id)}/{int(channel_id)}"
    return link if message_id is None else f"{link}/{int(message_id)}"


def channel_folder(channel_id: int) -> str:
    return f"{FOLDER}/{int(channel_id)}"


def document_name(channel_id: int, thread_id: int, title: str) -> str:
    """The thread's document: ``discord/<channel>/<title>-<thread>.md`` (readable in a citation,
    unique by the thread's id)."""
    stem = safe_file_name(title.replace("/", "-"))[:MAX_TITLE_CHARS].strip(" .-") or "thread"
    return f"{channel_folder(channel_id)}/{limit_length(f'{stem}-{int(thread_id)}.md')}"


def channel_of(name: str) -> int | None:
    """The channel whose thread the document ``name`` is (None: not a thread's document)."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == FOLDER and parts[1].isdigit():
        return int(parts[1])
    return None


def escape_inline(text: str) -> str:
    """``text`` (a name or title) as Markdown that shows exactly it, on one line."""
    one_line = " ".join(text.split())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", one_line)


def message_body(content: str) -> str:
    """A message's text as Markdown paragraphs of its own: inline formatting stays; a line that
    would open a heading, quote, list, HTML block or setext underline is escaped; an unclosed
    code fence is closed, so nothing runs into the next message."""
    lines: list[str] = []
    fence: str | None = None
    for line in content[:MAX_MESSAGE_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0] * 3
            lines.append(line)
            continue
        if fence is not None:
            if line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
                fence = None
            lines.append(line)
            continue
        match = _BLOCK_START.match(line)
        if match:
            indent = match.group(1)
            line = indent + "\\" + line[len(indent):]
        lines.append(line)
    if fence is not None:
        lines.append(fence)
    return "\n".join(lines).strip("\n")


def markdown(thread: ThreadText) -> str:
    """The thread's document."""
    link = jump_link(thread.guild_id, thread.thread_id)
    title = " ".join(thread.title.split()) or "thread"
    parts = [
        "---",
        f"title: {json.dumps(title, ensure_ascii=False)}",
        f"url: {json.dumps(link)}",
        "---",
        "",
        f"# {escape_inline('#' + thread.channel_name)} › {escape_inline(title)}",
    ]
    for post in thread.posts:
        body = message_body(post.content)
        if not body.strip():
            continue  # an image or a sticker only: nothing to quote
        author = escape_inline(post.author) or "someone"
        link = jump_link(thread.guild_id, post.channel_id or thread.thread_id, post.id)
        parts += ["", f"## [{author}]({link})", "", body]
    return "\n".join(parts) + "\n"


def has_text(thread: ThreadText) -> bool:
    """Whether any message of the thread has text to index."""
    return any(message_body(post.content).strip() for post in thread.posts)


def write_thread(source_dir: Path, thread: ThreadText) -> tuple[str, bool]:
    """Write the thread's document (replacing an earlier copy); (its name, whether its bytes
    changed)."""
    name = document_name(thread.channel_id, thread.thread_id, thread.title)
    target = source_dir / name
    data = markdown(thread).encode("utf-8")
    with contextlib.suppress(OSError):
        if target.read_bytes() == data:
            return name, False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        staging.write_bytes(data)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return name, True


def remove_thread(source_dir: Path, name: str | None) -> bool:
    """Delete a thread's document; False when it was not there (or is not a thread's)."""
    if not name or channel_of(name) is None:
        return False
    try:
        (source_dir / name).unlink()
    except FileNotFoundError:
        return False
    return True


def remove_channel(source_dir: Path, channel_id: int) -> int:
    """Delete every document of the channel's threads; how many there were."""
    folder = source_dir / channel_folder(channel_id)
    if not folder.is_dir():
        return 0
    count = sum(1 for path in folder.glob("*.md"))
    shutil.rmtree(folder, ignore_errors=True)
    return count


def thread_names(source_dir: Path, channel_ids: Iterable[int]) -> set[str]:
    """The thread documents on disk for the channels (the reconcile compares them with the
    state database)."""
    found: set[str] = set()
    for channel_id in channel_ids:
        folder = source_dir / channel_folder(channel_id)
        if folder.is_dir():
            found.update(f"{channel_folder(channel_id)}/{path.name}"
                         for path in folder.glob("*.md"))
    return found
