"""citebot's engine: load sources, chunk, embed, store and search. Knows nothing of Discord.

Importing this package is cheap: its names load on first use (PEP 562), so ``import
index.errors`` loads no numpy, and torch and sentence-transformers load only when a model is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it.
_EXPORTS = {
    "Answer": "index.answer",
    "Citation": "index.answer",
    "Passage": "index.answer",
    "BuildReport": "index.build.builder",
    "build_index": "index.build.builder",
    "Chunk": "index.ingest.chunking",
    "Chunker": "index.ingest.chunking",
    "Corpus": "index.build.corpus",
    "Document": "index.ingest.documents",
    "load_documents": "index.ingest.documents",
    "Embedder": "index.build.embedding",
    "CitebotError": "index.errors",
    "IndexCorruptError": "index.errors",
    "IndexMismatchError": "index.errors",
    "IndexMissingError": "index.errors",
    "ModelError": "index.errors",
    "QuestionError": "index.errors",
    "SourceError": "index.errors",
    "merge_answers": "index.query.merge",
    "ModelSpec": "index.build.model",
    "Searcher": "index.query.search",
    "IndexStore": "index.backends.local_store",
}

__all__ = [
    "Answer",
    "BuildReport",
    "Chunk",
    "Chunker",
    "Citation",
    "CitebotError",
    "Corpus",
    "Document",
    "Embedder",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexStore",
    "ModelError",
    "ModelSpec",
    "Passage",
    "QuestionError",
    "Searcher",
    "SourceError",
    "build_index",
    "load_documents",
    "merge_answers",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` when it is first asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from index.answer import Answer, Citation, Passage
    from index.backends.local_store import IndexStore
    from index.build.builder import BuildReport, build_index
    from index.build.corpus import Corpus
    from index.build.embedding import Embedder
    from index.build.model import ModelSpec
    from index.errors import (
        CitebotError,
        IndexCorruptError,
        IndexMismatchError,
        IndexMissingError,
        ModelError,
        QuestionError,
        SourceError,
    )
    from index.ingest.chunking import Chunk, Chunker
    from index.ingest.documents import Document, load_documents
    from index.query.merge import merge_answers
    from index.query.search import Searcher
