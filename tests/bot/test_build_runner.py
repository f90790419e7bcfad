"""Queued builds in child processes: the real build code in a child, fair turns between
servers, a killed child leaving the old index answering, timeouts, and no secrets passed on."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import stat
from pathlib import Path

import pytest

from bot.core.builds import BuildQueue
from bot.core.engine import Engine
from index.backends.local_store import IndexStore
from tests.conftest import ARTICLE, isolated_settings

QUESTION = "Which Russian official visited Seoul?"


def article_settings(tmp_path: Path, **values):
    sources = tmp_path / "sources"
    sources.mkdir(exist_ok=True)
    shutil.copy(ARTICLE, sources / "article.txt")
    values.setdefault("use_onnx", False)
    return isolated_settings(source_dir=sources, index_dir=tmp_path / "index", **values)


def fake_python(tmp_path: Path, body: str) -> str:
    """An executable that stands in for the interpreter: ignores ``-m bot.build_child`` and runs
    ``body`` (bash) with the settings JSON on stdin."""
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/bash\nsettings=$(cat)\n" + body + "\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def test_child_runs_the_real_build_and_reports_progress(tmp_path: Path):
    settings = article_settings(tmp_path)
    queue = BuildQueue()
    progress: list[tuple[int, int]] = []
    outcome = await queue.submit("guild-1", settings, lambda d, t: progress.append((d, t)))
    await queue.close()
    assert outcome.ok, outcome
    assert outcome.report["documents"] == 1 and outcome.report["chunks"] == 20
    assert progress and progress[-1][0] == progress[-1][1] > 0
    engine = Engine(settings)
    engine.load(build_if_missing=False)
    assert "Sergei Lavrov" in engine.search(QUESTION).passages[0].text


async def test_a_collection_is_built_with_the_shared_model_export(tmp_path: Path):
    from bot.core.collections import Collections

    settings = article_settings(tmp_path, use_onnx=True,
                                collections_dir=tmp_path / "collections")
    guild = Collections(settings).settings_for("guild-7")
    guild.source_dir.mkdir(parents=True)
    (guild.source_dir / "cats.txt").write_text("Cats hunt at dawn and dusk.\n", encoding="utf-8")
    queue = BuildQueue()
    outcome = await queue.submit("guild-7", settings, collection="guild-7")
    await queue.close()
    assert outcome.ok and outcome.report["documents"] == 1, outcome
    assert not (guild.index_dir / "models").exists()  # no copy of the model per collection
    assert (settings.index_dir / "models").is_dir()
    answer = Collections(settings).engine("guild-7").search("When do cats hunt?")
    assert answer.passages[0].citation.document == "cats.txt"


async def test_a_killed_child_leaves_the_old_index_answering(tmp_path: Path):
    settings = article_settings(tmp_path)
    engine = Engine(settings)
    engine.load()  # the index that answers now
    live = IndexStore(settings.index_dir).current_build()
    (settings.source_dir / "more.txt").write_text("Cats sleep most of the day.\n" * 3000)
    queue = BuildQueue()

    def kill_on_first_progress(done: int, total: int) -> None:
        if queue._child is not None and queue._child.returncode is None:
            queue._child.send_signal(signal.SIGKILL)  # what the out-of-memory killer does

    outcome = await queue.submit("guild-1", settings, kill_on_first_progress)
    await queue.close()
    assert not outcome.ok and outcome.error_kind == "Crashed"
    assert "SIGKILL (out of memory?)" in outcome.message
    assert "previous index still answers" in outcome.message
    assert IndexStore(settings.index_dir).current_build() == live
    assert "Sergei Lavrov" in engine.search(QUESTION).passages[0].text
    reloaded = Engine(settings)
    reloaded.load(build_if_missing=False)
    assert "Sergei Lavrov" in reloaded.search(QUESTION).passages[0].text


async def test_a_build_error_comes_back_with_its_kind(tmp_path: Path):
    settings = isolated_settings(source_dir=tmp_path / "missing", index_dir=tmp_path / "index",
                                 use_onnx=False)
    queue = BuildQueue()
    outcome = await queue.submit("guild-1", settings)
    await queue.close()
    assert outcome.error_kind == "SourceError" and "does not exist" in outcome.message


async def test_servers_take_turns(tmp_path: Path):
    log = tmp_path / "order.log"
    python = fake_python(tmp_path, f"""
