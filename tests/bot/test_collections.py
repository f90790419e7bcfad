"""Loaded collections (issue 11): loaded on first question, least recently used unloaded past
the cap, one shared question encoder, and hot reload of an index rebuilt by another process
with no question failing during the switch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import pytest

from bot.collections import CollectionError, LoadedCollections, collection_settings
from bot.engine import Engine
from index.errors import IndexMissingError
from tests.conftest import ARTICLE, ROOT, isolated_settings

QUESTION = "Which Russian official visited Seoul?"
DOCUMENTS = {
    "alpha": ("article.txt", None),
    "beta": ("cats.txt", "Cats sleep for most of the day and hunt at dawn and dusk."),
    "gamma": ("bread.txt", "Sourdough bread rises slowly because wild yeast ferments it."),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    base = isolated_settings(collections_dir=tmp_path_factory.mktemp("collections"),
                             use_onnx=False)
    for name, (file, text) in DOCUMENTS.items():
        settings = collection_settings(base, name)
        settings.source_dir.mkdir(parents=True)
        if text is None:
            shutil.copy(ARTICLE, settings.source_dir / file)
        else:
            (settings.source_dir / file).write_text(text + "\n", encoding="utf-8")
        Engine(settings).rebuild()
    return base


def test_each_collection_answers_from_its_own_index(built):
    collections = LoadedCollections(built)
    assert "Sergei Lavrov" in collections.engine("alpha").search(QUESTION).passages[0].text
    for name in ("beta", "gamma"):
        answer = collections.engine(name).search(QUESTION)
        assert all(p.citation.document == DOCUMENTS[name][0] for p in answer.passages)
    with pytest.raises(CollectionError):
        collections.engine("missing")
    with pytest.raises(CollectionError):
        collections.engine("../alpha")


def test_least_recently_used_is_unloaded_and_comes_back(built):
    collections = LoadedCollections(built, max_loaded=2)
    first = collections.engine("alpha")
    collections.engine("beta")
    collections.engine("alpha")  # alpha is now the most recent
    collections.engine("gamma")
    assert collections.loaded_names() == ["alpha", "gamma"]
    again = collections.engine("beta")
    assert collections.loaded_names() == ["gamma", "beta"]
    assert again.search("When do cats hunt?").passages[0].citation.document == "cats.txt"
    assert collections.engine("alpha") is not first  # reloaded
    assert first.query_encoder is again.query_encoder  # one model for all


def test_a_collection_without_an_index_says_so(built):
    empty = collection_settings(built, "empty")
    empty.source_dir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(IndexMissingError):
        LoadedCollections(built).engine("empty")


def test_a_build_by_another_process_is_served_within_seconds_without_failures(built, tmp_path):
    name = "hot"
    settings = collection_settings(built, name)
    settings.source_dir.mkdir(parents=True)
    shutil.copy(ARTICLE, settings.source_dir / "article.txt")
    Engine(settings).rebuild()
    collections = LoadedCollections(built, check_seconds=0.5)
    assert "Sergei Lavrov" in collections.engine(name).search(QUESTION).passages[0].text

    failures: list[BaseException] = []
    stop = threading.Event()

    def ask_all_the_time() -> None:
        while not stop.is_set():
            try:
                answer = collections.engine(name).search(QUESTION)
                assert "Sergei Lavrov" in answer.passages[0].text
            except BaseException as error:  # any failure is the finding
                failures.append(error)

    askers = [threading.Thread(target=ask_all_the_time) for _ in range(2)]
    for asker in askers:
        asker.start()
    (settings.source_dir / "moons.txt").write_text(
        "Jupiter has ninety-five officially recognised moons.\n", encoding="utf-8")
    env = {"CITEBOT_COLLECTIONS_DIR": str(built.collections_dir), "CITEBOT_USE_ONNX": "false",
           "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "bot", "--collection", name, "build"], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=300)
    built_at = time.monotonic()
    try:
        while True:
            answer = collections.engine(name).search("How many moons does Jupiter have?")
            if answer.passages[0].citation.document == "moons.txt":
                break
            assert time.monotonic() - built_at < 5, "the new index was not served within 5 s"
            time.sleep(0.1)
    finally:
        stop.set()
        for asker in askers:
            asker.join()
    assert failures == []
