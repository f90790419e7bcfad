"""The default collection, served by the bot's own engine, picks up a build made by another
process (``citebot build`` while the bot runs) within 5 s, with no failed question."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.core.collections import DEFAULT, Collections
from bot.core.engine import Engine
from tests.bot.collection_builders import VOLCANO

ROOT = Path(__file__).resolve().parents[2]
LAVROV = "Which Russian official visited Seoul?"


def test_a_cli_build_of_default_is_served_without_a_restart(own_engine: Engine) -> None:
    settings = own_engine.settings
    collections = Collections(settings, default_engine=own_engine)
    assert "Lavrov" in collections.search(DEFAULT, LAVROV).passages[0].text
    stop = threading.Event()
    failures: list[BaseException] = []
    asked = [0]

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                assert "Lavrov" in collections.search(DEFAULT, LAVROV).passages[0].text
                asked[0] += 1
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=keep_asking) for _ in range(2)]
    for thread in threads:
        thread.start()
    (settings.source_dir / "volcano.txt").write_text(VOLCANO + "\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITEBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        CITEBOT_SOURCE_DIR=str(settings.source_dir),
        CITEBOT_INDEX_DIR=str(settings.index_dir),
    )
    try:
        build = subprocess.run(
            [sys.executable, "-m", "bot", "build"], capture_output=True, text=True, env=env,
            timeout=300,
        )
        built = time.monotonic()
        assert build.returncode == 0, build.stderr
        question = "Which volcano did monks call the gateway to hell?"
        while VOLCANO not in collections.search(DEFAULT, question).passages[0].text:
            assert time.monotonic() - built < 5, "the new index was not served within 5 s"
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert asked[0] > 0


def test_an_unusable_new_build_keeps_the_loaded_one_serving(own_engine: Engine) -> None:
    settings = own_engine.settings
    collections = Collections(settings, default_engine=own_engine, reload_check_seconds=0)
    (settings.index_dir / "CURRENT").write_text("build-not-there\n", encoding="utf-8")
    assert "Lavrov" in collections.search(DEFAULT, LAVROV).passages[0].text
