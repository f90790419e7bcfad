"""The state database: one SQLite file, created private to its owner, shared by threads."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import CitebotError

BUSY_TIMEOUT_S = 10.0


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


class StateDatabase:
    """One connection to the state file for any thread; a lock serialises the calls.

    ``secure_delete`` is on, so deleted rows (expired question text, the old salt) are overwritten
    in the file rather than left in free pages.
    """

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            create_private_file(self.path)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
            )
            connection.execute("PRAGMA secure_delete = ON")
            connection.executescript(schema)
        except (OSError, sqlite3.Error) as error:
            raise StateError(
                f"cannot open the state database {self.path} ({error}): check the path and its "
                "permissions, or move the file aside to start afresh"
            ) from error
        self._connection: sqlite3.Connection | None = connection

    def _open_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StateError(f"the state database {self.path} is closed")
        return self._connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (taken at once, so two processes never deadlock upgrading)."""
        with self._lock:
            connection = self._open_connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads (each statement sees committed data)."""
        with self._lock:
            yield self._open_connection()

    def ping(self) -> None:
        """A trivial query, for health checks; StateError with the remedy when the database is
        closed, its file gone (moved or deleted under the running bot) or unusable."""
        if not self.path.exists():
            raise StateError(
                f"the state database {self.path} is gone (moved or deleted while the bot runs): "
                "put it back, or restart the bot to start a new one"
            )
        if not os.access(self.path, os.R_OK | os.W_OK):
            raise StateError(
                f"the state database {self.path} is not readable and writable by this user: "
                "fix its permissions"
            )
        with self.reading() as connection:
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as error:
                raise StateError(
                    f"the state database {self.path} does not answer ({error}): check the disk, "
                    "or restore the file from a backup"
                ) from error

    def close(self) -> None:
        """Close the connection; later calls raise StateError. Closing twice is harmless."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
