"""Fixture builders for collection tests: write documents into a collection and build it."""

from __future__ import annotations

from pathlib import Path

from bot.core.collections import Collections

# Facts that only one collection holds, so an answer shows which collection it came from.
ZEBRA = "The striped zebra Marlowe lives in the Serengeti plains of northern Tanzania."
GLACIER = "The Perito Moreno glacier in Patagonia advances about two metres every single day."
VOLCANO = "The volcano Hekla in southern Iceland was called the gateway to hell by monks."


def write_documents(source_dir: Path, documents: dict[str, str]) -> None:
    """Write ``{file name: text}`` as UTF-8 text files into ``source_dir``."""
    source_dir.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (source_dir / name).write_text(text + "\n", encoding="utf-8")


def build_collection(collections: Collections, name: str, documents: dict[str, str]) -> None:
    """Write ``documents`` into collection ``name`` and build its index (sharing the model)."""
    write_documents(collections.settings_for(name).source_dir, documents)
    collections.engine_for(name).rebuild(wait=True)
