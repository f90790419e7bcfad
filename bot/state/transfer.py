"""``citebot db migrate-from-sqlite PATH``: copy a SQLite state file into PostgreSQL.

The file is first copied aside (SQLite's backup API: a consistent snapshot even while a bot
writes to it) and that copy brought to the current schema, so the file itself is never changed.
Every table is then copied in one transaction into the configured database, which must be empty:
a second run, or a run against a database that already serves a bot, is refused and changes
nothing. Sequences are moved past the copied keys, so new votes and audit entries follow on.
"""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, text

from bot.state.database import (
    StateError,
    StateLocation,
    create_private_file,
    describe,
    is_url,
)
from bot.state.schema import SERIAL_KEYS, metadata
from bot.state.upgrade import MIGRATION_LOCK, open_database

BATCH_ROWS = 1000


def copy_sqlite_state(source: Path, target: StateLocation) -> dict[str, int]:
    """Copy every table of the SQLite state file ``source`` into ``target`` (a PostgreSQL
    URL); returns the rows copied per table. StateError when ``target`` is not empty."""
    if not is_url(target) or describe(target).startswith("sqlite"):
        raise StateError(
            "set CITEBOT_DATABASE_URL to the PostgreSQL database to copy the state into "
            "(postgresql://USER:PASSWORD@HOST:5432/DATABASE); it is copied from the SQLite file"
        )
    source = Path(source)
    if not source.is_file():
        raise StateError(
            f"{source} is not a file: give the SQLite state file (CITEBOT_STATE_DB, by default "
            ".citebot/feedback.sqlite3)"
        )
    with tempfile.TemporaryDirectory(prefix="citebot-state-") as folder:
        snapshot = Path(folder) / "state.sqlite3"
        _snapshot(source, snapshot)
        reader = open_database(snapshot)  # brings the copy, not the file, to the current schema
        try:
            writer = open_database(target)
            try:
                with reader.reading() as old, writer.transaction() as new:
                    return _copy(old, new, writer.description)
            finally:
                writer.close()
        finally:
            reader.close()


def _snapshot(source: Path, snapshot: Path) -> None:
    create_private_file(snapshot)
    try:
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as old,
            closing(sqlite3.connect(snapshot)) as new,
        ):
            old.backup(new)
    except sqlite3.Error as error:
        raise StateError(
            f"cannot read {source} as a SQLite state file ({error}): give the file "
            "CITEBOT_STATE_DB names"
        ) from error


def _copy(old: Connection, new: Connection, description: str) -> dict[str, int]:
    new.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    present = {
        table.name: count
        for table in metadata.sorted_tables
        if (count := new.execute(select(func.count()).select_from(table)).scalar_one())
    }
    if present:
        held = ", ".join(f"{count} {name}" for name, count in present.items())
        raise StateError(
            f"the database {description} already holds state ({held} rows): nothing was "
            "copied. migrate-from-sqlite fills an empty database only: create a new one (see "
            "docs/deploy.md), or drop and recreate this one if its rows are not wanted"
        )
    copied = {}
    for table in metadata.sorted_tables:
        rows = old.execute(select(table)).mappings()
        copied[table.name] = 0
        while batch := rows.fetchmany(BATCH_ROWS):
            new.execute(insert(table), [dict(row) for row in batch])
            copied[table.name] += len(batch)
    for name, column in SERIAL_KEYS.items():
        new.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'),"
                f" COALESCE((SELECT MAX({column}) FROM {name}), 0) + 1, false)"
            )
        )
    return copied
