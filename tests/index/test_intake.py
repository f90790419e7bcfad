"""index/ingest/intake.py: names for added documents, the no-overwrite rules, and all-or-nothing
adds (downloads from a real server on 127.0.0.1; no index is built here: see
tests/bot/test_add.py)."""

from __future__ import annotations

import os
import time
import tomllib
from pathlib import Path

import pytest

from index.errors import SourceError
from index.ingest.addresses import record_address
from index.ingest.fetcher import FetchError, FetchLimits, FetchTimeout, FetchTooLarge
from index.ingest.intake import (
    STAGING_PREFIX,
    add_file,
    add_url,
    check_user_name,
    limit_length,
    name_from_url,
    place,
    remove_document,
    safe_file_name,
    staging_file,
    target_folder,
    with_suffix,
)
from tests.conftest import ARTICLE
from tests.web_server import WebServer, html_page, pdf_document

ARTICLE_BYTES = ARTICLE.read_bytes()
PAGE = html_page("Allied coordination", ARTICLE_BYTES.decode("utf-8-sig"))
PDF = pdf_document(["Foreign Minister Sergei Lavrov visited Seoul."])
LIMITS = FetchLimits(max_bytes=1_000_000, timeout_seconds=5, max_redirects=3)


@pytest.fixture(scope="module")
def server():
    with WebServer() as web:
        web.document("/docs/faq", PAGE, "text/html")
        web.document("/other/faq", b"<html><title>x</title><p>Another FAQ.</p></html>",
                     "text/html")
        web.document("/", PAGE, "text/html")
        web.document("/report.pdf", PDF, "application/pdf")
        web.document("/notes.md", b"# Notes\n\nSome notes.\n", "text/plain")
        web.document("/logo.png", b"\x89PNG" + bytes(50), "image/png")
        web.redirect("/old-faq", "/docs/faq", 301)
        web.error("/missing", 404)
        web.stream("/slow", lambda: (b"z" for _ in range(500)), "text/plain",
                   declared_length=500, pause=0.05)
        web.document("/big.txt", b"x" * 2_000_000, "text/plain")
        yield web


