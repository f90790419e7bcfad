"""Threads as a source (issue 24): the channels registered as sources of a server's collection,
the backfill's cursor of each, and every thread read from them.

A thread is recorded once read, solved or not (``name`` None: no document), so a backfill that
stops halfway resumes with the threads it has not read, and an event that marks a thread solved
later finds it. Every query names one channel or one server, except :meth:`channels` without a
server (the start-up reconcile's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, delete, select, update

from bot.state.database import StateLocation
from bot.state.schema import thread_channels, thread_documents, upsert
from bot.state.upgrade import open_database

SolvedBy = Literal["tag", "reaction", "all"]
SOLVED_BY: tuple[SolvedBy, ...] = ("tag", "reaction", "all")


@dataclass(frozen=True)
class ThreadChannel:
    """A channel whose threads are a source of ``collection``, and how far its backfill got."""

    channel_id: int
    guild_id: int
    collection: str
    name: str
    solved_by: str
    tag: str | None
    added_at: float
    backfill_before: str | None
    backfilled_at: float | None
    private: bool = False  # a channel @everyone cannot view: its threads quoted only inside it

    @property
    def backfilled(self) -> bool:
        return self.backfilled_at is not None


@dataclass(frozen=True)
class ThreadRecord:
    """A thread read from a source channel: its document (None: not solved), the newest
    message read."""

    thread_id: int
    channel_id: int
    name: str | None
    solved: bool
    last_message_id: int | None
    read_at: float = 0.0


class ThreadSourceStore:
    """Source channels and their threads in the state database; safe from any thread."""

    def __init__(self, path: StateLocation, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._database = open_database(path)

    def add_channel(
        self, guild_id: int, channel_id: int, collection: str, name: str, *,
        solved_by: str, tag: str | None = None, private: bool = False,
    ) -> ThreadChannel:
        """Register the channel (again: its rule changes and its backfill starts over; the
        threads read before, read before ``added_at``, are read again). ``private``: a channel
        ``@everyone`` cannot view, whose threads are quoted only inside it."""
        if solved_by not in SOLVED_BY:
            raise ValueError(f"unknown rule {solved_by!r}")
        values = {"guild_id": int(guild_id), "collection": collection, "name": name,
                  "solved_by": solved_by, "tag": tag, "added_at": self._clock(),
                  "backfill_before": None, "backfilled_at": None, "private": int(private)}
        with self._database.transaction() as connection:
            statement = upsert(connection, thread_channels).values(
                channel_id=int(channel_id), **values)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[thread_channels.c.channel_id],
                set_=values,
            ))
        found = self.channel(channel_id)
        assert found is not None
        return found

    def channel(self, channel_id: int) -> ThreadChannel | None:
        query = select(*thread_channels.c).where(thread_channels.c.channel_id == int(channel_id))
        with self._database.reading() as connection:
            row = connection.execute(query).first()
        return None if row is None else _channel(row)

    def channels(self, guild_id: int | None = None) -> list[ThreadChannel]:
        """The source channels of server ``guild_id`` (None: of every server)."""
        query = select(*thread_channels.c).order_by(thread_channels.c.added_at)
        if guild_id is not None:
            query = query.where(thread_channels.c.guild_id == int(guild_id))
        with self._database.reading() as connection:
            return [_channel(row) for row in connection.execute(query)]

    def set_cursor(self, channel_id: int, before: str | None, *, done: bool = False) -> None:
        """The backfill listed archived threads down to ``before``; ``done``: it has ended."""
        with self._database.transaction() as connection:
            connection.execute(
                update(thread_channels).where(thread_channels.c.channel_id == int(channel_id))
                .values(backfill_before=before, backfilled_at=self._clock() if done else None)
            )

    def record(
        self, channel_id: int, thread_id: int, name: str | None, *, solved: bool,
        last_message_id: int | None,
    ) -> None:
        """A thread was read: its document (None: none), whether it is solved."""
        values = {"channel_id": int(channel_id), "name": name, "solved": int(solved),
                  "last_message_id": last_message_id, "read_at": self._clock()}
        with self._database.transaction() as connection:
            statement = upsert(connection, thread_documents).values(
                thread_id=int(thread_id), **values)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[thread_documents.c.thread_id], set_=values,
            ))

    def thread(self, thread_id: int) -> ThreadRecord | None:
        query = select(*thread_documents.c).where(thread_documents.c.thread_id == int(thread_id))
        with self._database.reading() as connection:
            row = connection.execute(query).first()
        return None if row is None else _thread(row)

    def threads(self, channel_id: int) -> dict[int, ThreadRecord]:
        """The threads read from the channel, by id."""
        query = select(*thread_documents.c).where(
            thread_documents.c.channel_id == int(channel_id))
        with self._database.reading() as connection:
            return {record.thread_id: record
                    for record in (_thread(row) for row in connection.execute(query))}

    def forget_thread(self, thread_id: int) -> None:
        with self._database.transaction() as connection:
            connection.execute(
                delete(thread_documents).where(thread_documents.c.thread_id == int(thread_id)))

    def forget_channel(self, channel_id: int) -> None:
        """The channel stops being a source: it and its threads' records go."""
        with self._database.transaction() as connection:
            connection.execute(delete(thread_documents).where(
                thread_documents.c.channel_id == int(channel_id)))
            connection.execute(delete(thread_channels).where(
                thread_channels.c.channel_id == int(channel_id)))

    def forget_server(self, guild_id: int) -> None:
        """Erase every source channel of the server and their threads (it was removed)."""
        with self._database.transaction() as connection:
            ids = select(thread_channels.c.channel_id).where(
                thread_channels.c.guild_id == int(guild_id))
            connection.execute(delete(thread_documents).where(
                thread_documents.c.channel_id.in_(ids)))
            connection.execute(delete(thread_channels).where(
                thread_channels.c.guild_id == int(guild_id)))

    def close(self) -> None:
        self._database.close()


def _channel(row: Row[Any]) -> ThreadChannel:
    values: tuple[Any, ...] = tuple(row)
    return ThreadChannel(int(values[0]), int(values[1]), str(values[2]), str(values[3]),
                         str(values[4]), values[5], float(values[6]), values[7], values[8],
                         bool(values[9]))


def _thread(row: Row[Any]) -> ThreadRecord:
    values: tuple[Any, ...] = tuple(row)
    return ThreadRecord(int(values[0]), int(values[1]), values[2], bool(values[3]),
                        None if values[4] is None else int(values[4]), float(values[5]))
