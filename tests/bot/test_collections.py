"""Collections: isolation, least-recently-used loading, hot reload and purge, on the real model."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.core.collections import (
    DEFAULT,
    CollectionMissingError,
    CollectionNameError,
    Collections,
    collection_for_guild,
    guild_of,
    validate_name,
)
from index.build.build_lock import BuildInProgressError, BuildLock
from index.errors import CitebotError
from tests.bot.collection_builders import GLACIER, VOLCANO, ZEBRA, build_collection
from tests.conftest import SOURCE_DIR, isolated_settings

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Which Russian official visited Seoul?"


@pytest.fixture
def collections(built_index_dir: Path, tmp_path: Path) -> Collections:
    """Collections whose default is the bundled article (its ONNX export shared by all)."""
    settings = isolated_settings(
        source_dir=SOURCE_DIR,
        index_dir=built_index_dir,
        collections_dir=tmp_path / "collections",
        max_loaded_collections=2,
    )
    return Collections(settings)


@pytest.mark.parametrize("name", ["default", "guild-123456789012345678", "team_docs", "a", "9x"])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "../etc", "a/b", "a.b", ".hidden", "-x", "Upper", "x" * 64, "a b", "é", "a\\b"]
)
def test_invalid_names_are_refused_with_the_rule(name):
    with pytest.raises(CollectionNameError, match="lower-case letters, digits"):
        validate_name(name)


def test_guild_collection_names():
    assert collection_for_guild(42) == "guild-42"
    assert guild_of("guild-42") == 42
    assert guild_of("team-docs") is None
    with pytest.raises(CollectionNameError):
        collection_for_guild(0)


def test_each_collection_answers_only_from_its_own_documents(collections):
    build_collection(collections, "team-a", {"zebra.txt": ZEBRA, "glacier.txt": GLACIER})
    build_collection(collections, "guild-7", {"volcano.txt": VOLCANO})
    assert collections.names() == [DEFAULT, "guild-7", "team-a"]

    for question in ("Where does the zebra live?", "Which volcano did monks fear?", QUESTION):
        for name, own in (("team-a", {ZEBRA, GLACIER}), ("guild-7", {VOLCANO})):
            answer = collections.search(name, question, k=5)
            texts = {passage.text.strip() for passage in answer.passages}
            assert texts <= own, (name, question, texts)
            assert all("Lavrov" not in text for text in texts)
    default = collections.search(DEFAULT, "Where does the zebra live?", k=20)
    assert all(ZEBRA not in p.text and VOLCANO not in p.text for p in default.passages)
    assert "Sergei Lavrov" in collections.search(DEFAULT, QUESTION).passages[0].text


def test_least_recently_used_collection_is_unloaded_and_reloads(collections):
    for name, text in (("one", ZEBRA), ("two", GLACIER), ("three", VOLCANO)):
        build_collection(collections, name, {"fact.txt": text})
    collections.search("one", "zebra")
    collections.search("two", "glacier")
    collections.search("one", "zebra")  # "one" is now the most recently used
    collections.search("three", "volcano")
    assert collections.loaded_names() == ["one", "three"]
    answer = collections.search("two", "Which glacier advances every day?")
    assert GLACIER in answer.passages[0].text
    assert collections.loaded_names() == ["three", "two"]


def test_engines_share_one_model(collections):
    build_collection(collections, "one", {"fact.txt": ZEBRA})
    build_collection(collections, "two", {"fact.txt": GLACIER})
    assert collections.engine("one").query_encoder is collections.engine("two").query_encoder


def test_missing_collection_says_how_to_create_it(collections):
    with pytest.raises(CollectionMissingError, match="citebot --collection nope add FILE"):
        collections.search("nope", "anything")
    with pytest.raises(CollectionNameError):
        collections.search("../default", "anything")


def test_questions_from_many_threads_across_evictions(collections):
    facts = {"one": ZEBRA, "two": GLACIER, "three": VOLCANO}
    for name, text in facts.items():
        build_collection(collections, name, {"fact.txt": text})
    failures: list[BaseException] = []

    def ask(name: str) -> None:
        try:
            for _ in range(15):
                answer = collections.search(name, facts[name][:40])
                assert answer.passages[0].text.strip() == facts[name]
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=ask, args=(name,)) for name in facts for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(collections.loaded_names()) <= 2


def test_rebuild_in_another_process_is_served_without_a_failed_question(
    collections, built_index_dir
):
    build_collection(collections, "hot", {"zebra.txt": ZEBRA})
    collections.search("hot", "zebra")
    stop = threading.Event()
    failures: list[BaseException] = []
    asked = [0]

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                answer = collections.search("hot", "Where does the zebra Marlowe live?")
                assert ZEBRA in answer.passages[0].text
                asked[0] += 1
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=keep_asking) for _ in range(2)]
    for thread in threads:
        thread.start()
    source_dir = collections.settings_for("hot").source_dir
    (source_dir / "volcano.txt").write_text(VOLCANO + "\n", encoding="utf-8")
    settings = collections.settings
    env = {
        "PYTHONPATH": str(ROOT),
        "CITEBOT_SOURCE_DIR": str(SOURCE_DIR),
        "CITEBOT_INDEX_DIR": str(built_index_dir),
        "CITEBOT_COLLECTIONS_DIR": str(settings.collections_dir),
    }
    build = subprocess.run(
        [sys.executable, "-m", "bot", "--collection", "hot", "build"],
        capture_output=True,
        text=True,
        env={**_base_env(), **env},
        timeout=300,
    )
    built = time.monotonic()
    try:
        assert build.returncode == 0, build.stderr
        while True:
            answer = collections.search("hot", "Which volcano did monks call the gateway to hell?")
            if VOLCANO in answer.passages[0].text:
                break
            assert time.monotonic() - built < 5, "the new index was not served within 5 s"
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert asked[0] > 0


def test_unreadable_new_index_keeps_the_old_one_serving(collections):
    build_collection(collections, "steady", {"zebra.txt": ZEBRA})
    collections.reload_check_seconds = 0
    collections.search("steady", "zebra")
    index_dir = collections.settings_for("steady").index_dir
    (index_dir / "CURRENT").write_text("build-that-is-not-there\n", encoding="utf-8")
    assert ZEBRA in collections.search("steady", "Where does the zebra live?").passages[0].text
    collections.unload("steady")
    with pytest.raises(CollectionMissingError):
        collections.search("steady", "zebra")


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}


def test_purge_deletes_the_folder(collections):
    build_collection(collections, "guild-9", {"zebra.txt": ZEBRA})
    collections.search("guild-9", "zebra")
    collections.purge("guild-9")
    assert not (collections.settings.collections_dir / "guild-9").exists()
    assert collections.names() == [DEFAULT]
    assert "guild-9" not in collections.loaded_names()
    with pytest.raises(CollectionMissingError):
        collections.search("guild-9", "zebra")
    with pytest.raises(CollectionMissingError, match="does not exist"):
        collections.purge("guild-9")


def test_purge_refuses_default(collections):
    with pytest.raises(CitebotError, match="cannot be purged"):
        collections.purge(DEFAULT)


def test_purge_refuses_while_a_build_holds_the_lock(collections):
    build_collection(collections, "busy", {"zebra.txt": ZEBRA})
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with BuildLock(collections.settings_for("busy").index_dir).hold():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(BuildInProgressError):
            collections.purge("busy")
        assert (collections.settings.collections_dir / "busy" / "sources" / "zebra.txt").exists()
    finally:
        release.set()
        holder.join()
    collections.purge("busy")
    assert not (collections.settings.collections_dir / "busy").exists()


def test_summaries_read_manifests(collections):
    build_collection(collections, "guild-5", {"a.txt": ZEBRA, "b.txt": GLACIER})
    summary = {s.name: s for s in collections.summaries()}["guild-5"]
    assert (summary.documents, summary.chunks, summary.guild_id) == (2, 2, 5)
    assert summary.size_bytes > 0 and summary.built_at is not None


def test_collection_purged_by_another_process_is_not_served_again(collections):
    """``citebot collections purge`` in another process deletes the folder of a collection this
    process has loaded: the very next question refuses, however recently the index was checked."""
    build_collection(collections, "guild-11", {"zebra.txt": ZEBRA})
    collections.reload_check_seconds = 3600  # the periodic reload check would not notice yet
    assert ZEBRA in collections.search("guild-11", "Where does the zebra live?").passages[0].text
    assert "guild-11" in collections.loaded_names()
    purge = subprocess.run(
        [sys.executable, "-m", "bot", "collections", "purge", "guild-11", "--yes"],
        capture_output=True,
        text=True,
        env={
            **_base_env(),
            "PYTHONPATH": str(ROOT),
            "CITEBOT_SOURCE_DIR": str(SOURCE_DIR),
            "CITEBOT_INDEX_DIR": str(collections.settings.index_dir),
            "CITEBOT_COLLECTIONS_DIR": str(collections.settings.collections_dir),
        },
        timeout=120,
    )
    assert purge.returncode == 0, purge.stderr
    assert not (collections.settings.collections_dir / "guild-11").exists()
    with pytest.raises(CollectionMissingError, match="does not exist"):
        collections.search("guild-11", "Where does the zebra live?")
    assert "guild-11" not in collections.loaded_names()
