"""A Milvus Lite server for the test session: ``milvus-lite server`` from this venv, on
127.0.0.1 at a free port, its data in a temp folder, stopped (SIGTERM) at the end. When it
cannot start, the tests that need it FAIL with the reason (never skip)."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_SECONDS = 60.0
STOP_SECONDS = 15.0
READY = "listening on"


def free_port() -> int:
    """A TCP port nothing listens on now (bound once by the OS and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MilvusLiteServer:
    """One ``milvus-lite server`` process; ``start`` again after ``stop`` serves the same data
    at the same address (a restart)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def uri(self) -> str:
        """The address clients use."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait for its "listening" line (pytest.fail when it does not
        come, with the server's output)."""
        binary = Path(sys.executable).parent / "milvus-lite"
        if not binary.is_file():
            pytest.fail(
                f"cannot start Milvus Lite: {binary} is missing; install the test extras "
                "(`pip install -e '.[dev,milvus]'`)"
            )
        command = [str(binary), "server", "--data-dir", str(self.data_dir),
                   "--host", "127.0.0.1", "--port", str(self.port)]
        self.output = []
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, args=(self.process, lines), daemon=True).start()
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
                self.stop()
                reason = f"did not say it was listening within {START_SECONDS:.0f} s"
                break
            if line is None:  # the process ended
                self.process.wait()
                reason = f"exited with status {self.process.returncode}"
                break
            if READY in line:
                return
        tail = "".join(self.output[-20:])
        pytest.fail(f"cannot start Milvus Lite ({' '.join(command)}): it {reason}:\n{tail}")

    def _drain(self, process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        """Read the server's output to the end (so it never blocks on a full pipe)."""
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            lines.put(line)
        lines.put(None)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a Milvus Lite server shared by the session's tests (each test uses its own
    citebot collection names)."""
    server = MilvusLiteServer(tmp_path_factory.mktemp("milvus-data"))
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()
