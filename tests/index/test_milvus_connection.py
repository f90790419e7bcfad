"""The Milvus connection survives a server closing an idle connection (gRPC GOAWAY,
"too_many_pings"): a fault seen once in CI, when many clients of one process pinged a Milvus
Lite server. The client pings only during calls, and a call or connect met by GOAWAY is tried
once more (the server took nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from index.backends.milvus import client as client_module
from index.backends.milvus.client import GRPC_OPTIONS, Connection
from index.errors import BackendError

GOAWAY = (
    "<MilvusException: (code=2, message=Fail connecting to server)> | "
    "StatusCode.UNAVAILABLE: Too many pings"
)


class FakeModule:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.made: list[dict[str, Any]] = []

    def MilvusClient(self, **options: Any) -> object:
        self.made.append(options)
        if self.failures:
            self.failures -= 1
            raise RuntimeError(GOAWAY)
        return object()


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "RETRY_PAUSE", 0.0)


def test_connect_after_a_goaway_is_tried_again_and_pings_only_during_calls(monkeypatch):
    fake = FakeModule(failures=1)
    monkeypatch.setattr(client_module, "pymilvus", lambda: fake)
    connection = Connection("http://127.0.0.1:1")
    assert connection.client is not None and len(fake.made) == 2
    assert fake.made[0]["grpc_options"] == GRPC_OPTIONS
    assert GRPC_OPTIONS["grpc.keepalive_permit_without_calls"] == 0


def test_a_call_met_by_goaway_is_tried_once_more(monkeypatch):
    monkeypatch.setattr(client_module, "pymilvus", lambda: FakeModule(failures=0))
    connection = Connection("http://127.0.0.1:1")
    attempts: list[int] = []

    def action(_client: Any) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError(GOAWAY)
        return "answered"

    assert connection.call("search", action) == "answered" and len(attempts) == 2


def test_a_server_that_is_down_is_not_retried(monkeypatch):
    monkeypatch.setattr(client_module, "pymilvus", lambda: FakeModule(failures=0))
    connection = Connection("http://127.0.0.1:1")
    attempts: list[int] = []

    def action(_client: Any) -> str:
        attempts.append(1)
        raise RuntimeError("<MilvusException: (code=2, message=Fail connecting to server)>")

    with pytest.raises(BackendError, match="cannot reach Milvus"):
        connection.call("search", action)
    assert len(attempts) == 1
