"""The connection to Milvus: pymilvus imported only here and only when used, and every failure
turned into a BackendError that says what to do (never a traceback, never pymilvus's own
ERROR log lines)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from index.errors import BackendError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds a call may take before it is given up: a hung server must not hang a question.
QUESTION_TIMEOUT = 10.0
WRITE_TIMEOUT = 120.0
INSTALL_HINT = "pip install 'citebot[milvus]'"
_UNREACHABLE_CODES = {2, -14}  # pymilvus "Fail connecting to server"; gRPC UNAVAILABLE
_AUTH_CODES = {1800, -16}  # Milvus "auth check failure"; gRPC UNAUTHENTICATED (negated)
_RELEASED_CODES = {101}
# pymilvus pings every 10 s even with no call under way; gRPC servers (Milvus Lite's among them)
# count pings on an idle connection as abuse and close it ("too_many_pings"), failing the next
# call. Ping only while a call is under way.
GRPC_OPTIONS = {"grpc.keepalive_permit_without_calls": 0}
RETRY_PAUSE = 0.5  # "collection ... is in state 'released'; call load()"


def pymilvus() -> Any:
    """The pymilvus module (raises BackendError with the install command when missing)."""
    try:
        import pymilvus as module
    except ImportError:
        raise BackendError(
            f"the Milvus backend needs pymilvus, which is not installed: run `{INSTALL_HINT}`, "
            "or set CITEBOT_BACKEND=local"
        ) from None
    # pymilvus logs every failed call at ERROR with a traceback, embedded Milvus Lite a file it
    # cannot open; citebot reports both itself (BackendError, and a warning in its own log).
    for name in ("pymilvus", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return module


def _closing(error: BaseException) -> bool:
    """Whether a failed call met a connection the server was closing (GOAWAY), before the
    server took the call."""
    text = " ".join(str(cause) for cause in _causes(error)).lower()
    return "goaway" in text or "too_many_pings" in text or "too many pings" in text


def is_embedded(uri: str) -> bool:
    """Whether a Milvus URI names a Milvus Lite file (served inside this process), not a
    server address."""
    return "://" not in uri


def redact(uri: str) -> str:
    """The URI as shown to users: without credentials or query."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        uri = f"{scheme}://{rest.split('@', 1)[1]}"
    return uri.split("?", 1)[0]


class Connection:
    """One MilvusClient for a URI (a server address, or a file path for embedded Milvus Lite),
    made on first use and kept: after a server restart the same client works again."""

    def __init__(
        self,
        uri: str,
        token: str | None = None,
        timeout: float = QUESTION_TIMEOUT,
        write_timeout: float = WRITE_TIMEOUT,
    ) -> None:
        self.uri = uri
        self.token = token or ""
        self.timeout = timeout  # seconds for a call that answers a question
        self.write_timeout = write_timeout  # for builds, loads and whole-index reads
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        """Whether the URI is a file path (an embedded Milvus Lite in this process)."""
        return is_embedded(self.uri)

    @property
    def client(self) -> Any:
        """The MilvusClient (connects on first use; raises BackendError)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    module = pymilvus()
                    try:
                        if self.embedded:  # Milvus Lite wants the file's folder to exist
                            Path(self.uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
                        self._client = self._connect(module)
                    except Exception as error:
                        raise self.error(error, "connect") from None
        return self._client

    def _connect(self, module: Any) -> Any:
        """A new MilvusClient; tried twice when the first attempt met a connection the server
        was closing (GOAWAY), which gRPC replaces by itself."""
        for attempt in (1, 2):
            try:
                return module.MilvusClient(
                    uri=self.uri, token=self.token, timeout=self.timeout,
                    grpc_options=GRPC_OPTIONS,
                )
            except Exception as error:
                if attempt == 2 or not _closing(error):
                    raise
                time.sleep(RETRY_PAUSE)
        raise AssertionError("unreachable")

    def call(
        self,
        what: str,
        action: Callable[[Any], T],
        reload: Iterable[str] = (),
    ) -> T:
        """``action(client)``, with failures as BackendError. When Milvus says a collection is
        not loaded (a server restart releases every collection), the ``reload`` collections are
        loaded and the action is tried once more."""
        client = self.client
        try:
            try:
                return action(client)
            except Exception as error:
                if not _closing(error):
                    raise
                # The server sent GOAWAY before taking the call: nothing was done; gRPC has
                # opened a new connection by now.
                time.sleep(RETRY_PAUSE)
                return action(client)
        except Exception as error:
            if not reload or (_code(error) not in _RELEASED_CODES and "load()" not in str(error)):
                raise self.error(error, what) from None
        log.info("Milvus collections released (a server restart?): loading them again")
        try:
            for name in reload:
                client.load_collection(name, timeout=self.write_timeout)
            return action(client)
        except Exception as error:
            raise self.error(error, what) from None

    def error(self, error: BaseException, what: str) -> BackendError:
        """The user's message for a failed call (details go to the log)."""
        if isinstance(error, BackendError):
            return error
        causes = _causes(error)
        codes = {_code(cause) for cause in causes}
        code = _code(error)
        text = " | ".join(_details(cause) for cause in causes)
        lowered = text.lower()
        where = redact(self.uri)
        log.warning("Milvus call %s at %s failed: %s", what, where, text[:500])
        if codes & _AUTH_CODES or "unauthenticated" in lowered or "auth check" in lowered:
            return BackendError(
                f"Milvus at {where} refused the token: check CITEBOT_MILVUS_TOKEN "
                "(user:password or an API key) and that this user may use the database"
            )
        if (
            codes & _UNREACHABLE_CODES
            or "fail connecting" in lowered
            or "unavailable" in lowered
            or "connection refused" in lowered
        ):
            return BackendError(
                f"cannot reach Milvus at {where}: is it running? Check CITEBOT_MILVUS_URI and "
                "that the server is up, then try again"
            )
        if "deadline" in lowered or "timeout" in lowered or "timed out" in lowered:
            return BackendError(
                f"Milvus at {where} did not answer in time ({what}): check that the server is "
                "healthy and not overloaded, then try again"
            )
        if (self.embedded and what == "connect") or "datadirlocked" in lowered:
            return BackendError(
                f"cannot open the Milvus Lite database {where} ({what}): another process may "
                "be using it (a Lite file serves one process: run `milvus-lite server` and "
                "point every process at it), or the path is not writable"
            )
        return BackendError(
            f"Milvus at {where} failed to {what} (code {code}): see the log for details; "
            "if the index is damaged, run `citebot build` again"
        )


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what caused it (pymilvus wraps gRPC errors: "Fail connecting ..." hides
    an UNAUTHENTICATED answer)."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found and len(found) < 8:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _details(error: BaseException) -> str:
    details = getattr(error, "details", None)
    if callable(details):  # a grpc.RpcError
        try:
            # grpc's RpcError adds code() to the exception; callable() narrows details only.
            return f"{error.code()}: {details()}"  # type: ignore[attr-defined]
        except Exception:
            return str(error)
    return str(error)


def _code(error: BaseException) -> int | None:
    code = getattr(error, "code", None)
    if callable(code):  # a grpc.RpcError: code() is a StatusCode
        try:
            status = code()
            return -int(status.value[0])  # negated: apart from Milvus's own codes
        except Exception:
            return None
    return code if isinstance(code, int) else None
