"""Bringing the state database's schema up to date: on start, and by ``citebot db upgrade``.

The revisions live in bot/state/migrations/versions/. They run in one transaction that also
holds a lock (SQLite: the write lock; PostgreSQL: an advisory lock), so processes starting
together migrate once. A database whose revision this citebot does not know was written by a
newer one: it is refused with the remedy, never touched.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text

from bot.state.database import StateDatabase, StateError, StateLocation
from bot.state.schema import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x63697465626F74  # "citebot": the advisory lock held while migrating


@functools.cache
def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this citebot knows."""
    revision = _script().get_current_head()
    assert revision is not None
    return revision


def configure_context(context: Any, connection: Connection) -> None:
    """Configure an Alembic environment to migrate on ``connection`` (within its transaction)."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: no revision yet, new or written before them)."""
    heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(heads) if heads else None


def open_database(location: StateLocation) -> StateDatabase:
    """A handle on the state database at ``location``, its schema brought up to date first (once
    per engine): how every store opens it."""
    database = StateDatabase(location)
    try:
        ensure_schema(database)
    except BaseException:
        database.close()
        raise
    return database


def ensure_schema(database: StateDatabase) -> None:
    """On opening: migrate once per engine (a no-op read once the database is up to date)."""
    shared = database.shared
    if shared.migrated:
        return
    upgrade(database)
    shared.migrated = True


def upgrade(database: StateDatabase) -> tuple[str | None, str]:
    """Bring ``database`` to the newest revision; returns (revision before, revision now)."""
    with database.transaction() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = current_revision(connection)
        _refuse_unknown(before, database)
        if before != head():
            _run(connection)
    return before, head()


def upgrade_location(location: StateLocation) -> tuple[str | None, str]:
    """``citebot db upgrade``: migrate the database at ``location``."""
    database = StateDatabase(location)
    try:
        return upgrade(database)
    finally:
        database.close()


def _refuse_unknown(revision: str | None, database: StateDatabase) -> None:
    if revision is None:
        return
    for one in revision.split(","):
        try:
            known = _script().get_revision(one) is not None
        except CommandError:
            known = False
        if not known:
            raise StateError(
                f"the state database {database.description} has schema revision {one}, which "
                f"this citebot does not know (it knows up to {head()}): a newer citebot wrote it. "
                "Run that newer version (pip install -U citebot), or point CITEBOT_DATABASE_URL "
                "/ CITEBOT_STATE_DB at another database"
            )


def _run(connection: Connection) -> None:
    script = _script()

    def upgrade_steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs(head(), revision)

    with EnvironmentContext(_config(), script, fn=upgrade_steps, destination_rev=head()) as env:
        configure_context(env, connection)
        with env.begin_transaction():
            env.run_migrations()
