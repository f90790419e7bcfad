"""The build lock: at most one process (and one thread) builds into an index directory at once.

An exclusive ``flock`` on ``<index>/build.lock`` (stdlib ``fcntl``; see ``BuildLock`` for why
not the ``filelock`` package). The kernel drops it when the holder exits, however it dies
(SIGKILL included), so a crashed build never leaves it stuck. The holder writes its pid into the
file, so a waiting builder can say who it waits for. The file itself is never deleted: deleting a
lock file lets two processes lock two different files of the same name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from index.errors import CitebotError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: builds are not locked
    fcntl = None  # type: ignore[assignment]  # None: no locking (checked where used)

LOCK_FILE = "build.lock"

OnWait = Callable[[int | None], None]
"""Called once with the holder's pid (None when unknown) when a builder starts waiting."""

_held: dict[tuple[Path, int], int] = {}  # (directory, thread) -> depth, for re-entry
_held_guard = threading.Lock()


class BuildInProgressError(CitebotError):
    """Another build of the same index is running (raised only when not waiting for it)."""


class BuildLock:
    """The cross-process lock of one index directory.

    ``fcntl.flock`` rather than the ``filelock`` package (installed with torch): the package's
    Unix lock is the same ``flock`` call, but its lock file is opened with truncation by every
    waiter (so it cannot carry the holder's pid) and its soft-lock fallbacks add stale-lock
    semantics this needs none of. citebot runs on POSIX (Linux, macOS); elsewhere building is
    not locked.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE

    @contextmanager
    def hold(self, wait: bool = True, on_wait: OnWait | None = None) -> Iterator[None]:
        """Hold the lock for the ``with`` block; re-entrant within a thread.

        When another process or thread holds it: wait for it (calling ``on_wait`` once with the
        holder's pid), or with ``wait=False`` raise BuildInProgressError at once.
        """
        key = (self.directory.resolve(), threading.get_ident())
        with _held_guard:
            depth = _held.get(key, 0)
            if depth:
                _held[key] = depth + 1
        if depth:
            try:
                yield
            finally:
                with _held_guard:
                    _held[key] -= 1
            return
        descriptor = self._acquire(wait, on_wait)
        with _held_guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
            self._release(descriptor)

    def holder(self) -> int | None:
        """The pid written by the current holder, if any."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return None
        return int(text) if text.isdigit() else None

    def _acquire(self, wait: bool, on_wait: OnWait | None) -> int | None:
        if fcntl is None:  # pragma: no cover
            return None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise CitebotError(
                f"cannot create the build lock {self.path} ({error.strerror or error}): "
                "check that the index directory is writable, or set CITEBOT_INDEX_DIR"
            ) from None
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = self.holder()
                if not wait:
                    raise BuildInProgressError(
                        f"another build of the index at {self.directory} is running"
                        f"{_pid_words(pid)}: wait for it to finish, then try again"
                    ) from None
                if on_wait is not None:
                    on_wait(pid)
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def _release(self, descriptor: int | None) -> None:
        if descriptor is None or fcntl is None:  # pragma: no cover
            return
        with suppress(OSError):
            os.ftruncate(descriptor, 0)
        os.close(descriptor)  # closing the last descriptor releases the flock


def _pid_words(pid: int | None) -> str:
    return f" (process {pid})" if pid else ""
