"""index/ingest/fetcher.py against a real web server on 127.0.0.1 (tests/web_server.py)."""

from __future__ import annotations

import gzip
import io
import itertools
import time

import pytest

from index.ingest.fetcher import (
    AddressRefused,
    Fetched,
    FetchError,
    FetchLimits,
    FetchTimeout,
    FetchTooLarge,
    fetch,
    is_public_address,
)
from tests.conftest import ARTICLE
from tests.web_server import WebServer, closed_port, html_page, pdf_document

ARTICLE_BYTES = ARTICLE.read_bytes()
ARTICLE_TEXT = ARTICLE_BYTES.decode("utf-8-sig")
PAGE = html_page("Allied coordination on North Korea", ARTICLE_TEXT)
PDF = pdf_document([p for p in ARTICLE_TEXT.split("\n\n") if p.strip()][:6])
LIMITS = FetchLimits(max_bytes=5_000_000, timeout_seconds=10, max_redirects=3)


@pytest.fixture(scope="module")
def server():
    with WebServer() as web:
        web.document("/article.html", PAGE, "text/html; charset=utf-8")
        web.document("/article.txt", ARTICLE_BYTES, "text/plain; charset=utf-8")
        web.document("/report.pdf", PDF, "application/pdf")
        web.document("/files/rules.pdf", PDF, "application/octet-stream")
        web.document("/blob", PDF, "application/octet-stream")
        web.document("/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png")
        web.document("/empty.txt", b"", "text/plain")
        web.error("/missing", 404)
        web.error("/broken", 500)
        web.redirect("/moved", "/article.txt", 301)
        web.redirect("/loop-a", "/loop-b")
        web.redirect("/loop-b", "/loop-a")
        web.redirect("/self", "/self", 307)
        web.redirect("/to-ftp", "ftp://127.0.0.1/file.txt")
        for hop in range(1, 6):  # /hop/5 -> /hop/4 -> ... -> /hop/1 -> /article.txt
            web.redirect(f"/hop/{hop}", f"/hop/{hop - 1}" if hop > 1 else "/article.txt")
        yield web


def get(url: str, limits: FetchLimits = LIMITS, **options) -> tuple[Fetched, bytes]:
    sink = io.BytesIO()
    fetched = fetch(url, sink, limits, allow_private=options.pop("allow_private", True), **options)
    return fetched, sink.getvalue()


def limits(**changes) -> FetchLimits:
    values = {"max_bytes": LIMITS.max_bytes, "timeout_seconds": 10, "max_redirects": 3}
    values.update(changes)
    return FetchLimits(**values)


# ----- documents ----------------------------------------------------------------------------


def test_html_page(server):
    fetched, body = get(server.url("/article.html"))
    assert body == PAGE
    assert fetched.media_type == "text/html" and fetched.suffixes[0] == ".html"
    assert fetched.url == fetched.final_url == server.url("/article.html")
    assert fetched.size == len(PAGE) and not fetched.redirected


def test_pdf(server):
    fetched, body = get(server.url("/report.pdf"))
    assert body == PDF and body.startswith(b"%PDF")
    assert fetched.media_type == "application/pdf" and fetched.suffixes == (".pdf",)


def test_untyped_body_is_named_by_its_address(server):
    fetched, body = get(server.url("/files/rules.pdf"))
    assert body == PDF and fetched.suffixes == (".pdf",)
    with pytest.raises(FetchError, match="cannot tell what it is"):
        get(server.url("/blob"))


def test_fragment_is_not_part_of_the_address(server):
    fetched, _ = get(server.url("/article.txt#china"))
    assert fetched.url == fetched.final_url == server.url("/article.txt")


def test_progress_is_told_the_total(server):
    seen: list[tuple[int, int]] = []
    get(server.url("/article.txt"), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (len(ARTICLE_BYTES), len(ARTICLE_BYTES))


# ----- what the server answers --------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [("/missing", "404 Not Found"),
                                              ("/broken", "500 Internal Server Error")])
def test_http_errors(server, path, status):
    with pytest.raises(FetchError) as caught:
        get(server.url(path))
    assert str(caught.value) == f"the server answered {status} for {server.url(path)}"


def test_not_a_document(server):
    with pytest.raises(FetchError) as caught:
        get(server.url("/logo.png"))
    assert str(caught.value) == (
        f"{server.url('/logo.png')} is image/png, not a document citebot reads "
        "(HTML, PDF, Word, text, Markdown)"
    )


def test_empty_body(server):
    with pytest.raises(FetchError, match="is empty"):
        get(server.url("/empty.txt"))


# ----- redirects ------------------------------------------------------------------------------


def test_redirect_is_followed_and_reported(server):
    fetched, body = get(server.url("/moved"))
    assert body == ARTICLE_BYTES
    assert fetched.url == server.url("/moved")
    assert fetched.final_url == server.url("/article.txt") and fetched.redirected


def test_redirects_up_to_the_limit(server):
    fetched, _ = get(server.url("/hop/3"), limits(max_redirects=3))
    assert fetched.final_url == server.url("/article.txt")
    with pytest.raises(FetchError, match="too many redirects") as caught:
        get(server.url("/hop/4"), limits(max_redirects=3))
    assert "after 3" in str(caught.value)
    with pytest.raises(FetchError, match="too many redirects"):
        get(server.url("/moved"), limits(max_redirects=0))


