"""``bot.core.documents``: the document changes both front ends make (issue 21, rule 4): a pending
add settles or is taken back, the earlier copy of an address survives an unreadable download, and
removing the last document or forgetting a server deletes the collection and its state."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.core import documents
from bot.core.collections import Collections, collection_for_guild
from bot.settings import Settings
from bot.state.servers import ServerStore
from index.errors import SourceError
from index.ingest.fetcher import FetchError, FetchLimits
from tests.web_server import WebServer

LIMITS = FetchLimits(1_000_000, 10.0, 3)
GUILD = 900000000000000042


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def recorded(folder: Path) -> dict[str, str]:
    return dict(tomllib.loads((folder / "sources.toml").read_text())["files"])


def settings_for(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        source_dir=tmp_path / "shared",
        index_dir=tmp_path / "index",
        collections_dir=tmp_path / "collections",
        state_db=tmp_path / "state.sqlite3",
    )


def test_an_unreadable_new_copy_of_an_address_is_undone_to_the_earlier_copy(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    with WebServer() as web:
        url = web.document("/notes.txt", b"first copy\n", "text/plain")
        first = documents.add_url(source, url, LIMITS, allow_private=True)
        assert first.previous is None
        first.keep()
        web.document("/notes.txt", b"second copy\n", "text/plain")
        second = documents.add_url(source, url, LIMITS, allow_private=True)
    assert second.previous is not None and second.previous.name == "notes.txt"
    assert (source / "notes.txt").read_bytes() == b"second copy\n"
    assert second.undo() == "restored"
    assert (source / "notes.txt").read_bytes() == b"first copy\n"
    assert listing(source) == ["notes.txt", "sources.toml"]  # no backup left behind
    assert recorded(source) == {"notes.txt": url}


def test_a_read_new_copy_drops_the_backup(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    with WebServer() as web:
        url = web.document("/notes.txt", b"first copy\n", "text/plain")
        documents.add_url(source, url, LIMITS, allow_private=True).keep()
        web.document("/notes.txt", b"second copy\n", "text/plain")
        second = documents.add_url(source, url, LIMITS, allow_private=True)
    second.keep()
    assert listing(source) == ["notes.txt", "sources.toml"]
    assert (source / "notes.txt").read_bytes() == b"second copy\n"


def test_a_failed_download_leaves_the_earlier_copy_and_no_backup(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    with WebServer() as web:
        url = web.document("/notes.txt", b"first copy\n", "text/plain")
        documents.add_url(source, url, LIMITS, allow_private=True).keep()
        web.error("/notes.txt", 404)
        with pytest.raises(FetchError):
            documents.add_url(source, url, LIMITS, allow_private=True)
    assert listing(source) == ["notes.txt", "sources.toml"]
    assert (source / "notes.txt").read_bytes() == b"first copy\n"


def test_an_unreadable_first_copy_is_removed_with_its_address(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source).mkdir()
    (source / "keep.md").write_text("# Keep\n\nStays.\n")
    with WebServer() as web:
        url = web.document("/blob.txt", b"\x00binary\x00", "text/plain")
        pending = documents.add_url(source, url, LIMITS, allow_private=True)
    assert pending.undo() == "removed"
    assert listing(source) == ["keep.md", "sources.toml"]
    assert recorded(source) == {}


def test_received_bytes_get_a_free_name_and_undo_removes_them(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.md").write_text("# A\n\nOne.\n")
    pending = documents.add_bytes(source, "a.md", b"# Another A\n\nTwo.\n")
    assert pending.name != "a.md" and (source / pending.name).is_file()
    assert pending.undo() == "removed"
    assert listing(source) == ["a.md"]


def test_an_upload_name_is_made_safe_or_refused() -> None:
    assert documents.upload_name("notes.md") == "notes.md"
    assert "/" not in documents.upload_name("../../etc/passwd.md")
    with pytest.raises(SourceError):
        documents.upload_name("...")


def test_removing_the_last_document_deletes_the_collection(tmp_path: Path) -> None:
    collections = Collections(settings_for(tmp_path))
    name = collection_for_guild(GUILD)
    folder = collections.settings_for(name).source_dir
    folder.mkdir(parents=True)
    (folder / "a.md").write_text("# A\n\nOne.\n")
    (folder / "b.md").write_text("# B\n\nTwo.\n")
    assert documents.remove(collections, name, "a.md") == "removed"
    assert [d.name for d in collections.documents(name)] == ["b.md"]
    assert documents.remove(collections, name, "b.md") == "deleted"
    assert name not in collections.names()
    with pytest.raises(SourceError):
        documents.remove(collections, name, "nothing.md")


def test_forgetting_a_server_deletes_its_documents_then_its_state(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    collections = Collections(settings)
    name = collection_for_guild(GUILD)
    folder = collections.settings_for(name).source_dir
    folder.mkdir(parents=True)
    (folder / "a.md").write_text("# A\n\nOne.\n")
    servers = ServerStore(settings.state_db)
    try:
        servers.record(GUILD, 1, "add", "a.md", "ok", "")
        assert servers.recent(GUILD)
        documents.forget_server(collections, servers, GUILD)
        assert name not in collections.names()
        assert not servers.recent(GUILD)
        documents.forget_server(collections, servers, GUILD)  # again: nothing left, no error
    finally:
        servers.close()
