"""``citebot --collection NAME …`` and ``citebot collections``: end to end on the real model."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.bot.collection_builders import GLACIER, VOLCANO, ZEBRA, write_documents
from tests.conftest import SOURCE_DIR

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collections_dir(built_index_dir: Path, tmp_path: Path, monkeypatch) -> Path:
    """CLI settings: the bundled article as default, collections under a temporary folder."""
    folder = tmp_path / "collections"
    monkeypatch.setenv("CITEBOT_SOURCE_DIR", str(SOURCE_DIR))
    monkeypatch.setenv("CITEBOT_INDEX_DIR", str(built_index_dir))
    monkeypatch.setenv("CITEBOT_COLLECTIONS_DIR", str(folder))
    return folder


def _file(tmp_path: Path, name: str, text: str) -> Path:
    write_documents(tmp_path / "incoming", {name: text})
    return tmp_path / "incoming" / name


def _ask(capsys, collection: str, question: str) -> dict:
    capsys.readouterr()
    assert main(["--collection", collection, "ask", "--json", "--k", "5", question]) == 0
    return json.loads(capsys.readouterr().out)


def test_add_ask_info_list_and_purge(collections_dir, tmp_path, capsys):
    assert main(["--collection", "guild-77", "add", str(_file(tmp_path, "z.txt", ZEBRA))]) == 0
    assert (collections_dir / "guild-77" / "sources" / "z.txt").is_file()
    assert main(["--collection", "team-b", "add", str(_file(tmp_path, "v.txt", VOLCANO))]) == 0
    write_documents(collections_dir / "team-b" / "sources", {"g.txt": GLACIER})
    assert main(["--collection", "team-b", "build"]) == 0

    zebra = _ask(capsys, "guild-77", "Where does the zebra Marlowe live?")
    assert ZEBRA in zebra["passages"][0]["text"]
    assert all(VOLCANO not in p["text"] and GLACIER not in p["text"] for p in zebra["passages"])
    volcano = _ask(capsys, "team-b", "Which volcano did monks fear?")
    assert VOLCANO in volcano["passages"][0]["text"]
    assert all(ZEBRA not in p["text"] for p in volcano["passages"])
    default = _ask(capsys, "default", "Which Russian official visited Seoul?")
    assert "Sergei Lavrov" in default["passages"][0]["text"]

    assert main(["--collection", "team-b", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"]["documents"] == 2 and not info["sources_changed"]

    assert main(["collections", "--json"]) == 0
    listed = {item["name"]: item for item in json.loads(capsys.readouterr().out)}
    assert list(listed) == ["default", "guild-77", "team-b"]
    assert (listed["guild-77"]["guild_id"], listed["guild-77"]["documents"]) == (77, 1)
    assert listed["team-b"]["documents"] == 2 and listed["team-b"]["chunks"] == 2
    assert listed["default"]["documents"] == 1 and listed["team-b"]["size_bytes"] > 0

    assert main(["collections"]) == 0
    table = capsys.readouterr().out
    assert "guild-77" in table and "team-b" in table and "77" in table

    assert main(["collections", "purge", "guild-77", "--yes"]) == 0
    assert not (collections_dir / "guild-77").exists()
    assert main(["--collection", "guild-77", "ask", "zebra"]) == 1
    assert "citebot --collection guild-77 add FILE" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["ask", "anything"], ["info"], ["console"]])
def test_missing_collection_says_how_to_create_it(collections_dir, capsys, command):
    assert main(["--collection", "nope", *command]) == 1
    err = capsys.readouterr().err
    assert "collection nope does not exist" in err
    assert "citebot --collection nope add FILE" in err
    assert not (collections_dir / "nope").exists()


@pytest.mark.parametrize("name", ["../etc", "a/b", "x.y", "Guild-1", ".secret"])
def test_invalid_collection_name(collections_dir, capsys, name):
    assert main(["--collection", name, "build"]) == 2
    err = capsys.readouterr().err
    assert "invalid collection name" in err and "Traceback" not in err
    assert not collections_dir.exists()


def test_collection_with_directory_options_is_refused(collections_dir, tmp_path, capsys):
    assert main(["--collection", "team", "--index-dir", str(tmp_path), "info"]) == 2
    assert "default collection only" in capsys.readouterr().err


def test_purge_default_is_refused(collections_dir, capsys):
    assert main(["collections", "purge", "default", "--yes"]) == 1
    assert "cannot be purged" in capsys.readouterr().err


def test_purge_asks_for_confirmation_on_a_terminal(collections_dir, monkeypatch, capsys):
    write_documents(collections_dir / "team" / "sources", {"z.txt": ZEBRA})
    for reply, kept in (("n\n", True), ("y\n", False)):
        terminal = io.StringIO(reply)
        terminal.isatty = lambda: True  # type: ignore[method-assign]
        monkeypatch.setattr(sys, "stdin", terminal)
        status = main(["collections", "purge", "team"])
        assert (collections_dir / "team").exists() == kept
        assert status == (1 if kept else 0)
    assert "Nothing deleted" in capsys.readouterr().err


def test_purge_without_yes_from_a_pipe_refuses(collections_dir, built_index_dir):
    write_documents(collections_dir / "team" / "sources", {"z.txt": ZEBRA})
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("CITEBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        CITEBOT_COLLECTIONS_DIR=str(collections_dir),
        CITEBOT_INDEX_DIR=str(built_index_dir),
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "collections", "purge", "team"],
        input="y\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "add --yes" in result.stderr and "Traceback" not in result.stderr
    assert (collections_dir / "team" / "sources" / "z.txt").exists()


def test_ask_also_searches_other_collections_and_labels_each_passage(
    collections_dir, tmp_path, capsys
):
    assert main(["--collection", "guild-5", "add", str(_file(tmp_path, "z.txt", ZEBRA))]) == 0
    capsys.readouterr()
    argv = ["--collection", "guild-5", "ask", "--json", "--k", "3", "--also", "default"]

    assert main([*argv, "Where does the zebra Marlowe live?"]) == 0
    zebra = json.loads(capsys.readouterr().out)
    assert ZEBRA in zebra["passages"][0]["text"]
    assert zebra["passages"][0]["collection"] == "guild-5"
    assert {p["collection"] for p in zebra["passages"]} <= {"guild-5", "default"}

    assert main([*argv, "Which Russian official visited Seoul?"]) == 0
    lavrov = json.loads(capsys.readouterr().out)
    assert "Sergei Lavrov" in lavrov["passages"][0]["text"]
    assert lavrov["passages"][0]["collection"] == "default"

    follow = ["--follow-up-of", "Which Russian official visited Seoul?"]
    assert main([*argv, *follow, "What did he call on all countries to do?"]) == 0
    urged = json.loads(capsys.readouterr().out)
    assert urged["context"] == "Which Russian official visited Seoul?"
    assert "renounce an arms race" in urged["passages"][0]["text"]

    alone = _ask(capsys, "guild-5", "Where does the zebra Marlowe live?")
    assert {p["collection"] for p in alone["passages"]} == {None}  # one collection: no label

    assert main([*argv[:-1], "missing-one", "zebra"]) == 1
    assert "collection missing-one has no index" in capsys.readouterr().err


def test_purging_a_servers_collection_erases_what_the_bot_kept_about_it(
    collections_dir, tmp_path, monkeypatch, capsys, state_url
):
    from bot.state.servers import ServerStore

    state = state_url  # on either engine
    if isinstance(state, Path):
        monkeypatch.setenv("CITEBOT_STATE_DB", str(state))
    else:
        monkeypatch.setenv("CITEBOT_DATABASE_URL", state)
    from bot.state.threads import ThreadSourceStore

    store = ServerStore(state)
    threads = ThreadSourceStore(state)
    store.update_settings(31, include_default=False)
    store.record(31, 555, "add", "z.txt", "ok")
    store.record(32, 556, "add", "other.txt", "ok")
    threads.add_channel(31, 310, "guild-31", "help", solved_by="all")
    threads.record(310, 3100, "discord/310/q-3100.md", solved=True, last_message_id=3101)
    threads.add_channel(32, 320, "guild-32", "help", solved_by="all")
    assert main(["--collection", "guild-31", "add", str(_file(tmp_path, "z.txt", ZEBRA))]) == 0
    assert main(["collections", "purge", "guild-31", "--yes"]) == 0
    assert "Deleted what the bot kept about server 31" in capsys.readouterr().out
    assert store.recent(31) == [] and store.settings(31).include_default
    assert [entry.target for entry in store.recent(32)] == ["other.txt"]  # others untouched
    assert threads.channels(31) == [] and threads.threads(310) == {}  # source channels too
    assert [c.channel_id for c in threads.channels(32)] == [320]
    threads.close()
    store.close()
