"""What the passage ids in the question log stand for: their document and citation, read from a
collection's live local index without loading its model or vectors.

A logged id is the chunk's content hash (index.ingest.chunking.chunk_id), so it names no
document by itself; an id the index no longer has (rebuilt since) is simply not found. Only the
small columns are read (ids, documents, sections, paragraphs, spans), memory-mapped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from pathlib import Path

import numpy as np

from bot.core.insights.report import PassageInfo
from index.answer import Citation
from index.backends.local_store import IndexStore
from index.build.chunk_table import ID_BYTES
from index.errors import CitebotError
from index.ingest.documents import page_of

log = logging.getLogger(__name__)


def passage_names(index_dir: Path, wanted: Collection[str]) -> dict[str, PassageInfo]:
    """The document, citation label and document address of each id of ``wanted`` found in the
    live build under ``index_dir`` (empty when there is none, or it cannot be read: the report
    then shows the ids)."""
    keys = sorted({key for key in wanted if len(key) == ID_BYTES and key.isascii()})
    if not keys:
        return {}
    try:
        build = IndexStore(index_dir).current_build()
        if build is None:
            return {}
        return _read(build, keys)
    except (CitebotError, OSError, ValueError, KeyError, IndexError, TypeError) as error:
        log.warning("could not read the passages of %s (%s)", index_dir, type(error).__name__)
        return {}


def _read(build: Path, keys: list[str]) -> dict[str, PassageInfo]:
    entries = json.loads((build / "documents.json").read_text(encoding="utf-8"))
    paths: list[str] = entries["paths"]
    details: list[dict[str, object]] = entries.get("details") or [{} for _ in paths]
    chunks = build / "chunks"
    sections: list[str] = json.loads((chunks / "sections.json").read_text(encoding="utf-8"))
    ids = np.load(chunks / "id.npy", mmap_mode="r", allow_pickle=False)
    rows = np.flatnonzero(np.isin(ids, np.array([k.encode("ascii") for k in keys], f"S{ID_BYTES}")))
    if rows.size == 0:
        return {}
    document = np.load(chunks / "document.npy", mmap_mode="r", allow_pickle=False)
    section = np.load(chunks / "section.npy", mmap_mode="r", allow_pickle=False)
    paragraph = np.load(chunks / "paragraph.npy", mmap_mode="r", allow_pickle=False)
    span = np.load(chunks / "span.npy", mmap_mode="r", allow_pickle=False)
    found: dict[str, PassageInfo] = {}
    for row in rows.tolist():
        number = int(document[row])
        path = paths[number]
        extra = details[number] if number < len(details) else {}
        start, end = (int(value) for value in span[row])
        pages = [int(page) for page in extra.get("pages") or ()]  # type: ignore[attr-defined]
        page = page_of(pages, start) if pages else None
        page_end = page_of(pages, max(start, end - 1)) if pages else None
        section_number = int(section[row])
        citation = Citation(
            path,
            sections[section_number] if section_number >= 0 else None,
            int(paragraph[row]),
            start,
            end,
            page,
            page_end,
        )
        url = extra.get("url")
        found[ids[row].decode("ascii")] = PassageInfo(
            path, citation.label(), url if isinstance(url, str) else None
        )
    return found
