"""`citebot add URL --crawl` and `citebot sync` end to end, against a site the test serves on
127.0.0.1 (tests/generated_site.py): the real model builds and answers, the state database
keeps the sources; conditional requests, pruning after two misses, and the faults of issue 22."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.state.sources import SourceStore
from tests.generated_site import GeneratedSite
from tests.hostile_site import OFF_PATH, serve_hostile_site
from tests.web_server import WebServer, html_page


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_CRAWL_DELAY_SECONDS", "0")
    monkeypatch.setenv("CITEBOT_FETCH_TIMEOUT_SECONDS", "5")


def cli(tmp_path: Path, *args: str) -> int:
    return main(["--source-dir", str(tmp_path / "src"), "--index-dir", str(tmp_path / "idx"),
                 *args])


def documents(tmp_path: Path) -> list[str]:
    return sorted(
        p.relative_to(tmp_path / "src").as_posix()
        for p in (tmp_path / "src").rglob("*")
        if p.is_file() and p.name != "sources.toml"
    )


def embedded(out: str) -> int:
    return int(out.split("embedded ")[1].split(" ")[0])


def pages_of(tmp_path: Path) -> dict[str, int]:
    """The registry's pages (address -> misses) of the only source."""
    store = SourceStore(Path(".citebot/feedback.sqlite3"))
    try:
        (source,) = store.of_collection("default")
        return {page.url: page.misses for page in store.pages(source.id)}
    finally:
        store.close()


def test_crawl_then_sync_fetches_only_what_changed_and_prunes_after_two_misses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with GeneratedSite(8) as site:
        assert cli(tmp_path, "add", site.url(), "--crawl") == 0
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        assert f"Crawled {site.url()} (sitemap)" in out and "9 added" in out
        assert "Indexed 9 document(s)" in out
        folder = f"127.0.0.1-{site.server.port}-docs"
        assert documents(tmp_path) == sorted(
            [f"{folder}/index.html"] + [f"{folder}/page-{n}.html" for n in range(8)]
        )
        recorded = tomllib.loads((tmp_path / "src" / "sources.toml").read_text())["files"]
        assert recorded[f"{folder}/page-3.html"] == site.url("/docs/page-3.html")
        assert len(site.bodies_sent) == 9

        # nothing changed: every page answers 304, no body, no build
        site.bodies_sent.clear()
        assert cli(tmp_path, "sync") == 0
        out, _ = capsys.readouterr()
        assert "0 added, 0 changed, 0 removed, 9 unchanged" in out
        assert site.bodies_sent == [] and len(site.not_modified) == 9
        assert "Indexed" not in out  # no build at all

        # one page changed, one deleted: only the changed page's texts are embedded
        site.change(2)
        site.delete(5)
        assert cli(tmp_path, "sync") == 0
        out, _ = capsys.readouterr()
        # page 2, and the index page, whose list of links lost page 5
        assert "2 changed" in out and "1 missing once" in out and "0 removed" in out
        assert f"  changed: {folder}/index.html, {folder}/page-2.html" in out
        assert site.bodies_sent.count("/docs/page-2.html") == 1
        assert 0 < embedded(out) <= 12  # the changed pages' chunks and sentences, no more
        assert (tmp_path / "src" / folder / "page-5.html").is_file()  # one miss: kept
        assert pages_of(tmp_path)[site.url("/docs/page-5.html")] == 1
        assert "version 2" in (tmp_path / "src" / folder / "page-2.html").read_text()

        # the second miss in a row removes it, and its address
        assert cli(tmp_path, "sync") == 0
        out, _ = capsys.readouterr()
        assert "1 removed" in out and "Indexed 8 document(s)" in out
        assert f"  removed: {folder}/page-5.html" in out
        assert not (tmp_path / "src" / folder / "page-5.html").exists()
        recorded = tomllib.loads((tmp_path / "src" / "sources.toml").read_text())["files"]
        assert f"{folder}/page-5.html" not in recorded
        assert site.url("/docs/page-5.html") not in pages_of(tmp_path)

    assert cli(tmp_path, "ask", "--json", "How does page 2 version 2 explain install?") == 0
    answer = json.loads(capsys.readouterr().out)
    cited = {p["citation"]["document"] for p in answer["passages"]}
    assert f"{folder}/page-5.html" not in cited
    assert any(p["citation"]["url"] and "127.0.0.1" in p["citation"]["url"]
               for p in answer["passages"])


