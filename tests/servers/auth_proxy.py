"""A gRPC proxy in front of a Milvus Lite server that checks tokens the way an authenticating
Milvus does: a call without the right ``authorization`` metadata is refused with
UNAUTHENTICATED ("auth check failure, ..."), a call with it is passed through byte for byte.
Milvus Lite has no authentication of its own, so this is how the wrong-token path is tested."""

from __future__ import annotations

import base64
from concurrent import futures
from typing import Any

import grpc

from tests.servers.milvus import free_port

REFUSAL = "auth check failure, please check username and password are correct"


def _identity(data: bytes) -> bytes:
    return data


class AuthProxy:
    """Listens on 127.0.0.1:``port`` and forwards accepted calls to ``target`` (host:port)."""

    def __init__(self, target: str, token: str) -> None:
        self.expected = base64.b64encode(token.encode("utf-8")).decode("ascii")
        self.channel = grpc.insecure_channel(target)
        self.port = free_port()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((_Handler(self),))
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        self.refused = 0

    @property
    def uri(self) -> str:
        """The address clients use."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AuthProxy:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)
        self.channel.close()


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, proxy: AuthProxy) -> None:
        self.proxy = proxy

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        metadata = tuple(details.invocation_metadata)
        accepted = dict(metadata).get("authorization") == self.proxy.expected
        forward = self.proxy.channel.unary_unary(
            method, request_serializer=_identity, response_deserializer=_identity
        )

        def call(request: bytes, context: Any) -> bytes:
            if not accepted:
                self.proxy.refused += 1
                context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)
            remaining = context.time_remaining()
            timeout = remaining if remaining is not None and remaining < 1e6 else None
            try:
                return forward(request, metadata=metadata, timeout=timeout)
            except grpc.RpcError as error:
                context.abort(error.code(), error.details() or "")
                raise

        return grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=_identity, response_serializer=_identity
        )
