"""Web pages: the main content only, from ``trafilatura`` (Apache-2.0).

trafilatura drops navigation, scripts, styles, footers, cookie banners and other boilerplate and
returns the page's main content as a small XML tree (``head``, ``p``, ``list``, ``table``,
``quote``, ``code``). That tree is laid out here as text: every heading and every body block on its
own, separated by blank lines. ``h1``–``h6`` name sections (``Extracted.headings``); paragraphs,
quotes and code are blocks; a list is one block (an item per line, marked ``-`` or ``1.``); a
table row is one block (cells separated by ``|``). When trafilatura finds nothing in a page that
does have visible text, the visible text of ``<body>`` without navigation, header, footer and
asides is used instead, so a page is never lost to the boilerplate filter.

Bytes are decoded as the page says (byte-order mark, ``<meta charset>``, XML declaration), else as
UTF-8, else as Windows-1252 (what browsers assume). ``<title>`` is the title and an absolute
``<link rel="canonical">`` the address.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterable

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from trafilatura.settings import use_config

from index.ingest.addresses import is_web_address
from index.ingest.formats import Extracted, ExtractLimits, UnreadableDocument
from index.ingest.formats.layout import TextLayout

# trafilatura and the libraries it calls log every page they discard or find odd; citebot reports
# unreadable pages itself, so their warnings would only be noise in a build's output.
for _name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

# trafilatura replaces a result under MIN_EXTRACTED_SIZE (250 characters) with a dump of the
# whole page, navigation included; short pages are content too, and a page where it finds
# nothing gets citebot's own fallback instead (below), which leaves navigation out.
_CONFIG = use_config()
_CONFIG.set("DEFAULT", "MIN_EXTRACTED_SIZE", "0")

NO_TEXT = "no readable text in the page (only scripts, styles or navigation)"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16: it starts with the UTF-16 LE mark
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET_SCAN_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]{0,1024}?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]{1,40})""", re.IGNORECASE
)
_XML_DECLARATION = re.compile(r"""^\s*<\?xml[^>]{0,200}\?>""")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding=["']([A-Za-z0-9_.:+-]{1,40})""")
# Browsers read these labels as Windows-1252 (WHATWG Encoding Standard); so does citebot.
_WINDOWS_1252_CODECS = {"iso8859-1", "ascii"}
_NOT_XML_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SIGNATURES = (  # binary formats someone may have saved with an .html name
    (b"%PDF-", "a PDF file, not a web page: name it .pdf to index it"),
    (b"PK\x03\x04", "a zip archive (a Word .docx?), not a web page: give it its own ending"),
    (b"\xd0\xcf\x11\xe0", "a legacy Office file (.doc, .xls), not a web page"),
    (b"\x89PNG", "a PNG image, not a web page"),
    (b"\xff\xd8\xff", "a JPEG image, not a web page"),
    (b"GIF8", "a GIF image, not a web page"),
    (b"\x1f\x8b", "a gzip-compressed file, not a web page: decompress it first"),
)
_WHITESPACE = re.compile(r"\s+")

# The visible-text fallback: what is never content, and what ends a paragraph.
_HIDDEN_TAGS = frozenset({
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "select", "svg", "iframe", "object", "canvas", "head",
})
_HIDDEN_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "dialog"})
_BOILERPLATE_NAME = re.compile(r"cookie|consent|gdpr|newsletter|subscribe", re.IGNORECASE)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK_TAGS = frozenset({
    "address", "article", "blockquote", "body", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})


def extract(data: bytes, limits: ExtractLimits) -> Extracted:
    """The page's main content, its title and its canonical address."""
    tree = _parse(decode_page(data))
    drop_site_chrome(tree)
    layout = TextLayout()
    body = _main_content(tree)
    if body is not None:
        _lay_out_content(body, layout)
    if not layout.blocks:
        layout = TextLayout()
        _lay_out_visible_text(tree, layout)
    if not layout.blocks:
        raise UnreadableDocument(NO_TEXT)
    return layout.extracted("html", title=_title(tree), url=_canonical_address(tree))


