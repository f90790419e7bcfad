"""PDF files for tests, drawn with reportlab (and encrypted with pypdf): the bundled article as a
paginated PDF with running header, page-number footer, heading fonts and bookmarks; hand-placed
lines (hyphenation, paragraphs across a page break); a scanned (image-only) page; encrypted,
truncated and random-byte files.

Every builder writes one file at ``path``; the lead's cross-format tests reuse them.
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.enums import TA_JUSTIFY
from reportlab.lib.pagesizes import A5, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Spacer

from index.ingest.formats.plain import is_plain_heading
from tests.paths import ARTICLE

ROOT = Path(__file__).resolve().parents[3]
ARTICLE_TITLE = "North Korea and the Limits of Allied Coordination"
"""The article PDF's document Title and running header (the article text itself has none)."""
LAVROV_PAGE = 2
"""The page of the article PDF that holds the Lavrov paragraph."""
LAVROV_SECTION = "China and Russia are additional complications"

_BODY = ParagraphStyle("body", fontName="Times-Roman", fontSize=10, leading=12.5, spaceAfter=6)
_INDENTED_BODY = ParagraphStyle(
    "indented", parent=_BODY, alignment=TA_JUSTIFY, firstLineIndent=14, spaceAfter=0
)
"""Justified paragraphs told apart only by an indented first line (no space between)."""
_HEADING = ParagraphStyle(
    "heading", fontName="Helvetica-Bold", fontSize=15, leading=18, spaceBefore=8, spaceAfter=6
)


def article_parts() -> list[tuple[str, bool]]:
    """The bundled article as (text, is_heading) pairs, one per blank-line separated block."""
    text = ARTICLE.read_text(encoding="utf-8-sig")
    blocks = [block.strip() for block in text.split("\n\n") if block.strip()]
    return [(block, is_plain_heading(block)) for block in blocks]


