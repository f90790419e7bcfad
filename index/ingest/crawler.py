"""Fetch the pages of a web site under a start address: for ``citebot add URL --crawl`` and syncs.

:func:`crawl` reads ``robots.txt`` (a page it disallows is never fetched), then finds the pages
from the site's ``sitemap.xml`` (sitemap indexes followed) when it has one, else by following
links that stay under the start address's path. Every request, each redirect hop included, goes
through :mod:`index.ingest.fetcher`'s guarded connections (no private address unless allowed, a
deadline per page, a size limit) and must stay under the start path: a redirect off it is
refused and reported. At most ``concurrency`` requests run at a time.

Pacing (:class:`_Pacer`): what a polite crawler spares a server is the work of sending bodies, so
a request that may bring one (every request of a first crawl, ``robots.txt``, sitemaps) starts
``delay_seconds`` after the one before. A sync's requests are conditional: a page that did not
change is answered ``304 Not Modified``, headers only, no body read or sent, about what a ``HEAD``
costs. Those start ``delay_seconds * REVALIDATION_SHARE`` apart (10 ms at the default 0.25 s:
at most 100 a second, i.e. a few hundred bytes of headers each, less traffic than the bodies of
a crawl at 4 a second), still ``concurrency`` at a time; and one that brings a body after all
(the page changed) holds the next request back until ``delay_seconds`` after its own start, as
in a crawl. So a sync of a site where little changed takes seconds, not as long as the crawl,
and a sync where everything changed is paced like the crawl. A site whose ``robots.txt`` sets a
``Crawl-delay`` (up to 30 s) gets it between EVERY two requests, conditional ones included: the
site asked for it, and the shorter gap is only our guess at what it can take.

A sync passes the pages it already has with their validators (``ETag``, ``Last-Modified``): they
are asked for conditionally, and a ``304 Not Modified`` costs no body. Bodies are written to
files in a staging folder the caller gives (hidden, so a build never reads them); nothing here
knows of source folders or names. Everything is bounded: pages (``max_pages``), links read per
page, sitemaps read and their size; what was cut is said in :attr:`CrawlReport.notes`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from index.ingest.fetcher import (
    REDIRECT_CODES,
    AddressRefused,
    FetchError,
    FetchLimits,
    FetchTimeout,
    _connection_problem,
    _document_type,
    _GuardedBackend,
    _GuardedTransport,
    _status_problem,
    _stream,
    _web_address,
    check_address,
)

MAX_LINKS_PER_PAGE = 2_000
"""Links read from one page (a page of 10,000 links is read this far, and said so)."""
MAX_SITEMAPS = 50
"""Sitemap files read for one site (an index pointing at more is cut, and said so)."""
MAX_ROBOTS_BYTES = 512 * 1024
REVALIDATION_SHARE = 0.04
"""A conditional request's gap as a share of the crawl delay (see the module's docstring)."""
MAX_CRAWL_DELAY_SECONDS = 30.0
"""The longest ``Crawl-delay`` honoured (a larger one is taken as this)."""
GONE_CODES = frozenset({404, 410})
# Addresses whose ending says they are not a document citebot reads: never requested.
_NOT_DOCUMENTS = re.compile(
    r"\.(png|jpe?g|gif|svg|webp|ico|bmp|css|js|mjs|json|xml|zip|gz|tgz|bz2|xz|7z|tar|rar|exe|"
    r"dmg|iso|mp3|mp4|m4a|wav|ogg|webm|avi|mov|woff2?|ttf|eot|otf|map|wasm|csv|xlsx?|pptx?)$",
    re.IGNORECASE,
)

Outcome = Literal["fetched", "not_modified", "gone", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class CrawlLimits:
    """Limits of one crawl: per page (size, seconds, redirects), pages in all, pacing."""

    page: FetchLimits
    max_pages: int = 500
    delay_seconds: float = 0.25
    concurrency: int = 2
    max_sitemap_bytes: int = 50_000_000


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said identifies a page's version, for a conditional request next time."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(slots=True)
class PageResult:
    """What became of one page: ``fetched`` (``path`` holds its body), ``not_modified`` (304),
    ``gone`` (404/410), ``failed`` (server error, timeout… ``reason`` says), or ``skipped``
    (never fetched or not kept: robots.txt, off the path, a duplicate, not a document)."""

    url: str
    outcome: Outcome
    reason: str = ""
    final_url: str | None = None
    media_type: str = ""
    suffixes: tuple[str, ...] = ()
    path: Path | None = None
    size: int = 0
    validators: Validators = field(default_factory=Validators)


@dataclass(frozen=True, slots=True)
class CrawlProgress:
    """Pages found so far, fetched (a body or a 304) and skipped."""

    found: int
    fetched: int
    skipped: int


@dataclass(slots=True)
class CrawlReport:
    """The pages by address (one entry each, canonical addresses de-duplicated); ``listed``:
    the addresses the sitemap or the links led to (None when they could not be read, so
    nothing may be called missing); ``mode``: ``sitemap`` or ``links``; ``notes``: what was
    bounded or could not be read, one line each."""

    start: str
    pages: dict[str, PageResult]
    listed: set[str] | None
    mode: str
    notes: list[str]
    seconds: float = 0.0

    def with_outcome(self, outcome: Outcome) -> list[PageResult]:
        return [page for page in self.pages.values() if page.outcome == outcome]


class CrawlError(FetchError):
    """The crawl could not start (the start address itself failed or is not allowed)."""


class _Gone(FetchError):
    """The server says the page is not there (404 or 410)."""


class _OffSite(FetchError):
    """A redirect leads away from the start path, or to an address robots.txt disallows."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The pages of a crawl: same scheme, host and port as the start, path under its folder."""

    scheme: str
    netloc: str
    prefix: str

    @classmethod
    def of(cls, start: str) -> Scope:
        parts = urlsplit(start)
        path = parts.path or "/"
        prefix = path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"
        return cls(parts.scheme, parts.netloc.lower(), prefix)

    def holds(self, url: str) -> bool:
        parts = urlsplit(url)
        return (
            parts.scheme == self.scheme
            and parts.netloc.lower() == self.netloc
            and (parts.path or "/").startswith(self.prefix)
        )

    @property
    def root(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def normalise(url: str) -> str:
    """``url`` as one page's key: no fragment, lower-case scheme and host, no default port, an
    empty path as ``/``, no empty query."""
    parts = urlsplit(url)
    netloc = parts.netloc.lower()
    if (parts.scheme == "http" and netloc.endswith(":80")) or (
        parts.scheme == "https" and netloc.endswith(":443")
    ):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True, slots=True)
