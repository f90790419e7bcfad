"""Builds queued from Discord, each run in a child process (``bot.core.build_child``).

A build embeds for seconds to minutes and can take a lot of memory: run in the bot's own process,
a crash or the kernel's out-of-memory killer would take the bot down with it. Here each build is
a child process running the same build code as ``citebot build``; the bot keeps answering from
the old index whatever happens to the child (a new index only goes live by the store's atomic
switch, which a dead child never reaches).

Builds run one at a time (the machine's cores are shared with answering), taken fairly: the
queue serves its keys (servers) in turn, one job each, so one server queueing many builds does
not delay the others. A second build of an index already queued is merged into the queued one.
Builds of the same index by other processes (the CLI) are serialised by the index's build lock,
which the child waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.collections import collection_settings

log = logging.getLogger(__name__)

OnProgress = Callable[[int, int], Awaitable[None] | None]
"""Told (texts embedded, texts to embed) while a build embeds."""

TIMED_OUT = "Timeout"
"""``BuildOutcome.error_kind`` of a build stopped at ``BuildQueue.timeout_seconds``."""

# Settings a child never gets: it builds; it neither talks to Discord nor keeps state.
_PRIVATE_SETTINGS = {"discord_token", "database_url"}


@dataclass(frozen=True)
class BuildOutcome:
    """How a queued build ended: ``report`` (BuildReport fields) when the new index is live,
    else ``error_kind`` and ``message`` (the old index, if any, still answers)."""

    report: dict[str, Any] | None = None
    error_kind: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.report is not None


@dataclass
class _Job:
    key: str
    request: dict[str, Any]
    index_dir: Path
    done: asyncio.Future[BuildOutcome]
    listeners: list[OnProgress] = field(default_factory=list)


class BuildQueue:
    """Runs builds in child processes, one at a time, taking the keys (servers) in turn.

    ``timeout_seconds`` bounds one build (the child is killed past it); ``python`` is the
    interpreter that runs the child (this one by default); ``on_finished`` is told how each
    build that ran ended (metrics), once per build however many requests it served.
    """

    def __init__(
        self,
        timeout_seconds: float = 3600.0,
        python: str = sys.executable,
        on_finished: Callable[[BuildOutcome], None] | None = None,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.python = python
        self.on_finished = on_finished
        self._waiting: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._running: _Job | None = None
        self._child: asyncio.subprocess.Process | None = None

    def submit(
        self,
        key: str,
        settings: Any,
        on_progress: OnProgress | None = None,
        collection: str | None = None,
    ) -> asyncio.Future[BuildOutcome]:
        """Queue a build for ``key``: of collection ``collection`` (``settings`` are then the
        bot's own), or of the index ``settings`` name (source_dir and index_dir). The future is
        resolved with the outcome (never raises)."""
        target = settings if collection is None else collection_settings(settings, collection)
        index_dir = Path(target.index_dir).resolve()
        values = {"settings": _child_settings(settings), "collection": collection}
        for queued in self._waiting.get(key, ()):
            if queued.index_dir == index_dir:  # the queued build will see these changes too
                if on_progress is not None:
                    queued.listeners.append(on_progress)
                return queued.done
        job = _Job(key, values, index_dir, asyncio.get_running_loop().create_future())
        if on_progress is not None:
            job.listeners.append(on_progress)
        self._waiting.setdefault(key, deque()).append(job)
        self._wakeup.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="citebot-build-queue")
        return job.done

    def position(self, key: str) -> int:
        """How many builds run or wait before the next one of ``key`` would start (0: next)."""
        ahead = 1 if self._running is not None else 0
        if key not in self._waiting:
            return ahead + sum(len(jobs) for jobs in self._waiting.values())
        keys = list(self._waiting)
        return ahead + keys.index(key)

    @property
    def pending(self) -> int:
        """Builds waiting (not counting the one running)."""
        return sum(len(jobs) for jobs in self._waiting.values())

    @property
    def depth(self) -> int:
        """Builds waiting or running."""
        return self.pending + (self._running is not None)

    async def close(self) -> None:
        """Stop: kill a running child (and reap it), fail the builds still waiting."""
        child = self._child
        if child is not None:
            _kill(child)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if child is not None:
            await _reap(child)
        stopped = BuildOutcome(error_kind="Stopped", message="the bot stopped before the build ran")
        for jobs in self._waiting.values():
            for job in jobs:
                if not job.done.done():
                    job.done.set_result(stopped)
        self._waiting.clear()

    def _next(self) -> _Job | None:
        """The first job of the key whose turn it is; that key then goes to the back."""
        if not self._waiting:
            return None
        key, jobs = next(iter(self._waiting.items()))
        job = jobs.popleft()
        del self._waiting[key]
        if jobs:
            self._waiting[key] = jobs  # back of the line
        return job

    async def _work(self) -> None:
        while True:
            job = self._next()
            if job is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._running = job
            try:
                outcome = await self._run(job)
            except asyncio.CancelledError:
                if not job.done.done():
                    job.done.set_result(BuildOutcome(
                        error_kind="Stopped", message="the bot stopped during the build"
                    ))
                raise
            except Exception:  # a bug here must not stop the queue
                log.exception("build for %s failed unexpectedly", job.key)
                outcome = BuildOutcome(error_kind="InternalError",
                                       message="the build failed unexpectedly")
            finally:
                self._running = None
                self._child = None
            if self.on_finished is not None:
                self.on_finished(outcome)
            if not job.done.done():
                job.done.set_result(outcome)

    async def _run(self, job: _Job) -> BuildOutcome:
        child = await asyncio.create_subprocess_exec(
            self.python, "-m", "bot.core.build_child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_child_environment(),
            start_new_session=True,  # its own process group: a kill reaches any helpers it runs
        )
        self._child = child
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(job.request).encode("utf-8"))
        await child.stdin.drain()
        child.stdin.close()
        result: dict[str, Any] = {}
        try:
            async with asyncio.timeout(self.timeout_seconds):
                async for line in child.stdout:
                    message = _parse(line)
                    if "progress" in message:
                        await _tell(job.listeners, *message["progress"])
                    else:
                        result = message
                await child.wait()
        except TimeoutError:
            _kill(child)
            await child.wait()
            minutes = self.timeout_seconds / 60
            return BuildOutcome(error_kind=TIMED_OUT,
                                message=f"the build took longer than {minutes:g} minutes and "
                                        "was stopped; the previous index still answers")
        if "report" in result and child.returncode == 0:
            return BuildOutcome(report=result["report"])
        if "error" in result:
            error = result["error"]
            return BuildOutcome(
                error_kind=str(error.get("kind")), message=str(error.get("message"))
            )
        return BuildOutcome(error_kind="Crashed", message=_crash_message(child.returncode))


def _kill(child: asyncio.subprocess.Process) -> None:
    """Kill a build child and its process group (the pipes close only when all are gone)."""
    if child.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        child.kill()


async def _reap(child: asyncio.subprocess.Process) -> None:
    """Wait for a killed child and close its pipes while the event loop runs (left to the
    garbage collector, they would be closed on a closed loop: "Event loop is closed")."""
    if child.stdin is not None:
        child.stdin.close()
    with contextlib.suppress(TimeoutError, OSError, ValueError):
        async with asyncio.timeout(10):
            await child.communicate()


def _child_settings(settings: Any) -> dict[str, Any]:
    """The settings a build child gets on stdin: the bot's own without its Discord token, with
    the Milvus token in clear (a dump masks secrets) and an embedded Milvus Lite file replaced
    by the address this process serves it on (one process at a time may open the file)."""
    from bot.core.backends import uri_for_children

    values: dict[str, Any] = settings.model_dump(mode="json", exclude=_PRIVATE_SETTINGS)
    token = settings.milvus_token
    values["milvus_token"] = token.get_secret_value() if token is not None else None
    values["milvus_uri"] = uri_for_children(settings)
    return values


def _child_environment() -> dict[str, str]:
    """The bot's environment without its settings (the child gets them on stdin) or secrets."""
    return {key: value for key, value in os.environ.items() if not key.startswith("CITEBOT_")}


def _parse(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


async def _tell(listeners: list[OnProgress], done: int, total: int) -> None:
    for listener in listeners:
        try:
            result = listener(int(done), int(total))
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # a failed progress edit must not fail the build
            log.debug("build progress listener failed", exc_info=True)


def _crash_message(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        cause = " (out of memory?)" if returncode == -signal.SIGKILL else ""
        return (f"the build stopped unexpectedly, killed by {name or -returncode}{cause}; "
                "the previous index still answers")
    return f"the build stopped unexpectedly (exit status {returncode}); the previous index " \
           "still answers"