class _ArticleTemplate(BaseDocTemplate):
    """A5 pages with a running header (the title) and a "Page N" footer; each heading is also
    an outline entry (bookmark) at its position."""

    def __init__(self, target: io.BytesIO, *, outline: bool, title: str | None) -> None:
        super().__init__(target, pagesize=A5, title=title or "", author="citebot tests")
        self.outline = outline
        self.running_header = title or ARTICLE_TITLE
        margin = 0.7 * inch
        frame = Frame(margin, margin, A5[0] - 2 * margin, A5[1] - 2 * margin, id="body")
        self.addPageTemplates([PageTemplate("page", [frame], onPage=self._decorate)])

    def _decorate(self, canvas: Canvas, document: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica-Oblique", 8)
        canvas.drawCentredString(A5[0] / 2, A5[1] - 0.4 * inch, self.running_header)
        canvas.setFont("Helvetica", 8)
        canvas.drawCentredString(A5[0] / 2, 0.35 * inch, f"Page {canvas.getPageNumber()}")
        canvas.restoreState()

    def afterFlowable(self, flowable: object) -> None:
        if not self.outline or not isinstance(flowable, Paragraph):
            return
        if flowable.style.name != _HEADING.name:
            return
        key = f"heading-{id(flowable)}"
        top = self.frame._y + flowable.height
        self.canv.bookmarkHorizontal(key, 0, top)
        self.canv.addOutlineEntry(flowable.getPlainText(), key, level=0)


def article_pdf_bytes(
    *, outline: bool = True, title: str | None = ARTICLE_TITLE, indented: bool = False
) -> bytes:
    """The bundled article as a 3-page A5 PDF: body in 10 pt Times, headings in 15 pt bold
    (and bookmarks unless ``outline`` is False), the Lavrov paragraph on page 2. With
    ``indented``, paragraphs are justified, with indented first lines and no space between."""
    target = io.BytesIO()
    document = _ArticleTemplate(target, outline=outline, title=title)
    body = _INDENTED_BODY if indented else _BODY
    story: list[object] = []
    for text, heading in article_parts():
        story.append(Paragraph(_escape(text), _HEADING if heading else body))
    document.build(story)
    return target.getvalue()


def write_article_pdf(
    path: Path, *, outline: bool = True, title: str | None = ARTICLE_TITLE, indented: bool = False
) -> None:
    """Write the bundled article as a PDF (see ``article_pdf_bytes``)."""
    path.write_bytes(article_pdf_bytes(outline=outline, title=title, indented=indented))


def write_long_pdf(path: Path, copies: int = 70) -> None:
    """``copies`` times the article, one after another, as one PDF (about 3 pages a copy)."""
    target = io.BytesIO()
    document = _ArticleTemplate(target, outline=True, title="Long report")
    story: list[object] = []
    for copy in range(copies):
        story.append(Paragraph(f"Part {copy + 1}", _HEADING))
        story.extend(
            Paragraph(_escape(text), _HEADING if heading else _BODY)
            for text, heading in article_parts()
        )
        story.append(Spacer(1, 12))
    document.build(story)
    path.write_bytes(target.getvalue())


@dataclass(frozen=True)
class Heading:
    """A line drawn in a larger font (16 pt bold) by ``write_lines_pdf``."""

    text: str


@dataclass(frozen=True)
class Indented:
    """A line of body text drawn a quarter inch in from the margin by ``write_lines_pdf``."""

    text: str


Line = str | Heading | Indented
"""A line of body text (11 pt), or a heading; an empty string leaves a paragraph gap."""


def write_lines_pdf(
    path: Path,
    pages: Sequence[Sequence[Line]],
    *,
    header: str | Sequence[str] | None = None,
    page_numbers: bool = False,
    title: str | None = None,
    indent_paragraphs: bool = False,
    compress: bool = True,
    bookmarks: Sequence[tuple[str, int, int]] = (),
) -> None:
    """Letter pages with exactly the given lines, top to bottom at a 14 pt leading; an empty
    string is a gap of one line between paragraphs (or, with ``indent_paragraphs``, no gap and
    the next line indented). ``header`` runs on top of every page (or one per page, when a
    sequence), ``page_numbers`` puts a bare number at the bottom; ``compress`` False leaves the
    page contents uncompressed. ``bookmarks`` are outline entries (title, page number, index
    of the entry in that page's lines) pointing just above that line (or at the top of the
    page, past its last line)."""
    target = io.BytesIO()
    canvas = Canvas(target, pagesize=letter, invariant=1, pageCompression=int(compress))
    if title:
        canvas.setTitle(title)
    left, top = 72.0, letter[1] - 90.0
    for number, lines in enumerate(pages, start=1):
        running = header if header is None or isinstance(header, str) else header[number - 1]
        if running:
            canvas.setFont("Helvetica", 9)
            canvas.drawString(left, letter[1] - 50, running)
        if page_numbers:
            canvas.setFont("Helvetica", 9)
            canvas.drawCentredString(letter[0] / 2, 40, str(number))
        y, indent, after_heading = top, indent_paragraphs, False
        marks = {index: title for title, page, index in bookmarks if page == number}
        for index, line in enumerate(lines):
            if index in marks:
                _bookmark(canvas, marks.pop(index), left, y + 12)
            if isinstance(line, Heading):  # a space above; none between lines of one heading
                y -= 0 if after_heading else 8
                canvas.setFont("Helvetica-Bold", 16)
                canvas.drawString(left, y, line.text)
                y -= 20
                indent, after_heading = indent_paragraphs, True
                continue
            after_heading = False
            if not line:
                if indent_paragraphs:
                    indent = True
                else:
                    y -= 14
                continue
            if isinstance(line, Indented):
                line, indent = line.text, True
            canvas.setFont("Times-Roman", 11)
            canvas.drawString(left + (18 if indent else 0), y, line)
            indent = False
            y -= 14
        for title in marks.values():
            _bookmark(canvas, title, left, top + 12)
        canvas.showPage()
    canvas.save()
    path.write_bytes(target.getvalue())


def _bookmark(canvas: Canvas, title: str, x: float, y: float) -> None:
    key = f"mark-{title}-{canvas.getPageNumber()}"
    canvas.bookmarkHorizontal(key, x, y)
    canvas.addOutlineEntry(title, key, level=0)


def write_sideways_pdf(path: Path) -> None:
    """Two letter pages: the first upright with a sideways identifier in its left margin (as
    arXiv stamps papers), the second with all its text turned a quarter (a landscape table)."""
    target = io.BytesIO()
    canvas = Canvas(target, pagesize=letter)
    canvas.setFont("Times-Roman", 11)
    canvas.drawString(72, 700, "The upright body text of the first page.")
    canvas.drawString(72, 686, "It goes on for a second line.")
    canvas.saveState()
    canvas.translate(40, 300)
    canvas.rotate(90)
    canvas.setFont("Helvetica", 14)
    canvas.drawString(0, 0, "arXiv:2611.00010v1 [cs.CL] 28 Nov 2026")
    canvas.restoreState()
    canvas.showPage()
    canvas.translate(500, 72)
    canvas.rotate(90)
    canvas.setFont("Times-Roman", 11)
    canvas.drawString(0, 0, "A landscape page turned a quarter.")
    canvas.drawString(0, -14, "Its text is still indexed.")
    canvas.showPage()
    canvas.save()
    path.write_bytes(target.getvalue())


def write_scanned_pdf(path: Path, pages: int = 2) -> None:
    """Pages that hold only an image of text (as a scanner makes them): no text layer."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 200), 255)
    ImageDraw.Draw(image).text((20, 80), "Scanned page: text only as pixels", fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    target = io.BytesIO()
    canvas = Canvas(target, pagesize=letter)
    for _ in range(pages):
        buffer.seek(0)
        from reportlab.lib.utils import ImageReader

        canvas.drawImage(ImageReader(buffer), 72, 400, width=450, height=150)
        canvas.showPage()
    canvas.save()
    path.write_bytes(target.getvalue())


def write_encrypted_pdf(
    path: Path, *, user_password: str = "secret", owner_password: str = "owner",
    algorithm: str = "RC4-128",
) -> None:
    """The article PDF encrypted with pypdf. An empty ``user_password`` makes an owner-password
    only PDF (anyone may open it). RC4 needs no crypto library; AES needs ``cryptography``."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(article_pdf_bytes())))
    writer.encrypt(user_password, owner_password, algorithm=algorithm)
    target = io.BytesIO()
    writer.write(target)
    path.write_bytes(target.getvalue())


def write_aes_marked_pdf(path: Path) -> None:
    """An owner-password-only PDF whose encryption dictionary names AES-128 (its strings and
    streams are in fact RC4-encrypted, as writing AES needs ``cryptography``): what a reader
    without an AES implementation sees of a real AES-encrypted PDF."""
    plain = path.with_suffix(".rc4.tmp")
    write_encrypted_pdf(plain, user_password="")
    data = plain.read_bytes()
    plain.unlink()
    aes = (
        b"/V 4\n/R 4\n/CF << /StdCF << /CFM /AESV2 /AuthEvent /DocOpen /Length 16 >> >>\n"
        b"/StmF /StdCF\n/StrF /StdCF\n"
    )
    assert data.count(b"/V 2\n/R 3\n") == 1
    data = data.replace(b"/V 2\n/R 3\n", aes)  # the dictionary precedes the xref table
    xref = data.rindex(b"\nxref\n") + 1
    data = re.sub(rb"startxref\n\d+\n", b"startxref\n%d\n" % xref, data)
    path.write_bytes(data)


def write_shared_content_pdf(path: Path, pages: int = 200, strokes: int = 1000) -> None:
    """``pages`` pages that all draw one content stream: a line of text and ``strokes`` drawn
    lines (a file small on disk that asks for ``pages * strokes * 3`` operations)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    first = writer.pages[0]
    font = writer._add_object(_standard_font())  # pypdf has no public call for this
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 10 Tf 72 700 Td (A line of text.) Tj ET\n"
                    + b"0 0 m 10 10 l S\n" * strokes)
    first[NameObject("/Contents")] = writer._add_object(stream)
    first[NameObject("/Resources")] = _font_resources(font)
    for _ in range(pages - 1):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Contents")] = first.raw_get("/Contents")
        page[NameObject("/Resources")] = first.raw_get("/Resources")
    target = io.BytesIO()
    writer.write(target)
    path.write_bytes(target.getvalue())


def repeated_page_pdf_bytes(
    pages: int = 2000, padding: int = 20_000_000, text: str = "A hostile page."
) -> bytes:
    """A PDF whose page tree lists one page object ``pages`` times, that page drawing a line
    of ``text`` and then ``padding`` bytes of whitespace, deflated (a 32 KB file by default
    that asks a reader to parse ``pages * padding`` bytes: issue 20, item 2). Written by hand,
    as no PDF library writes a page tree that repeats one page."""
    import zlib

    content = f"BT /F1 10 Tf 72 700 Td ({_escape_pdf(text)}) Tj ET\n".encode() + b" " * padding
    stream = zlib.compress(content, 9)
    kids = b" ".join([b"3 0 R"] * pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _escape_pdf(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _standard_font() -> object:
    from pypdf.generic import DictionaryObject, NameObject

    return DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    })


def _font_resources(font: object) -> object:
    from pypdf.generic import DictionaryObject, NameObject

    return DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): font}),
    })


def write_truncated_pdf(path: Path) -> None:
    """The first half of the article PDF's bytes (a download cut short)."""
    data = article_pdf_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_random_pdf(path: Path, size: int = 4096, seed: int = 10) -> None:
    """Random bytes under a .pdf name."""
    path.write_bytes(random.Random(seed).randbytes(size))


def _escape(text: str) -> str:
    """Text for a reportlab Paragraph (which reads a little markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