def drop_site_chrome(tree: lxml_html.HtmlElement) -> None:
    """Remove what documentation sites (Sphinx, MkDocs Material, Docusaurus, GitHub) add around
    their content: permalink signs on headings, "Edit this page" links, version and
    announcement banners, copy buttons, tab labels and generic admonition titles ("Note"); the
    panels of tabs are all kept (Docusaurus hides all but the first). The text around a removed
    element stays."""
    doomed = []
    for element in tree.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if not tag:
            continue
        classes = set((element.get("class") or "").split())
        if element.get("role") == "tabpanel":
            element.attrib.pop("hidden", None)
        if (
            tag in ("button", "clipboard-copy")
            or classes & _CHROME_CLASSES
            or any(name.startswith(_CHROME_CLASS_PREFIXES) for name in classes)
            or element.get("role") == "tablist"
            or (tag == "a" and (classes & _PERMALINK_CLASSES or _is_chrome_link(element)))
            or (_is_admonition_title(classes) and _is_generic_title(element))
        ):
            doomed.append(element)
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps its tail text


_PERMALINK_CLASSES = frozenset({  # of links only (Docusaurus's headings are class "anchor")
    # Sphinx and MkDocs, Docusaurus, GitHub, VuePress and others
    "headerlink", "hash-link", "anchor", "anchorjs-link", "header-anchor", "heading-anchor",
    "anchor-link", "permalink",
})
_CHROME_CLASSES = frozenset({
    # edit and view-source links
    "edit-this-page", "theme-edit-this-page", "md-content__button", "editthispage",
    "wy-breadcrumbs-aside",
    # version and announcement banners
    "theme-doc-version-banner", "md-banner", "rst-versions", "version-switcher",
    "theme-announcement-bar", "bd-header-announcement", "version-warning",
    # copy buttons and tab labels
    "copybtn", "md-clipboard", "tabbed-labels", "sd-tab-label", "sphinx-tabs-tab",
})
_CHROME_CLASS_PREFIXES = ("copyButton", "announcementBar", "theme-doc-version-badge")
_ADMONITION_TITLE_CLASSES = frozenset({"admonition-title", "markdown-alert-title"})
_GENERIC_TITLES = frozenset({
    "note", "notes", "warning", "tip", "important", "hint", "caution", "danger", "attention",
    "error", "info", "see also", "todo", "example", "abstract", "success", "question",
    "failure", "bug", "quote", "deprecated",
})
_PERMALINK_TEXT = frozenset({"", "¶", "#", "§", "🔗", "link"})
_EDIT_LINK = re.compile(
    r"(edit|view|suggest|improve)\b.{0,20}\b(page|github|gitlab|source|edits?|docs?)", re.IGNORECASE
)


def _is_chrome_link(element: lxml_html.HtmlElement) -> bool:
    """A permalink sign next to a heading, or an "Edit this page" style link."""
    text = _one_line(element.text_content()).replace("\u200b", "").strip()
    href = element.get("href") or ""
    if href.startswith("#") and text in _PERMALINK_TEXT:
        return True
    return len(text) <= 40 and bool(_EDIT_LINK.fullmatch(text))


def _is_admonition_title(classes: set[str]) -> bool:
    """Sphinx's and MkDocs' ``admonition-title``, Docusaurus's ``admonitionHeading_*``."""
    return bool(classes & _ADMONITION_TITLE_CLASSES) or any(
        name.startswith("admonitionHeading") for name in classes
    )


def _is_generic_title(element: lxml_html.HtmlElement) -> bool:
    """An admonition title that only names its kind ("Note", "Warning", "See also")."""
    return _one_line(element.text_content()).rstrip(":").casefold() in _GENERIC_TITLES


