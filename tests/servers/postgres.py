"""A throwaway PostgreSQL cluster for the tests (and benchmarks/state_latency.py).

``initdb`` and ``pg_ctl`` from the folder ``pg_config --bindir`` names create a cluster in a
temporary folder and start it listening on 127.0.0.1 at a free port only (its unix socket in the
same folder), run as the ``postgres`` user when we are root (PostgreSQL refuses to run as root).
For the tests durability is off (fsync, synchronous commit): the data is thrown away at the
end. A role ``citebot`` with a password (scram over TCP, as in production) owns the databases
the tests create, one per test. If PostgreSQL is missing or does not start, the fixture fails
with the reason: it never skips.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVICE_USER = "postgres"
ROLE = "citebot"
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed or would not start; the message says why."""


class PostgresCluster:
    """A cluster in ``folder`` on 127.0.0.1:``port``; ``url()`` names a database in it."""

    def __init__(self, folder: Path, durable: bool = False) -> None:
        self.folder = folder
        self.durable = durable
        self.data = folder / "data"
        self.sockets = folder / "sockets"
        self.log = folder / "server.log"
        self.bindir = _bindir()
        self.port = _free_port()
        self.password = secrets.token_urlsafe(12)
        self._names = itertools.count()

    def url(self, database: str) -> str:
        """The URL of ``database`` for the ``citebot`` role (with its password)."""
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        """initdb, start, and create the ``citebot`` role."""
        as_service = os.geteuid() == 0
        if as_service:
            entry = pwd.getpwnam(SERVICE_USER)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.sockets.mkdir()
        if as_service:
            os.chown(self.sockets, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", SERVICE_USER, "--auth-local=trust",
            "--auth-host=scram-sha-256", "--encoding=UTF8",
            "--locale=C", "--no-sync",
        )
        self.start()
        self.psql(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{self.password}'")

    def start(self) -> None:
        """Start the server (again) and wait until it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} "
            "-c max_connections=300"
        )
        if not self.durable:  # tests: nothing here needs to survive a crash
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t",
            str(START_TIMEOUT_S), "-o", options, "start",
        )

    def stop(self) -> None:
        """Stop the server now: connections are cut, as in a restart (``fast``: what was
        committed is kept, although durability is off)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the unix socket; returns its output."""
        return self._run(
            "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.sockets),
            "-p", str(self.port), "-U", SERVICE_USER, "-d", database, "-c", sql,
        )

    def new_database(self) -> str:
        """A new empty database owned by ``citebot``; returns its URL."""
        name = f"state_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name} OWNER {ROLE} TEMPLATE template0")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url`` (closing what is still connected to it)."""
        self.psql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def destroy(self) -> None:
        """Stop the server if it runs and delete the folder."""
        with contextlib.suppress(PostgresUnavailable):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> str:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30,
                cwd=self.folder,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailable(f"{program} failed: {error}") from error
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{program} exited with {done.returncode}: {done.stderr.strip()}\n{log}"
            )
        return done.stdout


def _bindir() -> Path:
    try:
        output = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise PostgresUnavailable(
            f"PostgreSQL is not installed (pg_config --bindir: {error}): install the server, "
            "e.g. apt-get install postgresql"
        ) from error
    bindir = Path(output.strip())
    missing = [name for name in ("initdb", "pg_ctl", "psql") if not (bindir / name).exists()]
    if missing:
        raise PostgresUnavailable(
            f"{bindir} lacks {', '.join(missing)}: install the PostgreSQL server package "
            "(e.g. apt-get install postgresql), not only its client"
        )
    return bindir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(durable: bool = False) -> PostgresCluster:
    """A new running cluster in a new temporary folder (PostgresUnavailable if it cannot);
    ``durable``: commits are synced to disk, as in production (benchmarks)."""
    # Not under pytest's tmp_path: the postgres user must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="citebot-pg-"))
    try:
        cluster = PostgresCluster(folder, durable)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        cluster.create()
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """The session's PostgreSQL; fails (never skips) when it cannot run."""
    try:
        cluster = start_cluster()
    except PostgresUnavailable as error:
        pytest.fail(f"cannot start a throwaway PostgreSQL for the state tests: {error}")
    try:
        yield cluster
    finally:
        cluster.destroy()