def test_a_server_error_keeps_the_old_copy_and_a_site_without_sitemap_is_crawled_by_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    robots = "User-agent: *\nDisallow: /docs/page-4.html\n"
    with GeneratedSite(6, sitemap=False, robots=robots) as site:
        site.server.redirect("/docs/away.html", "/elsewhere/secret.html")
        site.server.document("/elsewhere/secret.html", html_page("Secret", "Not the docs."),
                             "text/html")
        index = site.bodies[site.prefix][0].replace(
            b"</ul>", b"<li><a href='away.html'>away</a></li><li><a href='/other/'>x</a></ul>"
        )
        site.put(site.prefix, index)
        assert cli(tmp_path, "add", site.url(), "--crawl") == 0
        out, err = capsys.readouterr()
        assert f"Crawled {site.url()} (links)" in out
        assert "/docs/page-4.html" not in site.server.requests  # robots.txt: never fetched
        assert "/elsewhere/secret.html" not in site.server.requests  # off the path
        assert "redirects off the site's path" in err
        assert "robots.txt disallows it" in err
        names = documents(tmp_path)
        assert len(names) == 6 and not any("page-4" in n or "away" in n for n in names)

        site.fail(1)
        assert cli(tmp_path, "sync") == 0
        out, err = capsys.readouterr()
        assert "1 failed (old copy kept)" in out and "0 removed" in out
        assert "503" in err and "the earlier copy is kept" in err
        assert len(documents(tmp_path)) == 6
        assert pages_of(tmp_path)[site.url("/docs/page-1.html")] == 0  # an outage is no miss


def test_bad_sites_are_bounded_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_CRAWL_MAX_PAGES", "6")
    monkeypatch.setenv("CITEBOT_FETCH_TIMEOUT_SECONDS", "1")
    with WebServer() as web:
        start = serve_hostile_site(web)
        assert cli(tmp_path, "add", start, "--crawl") == 0
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        assert "is not a sitemap" in err
        assert "sitemap" in err and "was not read" in err  # the endless one: cut at the limit
        assert "at most 6 pages per site" in err
        assert "beyond the first 2,000 of a page were not read" in err
        assert "links" in out
        assert "did not answer within 1 s" in err  # the trickling page
        assert "redirect loop" in err
        assert "redirects off the site's path" in err and OFF_PATH not in web.requests
        assert not list((tmp_path / "src").glob(".citebot-crawl-*"))  # no staging left
        names = documents(tmp_path)
        assert [name.rsplit("/", 1)[1] for name in names] == ["index.html", "p4.html"]


def test_crawl_refusals_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with WebServer() as web:
        assert cli(tmp_path, "add", web.url("/nothing/"), "--crawl") == 1
        err = capsys.readouterr().err
        assert err.startswith("citebot: error: ") and "404" in err and "nothing was added" in err
        assert "Traceback" not in err
    assert cli(tmp_path, "add", "notes.txt", "--crawl") == 1
    assert "--crawl takes a web address" in capsys.readouterr().err
    assert cli(tmp_path, "sync") == 1
    assert "no sources to sync" in capsys.readouterr().err