def decode_page(data: bytes) -> str:
    """The page as text, decoded as it declares (see the module's notes)."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return data[len(mark) :].decode(encoding, errors="replace")
    for signature, reason in _SIGNATURES:
        if data.startswith(signature):
            raise UnreadableDocument(reason)
    if b"\x00" in data:
        raise UnreadableDocument(
            "binary data (NUL bytes), not a web page: is the file name's ending right?"
        )
    declared = _declared_encoding(data[:_CHARSET_SCAN_BYTES])
    if declared is not None and declared != "utf-8":
        try:
            return data.decode(declared, errors="replace")
        except LookupError:  # a codec that is not a text encoding ("base64", "rot13")
            declared = None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8" if declared else "cp1252", errors="replace")


def _declared_encoding(head: bytes) -> str | None:
    """The Python codec of the page's declared charset, when it names a known one."""
    match = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    if name in _WINDOWS_1252_CODECS:
        return "cp1252"
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # without a byte-order mark such a page is ASCII-compatible (WHATWG)
    return name


def _parse(text: str) -> lxml_html.HtmlElement:
    text = _NOT_XML_CHARACTERS.sub("", _XML_DECLARATION.sub("", text, count=1))
    if not text.strip():
        raise UnreadableDocument("an empty page")
    try:
        # libxml2's default limits silently drop text nested over 256 elements deep or in a text
        # node over 10 MB; the input is bounded by the source size limit, so lift them (a
        # parser per call: lxml parsers must not be shared between threads)
        parser = lxml_html.HTMLParser(huge_tree=True)
        return lxml_html.document_fromstring(text, parser=parser)
    except etree.ParserError:
        raise UnreadableDocument(NO_TEXT) from None


def _main_content(tree: lxml_html.HtmlElement) -> etree._Element | None:
    """trafilatura's tree of the page's main content (it works on a copy), or None."""
    document = trafilatura.bare_extraction(
        tree,
        favor_recall=True,  # keep short paragraphs and the lead: losing text is worse
        # trafilatura's own algorithm only: its readability/jusText comparison turned short
        # pages into the navigation bar; a page where it finds nothing gets the fallback
        fast=True,
        include_comments=False,
        include_tables=True,
        include_formatting=True,  # keeps <code> and line breaks apart from paragraph text
        include_links=False,
        include_images=False,
        deduplicate=False,
        with_metadata=False,
        config=_CONFIG,
    )
    return getattr(document, "body", None)


def _lay_out_content(container: etree._Element, layout: TextLayout) -> None:
    """Lay out trafilatura's tree: block elements in order, loose inline text as blocks."""
    loose: list[str] = [container.text or ""]
    for child in container:
        if child.tag in ("p", "head", "list", "table", "quote", "code", "div"):
            layout.block(_paragraph(loose))
            loose = []
            _lay_out_element(child, layout)
        else:
            loose.append(_inline_text(child))
        loose.append(child.tail or "")
    layout.block(_paragraph(loose))


def _lay_out_element(element: etree._Element, layout: TextLayout) -> None:
    tag = element.tag
    if tag == "head":
        layout.heading(_one_line(_inline_text(element)), _level(element.get("rend")))
    elif tag == "p":
        layout.block(_paragraph([_inline_text(element)]))
    elif tag == "code":
        layout.block(_code(element))
    elif tag == "list":
        layout.block("\n".join(_list_lines(element, depth=0)))
    elif tag == "table":
        for row in element.iterchildren("row"):
            cells = (_one_line(_inline_text(cell)) for cell in row.iterchildren("cell"))
            layout.block(" | ".join(cell for cell in cells if cell))
    else:  # quote, div: their paragraphs, each a block
        _lay_out_content(element, layout)


def _level(tag: str | None) -> int | None:
    """The level of a heading tag ("h2" -> 2), or None when it does not say."""
    if tag and len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
        return int(tag[1])
    return None


