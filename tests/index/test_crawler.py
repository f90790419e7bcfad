"""index/crawler.py against sites served on 127.0.0.1 by the test (no model, no bot): what is
fetched, what is never requested, how duplicates and hostile sitemaps are bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from index.ingest.crawler import (
    MAX_LINKS_PER_PAGE,
    REVALIDATION_SHARE,
    CrawlError,
    CrawlLimits,
    Timer,
    Validators,
    crawl,
    normalise,
    parse_sitemap,
)
from index.ingest.fetcher import FetchLimits
from tests.generated_site import GeneratedSite
from tests.web_server import WebServer, html_page

LIMITS = CrawlLimits(FetchLimits(2_000_000, 5, 3), max_pages=50, delay_seconds=0, concurrency=2)


def page(title: str, body: str = "", head: str = "") -> bytes:
    return html_page(title, f"{title} text. " * 30).replace(
        b"</head>", head.encode() + b"</head>").replace(b"</main>", body.encode() + b"</main>")


def test_a_sitemap_index_its_sitemaps_and_canonical_and_redirected_duplicates(
    tmp_path: Path,
) -> None:
    with WebServer() as web:
        base = web.url("")
        web.document("/robots.txt", f"User-agent: *\nSitemap: {base}/maps/index.xml\n".encode(),
                     "text/plain")
        web.document("/maps/index.xml", (
            "<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<sitemap><loc>{base}/maps/a.xml</loc></sitemap>"
            f"<sitemap><loc>{base}/maps/b.xml</loc></sitemap></sitemapindex>").encode(),
            "application/xml")
        web.document("/maps/a.xml", (
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<url><loc>{base}/docs/one.html</loc></url>"
            f"<url><loc>{base}/docs/one-alias.html</loc></url>"
            f"<url><loc>{base}/blog/outside.html</loc></url></urlset>").encode(),
            "application/xml")
        web.document("/maps/b.xml", (
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<url><loc>{base}/docs/two.html</loc></url>"
            f"<url><loc>{base}/docs/old.html</loc></url>"
            f"<url><loc>{base}/docs/manual.pdf</loc></url></urlset>").encode(),
            "application/xml")
        web.document("/docs/", page("Start"), "text/html")
        web.document("/docs/one.html", page("One"), "text/html")
        web.document("/docs/one-alias.html", page(
            "One", head=f"<link rel='canonical' href='{base}/docs/one.html'>"), "text/html")
        web.document("/docs/two.html", page("Two"), "text/html")
        web.redirect("/docs/old.html", "/docs/two.html")
        web.document("/docs/manual.pdf", b"%PDF-1.4 not really", "application/pdf")
        report = crawl(web.url("/docs/"), tmp_path, LIMITS, allow_private=True)

    assert report.mode == "sitemap"
    fetched = {url for url, p in report.pages.items() if p.outcome == "fetched"}
    assert fetched == {f"{base}/docs/", f"{base}/docs/one.html", f"{base}/docs/two.html",
                       f"{base}/docs/manual.pdf"}
    # an alias reached before its page is kept under the page's address; after it, it is
    # reported as the same page: kept once either way
    duplicates = {url: p.reason for url, p in report.pages.items() if p.outcome == "skipped"}
    assert set(duplicates) <= {f"{base}/docs/one-alias.html", f"{base}/docs/old.html"}
    assert all(reason.startswith("the same page as") for reason in duplicates.values())
    assert all(p.final_url == url for url, p in report.pages.items() if url in fetched)
    assert "/blog/outside.html" not in web.requests  # under the start path only
    assert len(list(tmp_path.iterdir())) == 4  # one staged body per kept page
    assert report.pages[f"{base}/docs/manual.pdf"].suffixes == (".pdf",)


def test_robots_disallow_is_never_requested_and_a_disallowed_start_is_refused(
    tmp_path: Path,
) -> None:
    with GeneratedSite(3, sitemap=False,
                       robots="User-agent: *\nDisallow: /docs/page-1.html\n") as site:
        report = crawl(site.url(), tmp_path, LIMITS, allow_private=True)
        assert "/docs/page-1.html" not in site.server.requests
        assert report.pages[site.url("/docs/page-1.html")].outcome == "skipped"
    with GeneratedSite(3, robots="User-agent: *\nDisallow: /docs/\n") as site:
        with pytest.raises(CrawlError, match=r"robots\.txt disallows it"):
            crawl(site.url(), tmp_path, LIMITS, allow_private=True)
        assert site.bodies_sent == []


def test_a_private_address_is_refused_unless_allowed(tmp_path: Path) -> None:
    with GeneratedSite(2) as site:
        with pytest.raises(CrawlError, match="does not lead to a public internet address"):
            crawl(site.url(), tmp_path, LIMITS)
        assert site.server.requests == []


def test_conditional_requests_and_what_a_page_of_many_links_costs(tmp_path: Path) -> None:
    with GeneratedSite(5) as site:
        first = crawl(site.url(), tmp_path, LIMITS, allow_private=True)
        known = {url: p.validators for url, p in first.pages.items()}
        assert all(v.etag and v.last_modified for v in known.values())
        site.bodies_sent.clear()
        again = crawl(site.url(), tmp_path, LIMITS, allow_private=True, known=known)
        assert site.bodies_sent == []
        assert {p.outcome for p in again.pages.values()} == {"not_modified"}
        assert again.pages[site.url()].validators == known[site.url()]
        stale = dict(known, **{site.url("/docs/page-2.html"): Validators('"old"', None)})
        site.bodies_sent.clear()
        crawl(site.url(), tmp_path, LIMITS, allow_private=True, known=stale)
        assert site.bodies_sent == ["/docs/page-2.html"]

    with WebServer() as web:
        links = "".join(f"<a href='p{n}.html?x=1#top'>{n}</a>" for n in range(10_000))
        web.document("/many/", page("Many", links), "text/html")
        for n in range(60):
            web.document(f"/many/p{n}.html", page(f"P{n}"), "text/html")
        report = crawl(web.url("/many/"), tmp_path, LIMITS, allow_private=True)
    assert report.mode == "links" and len(report.pages) == LIMITS.max_pages
    assert any(f"beyond the first {MAX_LINKS_PER_PAGE:,}" in note for note in report.notes)
    assert any("at most 50 pages per site" in note for note in report.notes)
    assert len(web.requests) <= LIMITS.max_pages + 3  # robots.txt and two sitemap guesses


def test_hostile_sitemaps_are_no_sitemaps() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><urlset><url><loc>&b;</loc></url>'
            b"</urlset>")
    assert parse_sitemap(bomb)[1] == []  # entities are not expanded
    assert parse_sitemap(b"<html><body>Not found</body></html>") == (None, [])
    assert parse_sitemap(b"\x00\xff garbage") == (None, [])
    assert parse_sitemap(b"<urlset><url><loc>javascript:alert(1)</loc></url></urlset>") == (
        "pages", [])


def test_addresses_are_normalised() -> None:
    assert normalise("HTTP://Example.COM:80/a#frag") == "http://example.com/a"
    assert normalise("https://example.com:443") == "https://example.com/"
    assert normalise("https://example.com/a?") == "https://example.com/a"


def test_a_sitemap_over_the_size_cap_is_cut_and_the_links_are_followed(tmp_path: Path) -> None:
    """The size cap alone bounds a huge sitemap (issue 22: "a sitemap of 1 GB"): reading stops
    past ``max_sitemap_bytes``, the reason is noted, and the crawl follows the links instead."""
    from dataclasses import replace

    limits = replace(LIMITS, max_sitemap_bytes=20_000)
    entry = "<url><loc>{base}/docs/p{n}.html</loc></url>"
    with WebServer() as web:
        base = web.url("")
        huge = ("<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                + "".join(entry.format(base=base, n=n) for n in range(20_000))
                + "</urlset>").encode()
        assert len(huge) > 1_000_000
        web.document("/docs/sitemap.xml", huge, "application/xml")
        web.document("/docs/", page("Start", f"<a href='{base}/docs/next.html'>next</a>"),
                     "text/html")
        web.document("/docs/next.html", page("Next"), "text/html")
        report = crawl(web.url("/docs/"), tmp_path, limits, allow_private=True)
    assert report.mode == "links"
    assert any("sitemap" in note and "was not read" in note for note in report.notes), (
        report.notes
    )
    fetched = {url for url, p in report.pages.items() if p.outcome == "fetched"}
    assert fetched == {f"{base}/docs/", f"{base}/docs/next.html"}


class FakeClock:
    """A clock that moves only when the pacing waits: ``waits`` are the gaps it scheduled."""

    def __init__(self) -> None:
        self.time = 1_000.0
        self.waits: list[float] = []
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.time

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.waits.append(seconds)
            self.time += seconds

    def timer(self) -> Timer:
        return Timer(self.now, self.sleep)


# One request at a time, so each wait is exactly the gap the pacing put before a request.
POLITE = CrawlLimits(FetchLimits(2_000_000, 5, 3), max_pages=50, delay_seconds=0.25,
                     concurrency=1)


def test_a_revalidating_sync_is_not_slowed_by_the_full_delay_but_a_changed_page_is(
    tmp_path: Path,
) -> None:
    with GeneratedSite(20) as site:
        crawling = FakeClock()
        first = crawl(site.url(), tmp_path, POLITE, allow_private=True, timer=crawling.timer())
        requests = len(site.server.requests)  # robots.txt, two sitemap guesses, 21 pages
        assert requests == 24
        assert crawling.waits == [pytest.approx(0.25)] * (requests - 1)
        known = {url: p.validators for url, p in first.pages.items()}

        syncing = FakeClock()
        site.bodies_sent.clear()
        again = crawl(site.url(), tmp_path, POLITE, allow_private=True, known=known,
                      timer=syncing.timer())
        assert {p.outcome for p in again.pages.values()} == {"not_modified"}
        assert site.bodies_sent == []
        # robots.txt and the sitemaps are fetched whole, politely; the 21 revalidations are not
        gap = 0.25 * REVALIDATION_SHARE
        assert syncing.waits == [pytest.approx(0.25)] * 3 + [pytest.approx(gap)] * 20
        assert sum(syncing.waits[3:]) < 0.05 * sum(crawling.waits[3:])  # the pages' waits

        for number in (3, 4):
            site.change(number)
        changing = FakeClock()
        site.bodies_sent.clear()
        crawl(site.url(), tmp_path, POLITE, allow_private=True, known=known,
              timer=changing.timer())
        assert sorted(site.bodies_sent) == ["/docs/page-3.html", "/docs/page-4.html"]
        # a revalidation that brought a body holds the next request back the whole delay
        assert sorted(changing.waits, reverse=True)[:5] == [pytest.approx(0.25)] * 5
        assert sum(changing.waits) == pytest.approx(5 * 0.25 + 18 * gap)


def test_a_crawl_delay_in_robots_txt_spaces_every_request_revalidations_included(
    tmp_path: Path,
) -> None:
    with GeneratedSite(6, robots="User-agent: *\nCrawl-delay: 2\n") as site:
        crawling = FakeClock()
        first = crawl(site.url(), tmp_path, POLITE, allow_private=True, timer=crawling.timer())
        requests = len(site.server.requests)
        assert crawling.waits == [pytest.approx(2.0)] * (requests - 1)
        known = {url: p.validators for url, p in first.pages.items()}
        syncing = FakeClock()
        site.server.requests.clear()
        again = crawl(site.url(), tmp_path, POLITE, allow_private=True, known=known,
                      timer=syncing.timer())
        assert {p.outcome for p in again.pages.values()} == {"not_modified"}
        assert syncing.waits == [pytest.approx(2.0)] * (len(site.server.requests) - 1)

    with GeneratedSite(3, robots="User-agent: *\nCrawl-delay: 100000\n") as site:
        capped = FakeClock()
        crawl(site.url(), tmp_path, POLITE, allow_private=True, timer=capped.timer())
        assert capped.waits[-1] == pytest.approx(30.0)  # at most MAX_CRAWL_DELAY_SECONDS


def test_excluded_pages_are_never_kept_and_in_a_sitemap_never_requested(tmp_path: Path) -> None:
    with GeneratedSite(6, links_per_page=1) as site:
        gone = site.url("/docs/page-2.html")
        report = crawl(site.url(), tmp_path, LIMITS, allow_private=True, excluded={gone})
        assert gone not in report.pages and len(report.pages) == 6
        assert "/docs/page-2.html" not in site.server.requests
    with GeneratedSite(6, sitemap=False, links_per_page=1) as site:
        # links: page-3 is reached only through page-2's link, so page-2 is read, not kept
        index = site.bodies[site.prefix][0].replace(b"page-3.html", b"page-2.html")
        site.put(site.prefix, index)
        site.server.redirect("/docs/alias.html", "/docs/page-2.html")
        site.put(site.path(0), site.bodies[site.path(0)][0].replace(b"page-1.html",
                                                                    b"alias.html"))
        gone = site.url("/docs/page-2.html")
        staging = tmp_path / "links"
        staging.mkdir()
        report = crawl(site.url(), staging, LIMITS, allow_private=True, excluded={gone})
        assert gone not in report.pages and site.url("/docs/page-3.html") in report.pages
        assert site.url("/docs/alias.html") not in report.pages  # a redirect to it: not kept
        assert "/docs/page-2.html" in site.server.requests  # read for its links
        kept = {page.path for page in report.pages.values() if page.path is not None}
        assert set(staging.glob("*.part")) == kept  # its body was not left behind
