"""A documentation site built to hurt a crawler, served on 127.0.0.1 by the test itself: the
faults of issue 22 in one site, shared by the command-line and the Discord tests.

``serve_hostile_site(web)`` puts under ``/site/``: a start page of 10,000 links (``p0.html``…,
only ten of them pages), ``p0`` redirecting off the site's path, ``p1`` trickling bytes for far
longer than a page's deadline, ``p2`` and ``p3`` redirecting to each other, ``p4`` to ``p9``
ordinary pages; ``/site/sitemap.xml`` an HTML page, and ``/sitemap.xml`` an endless "sitemap"
(over 1 GB if read to the end). With ``CITEBOT_CRAWL_MAX_PAGES`` 6 and a 1 s page deadline a
crawl keeps the start page and ``p4``, and has something to report about each of the rest.
"""

from __future__ import annotations

from tests.web_server import WebServer, html_page

START = "/site/"
OFF_PATH = "/elsewhere/secret.html"


def serve_hostile_site(web: WebServer) -> str:
    """Route the hostile site on ``web``; its start address."""
    links = "".join(f"<a href='p{n}.html'>{n}</a> " for n in range(10_000))
    web.document(START, html_page("Many links", "A page of links. " * 20).replace(
        b"</main>", f"<p>{links}</p></main>".encode()), "text/html")
    for n in range(4, 10):
        web.document(f"/site/p{n}.html", html_page(f"P{n}", f"Page {n} text. " * 40),
                     "text/html")
    web.redirect("/site/p0.html", OFF_PATH)
    web.document(OFF_PATH, html_page("Secret", "Not the docs."), "text/html")
    web.stream("/site/p1.html", lambda: (b"<p>slow</p>" for _ in range(1000)), "text/html",
               pause=0.05, limit_seconds=5)
    web.redirect("/site/p2.html", "/site/p3.html")
    web.redirect("/site/p3.html", "/site/p2.html")
    web.document("/site/sitemap.xml", html_page("Not a sitemap", "Oops."), "text/html")
    web.stream("/sitemap.xml", lambda: (b"<urlset>" + b" " * 65536 for _ in range(20_000)),
               "application/xml", limit_seconds=5)
    return web.url(START)
