"""Errors the engine raises for conditions a user can fix; each message says what to do."""

from __future__ import annotations


class CitebotError(Exception):
    """Base class: the message is complete, actionable and safe to show to a user."""


class SourceError(CitebotError):
    """The source directory or a source file cannot be used."""


class QuestionError(CitebotError):
    """The question cannot be searched (e.g. it is empty)."""


class ModelError(CitebotError):
    """The embedding model cannot be found or loaded."""


class IndexMissingError(CitebotError):
    """No index has been built at the configured location."""


class IndexCorruptError(CitebotError):
    """The index on disk cannot be read."""


class IndexMismatchError(CitebotError):
    """The index was built with a different model or chunking than the current settings."""


class BackendError(CitebotError):
    """The index server (Milvus) cannot be reached, refuses the request, or fails it."""
