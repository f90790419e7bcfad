"""Word documents (.docx): paragraphs and heading styles, from ``python-docx`` (MIT).

The zip is inspected before python-docx opens it: a file whose parts expand past the size limit,
with a part compressed beyond any real document's ratio, or with too many parts is refused
unexpanded (zip bombs). The body is then read in order: paragraphs, the paragraphs of table
cells (a row of one-line cells is one block, ``cell | cell``), and content controls. Text in
tracked insertions is kept and tracked deletions are left out, as Word shows the document.
Paragraphs styled "Title" or "Heading 1"…"Heading 9" (or styles based on them) are headings; the
first "Title" paragraph, else the document's core properties, gives the title. Headers, footers,
footnotes, comments and text boxes are not read.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from lxml import etree

from index.ingest.formats import Extracted, ExtractLimits, UnreadableDocument
from index.ingest.formats.layout import TextLayout

if TYPE_CHECKING:
    from docx.oxml.text.paragraph import CT_P
    from docx.oxml.text.run import CT_R

MAX_PARTS = 10_000
"""More zip members than any Word document has (each image, style sheet… is one)."""
MAX_COMPRESSION_RATIO = 200
SUSPICIOUS_PART_BYTES = 10 * 1000 * 1000
"""A part this large that is compressed more than ``MAX_COMPRESSION_RATIO``:1 is a zip bomb."""
MAX_STYLE_DEPTH = 10
_HEADING_STYLE = re.compile(r"(?:heading [1-9]|title)", re.IGNORECASE)
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WHITESPACE = re.compile(r"[^\S\n]+")
_NO_DOCUMENT = "not a Word .docx file (a zip archive without a Word document in it)"

_P, _R, _TBL, _TR, _TC = qn("w:p"), qn("w:r"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_V_MERGE = qn("w:vMerge")
# Wrappers whose content Word shows (content controls, tracked insertions, custom XML, fields,
# smart tags, bidirectional runs); what is inside them is read as if they were not there.
_TRANSPARENT = frozenset(qn(tag) for tag in (
    "w:sdt", "w:sdtContent", "w:ins", "w:moveTo", "w:customXml", "w:smartTag", "w:hyperlink",
    "w:fldSimple", "w:dir", "w:bdo",
))


def extract(data: bytes, limits: ExtractLimits) -> Extracted:
    """The document's paragraphs in order, under its headings."""
    check_package(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        layout = _Layout(_HeadingStyles(document))
        layout.read(document.element.body)
        core_title = document.core_properties.title
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise UnreadableDocument("not a Word .docx file (the zip archive is damaged)") from None
    except PackageNotFoundError:
        raise UnreadableDocument(_NO_DOCUMENT) from None
    except KeyError as error:  # zipfile: "There is no item named '…' in the archive"
        if "[Content_Types].xml" in str(error):
            raise UnreadableDocument(_NO_DOCUMENT) from None
        raise UnreadableDocument(
            "not a Word .docx file (a part it refers to is missing: the file is damaged)"
        ) from None
    except ValueError as error:  # python-docx: "... is not a Word file, content type is ..."
        if "content type" in str(error):
            raise UnreadableDocument(
                "not a Word .docx file (another kind of Office file: a spreadsheet or a "
                "presentation?)"
            ) from None
        raise
    except etree.XMLSyntaxError:
        raise UnreadableDocument("not a Word .docx file (its XML is damaged)") from None
    if not layout.blocks:
        raise UnreadableDocument("no text in the document (empty, or only headings or images)")
    title = layout.title or (core_title or "").strip() or None
    return layout.extracted("docx", title=title)


def check_package(data: bytes, limits: ExtractLimits) -> None:
    """Refuse a file that is not a zip, or whose parts would expand too far, unexpanded."""
    if data.startswith(_OLE_SIGNATURE):
        raise UnreadableDocument(
            "not a Word .docx file (a legacy .doc or a password-protected document): save it "
            "from Word as .docx without a password"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise UnreadableDocument(
            "not a Word .docx file (not a zip archive, or a damaged or incomplete one)"
        ) from None
    if len(members) > MAX_PARTS:
        raise UnreadableDocument(
            f"not a Word .docx file ({len(members)} parts in its zip archive, over "
            f"{MAX_PARTS}): a zip bomb?"
        )
    expanded = sum(member.file_size for member in members)
    if expanded > limits.max_bytes:
        raise UnreadableDocument(
            f"its content expands to {expanded / 1e6:.1f} MB, over the "
            f"{limits.max_bytes / 1e6:g} MB limit for one source file (CITEBOT_MAX_SOURCE_MB)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > SUSPICIOUS_PART_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise UnreadableDocument(
                f"its part {member.filename!r} expands {ratio:.0f} times "
                f"({member.file_size / 1e6:.1f} MB), more than any real document: a zip bomb?"
            )


class _HeadingStyles:
    """Whether a paragraph style is a heading (by name, or based on one); cached per style."""

    def __init__(self, document: docx.document.Document) -> None:
        self._styles = document.styles
        self._known: dict[str | None, str | None] = {None: None}

    def kind(self, paragraph: etree._Element) -> str | None:
        """"title", "heading" or None for a ``w:p`` element."""
        style_id = cast("CT_P", paragraph).style  # the w:pStyle value, or None
        if style_id not in self._known:
            self._known[style_id] = self._kind_of(style_id)
        return self._known[style_id]

    def _kind_of(self, style_id: str | None) -> str | None:
        try:
            style = self._styles.get_by_id(style_id, WD_STYLE_TYPE.PARAGRAPH)
        except (KeyError, ValueError):
            return None
        for _ in range(MAX_STYLE_DEPTH):
            if style is None:
                return None
            name = (style.name or "").strip()
            if _HEADING_STYLE.fullmatch(name):
                return "title" if name.lower() == "title" else "heading"
            style = style.base_style
        return None


class _Layout(TextLayout):
    """The extracted text: headings (by paragraph style) and blocks, in body order."""

    def __init__(self, styles: _HeadingStyles) -> None:
        super().__init__()
        self.styles = styles
        self.title: str | None = None

    def read(self, container: etree._Element) -> None:
        """Paragraphs and tables of a body, cell or content control, in order."""
        for element in _block_elements(container):
            if element.tag == _P:
                self._paragraph(element)
            else:
                self._table(element)

    def _paragraph(self, paragraph: etree._Element) -> None:
        text = _paragraph_text(paragraph)
        kind = self.styles.kind(paragraph)
        if kind is None:
            self.block(text)
            return
        name = self.heading(text)
        if name is not None and kind == "title" and self.title is None:
            self.title = name

    def _table(self, table: etree._Element) -> None:
        for row in _children(table, _TR):
            cells = [cell for cell in _children(row, _TC) if not _continues_merge(cell)]
            simple = self._simple_row(cells)
            if simple is not None:
                self.block(" | ".join(text for text in simple if text))
                continue
            for cell in cells:
                self.read(cell)

    def _simple_row(self, cells: list[etree._Element]) -> list[str] | None:
        """Each cell's text when every cell is at most one line of plain paragraph text (so the
        row reads as one line), else None."""
        texts = []
        for cell in cells:
            written: list[str] = []
            for element in _block_elements(cell):
                if element.tag != _P or self.styles.kind(element):
                    return None  # a nested table or a heading
                text = _paragraph_text(element)
                if text:
                    written.append(text)
            if len(written) > 1 or (written and "\n" in written[0]):
                return None
            texts.append(written[0] if written else "")
        return texts


def _block_elements(container: etree._Element) -> Iterator[etree._Element]:
    """``w:p`` and ``w:tbl`` children in order, through content controls and insertions."""
    for child in container:
        if child.tag in (_P, _TBL):
            yield child
        elif child.tag in _TRANSPARENT:
            yield from _block_elements(child)


def _children(element: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Children of a tag, also inside content controls (a row or cell may be wrapped)."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag in _TRANSPARENT:
            yield from _children(child, tag)


def _continues_merge(cell: etree._Element) -> bool:
    """A cell merged into the one above it (its text, if any, is shown in that one)."""
    merge = cell.find(f"{qn('w:tcPr')}/{_V_MERGE}")
    return merge is not None and merge.get(qn("w:val"), "continue") == "continue"


def _paragraph_text(paragraph: etree._Element) -> str:
    """A paragraph's visible text: each line's runs of spaces and tabs made one space."""
    parts: list[str] = []
    _collect_runs(paragraph, parts)
    lines = (_WHITESPACE.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _collect_runs(element: etree._Element, parts: list[str]) -> None:
    for child in element:
        if child.tag == _R:
            parts.append(cast("CT_R", child).text)  # text, tabs and line breaks
        elif child.tag in _TRANSPARENT:
            _collect_runs(child, parts)
