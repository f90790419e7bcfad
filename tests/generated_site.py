"""A documentation site generated and served on 127.0.0.1 by the test itself, for crawls and syncs.

``GeneratedSite`` puts pages (HTML linking each other, or a PDF) on a :class:`WebServer`, with
an optional ``sitemap.xml`` and ``robots.txt``; every page has an ``ETag`` and a
``Last-Modified`` and answers a matching conditional request with ``304 Not Modified``.
``change`` rewrites a page (new validators), ``delete`` makes it answer 404, ``fail`` a 503.
``bodies_sent`` counts the page bodies sent, ``not_modified`` the 304s.
"""

from __future__ import annotations

import hashlib
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

from tests.web_server import WebServer, html_page

WORDS = (
    "install configure deploy server client token permission channel role backup restore "
    "upgrade plugin cache index search query answer citation document network proxy timeout "
    "retry schedule webhook message thread archive export import mirror replica"
).split()


def page_text(number: int, version: int = 1, paragraphs: int = 6) -> str:
    """Realistic-sized prose (about 3 kB) for page ``number``: each paragraph differs."""
    out = [f"Topic {number} overview"]
    for paragraph in range(paragraphs):
        words = [WORDS[(number * 7 + paragraph * 3 + i * (version + 1)) % len(WORDS)]
                 for i in range(70)]
        out.append(
            f"Page {number} section {paragraph} version {version} explains how to "
            + " ".join(words) + "."
        )
    return "\n\n".join(out)


class GeneratedSite:
    """``with GeneratedSite(pages=20) as site: site.url("/docs/")``."""

    def __init__(
        self,
        pages: int = 10,
        *,
        prefix: str = "/docs/",
        sitemap: bool = True,
        robots: str | None = None,
        links_per_page: int = 3,
    ) -> None:
        self.server = WebServer()
        self.prefix = prefix
        self.lock = threading.Lock()
        self.bodies: dict[str, tuple[bytes, str, str, str]] = {}  # path -> body, type, etag, date
        self.failing: set[str] = set()
        self.bodies_sent: list[str] = []
        self.not_modified: list[str] = []
        self.versions: dict[str, int] = {}
        self.count = pages
        self.links_per_page = links_per_page
        self.clock = 1_700_000_000
        for number in range(pages):
            self.put(self.path(number), self._html(number, 1))
        self.put(prefix, self._index_html())
        if sitemap:
            self.server.route("/sitemap.xml", self._sitemap)
        if robots is not None:
            self.server.document("/robots.txt", robots.encode(), "text/plain")

    def __enter__(self) -> GeneratedSite:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def url(self, path: str | None = None) -> str:
        return self.server.url(self.prefix if path is None else path)

    def path(self, number: int) -> str:
        return f"{self.prefix}page-{number}.html"

    def _html(self, number: int, version: int) -> bytes:
        links = "".join(
            f"<a href='page-{(number + step) % self.count}.html'>next {step}</a> "
            for step in range(1, self.links_per_page + 1)
        )
        page = html_page(f"Page {number}", page_text(number, version))
        return page.replace(b"</main>", f"<p>{links}</p></main>".encode())

    def _index_html(self) -> bytes:
        links = "".join(
            f"<li><a href='page-{n}.html'>Page {n}</a></li>" for n in range(self.count)
            if self.path(n) in self.bodies
        )
        page = html_page("Documentation", page_text(10_000))
        return page.replace(b"</main>", f"<ul>{links}</ul></main>".encode())

    def put(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        """Serve ``body`` at ``path`` with new validators."""
        with self.lock:
            self.clock += 60
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            self.bodies[path] = (body, content_type, etag, formatdate(self.clock, usegmt=True))
        self.server.route(path, self._serve)

    def change(self, number: int) -> None:
        version = self.versions.get(self.path(number), 1) + 1
        self.versions[self.path(number)] = version
        self.put(self.path(number), self._html(number, version))

    def delete(self, number: int) -> None:
        """The page answers 404 and leaves the sitemap and the index's links."""
        with self.lock:
            self.bodies.pop(self.path(number), None)
        self.server.routes.pop(self.path(number), None)
        self.put(self.prefix, self._index_html())

    def fail(self, number: int) -> None:
        """The page answers 503 (its server has trouble), still listed."""
        self.failing.add(self.path(number))

    def requests_for_other_pages(self) -> list[str]:
        """Requests for pages other than page 1 (a single address is fetched alone)."""
        return [p for p in self.server.requests
                if p.startswith(self.prefix) and p != self.path(1)]

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?")[0]
        if path in self.failing:
            request.send_error(503)
            return
        with self.lock:
            body, content_type, etag, modified = self.bodies[path]
        if request.headers.get("If-None-Match") == etag or (
            request.headers.get("If-None-Match") is None
            and request.headers.get("If-Modified-Since") == modified
        ):
            self.not_modified.append(path)
            request.send_response(304)
            request.send_header("ETag", etag)
            request.end_headers()
            return
        self.bodies_sent.append(path)
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("ETag", etag)
        request.send_header("Last-Modified", modified)
        request.end_headers()
        request.wfile.write(body)

    def _sitemap(self, request: BaseHTTPRequestHandler) -> None:
        with self.lock:
            paths = sorted(p for p in self.bodies if p.startswith(self.prefix))
        entries = "".join(f"<url><loc>{self.server.url(p)}</loc></url>" for p in paths)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        ).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/xml")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