@pytest.mark.parametrize("path", ["/loop-a", "/self"])
def test_redirect_loop(server, path):
    with pytest.raises(FetchError, match="a redirect loop"):
        get(server.url(path), limits(max_redirects=10))


def test_redirect_to_another_scheme_is_refused(server):
    with pytest.raises(FetchError, match="only http:// and https://"):
        get(server.url("/to-ftp"))


# ----- limits ---------------------------------------------------------------------------------


def test_slow_body_fails_by_the_deadline(server):
    url = server.stream(  # a byte every 50 ms: each read is quick, the whole would take 50 s
        "/trickle", lambda: (b"x" for _ in range(1000)), "text/plain",
        declared_length=1000, pause=0.05,
    )
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="did not finish within 1 s"):
        get(url, limits(timeout_seconds=1))
    assert time.monotonic() - started < 2.5  # the deadline (1 s) and some slack, not 50 s


def test_silent_server_fails_by_the_deadline(server):
    url = server.route("/silent", lambda request: time.sleep(8))
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        get(url, limits(timeout_seconds=1))
    assert time.monotonic() - started < 2.5


def test_declared_oversize_is_refused_unread(server):
    # Announces 10 GB, sends 10 bytes, then waits: reading on would end in a timeout instead.
    url = server.stream(
        "/huge", lambda: iter([b"0123456789", *([b""] * 100)]), "text/plain",
        declared_length=10_000_000_000, pause=0.1,
    )
    sink = io.BytesIO()
    with pytest.raises(FetchTooLarge, match=r"\(10,000,000,000 bytes\) is over") as caught:
        fetch(url, sink, limits(max_bytes=1_000_000), allow_private=True)
    assert "1 MB limit" in str(caught.value)
    assert sink.getvalue() == b""


def test_undeclared_oversize_stops_at_the_limit(server):
    url = server.stream(  # endless, no Content-Length
        "/endless", lambda: itertools.repeat(b"y" * 65536), "text/plain"
    )
    sink = io.BytesIO()
    with pytest.raises(FetchTooLarge, match=r"is over the 0\.2 MB limit; not saved"):
        fetch(url, sink, limits(max_bytes=200_000), allow_private=True)
    assert len(sink.getvalue()) <= 200_000


def test_compressed_body_counts_at_its_real_size(server):
    bomb = gzip.compress(bytes(5_000_000))  # about 5 kB on the wire


    def send(request):
        request.send_response(200)
        request.send_header("Content-Type", "text/plain")
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(bomb)))
        request.end_headers()
        request.wfile.write(bomb)

    with pytest.raises(FetchTooLarge):
        get(server.route("/bomb", send), limits(max_bytes=100_000))


# ----- connections --------------------------------------------------------------------------


def test_connection_refused():
    port = closed_port()
    with pytest.raises(FetchError) as caught:
        get(f"http://127.0.0.1:{port}/x")
    assert str(caught.value) == (
        f"could not connect to 127.0.0.1:{port}: connection refused (is the server running?)"
    )


def test_unknown_host():
    with pytest.raises(FetchError) as caught:
        get("http://no-such-host.invalid/page")
    assert str(caught.value) == (
        "could not find the server no-such-host.invalid: the name does not resolve"
    )


def test_tls_failure(server):
    # https:// to a server that speaks plain HTTP: the TLS handshake fails.
    with pytest.raises(FetchError) as caught:
        get(f"https://127.0.0.1:{server.port}/article.txt")
    assert str(caught.value).startswith("the secure connection to 127.0.0.1 failed: TLS")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.txt", "file:///etc/passwd", "example.com/page", "http:///x"]
)
def test_only_web_addresses(url):
    with pytest.raises(FetchError):
        get(url)


# ----- private addresses --------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_addresses_refused_by_default(server, host):
    url = f"http://{host}:{server.port}/article.txt"
    before = len(server.requests)
    with pytest.raises(AddressRefused, match="loopback, private or local network one"):
        fetch(url, io.BytesIO(), LIMITS)  # allow_private defaults to False
    assert len(server.requests) == before  # never connected


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "no-such-host.invalid"])
def test_refusals_reveal_no_address(host):
    # A Discord server manager must not map the bot host's network: a refusal names no resolved
    # address and reads the same for a private name and for one that does not resolve.
    with pytest.raises(AddressRefused) as caught:
        fetch(f"http://{host}:8/x", io.BytesIO(), LIMITS)
    assert str(caught.value) == (
        f"{host} does not lead to a public internet address (the name does not resolve, or it is "
        "a loopback, private or local network one): not fetched; check the address"
    )
    if host == "localhost":
        assert "127.0.0.1" not in str(caught.value) and "::1" not in str(caught.value)


def test_private_addresses_allowed_when_asked(server):
    fetched, body = get(f"http://localhost:{server.port}/article.txt", allow_private=True)
    assert body == ARTICLE_BYTES and fetched.final_url.startswith("http://localhost:")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::6810:84e5", True),
        ("127.0.0.1", False),
        ("127.8.8.8", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata, link-local
        ("fe80::1", False),
        ("fc00::1", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("ff02::1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("255.255.255.255", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 prefix: reserved
    ],
)
def test_public_address_rule(address, public):
    assert is_public_address(address) is public