def _list_lines(element: etree._Element, depth: int) -> Iterable[str]:
    """One line per item ("- item", "1. item", indented when nested; definition lists
    unmarked)."""
    rend = element.get("rend", "ul")
    for number, item in enumerate(element.iterchildren("item"), start=1):
        marker = "" if rend == "dl" else f"{number}. " if rend == "ol" else "- "
        own = _one_line(" ".join(_inline_text(part) for part in _item_parts(item)))
        if own:
            yield "  " * depth + marker + own
        for nested in item.iterchildren("list"):
            yield from _list_lines(nested, depth + 1)


def _item_parts(item: etree._Element) -> Iterable[etree._Element | str]:
    """An item's own content: its text and inline children, not its nested lists."""
    yield item.text or ""
    for child in item:
        if child.tag != "list":
            yield child
        yield child.tail or ""


def _inline_text(node: etree._Element | str) -> str:
    """The text of an element (line breaks kept as newlines), with its children's."""
    if isinstance(node, str):
        return node
    parts: list[str] = []
    for event, element in etree.iterwalk(node, events=("start", "end")):
        if event == "start":
            if element.tag == "lb":
                parts.append("\n")
            elif element.tag in ("p", "item", "row", "list"):
                parts.append(" ")  # keep words of nested blocks apart
            parts.append(element.text or "")
        elif element is not node:
            parts.append(element.tail or "")
    return "".join(parts)


def _paragraph(parts: list[str]) -> str:
    """Inline text as a paragraph: each line's whitespace collapsed, blank lines dropped."""
    lines = (_one_line(line) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _code(element: etree._Element) -> str:
    """A code block as written (trailing spaces and surrounding blank lines dropped)."""
    # lxml-stubs types itertext() as str | bytes; lxml yields str on Python 3.
    text = "".join(element.itertext())  # type: ignore[arg-type]
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n")


def _lay_out_visible_text(tree: lxml_html.HtmlElement, layout: TextLayout) -> None:
    """The visible text of ``<body>`` without navigation, header, footer and asides."""
    body = tree.find("body")
    if body is None:
        return
    loose: list[str] = []
    walker = etree.iterwalk(body, events=("start", "end"))
    for event, element in walker:
        tag = element.tag if isinstance(element.tag, str) else ""  # not comments
        if event == "end":
            if tag in _BLOCK_TAGS:
                layout.block(_paragraph(loose))
                loose.clear()
            if element is not body:
                loose.append(element.tail or "")
            continue
        if _is_hidden(element, tag) or tag in _HEADING_TAGS:
            walker.skip_subtree()  # its "end" event still comes, and adds its tail
            if tag in _HEADING_TAGS:
                layout.block(_paragraph(loose))
                loose.clear()
                layout.heading(_one_line(element.text_content()), _level(tag))
            continue
        if tag in _BLOCK_TAGS:
            layout.block(_paragraph(loose))
            loose.clear()
        if tag == "br":
            loose.append("\n")
        if tag:
            loose.append(element.text or "")
    layout.block(_paragraph(loose))


def _is_hidden(element: etree._Element, tag: str) -> bool:
    """Never content: scripts, navigation, headers and footers, hidden or cookie notices."""
    if tag in _HIDDEN_TAGS or element.get("hidden") is not None:
        return True
    if element.get("role", "").lower() in _HIDDEN_ROLES:
        return True
    names = f"{element.get('id', '')} {element.get('class', '')}"
    return bool(_BOILERPLATE_NAME.search(names))


def _title(tree: lxml_html.HtmlElement) -> str | None:
    title = tree.find("head/title")
    text = _one_line(title.text_content()) if title is not None else ""
    return text or None


def _canonical_address(tree: lxml_html.HtmlElement) -> str | None:
    """The absolute http(s) ``<link rel="canonical">`` address (relative ones are ignored)."""
    for link in tree.iter("link"):
        relations = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" in relations and is_web_address(href):
            return href
    return None
