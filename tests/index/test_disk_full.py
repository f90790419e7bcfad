"""A build on a nearly full filesystem (a real tmpfs, mounted by the test; CI runs as root)."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.engine import Engine
from index.backends.local_store import IndexStore
from tests.conftest import ROOT, SOURCE_DIR, isolated_settings

QUESTION = "Which Russian official visited Seoul?"
FILESYSTEM_BYTES = 4 << 20
# A build of the article takes about 230 KiB: fail at its first files, or near its end.
FREE_BYTES = (16 << 10, 176 << 10)


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted afterwards. Fails (never skips) when it cannot be mounted."""
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", f"size={FILESYSTEM_BYTES}", "citebot-test",
               str(mount_point)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except OSError as error:
        pytest.fail(f"cannot run mount for the full-disk test ({error}); it needs root and "
                    "util-linux's mount, as CI has")
    if result.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk test ({result.stderr.strip()}); "
                    "it needs root (CI runs as root)")
    try:
        yield mount_point
    finally:
        gc.collect()  # drop memory maps of files on it
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def _fill(directory: Path, leave: int) -> Path:
    """Fill the filesystem of ``directory`` with one file, then free ``leave`` bytes of it."""
    filler = directory / "filler.bin"
    block = b"\0" * (64 << 10)
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(block)
        except OSError as error:
            assert error.errno == errno.ENOSPC
            handle.truncate(max(0, handle.tell() - leave))
    return filler


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update(PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false", CITEBOT_USE_ONNX="false")
    return env


@pytest.mark.parametrize("free", FREE_BYTES, ids=["16KiB-free", "176KiB-free"])
def test_build_on_a_full_disk_fails_clearly_and_keeps_the_old_index(
    built_index_dir, small_filesystem, tmp_path, free
):
    index_dir = small_filesystem / "index"
    index_dir.mkdir()
    live = IndexStore(built_index_dir).current_build()
    shutil.copy(built_index_dir / "CURRENT", index_dir / "CURRENT")
    shutil.copytree(live, index_dir / live.name)  # the old index, without the model export
    filler = _fill(small_filesystem, free)
    assert shutil.disk_usage(small_filesystem).free <= free + (64 << 10)

    result = subprocess.run(
        [sys.executable, "-m", "bot", "--index-dir", str(index_dir), "--source-dir",
         str(SOURCE_DIR), "build"],
        cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stderr
    message = result.stderr
    assert "no space left" in message and str(index_dir) in message
    assert "free some space" in message and "CITEBOT_INDEX_DIR" in message
    assert "citebot build" in message and "previous index is unchanged" in message
    assert "Traceback" not in message and "Errno" not in message

    entries = sorted(p.name for p in index_dir.iterdir())
    assert entries == sorted(["CURRENT", "build.lock", live.name])  # no half build left
    engine = Engine(isolated_settings(source_dir=SOURCE_DIR, index_dir=index_dir,
                                      use_onnx=False))
    assert "Sergei Lavrov" in engine.search(QUESTION).passages[0].text  # the old one answers

    filler.unlink()  # room again: the next build runs (the lock is free) and succeeds
    report = engine.rebuild()
    assert report.chunks == 20
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("build-")] != [live.name]
    assert "Sergei Lavrov" in engine.search(QUESTION).passages[0].text
    del engine