def test_a_sync_killed_during_its_build_leaves_the_old_index_and_the_next_sync_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.bot.test_cli import clean_environment

    common = ["--source-dir", str(tmp_path / "src"), "--index-dir", str(tmp_path / "idx")]
    with GeneratedSite(4) as site:
        assert cli(tmp_path, "add", site.url(), "--crawl") == 0
        capsys.readouterr()
        site.change(1)
        env = clean_environment({
            "CITEBOT_CRAWL_DELAY_SECONDS": "0", "PYTHONUNBUFFERED": "1",
            "CITEBOT_STATE_DB": str(Path.cwd() / ".citebot/feedback.sqlite3"),
        })
        child = subprocess.Popen(
            [sys.executable, "-m", "bot", *common, "sync"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        )
        assert child.stdout is not None
        line = child.stdout.readline()  # printed when the pages are in place, before the build
        assert line.startswith("Synced") and "1 changed" in line, line
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        assert child.stderr is not None
        child.stderr.close()

        # the previous index still answers (the build never finished)
        assert cli(tmp_path, "ask", "--json", "How does page 1 version 2 explain it?") == 0
        before = json.loads(capsys.readouterr().out)
        assert not any("version 2" in p["text"] for p in before["passages"])

        # the next sync finds nothing new on the site, but builds what the killed one left
        assert cli(tmp_path, "sync") == 0
        out, err = capsys.readouterr()
        assert "0 changed" in out and "Indexed 5 document(s)" in out, out + err
        assert not list((tmp_path / "src").rglob(".*.previous"))
        assert not list((tmp_path / "src").glob(".citebot-crawl-*"))
    assert cli(tmp_path, "ask", "--json", "How does page 1 version 2 explain it?") == 0
    after = json.loads(capsys.readouterr().out)
    assert any("version 2" in p["text"] for p in after["passages"])


def test_an_added_address_is_a_source_that_sync_keeps_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with GeneratedSite(3) as site:
        assert cli(tmp_path, "add", site.url("/docs/page-1.html")) == 0
        capsys.readouterr()
        assert pages_of(tmp_path) == {site.url("/docs/page-1.html"): 0}
        assert cli(tmp_path, "sync") == 0
        out, _ = capsys.readouterr()
        assert "(page)" in out and "0 added, 0 changed, 0 removed, 1 unchanged" in out
        assert site.bodies_sent.count("/docs/page-1.html") == 2  # no validators yet: a GET
        site.change(1)
        assert cli(tmp_path, "sync") == 0
        out, _ = capsys.readouterr()
        assert "0 added, 1 changed" in out and "Indexed 1 document(s)" in out
        assert "version 2" in (tmp_path / "src" / "page-1.html").read_text()
        assert site.requests_for_other_pages() == []




def test_the_operator_lists_reschedules_and_removes_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`citebot sources`: what the bot and `citebot sync` keep current, with a schedule the
    operator changes and a source removed with its pages (the others stay)."""
    with GeneratedSite(3) as site:
        assert cli(tmp_path, "add", site.url(), "--crawl") == 0
        capsys.readouterr()
    with WebServer() as web:
        page = web.document("/notes.txt", b"Kept notes.\n\nThey stay when the site goes.\n",
                            "text/plain")
        assert cli(tmp_path, "add", page) == 0
    capsys.readouterr()

    assert cli(tmp_path, "sources", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["kind"], s["schedule"], s["result"]) for s in listed] == [
        ("site", "daily", "ok"), ("page", "daily", "ok")
    ]
    site_id = listed[0]["id"]
    assert listed[0]["url"] == site.url() and listed[0]["synced"]

    assert cli(tmp_path, "sources", "schedule", str(site_id), "weekly") == 0
    assert "is synced weekly now" in capsys.readouterr().out
    assert cli(tmp_path, "sources", "schedule", "999", "never") == 1
    assert capsys.readouterr().err.strip() == (
        "citebot: error: collection default has no source 999: `citebot sources` lists them"
    )
    assert cli(tmp_path, "sources", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["schedule"] == "weekly"

    assert cli(tmp_path, "sources", "remove", str(site_id)) == 0
    out = capsys.readouterr().out
    assert f"Removed {site.url()} and its 4 page(s)" in out and "Indexed 1 document(s)" in out
    assert documents(tmp_path) == ["notes.txt"]
    assert cli(tmp_path, "sources", "--json") == 0
    assert [s["url"] for s in json.loads(capsys.readouterr().out)] == [page]
    assert cli(tmp_path, "sources") == 0
    assert "Sources of default" in capsys.readouterr().out  # the table, for a terminal


def test_a_page_removed_by_hand_stays_out_of_the_sites_syncs_until_added_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with GeneratedSite(4) as site:
        assert cli(tmp_path, "add", site.url(), "--crawl") == 0
        capsys.readouterr()
        folder = f"127.0.0.1-{site.server.port}-docs"
        page = site.url("/docs/page-2.html")

        assert cli(tmp_path, "remove", f"{folder}/page-2.html") == 0
        out, err = capsys.readouterr()
        assert f"Removed {folder}/page-2.html" in out and "Traceback" not in err
        assert f"It stays out of the syncs of {site.url()}" in out
        assert "Indexed 4 document(s)" in out
        assert page not in pages_of(tmp_path)

        site.server.requests.clear()
        assert cli(tmp_path, "sync") == 0  # the sitemap still lists it
        out, _ = capsys.readouterr()
        assert "0 added" in out and "4 unchanged" in out
        assert "/docs/page-2.html" not in site.server.requests  # not even asked for
        assert f"{folder}/page-2.html" not in documents(tmp_path)

        # added again by its address: the site's page again, kept current by its syncs
        assert cli(tmp_path, "add", page) == 0
        capsys.readouterr()
        assert pages_of(tmp_path)[page] == 0  # the one source, the site, has it back
        site.change(2)
        assert cli(tmp_path, "sync") == 0
        out, _ = capsys.readouterr()
        assert "0 added, 1 changed" in out and "page-2.html" in out
        assert documents(tmp_path).count(f"{folder}/page-2.html") == 0
        assert "version 2" in (tmp_path / "src" / "page-2.html").read_text()

        # removed again, then the source removed: its exclusions go with it
        assert cli(tmp_path, "remove", "page-2.html") == 0
        assert "It stays out of the syncs" in capsys.readouterr().out
        store = SourceStore(Path(".citebot/feedback.sqlite3"))
        try:
            (source,) = store.of_collection("default")
            assert store.excluded(source.id) == {page}
            (tmp_path / "src" / "notes.txt").write_text("Notes that stay.\n")
            assert cli(tmp_path, "sources", "remove", str(source.id)) == 0
            assert store.excluded(source.id) == set()
        finally:
            store.close()
    capsys.readouterr()
    assert cli(tmp_path, "remove", "no-such.html") == 1
    err = capsys.readouterr().err
    assert err.startswith("citebot: error: ") and "no such document" in err
