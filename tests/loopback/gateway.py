"""The gateway: a websocket that speaks enough of Discord's protocol for discord.py's client.

HELLO (op 10) on connect; HEARTBEAT (op 1) is answered with HEARTBEAT_ACK (op 11); IDENTIFY
(op 2) starts a session: READY, then one GUILD_CREATE per server; RESUME (op 6) re-attaches a
session, replays every dispatch after the client's sequence number, then RESUMED. A resume of an
unknown session gets INVALID_SESSION (op 9).

Shards: an IDENTIFY with ``shard: [id, count]`` gets only the servers of that shard (Discord's
rule, ``(guild_id >> 22) % count == id``), and a dispatch about a server goes to the session of
its shard (a DM's to shard 0); a shard id outside the count is closed with 4010 (Invalid shard).
Without ``shard`` a session is shard 0 of 1, which sees every server.

``zlib-stream`` transport compression is used when the client asks for it in the URL
(discord.py does, unless zstandard is installed).

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
INVALID_SHARD = 4010
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
    shard: tuple[int, int] = (0, 1)  # (id, count)
    guild_ids: tuple[int, ...] = ()  # the servers it was sent (its shard's)
    ready: bool = False  # READY and every GUILD_CREATE sent
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
        self.shards: dict[int, Session] = {}  # shard id -> its most recently attached session
        self._open = asyncio.Event()  # cleared by ``hold``: new connections get no HELLO
        self._open.set()
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

    async def wait_shard(self, shard_id: int, timeout: float = 60.0) -> Session:
        """Wait until shard ``shard_id`` has a session that is attached and sent its servers."""
        async with asyncio.timeout(timeout):
            while True:
                session = self.shards.get(shard_id)
                if session is not None and session.ready and session.connection is not None:
                    return session
                await asyncio.sleep(0.02)

    def session_for(self, guild_id: int | str | None) -> Session:
        """The session that receives dispatches about server ``guild_id`` (None: a DM)."""
        if self.current is None:
            raise RuntimeError("no client has identified yet")
        count = self.current.shard[1]
        shard = 0 if guild_id is None else (int(guild_id) >> 22) % count
        session = self.shards.get(shard)
        if session is None:
            raise RuntimeError(f"no client has identified as shard {shard} of {count}")
        return session

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send a dispatch to the session of its server's shard (kept for RESUME if the client
        is away)."""
        session = self.session_for(data.get("guild_id"))
        text = session.frame(event, data)
        seq = session.seq
        if session.connection is not None:
            await session.connection.send(text)
        return seq

    async def drop(self, code: int = 4000, shard: int | None = None) -> None:
        """Close the current connection (or shard ``shard``'s) as Discord does before a resume
        (the session stays)."""
        session = self.current if shard is None else self.shards.get(shard)
        if session is None or session.connection is None:
            return
        connection, session.connection = session.connection, None
        if session is self.current:
            self.connected.clear()
        await connection.socket.close(code=code, message=b"loopback: dropped by the test")

    def hold(self) -> None:
        """Keep new connections waiting for HELLO (a gateway that does not answer yet)."""
        self._open.clear()

    def release(self) -> None:
        """Let held and new connections go on (HELLO, then IDENTIFY or RESUME)."""
        self._open.set()

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
            await self._open.wait()
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
        shard_id, count = data.get("shard") or (0, 1)
        if not 0 <= shard_id < count:
            await connection.socket.close(code=INVALID_SHARD, message=b"Invalid shard")
            return None
        self.identifies += 1
        guild_ids = tuple(g for g in self.world.guild_ids if (g >> 22) % count == shard_id)
        session = Session(secrets.token_hex(16), (shard_id, count), guild_ids)
        self.sessions[session.session_id] = session
        await self._attach(session, connection)
        ready = self.world.ready(session.session_id, self.url, guild_ids)
        if data.get("shard"):
            ready["shard"] = [shard_id, count]
        await connection.send(session.frame("READY", ready))
        for guild_id in guild_ids:
            await connection.send(session.frame("GUILD_CREATE", self.world.guild(guild_id)))
        session.ready = True
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
        self.shards[session.shard[0]] = session
        if old is not None and old is not connection:
            await old.socket.close(code=4000, message=b"loopback: replaced")
