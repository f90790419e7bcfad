"""Links to a quoted passage: the document's address, pointed at the passage.

Web pages (and Markdown published as web pages) get a text fragment, ``#:~:text=start,end``
(URL Fragment Text Directives, https://wicg.github.io/scroll-to-text-fragment/), which makes the
browser scroll to and highlight the passage; a PDF gets ``#page=N`` (RFC 8118), which PDF viewers
open at. A fragment the address already has is replaced.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

FRAGMENT_WORDS = 4
"""Words of the passage used for each end of a text fragment (the whole passage when short)."""
MAX_LINK_CHARS = 2000
"""Longest link produced (browsers and Discord accept longer, but quotes should not hide in
links); past it the text fragment is dropped, and past it again the link."""
_TEXT_FORMATS = ("html", "markdown", "text", "docx")


def passage_link(url: str | None, format: str, passage: str, page: int | None) -> str | None:
    """The address of ``passage`` (text quoted from a document at ``url``), or None."""
    if not url:
        return None
    base = _without_fragment(url)
    if format == "pdf" and page:
        link = f"{base}#page={page}"
    elif format in _TEXT_FORMATS and not url.lower().split("?")[0].endswith(".pdf"):
        link = base + text_fragment(passage)
    else:
        link = base
    if len(link) <= MAX_LINK_CHARS:
        return link
    return base if len(base) <= MAX_LINK_CHARS else None


def anchor_at(anchors: tuple[tuple[int, str], ...], offset: int) -> str | None:
    """The address of the part of a document where text offset ``offset`` lies, given its
    anchors ((offset, address) in order; "" for none), or None: the document's own address."""
    found = None
    for start, address in anchors:
        if start > offset:
            break
        found = address or None
    return found if found and len(found) <= MAX_LINK_CHARS else None


def text_fragment(passage: str) -> str:
    """``#:~:text=start,end`` for a passage (``#:~:text=whole`` when it is a few words); empty
    when the passage has no words."""
    words = passage.split()
    if not words:
        return ""
    if len(words) <= 2 * FRAGMENT_WORDS:
        return "#:~:text=" + _encode(" ".join(words))
    start = " ".join(words[:FRAGMENT_WORDS])
    end = " ".join(words[-FRAGMENT_WORDS:])
    return f"#:~:text={_encode(start)},{_encode(end)}"


def _encode(text: str) -> str:
    """Percent-encode a text directive's term: everything but unreserved characters, and '-'
    as well (the spec reserves '-', ',' and '&' in a term)."""
    return quote(text, safe="").replace("-", "%2D")


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=""))
