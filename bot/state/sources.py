"""The source registry (issue 22): each crawled site and each added web address of a collection,
how often it is synced, how its last sync went, and its pages with what a conditional request
needs (``ETag``, ``Last-Modified``) and how many syncs in a row missed them.

Kept in the state database, not ``sources.toml``: a sync rewrites validators and counters of
hundreds of pages, which must change together with the sync's result (one transaction), must not
make the index look stale (``sources.toml`` is part of what a build reads), and the bot's
scheduler asks "which sources are due" across every collection at once, under the lease that
lets one process of several run them. Every query names one collection, except :meth:`due`,
the scheduler's, which returns whole rows for the scheduler to act on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from bot.state.database import StateLocation
from bot.state.schedules import PERIOD_SECONDS, SCHEDULES
from bot.state.schema import leases, source_exclusions, source_pages, sources, upsert
from bot.state.upgrade import open_database

MAX_DETAIL_CHARS = 1_000


@dataclass(frozen=True)
class Source:
    """A site (``crawl``) or one address of a collection, and how its last sync went."""

    id: int
    collection: str
    url: str
    crawl: bool
    schedule: str
    added_at: float
    synced_at: float | None
    result: str
    detail: str
    started_at: float | None

    def due(self, now: float) -> bool:
        """Whether its schedule says it should be synced by ``now``."""
        period = PERIOD_SECONDS.get(self.schedule)
        if period is None:
            return False
        return (self.synced_at or self.added_at) + period <= now


@dataclass(frozen=True)
class PageRecord:
    """One page of a source: its address, its document's name, its validators, and the number
    of syncs in a row that did not find it."""

    url: str
    name: str
    etag: str | None = None
    last_modified: str | None = None
    misses: int = 0


class SourceStore:
    """Sources, their pages and leases in the state database; safe from any thread."""

    def __init__(self, path: StateLocation, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._database = open_database(path)

    def add(self, collection: str, url: str, *, crawl: bool, schedule: str) -> Source:
        """Register ``url`` as a source of ``collection`` (an existing one keeps its schedule
        and history; a single address crawled later becomes a site)."""
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}")
        with self._database.transaction() as connection:
            statement = upsert(connection, sources).values(
                collection=collection, url=url, crawl=int(crawl), schedule=schedule,
                added_at=self._clock(), result="", detail="",
            )
            if crawl:
                connection.execute(statement.on_conflict_do_update(
                    index_elements=[sources.c.collection, sources.c.url], set_={"crawl": 1},
                ))
            else:
                connection.execute(statement.on_conflict_do_nothing())
            found = _one(connection, collection, url)
        assert found is not None
        return found

    def get(self, collection: str, url: str) -> Source | None:
        with self._database.reading() as connection:
            return _one(connection, collection, url)

    def by_id(self, collection: str, source_id: int) -> Source | None:
        """The source ``source_id`` if it belongs to ``collection`` (else None)."""
        query = select(*sources.c).where(
            sources.c.id == int(source_id), sources.c.collection == collection
        )
        with self._database.reading() as connection:
            row = connection.execute(query).first()
        return None if row is None else _source(row)

    def of_collection(self, collection: str) -> list[Source]:
        query = select(*sources.c).where(sources.c.collection == collection).order_by(
            sources.c.id
        )
        with self._database.reading() as connection:
            return [_source(r) for r in connection.execute(query)]

    def due(self, now: float | None = None) -> list[Source]:
        """Every collection's sources whose schedule says a sync is due, longest waiting
        first (for the bot's scheduler)."""
        now = self._clock() if now is None else now
        query = select(*sources.c).where(sources.c.schedule != "never")
        with self._database.reading() as connection:
            found = [_source(r) for r in connection.execute(query)]
        return sorted(
            (source for source in found if source.due(now)),
            key=lambda source: source.synced_at or source.added_at,
        )

    def pages(self, source_id: int) -> list[PageRecord]:
        query = select(
            source_pages.c.url, source_pages.c.name, source_pages.c.etag,
            source_pages.c.last_modified, source_pages.c.misses,
        ).where(source_pages.c.source_id == int(source_id)).order_by(source_pages.c.url)
        with self._database.reading() as connection:
            return [PageRecord(*row) for row in connection.execute(query)]

    def exclude(self, source_id: int, url: str) -> None:
        """A page of the source was removed by hand: forget it and keep its syncs from bringing
        it back (until :meth:`readmit` or the source's removal)."""
        with self._database.transaction() as connection:
            connection.execute(upsert(connection, source_exclusions).values(
                source_id=int(source_id), url=url, excluded_at=self._clock(),
            ).on_conflict_do_nothing())
            connection.execute(delete(source_pages).where(
                source_pages.c.source_id == int(source_id), source_pages.c.url == url,
            ))

    def excluded(self, source_id: int) -> set[str]:
        """The addresses of the source's pages removed by hand."""
        query = select(source_exclusions.c.url).where(
            source_exclusions.c.source_id == int(source_id)
        )
        with self._database.reading() as connection:
            return {str(url) for url in connection.execute(query).scalars()}

    def readmit(self, collection: str, url: str, name: str) -> Source | None:
        """``url`` was added again by hand as the document ``name``: if a crawled source of
        ``collection`` excluded it, lift that and make it the source's page again (its syncs
        keep it current); that source, else None."""
        query = select(*sources.c).join(
            source_exclusions, source_exclusions.c.source_id == sources.c.id
        ).where(sources.c.collection == collection, source_exclusions.c.url == url)
        with self._database.transaction() as connection:
            row = connection.execute(query.order_by(sources.c.id)).first()
            if row is None:
                return None
            source = _source(row)
            connection.execute(delete(source_exclusions).where(
                source_exclusions.c.source_id == source.id, source_exclusions.c.url == url,
            ))
            connection.execute(upsert(connection, source_pages).values(
                source_id=source.id, url=url, name=name, misses=0,
            ).on_conflict_do_nothing())
        return source

    def set_schedule(self, source_id: int, schedule: str) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}")
        with self._database.transaction() as connection:
            connection.execute(
                update(sources).where(sources.c.id == int(source_id)).values(schedule=schedule)
            )

    def begin_sync(self, source_id: int) -> None:
        """Mark a sync as running (a killed one leaves this mark: the next sync builds)."""
        with self._database.transaction() as connection:
            connection.execute(
                update(sources).where(sources.c.id == int(source_id))
                .values(started_at=self._clock(), result="running")
            )

    def finish_sync(
        self, source_id: int, result: str, detail: str, pages: Iterable[PageRecord] | None
    ) -> None:
        """Record how a sync ended and, when ``pages`` is given, the source's pages as they are
        now: all in one transaction."""
        with self._database.transaction() as connection:
            if pages is not None:
                connection.execute(
                    delete(source_pages).where(source_pages.c.source_id == int(source_id))
                )
                rows = [
                    {"source_id": int(source_id), "url": page.url, "name": page.name,
                     "etag": page.etag, "last_modified": page.last_modified,
                     "misses": page.misses}
                    for page in pages
                ]
                if rows:
                    connection.execute(insert(source_pages), rows)
            connection.execute(
                update(sources).where(sources.c.id == int(source_id)).values(
                    synced_at=self._clock(), result=result, detail=detail[:MAX_DETAIL_CHARS],
                    started_at=None,
                )
            )

    def remove(self, source_id: int) -> None:
        """Forget the source, its pages and its exclusions."""
        with self._database.transaction() as connection:
            connection.execute(
                delete(source_pages).where(source_pages.c.source_id == int(source_id))
            )
            connection.execute(delete(source_exclusions).where(
                source_exclusions.c.source_id == int(source_id)
            ))
            connection.execute(delete(sources).where(sources.c.id == int(source_id)))

    def forget_collection(self, collection: str) -> None:
        """Erase every source of ``collection`` (it was deleted)."""
        with self._database.transaction() as connection:
            ids = select(sources.c.id).where(sources.c.collection == collection)
            connection.execute(delete(source_pages).where(source_pages.c.source_id.in_(ids)))
            connection.execute(
                delete(source_exclusions).where(source_exclusions.c.source_id.in_(ids))
            )
            connection.execute(delete(sources).where(sources.c.collection == collection))

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take (or renew) the lease ``name`` for ``seconds`` unless another holder's is still
        running; True when ``holder`` has it now. A dead holder's lease simply expires."""
        now = self._clock()
        with self._database.transaction() as connection:
            statement = upsert(connection, leases).values(
                name=name, holder=holder, expires_at=now + seconds
            )
            connection.execute(statement.on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={"holder": statement.excluded.holder,
                      "expires_at": statement.excluded.expires_at},
                where=(leases.c.expires_at < now) | (leases.c.holder == holder),
            ))
            current = connection.execute(
                select(leases.c.holder).where(leases.c.name == name)
            ).scalar_one()
        return bool(current == holder)

    def release_lease(self, name: str, holder: str) -> None:
        with self._database.transaction() as connection:
            connection.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )

    def close(self) -> None:
        self._database.close()


def _one(connection: Connection, collection: str, url: str) -> Source | None:
    row = connection.execute(
        select(*sources.c).where(sources.c.collection == collection, sources.c.url == url)
    ).first()
    return None if row is None else _source(row)


def _source(row: Row[Any]) -> Source:
    """A ``sources`` row (all its columns, in order) as a Source."""
    values: tuple[Any, ...] = tuple(row)
    return Source(int(values[0]), str(values[1]), str(values[2]), bool(values[3]),
                  str(values[4]), float(values[5]), values[6], str(values[7]), str(values[8]),
                  values[9])
