"""PDF: the text layer of every page (read with pypdf), as paragraphs with exact page offsets.

PDF text has no blank lines, so paragraphs come from the layout pypdf reports for every line
(its position and font size): a vertical gap clearly larger than the line spacing, a change of
font size, or an indented first line starts a paragraph. A paragraph that does not end a
sentence at the bottom of a page (or a column) continues at the top of the next one, so a
passage can span a page break. Lines of a paragraph are joined with a space; a line ending in a
hyphen before a lowercase word is joined without it ("coordi-" + "nation" → "coordination").

Running headers and footers (the same text, digits aside, at the top or bottom of many pages)
and bare page numbers are dropped. Sections come from the outline (bookmarks) when the PDF has
one, otherwise from lines in a clearly larger font than the body; heading lines are heading
spans, not body blocks. The extracted text is the paragraphs separated by blank lines; ``pages``
says where each page starts in it.

Scanned (image-only), password-protected and damaged files raise UnreadableDocument with the
reason; pypdf's own warnings about damaged files are silenced, and its work is bounded: by the
file limit for anything decompressed, by budgets of content-stream operations and of decoded
content bytes (pages that repeat one page count it each time), and by the deadline for one
document, checked before each page and each drawing operation (the longest step between two
checks is the parse of one page's content, which the byte budget bounds).
"""

from __future__ import annotations

import io
import logging
import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pypdf import PasswordType, PdfReader, apply_configuration
from pypdf.errors import (
    DependencyError,
    FileNotDecryptedError,
    LimitReachedError,
    PdfStreamError,
)
from pypdf.generic import ArrayObject, Destination, StreamObject

from index.ingest.formats import Block, Deadline, Extracted, ExtractLimits, UnreadableDocument

HEADING_SIZE_RATIO = 1.15
"""A line this much larger than the body text (or more) is a heading."""
MAX_HEADING_CHARS = 200
RUNNING_ZONE_LINES = 2
"""How many lines at the top and at the bottom of a page may be running headers or footers."""
MIN_RUNNING_SHARE = 0.4
"""A running header or footer repeats on at least this share of the pages (and on two)."""
PARAGRAPH_GAP_RATIO = 1.3
"""A vertical gap this many times the line spacing (or more) separates paragraphs."""
MAX_LEADING_RATIO = 1.5
"""The line spacing is taken as at most this many times the font size (so that a document of
one-line paragraphs still has its gaps seen as paragraph breaks)."""
OPERATIONS_PER_FILE_BYTE = 0.25
"""Budget of content-stream operations per byte of the file, on top of ``MIN_OPERATIONS``:
it bounds the work on a hostile file whose pages all draw one huge content stream (real
PDFs measured here need 0.02 to 0.08 operations per byte)."""
MIN_OPERATIONS = 1_000_000
CONTENT_BYTES_PER_FILE_BYTE = 20
"""Budget of decoded page content (summed over pages, a page drawn twice counted twice) per
byte of the file, on top of ``MIN_CONTENT_BYTES``: it bounds a file that inflates one content
stream of whitespace and lists its page thousands of times (real PDFs measured here decode to
0.6 to 1.4 bytes of content per byte of file)."""
MIN_CONTENT_BYTES = 10_000_000
PYPDF_STREAM_LIMIT = 75_000_000
"""pypdf's default bound on what one stream decompresses to; the file limit, when lower,
bounds it instead."""

