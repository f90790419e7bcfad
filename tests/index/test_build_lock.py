"""Two builders at once (issue 9, defect 8): real processes, the real build lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.core.engine import Engine, RebuildInProgressError
from index.backends.local_store import IndexStore
from index.build.build_lock import BuildInProgressError, BuildLock
from index.ingest.chunking import CHUNKER_VERSION
from tests.conftest import ROOT, SOURCE_DIR, isolated_settings

QUESTION = "Which Russian official visited Seoul?"

HOLD_LOCK = """
import sys
from pathlib import Path
from index.build.build_lock import BuildLock
with BuildLock(Path(sys.argv[1])).hold():
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


def _cli(index_dir: Path, *args: str) -> list[str]:
    where = ["--index-dir", str(index_dir), "--source-dir", str(SOURCE_DIR)]
    return [sys.executable, "-m", "bot", *where, *args]


@pytest.fixture
def lock_holder(index_copy: Path, tmp_path: Path):
    """Another process holding the index's build lock until the test lets it go."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(index_copy)],
        cwd=tmp_path,
        env=_environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def _release(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0


def test_rebuild_is_refused_at_once_while_another_process_builds(index_copy, lock_holder):
    """Discord's /reindex path: refused at once with the error the Discord branch handles."""
    engine = Engine(isolated_settings(source_dir=SOURCE_DIR, index_dir=index_copy))
    before = IndexStore(index_copy).current_build()
    started = time.perf_counter()
    with pytest.raises(RebuildInProgressError, match=rf"process {lock_holder.pid}\b"):
        engine.rebuild()
    assert time.perf_counter() - started < 60  # did not wait for the other build
    assert IndexStore(index_copy).current_build() == before
    assert isinstance(RebuildInProgressError("x"), BuildInProgressError)
    assert "Sergei Lavrov" in engine.search(QUESTION).passages[0].text  # still answers
    _release(lock_holder)
    engine.rebuild()  # free again
    assert IndexStore(index_copy).current_build() != before


def test_citebot_build_waits_for_the_other_build_and_says_so(index_copy, lock_holder, tmp_path):
    builder = subprocess.Popen(
        _cli(index_copy, "build"),
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert builder.stderr is not None
        line = builder.stderr.readline()  # blocks until the waiting line is printed
        assert "Another build of the index" in line and f"(process {lock_holder.pid})" in line
        assert "waiting" in line
        time.sleep(0.5)
        assert builder.poll() is None  # still waiting while the lock is held
        _release(lock_holder)
        out, err = builder.communicate(timeout=300)
    finally:
        if builder.poll() is None:
            builder.kill()
    assert builder.returncode == 0, err
    assert "Indexed 1 document(s)" in out
    assert "Traceback" not in err


def test_two_builds_at_once_leave_one_working_index(index_copy, tmp_path):
    """`citebot build` twice at the same time: both succeed, one after the other, and exactly
    one complete build is live afterwards (before the lock, the second could delete the first
    one's build, leaving CURRENT pointing at nothing)."""
    commands = [
        subprocess.Popen(
            _cli(index_copy, "build"), cwd=tmp_path, env=_environment(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    results = [command.communicate(timeout=300) for command in commands]
    for command, (_, err) in zip(commands, results, strict=True):
        assert command.returncode == 0, err
    builds = [p.name for p in index_copy.iterdir() if p.name.startswith("build-")]
    assert len(builds) == 1
    assert not [p for p in index_copy.iterdir() if p.name.startswith(".tmp-")]
    engine = Engine(isolated_settings(source_dir=SOURCE_DIR, index_dir=index_copy))
    assert "Sergei Lavrov" in engine.search(QUESTION).passages[0].text


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path):
    import threading

    lock = BuildLock(tmp_path / "index")
    outcome: list[str] = []

    def other_thread() -> None:
        try:
            with lock.hold(wait=False):
                outcome.append("acquired")
        except BuildInProgressError as error:
            outcome.append(str(error))

    with lock.hold(), lock.hold(wait=False):  # the same thread may nest (build, then save)
        assert lock.holder() == os.getpid()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome and "another build" in outcome[0]
    assert lock.holder() is None  # released: no stale pid
    with lock.hold(wait=False):
        pass


def test_load_reads_current_once_and_follows_a_swap(built_index_dir, tmp_path, model_spec,
                                                    monkeypatch):
    """A build made live by another process between reading CURRENT and reading the files
    (and the old build removed): the load gives the new build whole, never the old manifest
    with the new files."""
    import index.backends.local_store as store_module

    index_dir = tmp_path / "index"
    shutil.copytree(built_index_dir, index_dir, ignore=shutil.ignore_patterns("models"))
    sources = tmp_path / "more"
    sources.mkdir()
    shutil.copy(SOURCE_DIR / "north-korea-allied-coordination.txt", sources)
    (sources / "pets.md").write_text("# Pets\n\nCats sleep most of the day.", encoding="utf-8")
    other = tmp_path / "other"
    Engine(isolated_settings(source_dir=sources, index_dir=other, use_onnx=False)).rebuild()
    new_build = IndexStore(other).current_build()
    store = IndexStore(index_dir)
    old_build = store.current_build()
    real_check = store_module.check_manifest
    swapped: list[bool] = []

    def swap_then_check(*args, **kwargs):
        if not swapped:  # what another process's build does, at the worst moment
            swapped.append(True)
            shutil.copytree(new_build, index_dir / new_build.name)
            (index_dir / "CURRENT").write_text(new_build.name + "\n", encoding="utf-8")
            shutil.rmtree(old_build)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(store_module, "check_manifest", swap_then_check)
    corpus = store.load(model_spec, {"version": CHUNKER_VERSION, "max_tokens": 256})
    assert swapped
    assert corpus.manifest["counts"]["documents"] == len(corpus.documents) == 2