class Timer:
    """What the pacing reads the time with and waits with (a test passes a fake clock)."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class _Pacer:
    """Request starts spaced across threads: ``delay`` after a request that may bring a body,
    ``revalidate`` after a conditional one; a conditional one answered with a body after all
    pushes the next start to ``delay`` after its own (see the module's docstring)."""

    def __init__(self, delay: float, revalidate: float, timer: Timer) -> None:
        self.delay = delay
        self.revalidate = min(revalidate, delay)
        self.timer = timer
        self.lock = threading.Lock()
        self.next_start = self.last_start = 0.0

    def obey(self, crawl_delay: float) -> None:
        """The site's robots.txt asks for ``crawl_delay`` seconds between requests: every
        request, conditional ones included, waits at least that long (the next one too)."""
        with self.lock:
            self.delay = max(self.delay, crawl_delay)
            self.revalidate = max(self.revalidate, crawl_delay)
            self.next_start = max(self.next_start, self.last_start + crawl_delay)

    def wait(self, *, conditional: bool = False) -> float:
        """Wait for this request's turn; its start time (for :meth:`sent_body`)."""
        with self.lock:
            now = self.timer.now()
            start = self.last_start = max(now, self.next_start)
            self.next_start = start + (self.revalidate if conditional else self.delay)
        if start > now:
            self.timer.sleep(start - now)
        return start

    def sent_body(self, start: float) -> None:
        """The conditional request started at ``start`` brought a body: the next request
        starts ``delay`` after it, as after any body."""
        with self.lock:
            self.next_start = max(self.next_start, start + self.delay)


@dataclass
class _Site:
    scope: Scope
    limits: CrawlLimits
    allow_private: bool
    user_agent: str
    staging: Path
    pacer: _Pacer
    robots: urllib.robotparser.RobotFileParser | None = None
    local: threading.local = field(default_factory=threading.local)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clients: list[httpx.Client] = field(default_factory=list)

    def allowed(self, url: str) -> bool:
        return self.robots is None or self.robots.can_fetch(self.user_agent, url)

    def get(
        self,
        url: str,
        sink: BinaryIO,
        *,
        max_bytes: int,
        validators: Validators | None = None,
        documents_only: bool = True,
        in_scope: bool = True,
    ) -> PageResult:
        """GET ``url`` into ``sink`` (conditionally, given ``validators``); FetchError (or
        its _Gone, _OffSite, FetchTimeout) with the reason."""
        conditional = validators is not None and bool(validators.etag or validators.last_modified)
        started = self.pacer.wait(conditional=conditional)
        limits = FetchLimits(max_bytes, self.limits.page.timeout_seconds,
                             self.limits.page.max_redirects)
        deadline = time.monotonic() + limits.timeout_seconds
        client, backend = self._client()
        backend.deadline = deadline  # this thread's connections: this request's deadline
        headers: dict[str, str] = {}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            # one client per worker thread: connections (and TLS set-up) are reused
            response = self._follow(client, _web_address(url, url), limits.max_redirects,
                                    in_scope, headers)
            try:
                final = normalise(str(response.url))
                found = Validators(response.headers.get("etag"),
                                   response.headers.get("last-modified"))
                if response.status_code == 304:
                    kept = validators or Validators()
                    return PageResult(url, "not_modified", final_url=final,
                                      validators=Validators(
                                          found.etag or kept.etag,
                                          found.last_modified or kept.last_modified))
                if conditional:
                    self.pacer.sent_body(started)
                media_type: str = ""
                suffixes: tuple[str, ...] = ()
                if documents_only:
                    media_type, suffixes = _document_type(response)
                size = _stream(response, sink, limits, deadline, None)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise FetchTimeout(
                f"{url} did not answer within {limits.timeout_seconds:g} s"
            ) from None
        except httpx.TransportError as error:
            raise FetchError(_connection_problem(error)) from None
        return PageResult(url, "fetched", final_url=final, media_type=media_type,
                          suffixes=suffixes, size=size, validators=found)

    def _client(self) -> tuple[httpx.Client, _GuardedBackend]:
        """This thread's client and the guarded backend under it (made on first use)."""
        made = getattr(self.local, "client", None)
        if made is None:
            backend = _GuardedBackend(time.monotonic(), self.allow_private)
            client = httpx.Client(
                transport=_GuardedTransport(backend), headers={"User-Agent": self.user_agent},
                follow_redirects=False, trust_env=False,
                timeout=httpx.Timeout(self.limits.page.timeout_seconds),
            )
            made = self.local.client = (client, backend)
            with self.lock:
                self.clients.append(client)
        return made

    def close(self) -> None:
        with self.lock:
            for client in self.clients:
                client.close()
            self.clients.clear()

    def _follow(
        self, client: httpx.Client, start: httpx.URL, max_redirects: int, in_scope: bool,
        headers: dict[str, str],
    ) -> httpx.Response:
        chain = [start]
        while True:
            request = client.build_request("GET", chain[-1], headers=headers)
            response = client.send(request, stream=True)
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_CODES or not location:
                if response.status_code in (200, 203, 304):
                    return response
                response.close()
                error = _Gone if response.status_code in GONE_CODES else FetchError
                raise error(_status_problem(response.status_code, chain[-1]))
            response.close()
            try:
                target = _web_address(str(response.url.join(location)), f"a redirect to {location}")
            except httpx.InvalidURL:
                raise FetchError(f"{chain[-1]} redirects to an invalid address") from None
            if in_scope and not self.scope.holds(str(target)):
                raise _OffSite(f"{chain[0]} redirects off the site's path, to {target}")
            if in_scope and not self.allowed(str(target)):
                raise _OffSite(f"{chain[0]} redirects to {target}, which robots.txt disallows")
            if target in chain:
                raise FetchError(f"a redirect loop: {chain[-1]} redirects back to {target}")
            if len(chain) > max_redirects:
                raise FetchError(
                    f"too many redirects: {start} still redirects after {max_redirects}"
                )
            chain.append(target)


def crawl(
    start: str,
    staging: Path,
    limits: CrawlLimits,
    *,
    known: Mapping[str, Validators] | None = None,
    stored: Callable[[str], Path | None] | None = None,
    allow_private: bool = False,
    user_agent: str = "citebot",
    progress: Callable[[CrawlProgress], None] | None = None,
    follow: bool = True,
    excluded: Collection[str] = (),
    timer: Timer = Timer(),
) -> CrawlReport:
    """Fetch the pages under ``start`` into files in ``staging`` (an existing folder).

    ``known``: pages a sync already has (address -> validators): each is requested
    (conditionally) whether or not the sitemap or links still lead to it, and counts towards
    ``max_pages``. ``stored(url)``: the stored copy of a known page, whose links are followed
    when the server answers 304. ``follow=False``: the start page alone (one added address:
    no sitemap, no links). ``excluded``: addresses never kept (pages removed by hand), even
    when a redirect or a canonical link leads to them; not even requested unless the crawl
    follows links (then their links may be the only way to other pages). ``timer``: the pacing's
    clock. Raises CrawlError when the start address cannot be used.
    """
    began = time.monotonic()
    start = normalise(check_address(start))
    scope = Scope.of(start)
    pacer = _Pacer(limits.delay_seconds, limits.delay_seconds * REVALIDATION_SHARE, timer)
    site = _Site(scope, limits, allow_private, user_agent, staging, pacer)
    notes: list[str] = []
    try:
        return _crawl(site, start, began, notes, limits, known, stored, progress, follow,
                      frozenset(excluded))
    finally:
        site.close()


def _crawl(
    site: _Site,
    start: str,
    began: float,
    notes: list[str],
    limits: CrawlLimits,
    known: Mapping[str, Validators] | None,
    stored: Callable[[str], Path | None] | None,
    progress: Callable[[CrawlProgress], None] | None,
    follow: bool,
    excluded: frozenset[str],
) -> CrawlReport:
    staging = site.staging
    user_agent = site.user_agent
    site.robots = _read_robots(site, notes)
    if not site.allowed(start):
        raise CrawlError(f"{start}: the site's robots.txt disallows it; nothing fetched")
    if site.robots is not None and (asked := site.robots.crawl_delay(user_agent)):
        site.pacer.obey(min(float(asked), MAX_CRAWL_DELAY_SECONDS))
    known = dict(known or {})
    listed = _read_sitemaps(site, notes) if follow else None
    mode = "page" if not follow else "sitemap" if listed is not None else "links"
    crawler = _Crawler(site, staging, known, stored, progress, notes, mode, excluded)
    crawler.run(start, listed)
    if crawler.links_lost:
        notes.append(
            f"{crawler.links_lost:,} more address(es) found were not fetched: at most "
            f"{limits.max_pages:,} pages per site"
        )
    # Links of a page that failed were not read: what only it led to cannot be called gone.
    complete = mode == "sitemap" or (mode == "links" and not crawler.with_outcome("failed"))
    report = CrawlReport(start, crawler.pages, crawler.listed if complete else None, mode, notes)
    start_page = report.pages.get(start)
    if not known and start_page is not None and start_page.outcome in ("gone", "failed") and (
        not any(page.outcome == "fetched" for page in report.pages.values())
    ):
        raise CrawlError(start_page.reason)
    report.seconds = time.monotonic() - began
    return report


def _read_robots(site: _Site, notes: list[str]) -> urllib.robotparser.RobotFileParser | None:
    """The site's robots.txt (None: it has none, so everything is allowed). One that cannot be
    read for another reason (a server error, a timeout) disallows the crawl, as RFC 9309 asks."""
    sink = BytesIO()
    url = f"{site.scope.root}/robots.txt"
    try:
        site.get(url, sink, max_bytes=MAX_ROBOTS_BYTES, documents_only=False, in_scope=False)
    except _Gone:
        return None
    except AddressRefused as error:  # the site itself may not be fetched: say just that
        raise CrawlError(str(error)) from None
    except FetchError as error:
        if re.search(r"answered 4\d\d", str(error)):  # 4xx: no rules (RFC 9309 2.3.1.3)
            return None
        raise CrawlError(
            f"the site's robots.txt could not be read ({error}); nothing fetched"
        ) from None
    parser = urllib.robotparser.RobotFileParser(url)
    parser.parse(sink.getvalue().decode("utf-8", errors="replace").splitlines())
    return parser


def _read_sitemaps(site: _Site, notes: list[str]) -> set[str] | None:
    """The page addresses under the start path that the site's sitemaps list (sitemap indexes
    followed); None when the site has no readable sitemap (then links are followed)."""
    declared = list(site.robots.site_maps() or []) if site.robots is not None else []
    candidates = [url for url in declared if urlsplit(url).netloc.lower() == site.scope.netloc]
    if not candidates:
        candidates = [f"{site.scope.root}{site.scope.prefix}sitemap.xml"]
        if site.scope.prefix != "/":
            candidates.append(f"{site.scope.root}/sitemap.xml")
    pages: set[str] = set()
    read_any = False
    queue, seen = list(candidates), set(candidates)
    declared_any = bool(declared)
    while queue:
        url = queue.pop(0)
        if len(seen) > MAX_SITEMAPS:
            notes.append(f"only the first {MAX_SITEMAPS} sitemaps were read")
            break
        sink = BytesIO()
        try:
            site.get(url, sink, max_bytes=site.limits.max_sitemap_bytes, documents_only=False,
                     in_scope=False)
        except _Gone:
            if declared_any:
                notes.append(f"the sitemap {url} is missing (robots.txt names it)")
            continue
        except FetchError as error:
            notes.append(f"the sitemap {url} was not read: {error}")
            continue
        kind, locations = parse_sitemap(sink.getvalue())
        if kind is None:
            notes.append(f"{url} is not a sitemap (not <urlset> or <sitemapindex> XML); ignored")
            continue
        read_any = True
        if kind == "index":
            for child in locations:
                if child not in seen and urlsplit(child).netloc.lower() == site.scope.netloc:
                    seen.add(child)
                    queue.append(child)
            continue
        pages.update(normalise(loc) for loc in locations if site.scope.holds(normalise(loc)))
        if read_any and not declared_any and kind == "pages":
            break  # the first sitemap found is the site's
    return pages if read_any else None


def parse_sitemap(data: bytes) -> tuple[str | None, list[str]]:
    """(``pages`` or ``index`` or None when it is no sitemap, the ``<loc>`` addresses). Read
    by lxml without entities, network or DTDs, so hostile XML costs its size and no more."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
        recover=False, remove_comments=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None, []
    tag = etree.QName(root).localname if isinstance(root.tag, str) else ""
    if tag not in ("urlset", "sitemapindex"):
        return None, []
    locations = [
        text.strip()
        for element in root.iter("{*}loc", "loc")
        if (text := element.text) and text.strip().startswith(("http://", "https://"))
    ]
    return ("pages" if tag == "urlset" else "index"), locations


def page_links(data: bytes, base: str) -> tuple[list[str], str | None, int]:
    """The absolute addresses an HTML page links to (at most ``MAX_LINKS_PER_PAGE``), its
    ``<link rel="canonical">`` address, and how many links were left unread."""
    import lxml.html
    from lxml import etree

    try:
        document = lxml.html.fromstring(data, parser=lxml.html.HTMLParser(huge_tree=False))
    except (etree.ParserError, ValueError, etree.XMLSyntaxError):
        return [], None, 0
    hrefs = _strings(document.xpath("//a/@href"))
    canonical = None
    for value in _strings(document.xpath("//link[@rel='canonical']/@href"))[:1]:
        with contextlib.suppress(ValueError):
            canonical = normalise(str(httpx.URL(base).join(str(value).strip())))
    links: list[str] = []
    for href in hrefs[:MAX_LINKS_PER_PAGE]:
        try:
            joined = httpx.URL(base).join(str(href).strip())
        except (httpx.InvalidURL, ValueError):
            continue
        if joined.scheme in ("http", "https"):
            links.append(normalise(str(joined)))
    return links, canonical, max(0, len(hrefs) - MAX_LINKS_PER_PAGE)


def _strings(found: object) -> list[str]:
    """An attribute XPath's result as strings (lxml types it as any XPath result)."""
    return [str(item) for item in found] if isinstance(found, list) else []


class _Crawler:
    """One crawl's bookkeeping: the queue, the pages by key, the workers."""

    def __init__(
        self,
        site: _Site,
        staging: Path,
        known: dict[str, Validators],
        stored: Callable[[str], Path | None] | None,
        progress: Callable[[CrawlProgress], None] | None,
        notes: list[str],
        mode: str,
        excluded: frozenset[str] = frozenset(),
    ) -> None:
        self.site, self.staging, self.known, self.stored = site, staging, known, stored
        self.excluded = excluded
        self.progress, self.notes, self.mode = progress, notes, mode
        self.pages: dict[str, PageResult] = {}
        self.queued: set[str] = set()
        self.queue: list[str] = []
        self.listed: set[str] = set()
        self.links_lost = 0
        self.links_cut = 0
        self.counter = itertools.count(1)  # next() is atomic in CPython
        self.last_progress = 0.0

    def offer(self, url: str, *, listed: bool) -> None:
        if not self.site.scope.holds(url) or _NOT_DOCUMENTS.search(urlsplit(url).path):
            return
        if url in self.excluded and self.mode != "links":  # links: read for the pages they lead to
            return
        if listed:
            self.listed.add(url)
        if url in self.queued:
            return
        if len(self.queued) >= self.site.limits.max_pages:
            self.links_lost += 1
            return
        self.queued.add(url)
        self.queue.append(url)

    def run(self, start: str, listed: set[str] | None) -> None:
        self.offer(start, listed=True)
        for url in sorted(self.known):  # a sync asks for every page it has
            self.offer(url, listed=False)
        for url in sorted(listed or ()):
            self.offer(url, listed=True)
        workers = max(1, self.site.limits.concurrency)
        running: dict[Future[PageResult], str] = {}
        with ThreadPoolExecutor(workers, thread_name_prefix="crawl") as pool:
            while self.queue or running:
                while self.queue and len(running) < workers:
                    url = self.queue.pop(0)
                    running[pool.submit(self.fetch, url)] = url
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    self.settle(future.result())
                self.tell()
        self.tell(force=True)
        if self.links_cut:
            self.notes.append(
                f"{self.links_cut:,} link(s) beyond the first {MAX_LINKS_PER_PAGE:,} of a page "
                "were not read"
            )

    def fetch(self, url: str) -> PageResult:
        if not self.site.allowed(url):
            return PageResult(url, "skipped", "robots.txt disallows it; not fetched")
        path = self.staging / f"{next(self.counter):06d}.part"
        try:
            with path.open("wb") as sink:
                result = self.site.get(url, sink, max_bytes=self.site.limits.page.max_bytes,
                                       validators=self.known.get(url))
        except _Gone as error:
            path.unlink(missing_ok=True)
            return PageResult(url, "gone", str(error))
        except _OffSite as error:
            path.unlink(missing_ok=True)
            return PageResult(url, "skipped", str(error))
        except FetchError as error:
            path.unlink(missing_ok=True)
            unreadable = "not a document citebot reads" in str(error) or "cannot tell" in str(
                error
            )
            return PageResult(url, "skipped" if unreadable else "failed", str(error))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if result.outcome == "fetched":
            result.path = path
        else:
            path.unlink(missing_ok=True)
        return result

    def settle(self, result: PageResult) -> None:
        """Keep a page under one key (its canonical or final address), follow its links."""
        key = result.url
        body: Path | None = result.path
        if result.outcome == "not_modified" and self.stored is not None:
            body = self.stored(result.url)
        links: list[str] = []
        if body is not None and ".html" in (result.suffixes or (".html",)) and (
            result.outcome != "fetched" or result.media_type in ("text/html",
                                                                 "application/xhtml+xml")
        ):
            with contextlib.suppress(OSError):
                found, canonical, cut = page_links(
                    body.read_bytes(), result.final_url or result.url
                )
                links, self.links_cut = found, self.links_cut + cut
                if (
                    canonical
                    and canonical != key
                    and self.site.scope.holds(canonical)
                    and key not in self.known
                ):
                    key = canonical
        if (
            result.outcome == "fetched"
            and result.final_url
            and key == result.url != result.final_url
            and result.url not in self.known
        ):
            key = result.final_url
        if key in self.excluded:  # removed by hand (reached by any address): never kept
            if result.path is not None:
                result.path.unlink(missing_ok=True)
            if self.mode == "links":
                for link in links:
                    self.offer(link, listed=True)
            return
        if key in self.pages and self.pages[key] is not result:  # reached already, by another
            if result.path is not None:  # address (a redirect, a canonical link): kept once
                result.path.unlink(missing_ok=True)
            if key != result.url:
                self.pages[result.url] = PageResult(
                    result.url, "skipped", f"the same page as {key}", final_url=key
                )
            return
        if key != result.url:
            result.url = key
            result.final_url = key  # the page's own address: its name and citations
            self.queued.add(key)
            self.listed.add(key)
        self.pages[key] = result
        if self.mode == "links":
            for link in links:
                self.offer(link, listed=True)

    def with_outcome(self, outcome: Outcome) -> list[PageResult]:
        return [page for page in self.pages.values() if page.outcome == outcome]

    def tell(self, *, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_progress < 0.2:
            return
        self.last_progress = now
        fetched = sum(p.outcome in ("fetched", "not_modified") for p in self.pages.values())
        self.progress(CrawlProgress(len(self.queued), fetched, len(self.pages) - fetched))


def known_pages(pages: Iterable[tuple[str, str | None, str | None]]) -> dict[str, Validators]:
    """(address, etag, last-modified) rows as ``crawl``'s ``known``."""
    return {url: Validators(etag, modified) for url, etag, modified in pages}