index=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["settings"]["index_dir"])' \
  "$settings")
echo "$(basename "$index")" >> {log}
sleep 0.2
echo '{{"report": {{"documents": 1}}}}'
""")
    queue = BuildQueue(python=python)
    jobs = []
    for key, index in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1"), ("c", "c1"),
                       ("b", "b2")]:
        settings = isolated_settings(source_dir=tmp_path, index_dir=tmp_path / index)
        jobs.append(queue.submit(key, settings))
    outcomes = await asyncio.gather(*jobs)
    await queue.close()
    assert all(outcome.ok for outcome in outcomes)
    assert log.read_text().split() == ["a1", "b1", "c1", "a2", "b2", "a3"]


async def test_a_second_request_for_a_queued_index_joins_it(tmp_path: Path):
    log = tmp_path / "runs.log"
    python = fake_python(tmp_path, f"echo run >> {log}; sleep 0.3; "
                                   "echo '{\"report\": {\"documents\": 1}}'")
    finished: list[bool] = []
    queue = BuildQueue(python=python, on_finished=lambda outcome: finished.append(outcome.ok))
    first = queue.submit("a", isolated_settings(source_dir=tmp_path, index_dir=tmp_path / "x"))
    second = queue.submit("a", isolated_settings(source_dir=tmp_path, index_dir=tmp_path / "y"))
    again = queue.submit("a", isolated_settings(source_dir=tmp_path, index_dir=tmp_path / "y"))
    assert again is second and queue.pending == 2 and queue.depth == 2
    await asyncio.sleep(0.1)
    assert queue.depth == 2  # one running, one waiting
    await asyncio.gather(first, second)
    await queue.close()
    assert log.read_text().split() == ["run", "run"]
    assert finished == [True, True] and queue.depth == 0  # told once per build, not per request


async def test_a_build_past_the_time_limit_is_stopped(tmp_path: Path):
    finished: list[str | None] = []
    queue = BuildQueue(timeout_seconds=0.5, python=fake_python(tmp_path, "sleep 30"),
                       on_finished=lambda outcome: finished.append(outcome.error_kind))
    outcome = await asyncio.wait_for(
        queue.submit("a", isolated_settings(source_dir=tmp_path, index_dir=tmp_path / "i")), 10
    )
    await queue.close()
    assert outcome.error_kind == "Timeout" and "previous index still answers" in outcome.message
    assert finished == ["Timeout"]


async def test_the_child_gets_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    seen = tmp_path / "seen.json"
    python = fake_python(tmp_path, f"echo \"$settings\" > {seen}; env > {seen}.env; "
                                   "echo '{\"report\": {}}'")
    monkeypatch.setenv("CITEBOT_DISCORD_TOKEN", "secret-token-in-the-environment")
    settings = isolated_settings(source_dir=tmp_path, index_dir=tmp_path / "i",
                                 discord_token="secret-token-in-settings")
    queue = BuildQueue(python=python)
    assert (await queue.submit("a", settings)).ok
    await queue.close()
    sent = json.loads(seen.read_text())["settings"]
    assert "discord_token" not in sent and sent["index_dir"] == str(tmp_path / "i")
    assert "secret-token" not in seen.read_text() + (tmp_path / "seen.json.env").read_text()


async def test_closing_fails_the_builds_still_waiting(tmp_path: Path):
    queue = BuildQueue(python=fake_python(tmp_path, "sleep 30"))
    running = queue.submit("a", isolated_settings(source_dir=tmp_path, index_dir=tmp_path / "1"))
    waiting = queue.submit("b", isolated_settings(source_dir=tmp_path, index_dir=tmp_path / "2"))
    await asyncio.sleep(0.3)
    assert queue.position("b") == 1 and queue.position("c") == 2
    await queue.close()
    assert (await running).error_kind == "Stopped" and (await waiting).error_kind == "Stopped"
