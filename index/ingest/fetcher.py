"""Download one document over HTTP(S), within a deadline, a size limit and a redirect limit.

:func:`fetch` streams the body into a file the caller provides (never the whole body in
memory) and says what arrived. Every connection, the first and each one a redirect opens, goes
through :class:`_GuardedBackend`, which resolves the host itself, refuses private addresses
unless ``allow_private`` (so a redirect or a DNS answer cannot lead to the local network), then
connects to the address it checked; and every socket operation waits at most until the
download's deadline, so a server that trickles a byte a second fails on time.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, BinaryIO

import httpcore
import httpx

from index.errors import CitebotError
from index.ingest.formats import SOURCE_SUFFIXES

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

# Content type -> file endings a document of that type may have (the first is the default).
DOCUMENT_TYPES: dict[str, tuple[str, ...]] = {
    "text/html": (".html", ".htm"),
    "application/xhtml+xml": (".html", ".htm"),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".md", ".markdown", ".text"),
    "text/markdown": (".md", ".markdown"),
    "text/x-markdown": (".md", ".markdown"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
}
# Types that say nothing: the address's own ending (``/rules.pdf``) decides, when citebot reads it.
UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
READABLE_KINDS = "HTML, PDF, Word, text, Markdown"

Progress = Callable[[int, int], None]


class FetchError(CitebotError):
    """A download failed; the message says why in one line."""


class FetchTimeout(FetchError):
    """The download did not finish within its deadline."""


class FetchTooLarge(FetchError):
    """The document is over the size limit."""


class AddressRefused(FetchError):
    """The host resolves to an address that may not be fetched, or to none (not allow_private).

    The message never names the address, nor says which of the two it was: a Discord server
    manager must not learn the bot host's internal names and addresses by trying them."""


def refused_message(host: str) -> str:
    """Why ``host`` was not fetched, the same whether it resolves to a private address or not at
    all (so refusals reveal nothing of the bot host's network)."""
    return (
        f"{host} does not lead to a public internet address (the name does not resolve, or it is "
        "a loopback, private or local network one): not fetched; check the address"
    )


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Largest body in bytes, seconds for the whole download, redirects followed."""

    max_bytes: int
    timeout_seconds: float
    max_redirects: int


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a download brought: the address asked for and the one answered (after redirects,
    both without ``#fragment``), the media type, the file endings it may have (first: default)
    and its size in bytes."""

    url: str
    final_url: str
    media_type: str
    suffixes: tuple[str, ...]
    size: int

    @property
    def redirected(self) -> bool:
        return self.final_url != self.url


def fetch(
    url: str,
    sink: BinaryIO,
    limits: FetchLimits,
    *,
    allow_private: bool = False,
    progress: Progress | None = None,
    user_agent: str = "citebot",
) -> Fetched:
    """Download ``url`` (http or https) into ``sink``; raise FetchError with the reason.

    ``sink`` may hold part of the body when this raises: the caller discards it.
    ``progress(done, total)`` is told the bytes so far when the server says the total.
    """
    start = _web_address(url, url)
    deadline = time.monotonic() + limits.timeout_seconds
    backend = _GuardedBackend(deadline, allow_private)
    transport = _GuardedTransport(backend)
    headers = {"User-Agent": user_agent, "Accept": _ACCEPT}
    try:
        with httpx.Client(
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(limits.timeout_seconds),
            follow_redirects=False,
            trust_env=False,
        ) as client:
            response = _follow(client, start, limits.max_redirects)
            try:
                media_type, suffixes = _document_type(response)
                size = _stream(response, sink, limits, deadline, progress)
            finally:
                response.close()
    except httpx.TimeoutException:
        raise FetchTimeout(
            f"the download of {url} did not finish within {limits.timeout_seconds:g} s"
        ) from None
    except httpx.TransportError as error:
        raise FetchError(_connection_problem(error)) from None
    return Fetched(str(start), str(response.url.copy_with(fragment=None)), media_type, suffixes,
                   size)


