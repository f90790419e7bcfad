"""Find the masked links ``[text](address)`` that Discord would render live in a message.

Discord's markdown (simple-markdown) reads a backslash before any character that is not a letter,
a digit or a space as an escape; its link rule is the pattern below. An escaped bracket cannot
open or close a link, so escaped characters are replaced by a placeholder before matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_ESCAPED = re.compile(r"\\[^0-9A-Za-z\s]")
# simple-markdown's ``link`` rule (the one Discord's client uses), anchored anywhere.
_LINK = re.compile(
    r"\[((?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*)\]"
    r"\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['\"]([\s\S]*?)['\"])?\s*\)"
)


def live_links(markdown: str) -> list[str]:
    """The addresses of the masked links in ``markdown`` that Discord would make clickable."""
    plain = _ESCAPED.sub("\x00", markdown)
    return [m[2] for m in _LINK.finditer(plain) if m[2].lower().startswith(("http:", "https:"))]


def rendered_texts(payload: dict[str, Any]) -> Iterator[str]:
    """Every text of a message payload that Discord renders as markdown: content, and each
    embed's title, description, fields, footer and author."""
    yield payload.get("content") or ""
    for embed in payload.get("embeds") or []:
        yield embed.get("title") or ""
        yield embed.get("description") or ""
        yield (embed.get("footer") or {}).get("text") or ""
        yield (embed.get("author") or {}).get("name") or ""
        for item in embed.get("fields") or []:
            yield item.get("name") or ""
            yield item.get("value") or ""


def payload_links(payload: dict[str, Any]) -> list[str]:
    """The live masked links anywhere in a message payload."""
    return [link for text in rendered_texts(payload) for link in live_links(text)]
