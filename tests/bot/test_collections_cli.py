"""Collections from the command line (issue 11): each answers only from its own documents,
`citebot collections` lists them, purge erases one, and names cannot escape their folder."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bot.cli import main
from index.store import IndexStore
from tests.conftest import ARTICLE

QUESTION = "Which Russian official visited Seoul?"
CATS = "Cats sleep for most of the day, often sixteen hours, and hunt at dawn and dusk.\n"


@pytest.fixture
def collections_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "collections"
    monkeypatch.setenv("CITEBOT_COLLECTIONS_DIR", str(folder))
    monkeypatch.setenv("CITEBOT_USE_ONNX", "false")
    monkeypatch.setenv("CITEBOT_SOURCE_DIR", str(tmp_path / "default-sources"))
    monkeypatch.setenv("CITEBOT_INDEX_DIR", str(tmp_path / "default-index"))
    return folder


def ask_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main([*args, "ask", "--json", QUESTION]) == 0
    return json.loads(capsys.readouterr().out)


def test_each_collection_answers_from_its_own_documents(collections_dir, tmp_path, capsys):
    cats = tmp_path / "cats.txt"
    cats.write_text(CATS, encoding="utf-8")
    assert main(["--collection", "alpha", "add", str(ARTICLE)]) == 0
    assert main(["--collection", "guild-123", "add", str(cats)]) == 0
    assert (collections_dir / "alpha" / "sources" / ARTICLE.name).is_file()

    alpha = ask_json(capsys, "--collection", "alpha")
    assert "Sergei Lavrov" in alpha["passages"][0]["text"]
    guild = ask_json(capsys, "--collection", "guild-123")
    assert guild["found"] is False
    assert all("Cats sleep" in p["text"] for p in guild["passages"])
    assert all(p["citation"]["document"] == "cats.txt" for p in guild["passages"])

    assert main(["collections", "--json"]) == 0
    listed = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert list(listed) == ["default", "alpha", "guild-123"]
    assert listed["default"]["problem"] == "not built yet"
    assert listed["alpha"]["documents"] == 1 and listed["alpha"]["chunks"] == 20
    assert listed["guild-123"]["guild_id"] == 123 and listed["guild-123"]["documents"] == 1
    assert main(["collections"]) == 0
    assert "guild-123" in capsys.readouterr().out


def test_purge_erases_a_collection_and_nothing_else(collections_dir, tmp_path, capsys,
                                                   monkeypatch):
    cats = tmp_path / "cats.txt"
    cats.write_text(CATS, encoding="utf-8")
    assert main(["--collection", "guild-1", "add", str(cats)]) == 0
    assert main(["--collection", "guild-2", "add", str(cats)]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["collections", "purge", "guild-1"]) == 1  # not asked, not sure: refused
    assert "--yes" in capsys.readouterr().err and (collections_dir / "guild-1").is_dir()

    lock = IndexStore(collections_dir / "guild-1" / "index").build_lock()
    held, release = threading.Event(), threading.Event()

    def build_running_now() -> None:
        with lock.hold():
            held.set()
            release.wait(30)

    builder = threading.Thread(target=build_running_now)
    builder.start()
    held.wait(10)
    try:
        assert main(["collections", "purge", "guild-1", "--yes"]) == 1
    finally:
        release.set()
        builder.join()
    assert "build" in capsys.readouterr().err and (collections_dir / "guild-1").is_dir()

    assert main(["collections", "purge", "guild-1", "--yes"]) == 0
    assert not (collections_dir / "guild-1").exists()
    assert (collections_dir / "guild-2" / "index").is_dir()
    assert main(["collections", "purge", "default", "--yes"]) == 1
    assert main(["collections", "purge", "guild-1", "--yes"]) == 1
    assert "no collection 'guild-1'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["../etc", "Alpha", "a/b", ".hidden", "", "x" * 64, "a b"])
def test_names_that_could_escape_or_confuse_are_refused(collections_dir, capsys, name):
    assert main(["--collection", name, "build"]) == 2
    assert "cannot name a collection" in capsys.readouterr().err
    assert not collections_dir.exists()


def test_missing_collection_and_mixed_options_are_explained(collections_dir, tmp_path, capsys):
    assert main(["--collection", "nope", "ask", QUESTION]) == 2
    assert "citebot --collection nope add" in capsys.readouterr().err
    assert main(["--collection", "alpha", "--index-dir", str(tmp_path), "build"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["--collection", "alpha", "discord"]) == 2
    assert "does not apply" in capsys.readouterr().err
    assert not collections_dir.exists()