_ACCEPT = ", ".join([*DOCUMENT_TYPES, "*/*;q=0.1"])


def check_address(url: str) -> str:
    """``url`` without its ``#fragment``, or FetchError when it is not an http(s) address."""
    return str(_web_address(url, url))


def _web_address(text: str, original: str) -> httpx.URL:
    """``text`` as an absolute http(s) URL without fragment, or FetchError."""
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise FetchError(f"{original} is not a valid web address") from None
    if url.scheme not in ("http", "https"):
        shown = f"{url.scheme}://" if url.scheme else "an address without http:// or https://"
        raise FetchError(
            f"{original}: citebot downloads only http:// and https:// addresses, not {shown}"
        )
    if not url.host:
        raise FetchError(f"{original} has no host name")
    return url.copy_with(fragment=None)


def _follow(client: httpx.Client, start: httpx.URL, max_redirects: int) -> httpx.Response:
    """The response at the end of the redirects from ``start`` (open: the caller closes it)."""
    chain = [start]
    while True:
        response = client.send(client.build_request("GET", chain[-1]), stream=True)
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_CODES or not location:
            if response.status_code not in (200, 203):
                response.close()
                raise FetchError(_status_problem(response.status_code, chain[-1]))
            return response
        response.close()
        try:
            target = _web_address(str(response.url.join(location)), f"a redirect to {location}")
        except httpx.InvalidURL:
            raise FetchError(f"{chain[-1]} redirects to an invalid address") from None
        if target in chain:
            raise FetchError(
                f"a redirect loop: {chain[-1]} redirects back to {target} "
                f"(after {len(chain)} request(s))"
            )
        if len(chain) > max_redirects:
            raise FetchError(
                f"too many redirects: {start} still redirects after {max_redirects} "
                f"(last to {target})"
            )
        chain.append(target)


def _status_problem(code: int, url: httpx.URL) -> str:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "(unknown status)"
    if 200 <= code < 300:
        return f"the server answered {code} {phrase} for {url}: no document to save"
    return f"the server answered {code} {phrase} for {url}"


