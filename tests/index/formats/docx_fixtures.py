"""Builders of Word documents for tests (written with python-docx): the bundled article with
heading styles, and damaged or hostile .docx files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx

from index.ingest.formats.plain import is_plain_heading
from tests.index.formats.html_fixtures import article_paragraphs

ARTICLE_DOCX_TITLE = "Three challenges for allied coordination on North Korea"


def write_article_docx(path: Path) -> Path:
    """Write the bundled article as a .docx: a "Title" paragraph, its headings styled
    "Heading 1", its paragraphs "Normal"; returns ``path``."""
    document = docx.Document()
    document.core_properties.title = "Allied coordination (core properties title)"
    document.add_heading(ARTICLE_DOCX_TITLE, level=0)
    for part in article_paragraphs():
        if is_plain_heading(part):
            document.add_heading(part, level=1)
        else:
            document.add_paragraph(part)
    document.save(str(path))
    return path


def write_zip_bomb_docx(path: Path, expanded_bytes: int = 200 * 1000 * 1000) -> Path:
    """Write a .docx-named zip whose word/document.xml expands to ``expanded_bytes`` of zeros
    (about 1/1000 of that on disk: written in chunks, never held in memory)."""
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            remaining = expanded_bytes
            while remaining > 0:
                member.write(chunk[: min(len(chunk), remaining)])
                remaining -= len(chunk)
    return path


def write_truncated_docx(path: Path) -> Path:
    """Write the first half of the article .docx (its zip directory, at the end, is lost)."""
    write_article_docx(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_random_zip(path: Path) -> Path:
    """Write a zip archive that is not an Office document at all."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "Meeting notes, not a Word document.\n" * 20)
        archive.writestr("data/figures.csv", "year,value\n2020,1\n2021,2\n")
    return path
