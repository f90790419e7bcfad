"""The state database: one private SQLite file by default, PostgreSQL when
``CITEBOT_DATABASE_URL`` is set. Both run the same SQLAlchemy Core statements on the same schema
(bot/state/schema.py, kept by the migrations in bot/state/migrations/).

A process has one engine per database, shared by every store and thread that opens it (a store
holds a :class:`StateDatabase`, a counted handle on the engine). On SQLite the file is created
with mode 0600, ``secure_delete`` is on (deleted rows are overwritten, not left in free pages),
and a write transaction takes the write lock at once, so two processes never deadlock upgrading.
On PostgreSQL connections are checked before use, so the bot recovers by itself once a database
that went down is back.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, exc, make_url, text

from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.settings import Settings

BUSY_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5
StateLocation = Path | str
"""Where the state is: a SQLite file's path, or a database URL (``postgresql://…``)."""


class StateError(CitebotError):
    """The state database cannot be opened or used; the message says what to do."""


def create_private_file(path: Path) -> None:
    """Create ``path`` (and its folder) private to its owner, unless it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        write_new_private_file(path, b"")


def write_new_private_file(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600 (given to ``open``: never readable by others, not even
    for a moment) holding ``content``, synced; FileExistsError if it exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def is_url(location: StateLocation) -> bool:
    """Whether ``location`` is a database URL rather than a SQLite file's path."""
    return isinstance(location, str) and "://" in location


def location_of(settings: Settings) -> StateLocation:
    """The configured state: ``CITEBOT_DATABASE_URL`` when set, else ``CITEBOT_STATE_DB``."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return Path(settings.state_db)


def describe(location: StateLocation) -> str:
    """``location`` for a message: a path, or a URL with its password hidden."""
    if not is_url(location):
        return str(location)
    try:
        return make_url(str(location)).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "CITEBOT_DATABASE_URL"


def _engine_url(location: StateLocation) -> URL:
    if not is_url(location):
        return URL.create("sqlite", database=os.path.abspath(location))
    text = str(location)
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        url = make_url(text)
    except exc.ArgumentError:
        raise StateError(
            "CITEBOT_DATABASE_URL is not a database address: give "
            "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
        ) from None
    if url.get_backend_name() == "sqlite":
        return URL.create("sqlite", database=os.path.abspath(url.database or ""))
    if url.get_backend_name() != "postgresql":
        raise StateError(
            f"CITEBOT_DATABASE_URL names a {url.get_backend_name()} database: citebot keeps "
            "its state in PostgreSQL (postgresql://…) or, without the setting, in SQLite"
        )
    return url.set(drivername="postgresql+psycopg")  # the driver of citebot[postgres]


@dataclass
class _Shared:
    """One engine and how many open StateDatabase handles use it."""

    engine: Engine
    users: int = 0
    migrated: bool = False


_engines: dict[str, _Shared] = {}
_engines_lock = threading.Lock()


class StateDatabase:
    """A handle on the state database (the process's shared engine); safe from any thread.

    Opening does not touch the schema: the stores open it through
    :func:`bot.state.upgrade.open_database`, which brings it up to date (migrations on start), so
    this module never imports the migrations that import it.
    ``close()`` ends this handle: later calls raise StateError; the engine closes with its last
    handle.
    """

    def __init__(self, location: StateLocation) -> None:
        self.location = location
        self.description = describe(location)
        url = _engine_url(location)
        self.dialect = url.get_backend_name()
        self.path: Path | None = Path(url.database or "") if self.dialect == "sqlite" else None
        if self.path is not None:
            try:
                create_private_file(self.path)
            except OSError as error:
                raise self._unusable(error.strerror or str(error)) from error
        elif importlib.util.find_spec("psycopg") is None:
            raise StateError(
                "PostgreSQL state (CITEBOT_DATABASE_URL) needs the psycopg driver: "
                "pip install 'citebot[postgres]'"
            )
        self._key = url.render_as_string(hide_password=False)
        with _engines_lock:
            shared = _engines.get(self._key)
            if shared is None:
                shared = _engines[self._key] = _Shared(_new_engine(url))
            shared.users += 1
        self._shared: _Shared | None = shared
        self._lock = threading.Lock()

    @property
    def shared(self) -> _Shared:
        """The engine and its bookkeeping; StateError once closed."""
        shared = self._shared
        if shared is None:
            raise StateError(f"the state database {self.description} is closed")
        return shared

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends (rolled back on an error)."""
        engine = self.shared.engine
        with self.errors(), engine.connect() as connection:
            connection.execution_options(citebot_write=True)
            with connection.begin():
                yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads (it sees what was committed before it began)."""
        engine = self.shared.engine
        with self.errors(), engine.connect() as connection:
            yield connection

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn the driver's errors into StateError with what to do."""
        try:
            yield
        except exc.DBAPIError as error:
            reason = _reason(error)
            if self.dialect != "sqlite" and (
                isinstance(error, exc.OperationalError | exc.InterfaceError)
                or error.connection_invalidated
            ):
                raise StateError(
                    f"cannot reach the state database {self.description} ({reason}): check that "
                    "PostgreSQL is running and CITEBOT_DATABASE_URL is right; citebot reconnects "
                    "by itself once it is back"
                ) from error
            raise self._unusable(reason) from error

    def _unusable(self, reason: str) -> StateError:
        if self.dialect == "sqlite":
            return StateError(
                f"cannot open the state database {self.description} ({reason}): check the path "
                "and its permissions, or move the file aside to start afresh"
            )
        return StateError(f"the state database {self.description} failed ({reason})")

    def ping(self) -> None:
        """A trivial query, for health checks; StateError with the remedy when the database is
        closed, unreachable, its file gone (moved or deleted under the running bot) or
        unusable."""
        path = self.path
        if path is not None:
            if not path.exists():
                raise StateError(
                    f"the state database {path} is gone (moved or deleted while the bot runs): "
                    "put it back, or restart the bot to start a new one"
                )
            if not os.access(path, os.R_OK | os.W_OK):
                raise StateError(
                    f"the state database {path} is not readable and writable by this user: "
                    "fix its permissions"
                )
        with self.reading() as connection:
            connection.execute(text("SELECT 1")).scalar()

    def close(self) -> None:
        """End this handle; later calls raise StateError. Closing twice is harmless."""
        with self._lock:
            shared, self._shared = self._shared, None
        if shared is None:
            return
        with _engines_lock:
            shared.users -= 1
            if shared.users > 0 or _engines.get(self._key) is not shared:
                return
            del _engines[self._key]
        shared.engine.dispose()


def dispose_all() -> None:
    """Close every engine of this process (tests, between databases that are dropped)."""
    with _engines_lock:
        shared = list(_engines.values())
        _engines.clear()
    for item in shared:
        item.engine.dispose()


def _new_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "citebot"},
    )


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the driver, begins transactions (below); deletes overwrite their data.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writes take the write lock at once; reads run each statement on its own, seeing what was
    # committed (as the sqlite3 stores did: no transaction to begin and roll back per read).
    if connection.get_execution_options().get("citebot_write", False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _reason(error: exc.DBAPIError) -> str:
    lines = str(error.orig).strip().splitlines()
    text = lines[0] if lines else type(error.orig).__name__
    return text if len(text) <= 200 else text[:199] + "…"
