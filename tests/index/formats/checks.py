"""Checks every extractor's result must pass, and small views of it, shared by the format tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.core.engine import Engine
from index.ingest.formats import Extracted
from tests.conftest import isolated_settings


def assert_well_formed(result: Extracted) -> None:
    """Blocks and headings are non-empty, trimmed, in order and disjoint, and together hold
    every non-whitespace character of the text; pages start in order inside the text."""
    text = result.text
    spans = sorted([(b.start, b.end) for b in result.blocks] + list(result.headings))
    covered = 0
    for start, end in spans:
        piece = text[start:end]
        assert piece and piece == piece.strip(), (start, end, piece)
        assert start >= covered, "spans overlap"
        assert not text[covered:start].strip(), f"uncovered text: {text[covered:start]!r}"
        covered = end
    assert not text[covered:].strip(), f"uncovered text: {text[covered:]!r}"
    starts = [block.start for block in result.blocks]
    assert starts == sorted(starts)
    assert list(result.pages) == sorted(result.pages)
    assert all(0 <= start <= len(text) for start in result.pages)


def bodies(result: Extracted) -> list[str]:
    """The text of each block."""
    return [result.text[b.start : b.end] for b in result.blocks]


def sections(result: Extracted) -> list[tuple[str | None, str]]:
    """(section, text) of each block."""
    return [(b.section, result.text[b.start : b.end]) for b in result.blocks]


def headings(result: Extracted) -> list[str]:
    """The text of each heading."""
    return [result.text[start:end] for start, end in result.headings]


def engine_over(tmp_path: Path, name: str, write: Callable[[Path], object]) -> Engine:
    """A real engine (bundled model) over a folder holding one document written by ``write``."""
    sources = tmp_path / "sources"
    sources.mkdir()
    write(sources / name)
    engine = Engine(
        isolated_settings(source_dir=sources, index_dir=tmp_path / "index", use_onnx=False)
    )
    engine.rebuild()
    return engine
