"""citebot's engine: load sources, chunk, embed, store and search. Knows nothing of Discord.

Importing this package is cheap: torch and sentence-transformers load only when a model is used.
"""

from index.answer import Answer, Citation, Passage
from index.builder import BuildReport, build_index
from index.chunking import Chunk, Chunker
from index.corpus import Corpus
from index.documents import Document, load_documents
from index.embedding import Embedder
from index.errors import (
    CitebotError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    ModelError,
    QuestionError,
    SourceError,
)
from index.merge import merge_answers
from index.model import ModelSpec
from index.search import Searcher
from index.store import IndexStore

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