def _document_type(response: httpx.Response) -> tuple[str, tuple[str, ...]]:
    """The media type and the file endings it may have, or FetchError for unreadable types."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    suffixes = tuple(s for s in DOCUMENT_TYPES.get(media_type, ()) if s in SOURCE_SUFFIXES)
    if suffixes:
        return media_type, suffixes
    if media_type in UNTYPED:
        path = response.url.path.lower()
        own = [suffix for suffix in SOURCE_SUFFIXES if path.endswith(suffix)]
        if own:
            return media_type or "(none)", (own[0],)
        said = f"is {media_type}" if media_type else "has no content type"
        raise FetchError(
            f"{response.url} {said} and its name has no document ending, so citebot cannot tell "
            f"what it is ({READABLE_KINDS})"
        )
    raise FetchError(
        f"{response.url} is {media_type}, not a document citebot reads ({READABLE_KINDS})"
    )


def _stream(
    response: httpx.Response,
    sink: BinaryIO,
    limits: FetchLimits,
    deadline: float,
    progress: Progress | None,
) -> int:
    """Write the body to ``sink``; the bytes written. Stops at the limit, or the deadline."""
    declared = response.headers.get("content-length", "")
    total = int(declared) if declared.isdigit() else 0
    if total > limits.max_bytes:
        raise FetchTooLarge(_too_large(response.url, f" ({total:,} bytes)", limits.max_bytes))
    size = 0
    for piece in response.iter_bytes():  # decoded: a gzip bomb counts at its real size
        size += len(piece)
        if size > limits.max_bytes:
            raise FetchTooLarge(_too_large(response.url, "", limits.max_bytes))
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline passed")
        sink.write(piece)
        if progress is not None and total:
            progress(min(size, total), total)
    if size == 0:
        raise FetchError(f"{response.url} is empty: no document to save")
    return size


def _too_large(url: httpx.URL, size: str, limit: int) -> str:
    return f"{url}{size} is over the {limit / 1e6:g} MB limit; not saved"


def _connection_problem(error: httpx.TransportError) -> str:
    """One line for a failed connection: refused, name not found, TLS, or what the OS says."""
    host = error.request.url.host if _has_request(error) else "the server"
    cause = _root_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        detail = cause.verify_message or cause.reason or "certificate not trusted"
        return f"the secure connection to {host} failed: {detail} (TLS certificate check)"
    if isinstance(cause, ssl.SSLError):
        detail = cause.reason or "handshake failed"
        return f"the secure connection to {host} failed: TLS {detail.lower().replace('_', ' ')}"
    if isinstance(cause, ConnectionRefusedError):
        port = error.request.url.port if _has_request(error) else None
        shown = f"[{host}]" if ":" in host else host
        where = f"{shown}:{port}" if port else host
        return f"could not connect to {where}: connection refused (is the server running?)"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the connection to {host} broke off: the server did not answer properly"
    if isinstance(error, httpx.ReadError):
        return f"the connection to {host} broke off during the download"
    if isinstance(cause, OSError) and cause.strerror:
        return f"could not connect to {host}: {cause.strerror.lower()}"
    return f"could not connect to {host} ({type(error).__name__})"


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


def _root_cause(error: BaseException) -> BaseException:
    seen = error
    while (parent := seen.__cause__ or seen.__context__) is not None:
        seen = parent
        if isinstance(seen, OSError):
            return seen
    return seen


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet: not loopback, private, link-local,
    multicast, unspecified or reserved (an IPv4 address inside an IPv6 one is checked too)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            candidates = [ip.ipv4_mapped]  # ::ffff:a.b.c.d is a.b.c.d
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip.teredo is not None:
            candidates += list(ip.teredo)
    return all(
        one.is_global
        and not (
            one.is_loopback
            or one.is_private
            or one.is_link_local
            or one.is_multicast
            or one.is_unspecified
            or one.is_reserved
        )
        for one in candidates
    )


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, reached through a resolver that checks every address of the host
    and a deadline that bounds every operation."""

    def __init__(self, deadline: float, allow_private: bool) -> None:
        self.deadline = deadline
        self.allow_private = allow_private
        self.inner = httpcore.SyncBackend()

    def remaining(self, timeout: float | None, timed_out: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise timed_out("deadline passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.resolve(host, port)
        except FetchError:
            if self.allow_private:
                raise
            raise AddressRefused(refused_message(host)) from None
        if not self.allow_private and not all(map(is_public_address, addresses)):
            raise AddressRefused(refused_message(host))
        problem: Exception | None = None
        for address in addresses:
            try:
                stream = self.inner.connect_tcp(
                    address,
                    port,
                    timeout=self.remaining(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as error:
                problem = error
                continue
            return _DeadlineStream(stream, self)
        assert problem is not None
        raise problem

    def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses, each once, in the resolver's order; within the deadline."""
        found: dict[str, Any] = {}

        def lookup() -> None:
            try:
                found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as error:
                found["error"] = error

        worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
        worker.start()
        worker.join(self.remaining(None, httpcore.ConnectTimeout))
        if worker.is_alive():
            raise httpcore.ConnectTimeout(f"resolving {host} took too long")
        if "error" in found or not found.get("infos"):
            raise FetchError(f"could not find the server {host}: the name does not resolve")
        return list(dict.fromkeys(str(info[4][0]) for info in found["infos"]))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads, writes and TLS handshake all end by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, backend: _GuardedBackend) -> None:
        self.inner = inner
        self.backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.backend.remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.backend.remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = self.backend.remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self.inner.start_tls(ssl_context, server_hostname, wait), self.backend
        )

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool on the guarded backend (no proxies: a proxy
    would resolve hosts where the address check cannot see)."""

    def __init__(self, backend: _GuardedBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=4,
            network_backend=backend,
        )
