"""Markdown (CommonMark, with GitHub's tables and strikethrough), parsed by markdown-it-py.

The text citebot keeps is what a reader of the rendered page sees, so quotes read naturally and a
text fragment (``#:~:text=``) finds them on the published page: emphasis markers, link targets,
images and inline HTML tags are gone (link text and code spans stay), escapes and entities are
resolved, and a paragraph's wrapped lines are joined with spaces, as a browser shows them. Blocks
are separated by blank lines: each paragraph (in a list item or a block quote too) is a block; a
code block is a block of its own, verbatim; a table is one block, a row per line with cells
separated by " | "; an HTML block is its text without tags. ATX and setext headings are spans of
the text that name the section of what follows: its heading path ("Page › Section › Sub"), each
heading closing the open ones of its level or deeper.

YAML front matter (``---`` ... ``---`` at the very start) gives the title and, when it is an
absolute http(s) address, the url; it is not body text. Front matter that is not valid YAML (or
not a mapping) is read as Markdown instead, so nothing is lost.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import lxml.html
import yaml
from lxml import etree
from markdown_it import MarkdownIt
from markdown_it.token import Token

from index.ingest.formats import Block, Extracted, ExtractLimits, UnreadableDocument, decode_text
from index.ingest.formats.layout import HeadingPath

MAX_NESTING = 20
"""Deepest nesting of lists and quotes parsed as such (markdown-it's CommonMark default); what is
nested deeper is kept as its source lines, so a hostile file cannot exhaust the stack."""
_PARSER = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
# Front matter: "---" on the first line, up to a line of "---" or "...". Matched at the start
# only, with one lazy scan, so it is linear in the file's length.
_FRONT_MATTER = re.compile(
    r"---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE
)
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*\n)+")
_SPACES = re.compile(r"[ \t]{2,}")
_LINE_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
# HTML elements that start a new line of text (the rest are inline).
_HTML_BLOCK_TAGS = frozenset(
    "address article aside blockquote body br caption dd details dialog div dl dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr html legend li main nav ol p pre "
    "section summary table tbody td tfoot th thead tr ul".split()
)


def extract(data: bytes, limits: ExtractLimits) -> Extracted:
    """The rendered text of a UTF-8 Markdown file, its blocks, headings, title and url."""
    source = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    title, url, body = _split_front_matter(source)
    try:
        page = _render(_PARSER.parse(body), body)
    except RecursionError:
        raise UnreadableDocument(
            f"nested too deeply to read (lists or quotes over {MAX_NESTING} levels)"
        ) from None
    anchors = tuple(page.anchors) if any(address for _, address in page.anchors) else ()
    return Extracted(
        page.text(), tuple(page.blocks), "markdown", tuple(page.headings), title=title, url=url,
        anchors=anchors,
    )


class _Page:
    """The extracted text as it is written: pieces separated by blank lines, with the spans of
    its blocks and headings."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.headings: list[tuple[int, int]] = []
        self.anchors: list[tuple[int, str]] = []  # each heading: its link ("" when none)

    def text(self) -> str:
        return "".join(self.pieces)

    def add_block(self, piece: str, section: str | None) -> None:
        """A body block (nothing when ``piece`` is only whitespace)."""
        span = self._append(piece)
        if span is not None:
            self.blocks.append(Block(*span, section))

    def add_heading(self, piece: str) -> bool:
        """A heading's text; False when it has none."""
        span = self._append(piece)
        if span is not None:
            self.headings.append(span)
        return span is not None

    def _append(self, piece: str) -> tuple[int, int] | None:
        piece = piece.rstrip()
        lead = len(piece) - len(piece.lstrip())
        if lead == len(piece):
            return None
        if self.pieces:
            self.pieces.append("\n\n")
            self.length += 2
        start = self.length + lead
        self.pieces.append(piece)
        self.length += len(piece)
        return start, self.length


def _render(tokens: list[Token], source: str) -> _Page:
    """Walk markdown-it's block tokens and write the page they render to."""
    page = _Page()
    section: str | None = None
    path = HeadingPath()
    level: int | None = None
    holder = ""  # the open token of the latest inline content: a heading, paragraph or cell
    cells: list[str] = []
    rows: list[str] = []
    source_lines: list[str] | None = None
    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "inline":
            text = _inline_text(token)
            if holder == "heading_open":
                if page.add_heading(text.strip()):
                    section = path.enter(" ".join(text.split()), level)
                    page.anchors.append((page.headings[-1][0], _heading_link(token)))
            elif holder in ("th_open", "td_open"):
                cells.append(" ".join(text.split()))
            else:
                page.add_block(text.strip(), section)
        elif kind in ("heading_open", "paragraph_open", "th_open", "td_open"):
            holder = kind
            if kind == "heading_open":
                level = int(token.tag[1:]) if token.tag[1:].isdigit() else None
        elif kind == "tr_close":
            rows.append(" | ".join(cells))
            cells = []
        elif kind == "table_close":
            page.add_block("\n".join(rows), section)
            rows = []
        elif kind in ("fence", "code_block"):
            blank = _LEADING_BLANK_LINES.match(token.content)
            page.add_block(token.content[blank.end() if blank else 0 :], section)
        elif kind == "html_block":
            page.add_block(_html_text(token.content), section)
        elif _is_cut_off(tokens, index):
            # markdown-it skips what is nested deeper than MAX_NESTING: keep its source lines
            source_lines = source.split("\n") if source_lines is None else source_lines
            first, last = token.map or (0, 0)
            page.add_block("\n".join(source_lines[first:last]).strip(), section)
    return page


def _is_cut_off(tokens: list[Token], index: int) -> bool:
    """Whether ``tokens[index]`` opens a list or quote whose content markdown-it skipped for
    being nested too deeply (it is then empty)."""
    token = tokens[index]
    return (
        token.nesting == 1
        and token.level >= MAX_NESTING - 1
        and token.map is not None
        and index + 1 < len(tokens)
        and tokens[index + 1].nesting == -1
    )


def _heading_link(token: Token) -> str:
    """The address of a heading that is one link to an absolute http(s) address (nothing but
    spaces around it), else ""."""
    children = [c for c in token.children or ()
                if not (c.type == "text" and not c.content.strip())]
    if len(children) < 2 or children[0].type != "link_open" or children[-1].type != "link_close":
        return ""
    if any(c.type in ("link_open", "link_close") for c in children[1:-1]):
        return ""
    href = str(children[0].attrs.get("href") or "")
    parts = urlsplit(href)
    return href if parts.scheme in ("http", "https") and parts.netloc else ""


def _inline_text(token: Token) -> str:
    """What a reader sees of inline Markdown: text and code, without markup, links' targets or
    images; a soft line break is a space, a hard one (or ``<br>``) a line end."""
    parts: list[str] = []
    for child in token.children or ():
        kind = child.type
        if kind == "text":
            piece = _SPACES.sub(" ", child.content)
        elif kind == "code_inline":
            piece = child.content
        elif kind == "softbreak":
            piece = " "
        elif kind == "hardbreak" or (
            kind == "html_inline" and _LINE_BREAK_TAG.fullmatch(child.content)
        ):
            piece = "\n"
        else:
            continue
        if piece.startswith(" ") and parts and parts[-1].endswith((" ", "\n")):
            piece = piece[1:]  # a browser shows one space where dropped markup left two
        parts.append(piece)
    return "".join(parts)


def _html_text(html: str) -> str:
    """The text of an HTML block, as lines (one per block-level element), without tags,
    comments, scripts or styles; the block itself when lxml cannot read it."""
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div", parser=parser)
    except etree.ParserError:  # "Document is empty": only a doctype, say
        return ""
    except ValueError:  # e.g. an XML encoding declaration: keep the text as it is
        return html
    if any(error.level == etree.ErrorLevels.FATAL for error in parser.error_log):
        return html  # libxml2 gave up (over 2,000 nested elements): keep the text as it is
    etree.strip_elements(
        root, etree.Comment, etree.ProcessingInstruction, "script", "style", "template",
        with_tail=False,
    )
    lines: list[str] = []
    line: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if isinstance(element.tag, str) and element.tag.lower() in _HTML_BLOCK_TAGS:
            lines.append(" ".join("".join(line).split()))
            line = []
        if event == "start":
            line.append(element.text or "")
        elif element is not root:
            line.append(element.tail or "")
    lines.append(" ".join("".join(line).split()))
    return "\n".join(text for text in lines if text)


def _split_front_matter(source: str) -> tuple[str | None, str | None, str]:
    """(title, url, the rest) when the text starts with YAML front matter that is a mapping;
    (None, None, source) otherwise."""
    match = _FRONT_MATTER.match(source)
    if match is None:
        return None, None, source
    try:
        fields = yaml.load(match.group(1), Loader=_YAML_LOADER)  # a safe loader
    except Exception:  # any YAML error, or its stack on hostile nesting: not front matter
        return None, None, source
    if not isinstance(fields, dict):
        return None, None, source
    title = fields.get("title")
    title = (" ".join(title.split()) or None) if isinstance(title, str) else None
    return title, _absolute_http_url(fields.get("url")), source[match.end() :]


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _absolute_http_url(value: object) -> str | None:
    """``value`` when it is an absolute http(s) address, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in url:
        return None
    return url