_PDF_HEADER_WINDOW = 1024
_CLOSERS = "\"'”’)]»"
_SENTENCE_ENDS = ".!?:…"
_ROMAN = r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_PAGE_NUMBER = re.compile(  # "12", "- 12 -", "Page 12", "page 3 of 40", "xiv"
    rf"(?:(?:page|p\.|seite|página|pagina)\s*)?[-–—]?\s*(?:\d{{1,5}}|(?=[ivxlcdm]){_ROMAN})\s*[-–—]?"
    r"(?:\s*(?:of|/|de|von)\s*\d{1,5})?",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_EDGE_NUMBER = re.compile(r"^(\d{1,5})\b|\b(\d{1,5})$")
_BULLETS = tuple("•◦▪▫‣⁃●○■□►▸➢✓")
_CLEAN = str.maketrans({  # control characters to spaces, ligatures to their letters
    **{chr(code): " " for code in range(0x20)},
    "\x7f": "•",  # WinAnsiEncoding maps its unused codes to the bullet; pypdf gives 0x7F as is
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st",
})


@dataclass(slots=True)
class _Line:
    """A line of a page as pypdf reports it: text, where it starts, its dominant font size."""

    text: str
    x: float
    y: float
    size: float
    heading: bool = False
    opens_section: str | None = None  # the section that starts at this line (from the outline)


@dataclass(slots=True)
class _Unit:
    """A paragraph or a heading in the making: its lines as (page index, text)."""

    heading: bool
    section: str | None
    lines: list[tuple[int, str]] = field(default_factory=list)
    last: _Line | None = None


def extract(data: bytes, limits: ExtractLimits) -> Extracted:
    """The text layer of a PDF, as paragraphs with their pages and sections."""
    deadline = limits.deadline()
    with _quiet_pypdf(limits):
        try:
            reader = _open(data, limits)
            pages = _read_pages(reader, len(data), limits, deadline)
            outline = _outline(reader)
            title = _title(reader)
        except UnreadableDocument:
            raise
        except DependencyError:
            raise UnreadableDocument(_AES_REASON) from None
        except Exception as error:
            raise UnreadableDocument(_damaged(error, limits)) from None
    if not pages:
        raise UnreadableDocument(
            "damaged PDF (no pages could be found); re-download it or export it again"
        )
    if not any(pages):
        raise UnreadableDocument("no text layer (scanned PDF?): OCR is not supported")
    _drop_running_lines(pages)
    _mark_headings(pages, outline)
    return _assemble(pages, title, use_font_headings=not outline)


_AES_REASON = (
    "encrypted PDF (AES) and the 'cryptography' package that decrypts it is not installed: "
    "install it (pip install cryptography) or save an unencrypted copy"
)


@contextmanager
def _quiet_pypdf(limits: ExtractLimits) -> Iterator[None]:
    """pypdf's warnings about damaged files off (the reason is reported once, by us), and its
    decompression limits no larger than the file limit."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    cap = _decompression_cap(limits)
    try:
        with warnings.catch_warnings(), apply_configuration(
            zlib_maximum_output_length=cap,
            lzw_maximum_output_length=cap,
            run_length_maximum_output_length=cap,
            array_based_stream_maximum_output_length=cap,
            jbig2dec_binary=None,  # never run an external decoder on a hostile image
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _decompression_cap(limits: ExtractLimits) -> int:
    """The most bytes one stream may decompress to: the file limit, within pypdf's own."""
    return max(1, min(limits.max_bytes, PYPDF_STREAM_LIMIT))


def _open(data: bytes, limits: ExtractLimits) -> PdfReader:
    """A reader of the file, decrypted with the empty password when it is encrypted (pypdf's
    own errors are turned into reasons by ``extract``)."""
    if b"%PDF-" not in data[:_PDF_HEADER_WINDOW]:
        raise UnreadableDocument(
            "not a PDF (no %PDF header): is the file name's ending right, or is it damaged?"
        )
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise UnreadableDocument(
            "encrypted PDF (password-protected): save a copy without the password (e.g. "
            "print it to PDF) to index it"
        )
    return reader


def _damaged(error: Exception, limits: ExtractLimits, page: int | None = None) -> str:
    """The reason for a file pypdf could not read (on ``page``, from 1, when known), without
    its exception text."""
    message = str(error).lower()
    if isinstance(error, FileNotDecryptedError):
        cause = "its encryption could not be removed"
    elif isinstance(error, PdfStreamError) or "unexpectedly" in message or "eof" in message:
        cause = "it ends too early: truncated, or an incomplete download?"
    elif isinstance(error, LimitReachedError) and "decompress" in message:
        return (
            f"a part of it is over {_decompression_cap(limits) / 1e6:g} MB once decompressed "
            "(the size limit for one file, CITEBOT_MAX_SOURCE_MB); split it into smaller files "
            "to index it"
        )
    elif isinstance(error, LimitReachedError):
        cause = "it is over one of the PDF reader's safety limits"
    elif isinstance(error, RecursionError):
        cause = "its structure nests too deeply"
    elif page is not None:
        cause = f"the content of page {page} cannot be decoded"
    else:
        cause = "its structure cannot be read"
    return f"damaged PDF ({cause}); re-download it or export it again"


class _LineCollector:
    """Receives pypdf's text pieces (``visitor_text``) and makes lines of them: the text
    between line ends, positioned where its first visible piece starts."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self._parts: list[str] = []
        self._start: tuple[float, float] | None = None
        self._sizes: Counter[float] = Counter()

    def visit(self, text: Any, cm: Any, tm: Any, font: Any, font_size: Any) -> None:
        if not text:
            return
        segments = str(text).split("\n")
        for index, segment in enumerate(segments):
            if index:
                self.end_line()
            if not segment:
                continue
            self._parts.append(segment)
            visible = len(segment) - segment.count(" ")
            if visible and self._start is None:
                self._start = _position(cm, tm)
            if visible:
                self._sizes[_size(cm, tm, font_size)] += visible

    def end_line(self) -> None:
        text = " ".join("".join(self._parts).translate(_CLEAN).split())
        if text and self._start is not None:
            size = self._sizes.most_common(1)[0][0]
            self.lines.append(_Line(text, self._start[0], self._start[1], size))
        self._parts.clear()
        self._start = None
        self._sizes.clear()


def _position(cm: Sequence[float], tm: Sequence[float]) -> tuple[float, float]:
    a, b, c, d, e, f = (float(v) for v in cm)
    x, y = float(tm[4]), float(tm[5])
    return a * x + c * y + e, b * x + d * y + f


def _size(cm: Sequence[float], tm: Sequence[float], font_size: Any) -> float:
    """The font size on the page: the Tf size scaled by the text and current matrices."""
    try:
        scale_tm = math.hypot(float(tm[2]), float(tm[3]))
        scale_cm = math.hypot(float(cm[2]), float(cm[3]))
        return round(float(font_size) * scale_tm * scale_cm, 1)
    except (TypeError, ValueError, IndexError):
        return 0.0


def _read_pages(
    reader: PdfReader, file_size: int, limits: ExtractLimits, deadline: Deadline
) -> list[list[_Line]]:
    """The lines of every page, within the work, size and time budgets."""
    budget = {"operations": MIN_OPERATIONS + int(file_size * OPERATIONS_PER_FILE_BYTE)}
    content_budget = MIN_CONTENT_BYTES + file_size * CONTENT_BYTES_PER_FILE_BYTE
    characters = 0

    def count_operation(*_: Any) -> None:
        budget["operations"] -= 1
        if budget["operations"] < 0:
            raise UnreadableDocument(
                "too much to read: its pages ask for far more drawing operations than a file "
                "of its size should (damaged, or built to stall readers?)"
            )
        deadline.check()

    pages = []
    for number, page in enumerate(reader.pages, start=1):
        deadline.check()
        collector = _LineCollector()
        try:
            for orientations in ((0,), (90, 180, 270)):  # sideways text only on sideways pages
                content_budget -= _content_bytes(page, content_budget)
                if content_budget < 0:
                    raise UnreadableDocument(
                        f"too much to read: its pages decode to over "
                        f"{(MIN_CONTENT_BYTES + file_size * CONTENT_BYTES_PER_FILE_BYTE) / 1e6:.1f}"
                        f" MB of drawing instructions by page {number}, far more than a file of "
                        f"{file_size / 1e3:,.0f} kB should (one page repeated thousands of times? "
                        "damaged, or built to stall readers?)"
                    )
                page.extract_text(
                    orientations=orientations,
                    visitor_text=collector.visit,
                    visitor_operand_before=count_operation,
                )
                collector.end_line()
                if collector.lines:
                    break
        except (UnreadableDocument, DependencyError):
            raise
        except Exception as error:
            raise UnreadableDocument(_damaged(error, limits, number)) from None
        characters += sum(len(line.text) for line in collector.lines)
        if characters > limits.max_bytes:
            raise UnreadableDocument(
                f"more than {limits.max_bytes / 1e6:g} MB of text (the size limit for one file, "
                "CITEBOT_MAX_SOURCE_MB); split it into smaller files to index it"
            )
        pages.append(collector.lines)
    return pages


def _content_bytes(page: Any, most: int) -> int:
    """How many bytes the page's content streams decode to (what ``extract_text`` parses),
    counted up to just past ``most``. Decoding is pypdf's, cached on each stream: a page that
    repeats a stream decodes it once, but is counted each time."""
    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    streams = contents if isinstance(contents, ArrayObject) else [contents]
    total = 0
    for stream in streams:
        stream = stream.get_object()
        if isinstance(stream, StreamObject):
            total += len(stream.get_data())
            if total > most:
                break
    return total


@dataclass(frozen=True, slots=True)
class _OutlineEntry:
    page: int
    top: float | None
    title: str


def _outline(reader: PdfReader) -> list[_OutlineEntry]:
    """The outline's entries (every level, in order) that point at a page; [] when there is
    none or it cannot be read."""
    entries: list[_OutlineEntry] = []
    try:
        stack: list[Any] = [iter(reader.outline)]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif isinstance(item, list):
                stack.append(iter(item))
            elif isinstance(item, Destination):
                title = " ".join(str(item.title or "").translate(_CLEAN).split())
                page = reader.get_destination_page_number(item)
                if title and page is not None and page >= 0:
                    top = item.get("/Top")
                    top_value = float(top) if isinstance(top, (int, float)) else None
                    entries.append(_OutlineEntry(page, top_value, title))
    except Exception:  # a damaged outline is no outline: the text is still indexed
        return []
    return entries


def _title(reader: PdfReader) -> str | None:
    """The document information's Title, when it has one."""
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    if not isinstance(title, str):
        return None
    cleaned = " ".join(title.translate(_CLEAN).split())
    return cleaned or None


def _drop_running_lines(pages: list[list[_Line]]) -> None:
    """Remove running headers and footers and bare page numbers. Among the top and bottom
    lines of each page, a line is running when, on many pages (``MIN_RUNNING_SHARE``), the
    same text (digits aside) stands on the same side in the same size, or a line there carries
    the page's number at its start or end (as in "Chapter 2: Syntax 13", its number counted
    from the page's by the same offset, in the same size and place, not a heading's size)."""
    body_size = _body_size(pages)
    zones: list[list[tuple[str, _Line]]] = []
    counts: Counter[tuple[object, ...]] = Counter()
    for page_index, lines in enumerate(pages):
        by_height = sorted(lines, key=lambda line: -line.y)
        zone = [("top", line) for line in by_height[:RUNNING_ZONE_LINES]]
        zone += [("bottom", line) for line in by_height[-RUNNING_ZONE_LINES:]]
        zones.append(zone)
        counts.update({key for side, line in zone for key in _running_keys(side, line, page_index,
                                                                          body_size)})
    needed = max(2, math.ceil(MIN_RUNNING_SHARE * sum(1 for lines in pages if lines)))
    for page_index, (lines, zone) in enumerate(zip(pages, zones, strict=True)):
        running = {
            id(line) for side, line in zone
            if _PAGE_NUMBER.fullmatch(line.text)
            or any(counts[key] >= needed
                   for key in _running_keys(side, line, page_index, body_size))
        }
        if running:
            lines[:] = [line for line in lines if id(line) not in running]


def _running_keys(side: str, line: _Line, page_index: int, body_size: float
                  ) -> Iterator[tuple[object, ...]]:
    """What a top or bottom line has in common with the running lines of other pages."""
    yield ("text", side, _DIGITS.sub("#", line.text.casefold()), line.size)
    if _is_heading_size(line.size, body_size):
        return
    number = _EDGE_NUMBER.search(line.text)
    if number is not None:
        printed = int(number.group(1) or number.group(2))
        yield ("number", side, printed - page_index, line.size, round(line.y / 4))


def _mark_headings(pages: list[list[_Line]], outline: list[_OutlineEntry]) -> None:
    """Mark heading lines: those in a clearly larger font than the body, and those that spell
    an outline entry's title (which opens that entry's section, as does an entry's position
    when no line spells it)."""
    body_size = _body_size(pages)
    for lines in pages:
        for line in lines:
            if _is_heading_size(line.size, body_size) and len(line.text) <= MAX_HEADING_CHARS:
                line.heading = True
    pending: str | None = None  # an entry on a page without lines opens at the next line
    by_page: dict[int, list[_OutlineEntry]] = defaultdict(list)
    for entry in outline:
        by_page[entry.page].append(entry)
    for page_index, lines in enumerate(pages):
        entries = by_page.get(page_index, ())
        spellings = _spellings(lines) if entries else {}
        for entry in entries:
            index, count = spellings.get(_comparable(entry.title), (None, 0))
            if index is not None:
                for line in lines[index : index + count]:
                    line.heading = True
            elif entry.top is not None:
                index = next((i for i, ln in enumerate(lines) if ln.y <= entry.top + 1), None)
            else:
                index = 0 if lines else None
            if index is None:
                pending = entry.title
            else:
                lines[index].opens_section = entry.title
        if pending is not None and lines:
            if lines[0].opens_section is None:
                lines[0].opens_section = pending
            pending = None


def _is_heading_size(size: float, body_size: float) -> bool:
    """Whether a font size is clearly larger than the body's (never when sizes are unknown)."""
    return body_size > 0 and size >= body_size * HEADING_SIZE_RATIO


def _body_size(pages: list[list[_Line]]) -> float:
    """The font size of most of the text."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _spellings(lines: list[_Line]) -> dict[str, tuple[int, int]]:
    """Runs of one to three lines by what they spell (compared without case or spacing):
    {text: (index of the first line, number of lines)}, the first run of each text."""
    runs: dict[str, tuple[int, int]] = {}
    for start in range(len(lines)):
        spelled = ""
        for count, line in enumerate(lines[start : start + 3], start=1):
            spelled = f"{spelled} {_comparable(line.text)}".lstrip()
            runs.setdefault(spelled, (start, count))
    return runs


def _comparable(text: str) -> str:
    return " ".join(text.casefold().split())


def _assemble(pages: list[list[_Line]], title: str | None, use_font_headings: bool) -> Extracted:
    """The document's text, blocks, headings and page starts from its marked lines."""
    units = _units(pages, _line_spacing(pages), use_font_headings)
    parts: list[str] = []
    length = 0
    page_starts: list[int | None] = [None] * len(pages)
    blocks: list[Block] = []
    headings: list[tuple[int, int]] = []
    for unit in units:
        if parts:
            parts.append("\n\n")
            length += 2
        start = length
        previous = ""
        for page_index, text in unit.lines:
            joiner = ""
            if previous:
                dropped, joiner = _line_join(previous, text)
                if dropped:
                    parts[-1] = parts[-1][:-1]
                    length -= 1
            if page_starts[page_index] is None:
                page_starts[page_index] = length + len(joiner)
            parts.append(joiner + text)
            length += len(joiner) + len(text)
            previous = text
        if unit.heading:
            headings.append((start, length))
        else:
            blocks.append(Block(start, length, unit.section))
    text = "".join(parts)
    starts: list[int] = []
    following = len(text)
    for page_start in reversed(page_starts):  # a page without text starts where the next does
        following = following if page_start is None else page_start
        starts.append(following)
    starts.reverse()
    return Extracted(text, tuple(blocks), "pdf", tuple(headings), tuple(starts), title)


def _line_join(previous: str, text: str) -> tuple[bool, str]:
    """How a line joins the one before it in a paragraph: (drop the previous line's last
    character, what goes between). A word broken by a hyphen before a lowercase letter (or by a
    soft hyphen) is joined without it; a hyphen before a capital is kept ("North-Korea");
    other lines are joined with a space."""
    if len(previous) > 1 and previous[-1] in "-\u00ad" and previous[-2].isalpha():
        return previous[-1] == "\u00ad" or text[0].islower(), ""
    return False, " "


def _line_spacing(pages: list[list[_Line]]) -> dict[float, float]:
    """The usual distance between consecutive lines of each font size (capped, see
    ``MAX_LEADING_RATIO``)."""
    gaps: dict[float, Counter[float]] = defaultdict(Counter)
    for lines in pages:
        for above, below in pairwise(lines):
            gap = above.y - below.y
            if above.size == below.size and 0 < gap < 3 * above.size:
                gaps[above.size][round(gap * 2) / 2] += 1
    return {
        size: min(counts.most_common(1)[0][0], MAX_LEADING_RATIO * size)
        for size, counts in gaps.items()
    }


def _units(
    pages: list[list[_Line]], spacing: dict[float, float], use_font_headings: bool
) -> list[_Unit]:
    """Paragraphs and headings, in order, each paragraph under its section."""
    units: list[_Unit] = []
    section: str | None = None
    current: _Unit | None = None
    for page_index, lines in enumerate(pages):
        for index, line in enumerate(lines):
            if line.opens_section is not None:
                section = line.opens_section
                current = None
            if line.heading:
                if current is not None and current.heading and _continues_heading(
                    current.last, line
                ):
                    current.lines.append((page_index, line.text))
                else:
                    current = _Unit(True, section, [(page_index, line.text)])
                    units.append(current)
                current.last = line
                if use_font_headings:
                    section = " ".join(text for _, text in current.lines)
                continue
            following = lines[index + 1] if index + 1 < len(lines) else None
            new_page = current is not None and current.lines[-1][0] != page_index
            if (
                current is None
                or current.heading
                or current.last is None
                or _starts_paragraph(
                    current.last, line, following, new_page, spacing,
                    in_list_item=_is_list_item(current.lines[0][1]),
                )
            ):
                current = _Unit(False, section)
                units.append(current)
            current.lines.append((page_index, line.text))
            current.last = line
    return units


def _continues_heading(previous: _Line | None, line: _Line) -> bool:
    """Whether a heading line continues the heading line before it (a wrapped heading)."""
    if previous is None or abs(previous.size - line.size) > 0.5:
        return False
    return 0 < previous.y - line.y <= 1.6 * line.size


def _starts_paragraph(
    previous: _Line,
    line: _Line,
    following: _Line | None,
    new_page: bool,
    spacing: dict[float, float],
    in_list_item: bool = False,
) -> bool:
    """Whether ``line`` starts a new paragraph after ``previous`` (the last body line of a
    paragraph that is a list item when ``in_list_item``)."""
    if abs(previous.size - line.size) > 0.15 * max(previous.size, line.size):
        return True
    if _is_list_item(line.text):
        return True
    gap = previous.y - line.y
    if new_page or gap < -line.size:  # the top of the next page or column
        return _ends_sentence(previous.text) and not line.text[0].islower()
    leading = spacing.get(line.size, 1.2 * line.size)
    if gap > PARAGRAPH_GAP_RATIO * leading:
        return True
    em = line.size or 1.0
    # an indented first line (not a list item's hanging indent, nor one where the next line
    # stays in)
    indented = not in_list_item and line.x > previous.x + em / 2
    return indented and (following is None or following.x < line.x - em / 2)


def _ends_sentence(text: str) -> bool:
    """Whether a line ends with final punctuation (closing quotes or brackets aside)."""
    return text.rstrip(_CLOSERS)[-1:] in tuple(_SENTENCE_ENDS)


def _is_list_item(text: str) -> bool:
    """Whether a line starts with a bullet (a list item)."""
    return text.startswith(_BULLETS)
