"""What the passage ids in the question log stand for: their document and citation, read from a
collection's live local index (``IndexStore.citations``: its small columns only, no model or
vectors).

A logged id is the chunk's content hash (index.ingest.chunking.chunk_id), so it names no
document by itself; an id the index no longer has (rebuilt since) is simply not found.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from bot.core.citations import citation_label
from bot.core.insights.report import PassageInfo
from index.backends.local_store import IndexStore
from index.errors import CitebotError

log = logging.getLogger(__name__)


def passage_names(index_dir: Path, wanted: Collection[str]) -> dict[str, PassageInfo]:
    """The document, citation label and document address of each id of ``wanted`` found in the
    live build under ``index_dir`` (empty when there is none, or it cannot be read: the report
    then shows the ids)."""
    try:
        citations = IndexStore(index_dir).citations(wanted)
    except (CitebotError, OSError) as error:
        log.warning("could not read the passages of %s (%s)", index_dir, type(error).__name__)
        return {}
    return {
        key: PassageInfo(citation.document, citation_label(citation), citation.url)
        for key, citation in citations.items()
    }
