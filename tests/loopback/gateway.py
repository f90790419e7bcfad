"""The gateway: a websocket that speaks enough of Discord's protocol for discord.py's client.

HELLO (op 10) on connect; HEARTBEAT (op 1) is answered with HEARTBEAT_ACK (op 11); IDENTIFY
(op 2) starts a session: READY, then one GUILD_CREATE per server; RESUME (op 6) re-attaches a
session, replays every dispatch after the client's sequence number, then RESUMED. A resume of an
unknown session gets INVALID_SESSION (op 9). ``zlib-stream`` transport compression is used when
the client asks for it in the URL (discord.py does, unless zstandard is installed).

Dispatches made while the client is away are kept (a bounded history) and replayed on RESUME,
as Discord does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.loopback.payloads import World

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 9, 10, 11
AUTHENTICATION_FAILED = 4004
HISTORY = 2000  # dispatches kept per session for RESUME


class Connection:
    """One websocket connection, with the compression context it was opened with."""

    def __init__(self, socket: web.WebSocketResponse, compress: bool) -> None:
        self.socket = socket
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    async def send(self, text: str) -> bool:
        """Send one gateway message; False when the connection is gone."""
        async with self._lock:
            if self.socket.closed:
                return False
            try:
                if self._compressor is None:
                    await self.socket.send_str(text)
                else:
                    data = self._compressor.compress(text.encode()) + self._compressor.flush(
                        zlib.Z_SYNC_FLUSH
                    )
                    await self.socket.send_bytes(data)
            except (ConnectionError, RuntimeError):
                return False
            return True

    async def send_json(self, op: int, data: Any = None) -> bool:
        return await self.send(json.dumps({"op": op, "d": data, "s": None, "t": None}))


@dataclass
class Session:
    """An identified gateway session: its sequence number and the dispatches it was sent."""

    session_id: str
    seq: int = 0
    history: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    connection: Connection | None = None

    def frame(self, event: str, data: Any) -> str:
        self.seq += 1
        text = json.dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data})
        self.history.append((self.seq, text))
        return text


class Gateway:
    """The websocket endpoint (``handle``) and what tests do with it (``dispatch``, ``drop``)."""

    def __init__(self, world: World, token: str, heartbeat_interval_ms: int = 41_250) -> None:
        self.world = world
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.url = ""  # set by the server once it knows its port
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self.compressed_connections = 0
        self.connected = asyncio.Event()
        self._connections: set[web.WebSocketResponse] = set()

    # ----- what tests do ---------------------------------------------------------------------

    async def wait_connected(self, timeout: float = 60.0) -> Session:
        """Wait until a client has an attached session (after READY or RESUMED)."""
        await asyncio.wait_for(self.connected.wait(), timeout)
        assert self.current is not None
        return self.current

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send a dispatch to the current session (kept for RESUME if the client is away)."""
        session = self.current
        if session is None:
            raise RuntimeError("no client has identified yet")
        text = session.frame(event, data)
        seq = session.seq
        if session.connection is not None:
            await session.connection.send(text)
        return seq

    async def drop(self, code: int = 4000) -> None:
        """Close the current connection as Discord does before a resume (the session stays)."""
        session = self.current
        if session is None or session.connection is None:
            return
        connection, session.connection = session.connection, None
        self.connected.clear()
        await connection.socket.close(code=code, message=b"loopback: dropped by the test")

    async def close_all(self) -> None:
        for socket in list(self._connections):
            await socket.close(code=1001, message=b"loopback: shutting down")

    # ----- the endpoint ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        compression = request.query.get("compress")
        if compression not in (None, "zlib-stream"):
            raise web.HTTPBadRequest(text=f"unsupported compression {compression}")
        socket = web.WebSocketResponse(max_msg_size=0, autoclose=True)
        await socket.prepare(request)
        self._connections.add(socket)
        connection = Connection(socket, compress=compression == "zlib-stream")
        self.compressed_connections += compression == "zlib-stream"
        session: Session | None = None
        try:
            await connection.send_json(HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
            async for message in socket:
                if message.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                op, data = frame.get("op"), frame.get("d")
                if op == HEARTBEAT:
                    self.heartbeats += 1
                    await connection.send_json(HEARTBEAT_ACK)
                elif op == IDENTIFY:
                    session = await self._identify(connection, data)
                elif op == RESUME:
                    session = await self._resume(connection, data)
        finally:
            self._connections.discard(socket)
            if session is not None and session.connection is connection:
                session.connection = None
                if session is self.current:
                    self.connected.clear()
        return socket

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        if data.get("token") != self.token:
            await connection.socket.close(code=AUTHENTICATION_FAILED, message=b"bad token")
            return None
        self.identifies += 1
        session = Session(secrets.token_hex(16))
        self.sessions[session.session_id] = session
        await self._attach(session, connection)
        await connection.send(
            session.frame("READY", self.world.ready(session.session_id, self.url))
        )
        for guild_id in self.world.guild_ids:
            await connection.send(session.frame("GUILD_CREATE", self.world.guild(guild_id)))
        self.connected.set()
        return session

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(data.get("session_id") or "")
        if data.get("token") != self.token or session is None:
            await connection.send_json(INVALID_SESSION, False)
            return None
        self.resumes += 1
        await self._attach(session, connection)
        after = data.get("seq") or 0
        for seq, text in list(session.history):
            if seq > after:
                await connection.send(text)
        await connection.send(session.frame("RESUMED", {}))
        self.connected.set()
        return session

    async def _attach(self, session: Session, connection: Connection) -> None:
        old, session.connection = session.connection, connection
        self.current = session
        if old is not None and old is not connection:
            await old.socket.close(code=4000, message=b"loopback: replaced")
