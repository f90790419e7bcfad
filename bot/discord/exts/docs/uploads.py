"""Receiving a new document for a server: its name, the server's limits, the bytes of an
attachment or a web address, written into the server's source folder all-or-nothing (never over
another file). Every refusal is a ``Refusal`` whose message says what to do."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from bot.core import documents
from bot.core.collections import Collections, collection_settings, guild_of
from bot.core.documents import Pending
from bot.discord.exts.docs.render import size_text
from bot.discord.utils.checks import Refusal
from bot.discord.utils.progress import public_message
from bot.discord.utils.render import escape_clipped, escape_name_clipped
from bot.state.servers import ServerLimits, check_limits
from index.errors import SourceError
from index.ingest.fetcher import FetchError, FetchLimits, FetchTooLarge
from index.ingest.formats import SOURCE_SUFFIXES, is_source_name

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot
    from bot.settings import Settings

READABLE = ", ".join(SOURCE_SUFFIXES)
SHOWN_NAME_CHARS = 200
PROBLEM_CHARS = 500
DOWNLOAD_PIECE = 64 * 1024
DOWNLOAD_FAILED = "I couldn't download that attachment from Discord; please try again."

_server_locks: weakref.WeakKeyDictionary[CitebotBot, dict[int, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def server_lock(bot: CitebotBot, guild_id: int) -> asyncio.Lock:
    """The lock that serialises changes to one server's documents (so two adds at once cannot
    both pass the limits)."""
    return _server_locks.setdefault(bot, {}).setdefault(guild_id, asyncio.Lock())


def shown(name: str) -> str:
    """A user-given name as it may appear in a message: escaped and clipped."""
    return escape_name_clipped(name, SHOWN_NAME_CHARS)


def attachment_name(filename: str) -> str:
    """The file name an attachment gets in the source folder; Refusal when citebot cannot use
    it (no readable name, or a format citebot does not read)."""
    try:
        name = documents.upload_name(filename)
    except SourceError:
        raise Refusal(
            f"**{shown(filename)}** is not a usable file name; rename the file and attach it again."
        ) from None
    if not is_source_name(name):
        raise Refusal(
            f"I can't read **{shown(name)}**: citebot reads files ending in {READABLE}. Convert "
            "it to one of those and attach it again."
        )
    return name


def all_servers_full(max_bytes: int) -> str:
    """The refusal when every server's documents together would pass CITEBOT_TOTAL_MAX_GB."""
    return (
        f"The bot has no room left for documents: all servers' documents together may take "
        f"{_gb(max_bytes)}, and this one would pass that. Remove documents this server no "
        "longer needs with `/docs remove`, or ask the bot's operator to raise "
        "CITEBOT_TOTAL_MAX_GB."
    )


@dataclass(frozen=True)
class Room:
    """A server's documents now: how many, their bytes, and the limits; and the bytes of all
    servers' documents together, with their limit (CITEBOT_TOTAL_MAX_GB)."""

    documents: int
    total_bytes: int
    limits: ServerLimits
    all_servers_bytes: int
    all_servers_max_bytes: int

    def _all_servers_left(self) -> int:
        return self.all_servers_max_bytes - self.all_servers_bytes

    def check(self, new_bytes: int) -> None:
        """Refusal naming the limit and the remedy when a file of ``new_bytes`` does not fit."""
        problem = check_limits(self.documents, self.total_bytes, new_bytes, self.limits)
        if problem is not None:
            raise Refusal(problem)
        if new_bytes > self._all_servers_left():
            raise Refusal(all_servers_full(self.all_servers_max_bytes))

    def without(self, size: int) -> Room:
        """The room when a document of ``size`` bytes is replaced rather than added."""
        return Room(
            max(0, self.documents - 1),
            max(0, self.total_bytes - size),
            self.limits,
            max(0, self.all_servers_bytes - size),
            self.all_servers_max_bytes,
        )

    def largest_download(self) -> int:
        """The most bytes one new document may have: one file's limit, or the room left (in
        this server and in all)."""
        most = min(self.limits.max_file_bytes, self.limits.max_bytes - self.total_bytes)
        return max(0, min(most, self._all_servers_left()))

    def too_large(self) -> str:
        """What to say when a download passed ``largest_download`` (its real size unknown)."""
        server_most = min(self.limits.max_file_bytes, self.limits.max_bytes - self.total_bytes)
        if self._all_servers_left() < server_most:
            return all_servers_full(self.all_servers_max_bytes)
        if self.limits.max_bytes - self.total_bytes < self.limits.max_file_bytes:
            return (
                f"This server's documents take {_mb(self.total_bytes)}; that document would "
                f"pass the {_mb(self.limits.max_bytes)} limit. Remove some with `/docs remove` "
                "to make room."
            )
        return (
            f"That document is over the {_mb(self.limits.max_file_bytes)} limit for one file. "
            "Split it, or ask the bot's operator to raise CITEBOT_ATTACHMENT_MAX_MB."
        )


def all_servers_bytes(collections: Collections) -> int:
    """The bytes of every server's documents together (the shared collection, the operator's
    own, does not count). Blocking: one directory listing per server."""
    return sum(
        document.size
        for name in collections.names()
        if guild_of(name) is not None
        for document in collections.documents(name)
    )


async def room_in(bot: CitebotBot, collection: str) -> Room:
    """The server's documents and limits, and all servers' bytes, read off the event loop."""
    present = await asyncio.to_thread(bot.collections.documents, collection)
    everything = await asyncio.to_thread(all_servers_bytes, bot.collections)
    return Room(
        len(present),
        sum(d.size for d in present),
        bot.server_limits(),
        everything,
        int(bot.settings.total_max_gb * 1e9),
    )


async def download(url: str, max_bytes: int, room: Room, timeout_seconds: float) -> bytes:
    """The attachment's bytes, read at most ``max_bytes`` (+1) from Discord; Refusal when it is
    larger (whatever its size claimed) or cannot be downloaded."""
    data = bytearray()
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                raise Refusal(DOWNLOAD_FAILED)
            async for piece in response.content.iter_chunked(DOWNLOAD_PIECE):
                data += piece
                if len(data) > max_bytes:
                    raise Refusal(room.too_large())
    except (aiohttp.ClientError, TimeoutError, ValueError):
        raise Refusal(DOWNLOAD_FAILED) from None
    return bytes(data)


def fetch_document(settings: Settings, collection: str, url: str, max_bytes: int,
                   room: Room) -> Pending:
    """Download ``url`` into the collection's source folder (at most ``max_bytes``), pending
    until a build reads it. Refusal with the fetcher's own reason (written for users; folders
    named in words) when it cannot. Blocking: run in a thread."""
    limits = FetchLimits(max_bytes, settings.fetch_timeout_seconds, settings.fetch_max_redirects)
    source_dir = collection_settings(settings, collection).source_dir
    try:
        return documents.add_url(
            source_dir, url, limits, allow_private=settings.fetch_private_addresses
        )
    except FetchTooLarge:
        raise Refusal(room.too_large()) from None
    except (FetchError, SourceError) as error:
        reason = public_message(str(error), settings, collection)
        raise Refusal(
            f"I couldn't add that address: {escape_clipped(reason, PROBLEM_CHARS)}"
        ) from None


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else size_text(size)
