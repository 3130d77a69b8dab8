"""A throwaway PostgreSQL for tests and benchmarks: ``initdb`` in a temporary directory, run by
an unprivileged user (PostgreSQL refuses root), on a free loopback port, without fsync. It can
be stopped and started again on the same port, as a restart under load needs.

    with TemporaryPostgres() as server:
        url = server.create_database()   # postgresql://hub@127.0.0.1:PORT/hub_1
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

USER = "hub"  # the database superuser initdb makes


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    raise RuntimeError(
        f"{name} not found: install PostgreSQL's server (apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged() -> tuple[list[str], int | None]:
    """How to run the server's commands: as we are, or (as root) as ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], entry.pw_uid
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


def run_sql(url: str, statement: str) -> Any:
    """Run one statement on a connection of its own; its rows, if it has any."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else None


class TemporaryPostgres:
    """A PostgreSQL server of its own; ``url(db)`` reaches database ``db`` on it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._prefix, self._uid = _unprivileged()
        self._dir = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.data = self._dir / "data"
        self._names = itertools.count(1)
        self._proc: subprocess.Popen[bytes] | None = None
        if self._uid is not None:
            os.chown(self._dir, self._uid, -1)
        subprocess.run(
            [
                *self._prefix,
                _binary("initdb"),
                "-D",
                str(self.data),
                "--auth=trust",
                f"--username={USER}",
                "--encoding=UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 30) -> TemporaryPostgres:
        self._proc = subprocess.Popen(
            [
                *self._prefix,
                _binary("postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self._dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=1000",
                "-c",
                "shared_buffers=64MB",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._proc.returncode}")
            try:
                self.sql("SELECT 1")
                return self
            except Exception:  # not up yet
                time.sleep(0.1)
        raise RuntimeError("postgres did not start in time")

    def stop(self, fast: bool = True) -> None:
        """Stop the server (``fast``: SIGINT, rolling back open transactions, as a restart
        by an operator does)."""
        if self._proc is None:
            return
        self._signal_server(2 if fast else 15)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def _signal_server(self, signal: int) -> None:
        """Signal the server itself, as ``pg_ctl`` does: as root it runs under ``runuser``,
        which does not pass a signal on."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):  # not written yet: the process we started is all there is
            assert self._proc is not None
            self._proc.send_signal(signal)
            return
        os.kill(pid, signal)

    def restart(self) -> None:
        self.stop()
        self.start()

    def sql(self, statement: str, database: str = "postgres") -> Any:
        return run_sql(self.url(database), statement)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        name = name or f"hub_{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
