"""`citebot ask` / `info` decide whether the sources changed by size and modification time,
reading only files whose stamp differs (issue 9, defect 11)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bot.core.engine import Engine
from bot.core.status import source_changes
from tests.conftest import SOURCE_DIR, isolated_settings


def _set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(path.stat().st_atime_ns, mtime_ns))


def test_unchanged_stamps_mean_unchanged_without_reading(tmp_path: Path, engine):
    sources = tmp_path / "src"
    sources.mkdir()
    shutil.copy(SOURCE_DIR / "north-korea-allied-coordination.txt", sources / "article.txt")
    (sources / "notes.md").write_text("# Notes\n\nA short note about the alliance.\n",
                                      encoding="utf-8")
    past = (sources / "notes.md").stat().st_mtime_ns - 3600 * 10**9
    for path in sources.iterdir():  # as files are in real use: not written a moment ago
        _set_mtime(path, past)
    settings = isolated_settings(source_dir=sources, index_dir=tmp_path / "index")
    built = Engine(settings)
    built.rebuild()
    manifest = built.corpus.manifest
    assert not source_changes(settings, manifest)

    # Same size, same modification time, other bytes: judged by its stamp, so never read
    # (reading and hashing every file on each `ask` was the defect).
    notes = sources / "notes.md"
    notes.write_bytes(notes.read_bytes().replace(b"alliance", b"ALLIANCE"))
    _set_mtime(notes, past)
    assert not source_changes(settings, manifest)

    # A new modification time: hashed, and reported only when the bytes differ.
    _set_mtime(sources / "article.txt", past + 10**9)
    assert not source_changes(settings, manifest)
    _set_mtime(notes, past + 10**9)
    assert source_changes(settings, manifest).modified == ("notes.md",)
