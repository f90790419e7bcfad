"""The state database under test, on each engine: ``state_url`` is a SQLite file's path or a
new PostgreSQL database (one per test, on the session's throwaway cluster)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.state.database import StateLocation, _engine_url, dispose_all

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def new_state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Makes a new, empty state database on the test's engine per call."""
    made: list[str] = []
    cluster = request.getfixturevalue("postgres_cluster") if request.param != "sqlite" else None

    def new() -> StateLocation:
        if cluster is None:
            made.append("")
            return tmp_path / f"state-{len(made)}" / "state.sqlite3"
        made.append(cluster.new_database())
        return made[-1]

    yield new
    dispose_all()
    if cluster is not None:
        for url in made:
            cluster.drop_database(url)


@pytest.fixture
def state_url(new_state_url: Callable[[], StateLocation]) -> StateLocation:
    """A new, empty state database: a SQLite file's path, or a PostgreSQL URL."""
    return new_state_url()


def query(location: StateLocation, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` read straight from the database (not through the stores)."""
    engine = create_engine(_engine_url(location))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def is_sqlite(location: StateLocation) -> bool:
    """Whether ``location`` is a SQLite file (whose bytes a test may read)."""
    return isinstance(location, Path)


def clear(location: StateLocation) -> None:
    """Delete every row the stores keep (the schema stays)."""
    from bot.state.schema import metadata

    if is_sqlite(location) and not Path(location).exists():
        return
    engine = create_engine(_engine_url(location))
    try:
        with engine.begin() as connection:
            for table in metadata.sorted_tables:
                if engine.dialect.has_table(connection, table.name):
                    connection.execute(table.delete())
    finally:
        engine.dispose()


def execute(location: StateLocation, sql: str, **params: Any) -> None:
    """Run one statement straight on the database, committed."""
    engine = create_engine(_engine_url(location))
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        engine.dispose()
