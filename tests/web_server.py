"""A web server on 127.0.0.1 for `citebot add URL` tests, and the documents it serves.

``WebServer`` runs Python's own ``http.server`` in a thread on a free port; a test registers
what each path answers (a document, a redirect, an error, or a handler of its own for slow or
endless bodies). It serves HTTP/1.0 (one request per connection), so a body without
Content-Length simply ends when the connection closes. Nothing leaves the machine.

Document builders (reusable by other tests): :func:`html_page`, :func:`pdf_document`.
"""

from __future__ import annotations

import html
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


class WebServer:
    """``with WebServer() as server: server.document("/a.txt", b"...", "text/plain")``."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                route = routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    route(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> WebServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # ----- what paths answer -------------------------------------------------------------------

    def route(self, path: str, handler: Handler) -> str:
        """``path`` answered by ``handler(request)``; returns its URL."""
        self.routes[path] = handler
        return self.url(path)

    def document(
        self, path: str, body: bytes, content_type: str | None, *, length: bool = True
    ) -> str:
        """``path`` answers 200 with ``body``; without ``length``, no Content-Length header."""

        def send(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            if content_type is not None:
                request.send_header("Content-Type", content_type)
            if length:
                request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)

        return self.route(path, send)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """``path`` redirects to ``location`` (relative or absolute)."""

        def send(request: BaseHTTPRequestHandler) -> None:
            request.send_response(status)
            request.send_header("Location", location)
            request.send_header("Content-Length", "0")
            request.end_headers()

        return self.route(path, send)

    def error(self, path: str, status: int) -> str:
        """``path`` answers ``status`` with a small HTML error page."""
        return self.route(path, lambda request: request.send_error(status))

    def stream(
        self,
        path: str,
        pieces: Callable[[], Iterator[bytes]],
        content_type: str,
        *,
        declared_length: int | None = None,
        pause: float = 0.0,
        limit_seconds: float = 30.0,
    ) -> str:
        """``path`` sends the pieces one by one, ``pause`` seconds apart, announcing
        ``declared_length`` (None: no Content-Length), for at most ``limit_seconds``."""

        def send(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            request.send_header("Content-Type", content_type)
            if declared_length is not None:
                request.send_header("Content-Length", str(declared_length))
            request.end_headers()
            request.wfile.flush()
            stop = time.monotonic() + limit_seconds
            for piece in pieces():
                if time.monotonic() > stop:
                    return
                request.wfile.write(piece)
                request.wfile.flush()
                if pause:
                    time.sleep(pause)

        return self.route(path, send)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def html_page(title: str, text: str, *, nav: bool = True) -> bytes:
    """``text`` (paragraphs separated by blank lines; a short line without final punctuation
    becomes an ``<h2>``) as a UTF-8 web page with ``<title>``, a nav bar and a footer."""
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
             "</title></head><body>"]
    if nav:
        parts.append("<nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>")
    parts.append(f"<main><article><h1>{html.escape(title)}</h1>")
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        if len(paragraph) < 80 and paragraph[-1] not in ".?!:;\"”’)":
            parts.append(f"<h2>{html.escape(paragraph)}</h2>")
        else:
            parts.append(f"<p>{html.escape(paragraph)}</p>")
    parts.append("</article></main><footer>© Example, all rights reserved</footer></body></html>")
    return "\n".join(parts).encode("utf-8")


def pdf_document(paragraphs: list[str]) -> bytes:
    """A PDF with a text layer holding ``paragraphs`` (reportlab, wrapped, as many pages as
    they need)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    buffer = io.BytesIO()
    style = getSampleStyleSheet()["BodyText"]
    SimpleDocTemplate(buffer, pagesize=A4).build(
        [Paragraph(html.escape(text), style) for text in paragraphs]
    )
    return buffer.getvalue()