def listing(folder: Path) -> list[str]:
    """Every entry under ``folder``, hidden ones included, relative."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def recorded(source: Path) -> dict[str, str]:
    path = source / "sources.toml"
    return tomllib.loads(path.read_text())["files"] if path.exists() else {}


# ----- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/docs/faq", "faq"),
        ("https://example.com/rules%20v2.pdf?x=1#p3", "rules v2.pdf"),
        ("https://example.com/", "example.com"),
        ("https://example.com", "example.com"),
        ("https://example.com/docs/", "example.com-docs"),
        ("https://example.com/docs/index.html", "example.com-docs"),
        ("https://example.com:8443/a/b/", "example.com-a-b"),
        ("https://example.com/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "etc-passwd"),
        ("https://example.com/.env", "env"),
        ("https://example.com/a%00b%1b[31m%E2%80%AEgpj.txt", "ab[31mgpj.txt"),
        ("https://example.com/...", "example.com"),
    ],
)
def test_name_from_url(url, name):
    assert name_from_url(url) == name


def test_safe_file_name_keeps_readable_text():
    assert safe_file_name("Rapport d’été: 2024/Q1.pdf") == "Rapport d’été- 2024-Q1.pdf"
    assert safe_file_name("  ..hidden  ") == "hidden"
    assert safe_file_name("\x00\x07") == ""


def test_with_suffix():
    assert with_suffix("faq", (".html", ".htm")) == "faq.html"
    assert with_suffix("faq.HTM", (".html", ".htm")) == "faq.HTM"
    assert with_suffix("view.php", (".html",)) == "view.php.html"
    assert with_suffix("guide.md", (".txt", ".md")) == "guide.md"


def test_limit_length_keeps_the_ending():
    name = limit_length("é" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 120
    assert limit_length("short.txt") == "short.txt"


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "a/b.txt", "a\\b.txt", ".hidden.txt", "a\x1bb.txt", " x.txt",
            "x" * 200 + ".txt"]
)
def test_user_names_are_plain(bad):
    with pytest.raises(SourceError):
        check_user_name(bad)


# ----- folders and placement --------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../out", "/tmp/x", "a/../../b", ".git", "docs/.cache", "a\x00"])
def test_folder_stays_inside(tmp_path, bad):
    source = tmp_path / "src"
    source.mkdir()
    with pytest.raises(SourceError), target_folder(source, bad):
        pass
    assert listing(source) == []


def test_folder_through_a_link_outside_is_refused(tmp_path):
    source, outside = tmp_path / "src", tmp_path / "outside"
    source.mkdir()
    outside.mkdir()
    (source / "ext").symlink_to(outside)
    with pytest.raises(SourceError, match="outside the source folder"), target_folder(
        source, "ext/new"
    ):
        pass
    assert listing(outside) == []


def test_folder_made_for_a_failed_add_is_removed(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    with pytest.raises(RuntimeError), target_folder(source, "a/b") as folder:
        assert folder.is_dir()
        raise RuntimeError
    assert listing(source) == []


@pytest.mark.parametrize("problem", [RuntimeError, KeyboardInterrupt])
def test_staging_file_never_stays(tmp_path, problem):
    with pytest.raises(problem), staging_file(tmp_path) as (path, handle):
        assert path.name.startswith(STAGING_PREFIX)
        handle.write(b"half")
        raise problem
    assert listing(tmp_path) == []


def staged(folder: Path, data: bytes) -> Path:
    path = folder / f"{STAGING_PREFIX}test.part"
    path.write_bytes(data)
    return path


def test_place_never_overwrites_a_users_file(tmp_path):
    (tmp_path / "faq.html").write_text("mine")
    placed = place(staged(tmp_path, b"new"), tmp_path, tmp_path, "faq.html", {}, "https://a/faq")
    assert placed.name == "faq-2.html" and not placed.replaced
    assert (tmp_path / "faq.html").read_text() == "mine"
    assert (tmp_path / "faq-2.html").read_bytes() == b"new"
    assert listing(tmp_path) == ["faq-2.html", "faq.html"]


def test_place_replaces_the_same_address(tmp_path):
    (tmp_path / "faq.html").write_text("old")
    addresses = {"faq.html": "https://a/faq"}
    placed = place(staged(tmp_path, b"new"), tmp_path, tmp_path, "faq.html", addresses,
                   "https://a/faq")
    assert placed.name == "faq.html" and placed.replaced
    assert (tmp_path / "faq.html").read_bytes() == b"new"


def test_place_skips_names_recorded_for_other_addresses(tmp_path):
    addresses = {"faq.html": "https://a/faq", "faq-2.html": "https://b/faq"}
    (tmp_path / "faq.html").write_text("a's")
    placed = place(staged(tmp_path, b"c's"), tmp_path, tmp_path, "faq.html", addresses,
                   "https://c/faq")
    assert placed.name == "faq-3.html"  # faq-2.html is gone, but its address would stick
    # A copied file (no address) never takes a recorded name either.
    placed = place(staged(tmp_path, b"local"), tmp_path, tmp_path, "faq-2.html", addresses)
    assert placed.name == "faq-2-2.html"


# ----- add_url ---------------------------------------------------------------------------------


def test_add_url_writes_and_records(server, tmp_path):
    source = tmp_path / "src"
    (source).mkdir()
    (source / "sources.toml").write_text('# my comment\n[files]\n"x.txt" = "https://x.org/"\n')
    added = add_url(source, server.url("/docs/faq"), LIMITS, allow_private=True)
    assert added.name == "faq.html" and not added.replaced and added.size == len(PAGE)
    assert (source / "faq.html").read_bytes() == PAGE
    assert recorded(source) == {"x.txt": "https://x.org/", "faq.html": server.url("/docs/faq")}
    assert "# my comment" in (source / "sources.toml").read_text()
    assert listing(source) == ["faq.html", "sources.toml"]


def test_add_url_again_updates_the_same_file(server, tmp_path):
    add_url(tmp_path, server.url("/docs/faq"), LIMITS, allow_private=True)
    (tmp_path / "faq.html").write_text("stale")
    again = add_url(tmp_path, server.url("/docs/faq"), LIMITS, allow_private=True)
    assert again.name == "faq.html" and again.replaced
    assert (tmp_path / "faq.html").read_bytes() == PAGE


def test_add_url_same_name_other_address(server, tmp_path):
    (tmp_path / "faq.html").write_text("the user's own file")
    first = add_url(tmp_path, server.url("/docs/faq"), LIMITS, allow_private=True)
    second = add_url(tmp_path, server.url("/other/faq"), LIMITS, allow_private=True)
    assert (first.name, second.name) == ("faq-2.html", "faq-3.html")
    assert (tmp_path / "faq.html").read_text() == "the user's own file"
    assert recorded(tmp_path) == {
        "faq-2.html": server.url("/docs/faq"), "faq-3.html": server.url("/other/faq")
    }


def test_add_url_records_the_address_after_redirects(server, tmp_path):
    added = add_url(tmp_path, server.url("/old-faq"), LIMITS, allow_private=True)
    assert added.url == server.url("/docs/faq") and added.requested == server.url("/old-faq")
    assert recorded(tmp_path) == {"faq.html": server.url("/docs/faq")}


def test_add_url_names(server, tmp_path):
    pdf = add_url(tmp_path, server.url("/report.pdf"), LIMITS, allow_private=True)
    notes = add_url(tmp_path, server.url("/notes.md"), LIMITS, allow_private=True)  # text/plain
    home = add_url(tmp_path, server.url("/"), LIMITS, allow_private=True)
    assert (pdf.name, notes.name, home.name) == ("report.pdf", "notes.md", "127.0.0.1.html")
    assert (tmp_path / "report.pdf").read_bytes() == PDF


def test_add_url_into_a_folder_with_a_name(server, tmp_path):
    added = add_url(tmp_path, server.url("/docs/faq"), LIMITS, name="help", folder="web/help",
                    allow_private=True)
    assert added.name == "web/help/help.html"
    assert (tmp_path / "web" / "help" / "help.html").read_bytes() == PAGE
    assert recorded(tmp_path) == {"web/help/help.html": server.url("/docs/faq")}
    with pytest.raises(SourceError, match=r"give a name ending in \.html or \.htm"):
        add_url(tmp_path, server.url("/docs/faq"), LIMITS, name="help.pdf", allow_private=True)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/missing", FetchError),
        ("/logo.png", FetchError),
        ("/slow", FetchTimeout),
        ("/big.txt", FetchTooLarge),
    ],
)
def test_failed_add_url_leaves_nothing(server, tmp_path, path, error):
    source = tmp_path / "src"
    source.mkdir()
    (source / "mine.txt").write_text("keep")
    limits = FetchLimits(max_bytes=1_000_000, timeout_seconds=1, max_redirects=3)
    with pytest.raises(error):
        add_url(source, server.url(path), limits, folder="new/sub", allow_private=True)
    assert listing(source) == ["mine.txt"]


def test_interrupted_download_leaves_nothing(server, tmp_path):
    def interrupt(done: int, total: int) -> None:
        assert any(p.name.startswith(STAGING_PREFIX) for p in tmp_path.iterdir())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        add_url(tmp_path, server.url("/docs/faq"), LIMITS, allow_private=True,
                progress=interrupt)
    assert listing(tmp_path) == []


def test_broken_sources_toml_stops_before_downloading(server, tmp_path):
    (tmp_path / "sources.toml").write_text("[files\n")
    before = len(server.requests)
    with pytest.raises(SourceError, match=r"sources\.toml"):
        add_url(tmp_path, server.url("/docs/faq"), LIMITS, allow_private=True)
    assert len(server.requests) == before
    assert listing(tmp_path) == ["sources.toml"]


def test_add_url_refuses_private_addresses_by_default(server, tmp_path):
    with pytest.raises(FetchError, match="private"):
        add_url(tmp_path, server.url("/docs/faq"), LIMITS)
    assert listing(tmp_path) == []


# ----- add_file --------------------------------------------------------------------------------


def test_add_file_copies(tmp_path):
    source = tmp_path / "src"
    added = add_file(source, ARTICLE, 1_000_000)
    assert added.name == ARTICLE.name and added.url is None and added.size == len(ARTICLE_BYTES)
    assert (source / ARTICLE.name).read_bytes() == ARTICLE_BYTES
    assert listing(source) == [ARTICLE.name]
    assert add_file(source, ARTICLE, 1_000_000).unchanged  # the same file again: nothing to do


def test_add_file_never_overwrites(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "notes.md").write_text("mine")
    mine = tmp_path / "notes.md"
    mine.write_text("theirs")
    added = add_file(source, mine, 1_000_000)
    assert added.name == "notes-2.md"
    assert (source / "notes.md").read_text() == "mine"


def test_add_file_name_and_folder(tmp_path):
    source = tmp_path / "src"
    added = add_file(source, ARTICLE, 1_000_000, name="korea", folder="news")
    assert added.name == "news/korea.txt"
    assert (source / "news" / "korea.txt").read_bytes() == ARTICLE_BYTES


def test_add_file_refusals(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG")
    with pytest.raises(SourceError, match=r"ending in \.txt, .*\.pdf, \.docx"):
        add_file(source, image, 1_000_000)
    with pytest.raises(SourceError, match=r"over the 0\.001 MB limit"):
        add_file(source, ARTICLE, 1000)
    with pytest.raises(SourceError, match="is a folder: copy it into the source folder"):
        add_file(source, tmp_path, 1_000_000)
    with pytest.raises(SourceError, match="no such file"):
        add_file(source, tmp_path / "nothing.txt", 1_000_000)
    assert listing(source) == []


def test_staging_files_are_hidden_from_builds(tmp_path):
    from index.ingest.documents import scan_sources

    with staging_file(tmp_path) as (path, handle):
        handle.write(b"partial text")
        handle.flush()
        os.utime(path, (time.time(), time.time()))
        assert scan_sources(tmp_path).files == ()
    record_address(tmp_path, "a.txt", "https://example.com/a")  # sources.toml is no source
    assert scan_sources(tmp_path).files == ()


# ----- removing -----------------------------------------------------------------------------


def test_remove_document_deletes_the_file_and_its_address(server, tmp_path):
    source = tmp_path / "src"
    added = add_url(source, server.url("/docs/faq"), LIMITS, allow_private=True)
    record_address(source, "kept.html", "https://example.com/kept")
    (source / "notes.txt").write_text("notes\n")
    remove_document(source, added.name)
    assert listing(source) == ["notes.txt", "sources.toml"]
    assert recorded(source) == {"kept.html": "https://example.com/kept"}
    remove_document(source, "notes.txt")  # a file without an address
    assert listing(source) == ["sources.toml"]


@pytest.mark.parametrize(
    "bad", ["", "../outside.txt", "/etc/hosts.txt", ".hidden.txt", "sources.toml", "a/../b.txt",
            "missing.txt", "inner/.x/a.txt", "photo.png"],
)
def test_remove_document_refuses_anything_but_a_document_inside(tmp_path, bad):
    source = tmp_path / "src"
    source.mkdir()
    (tmp_path / "outside.txt").write_text("not in the folder\n")
    (source / ".hidden.txt").write_text("hidden\n")
    (source / "photo.png").write_bytes(b"\x89PNG")
    record_address(source, "a.txt", "https://example.com/a")
    before = listing(source)
    with pytest.raises(SourceError):
        remove_document(source, bad)
    assert listing(source) == before
    assert (tmp_path / "outside.txt").exists()


def test_remove_document_does_not_follow_a_linked_folder(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("secret\n")
    (source / "linked").symlink_to(elsewhere)
    with pytest.raises(SourceError):
        remove_document(source, "linked/secret.txt")
    assert (elsewhere / "secret.txt").exists()
