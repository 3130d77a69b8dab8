"""What tests/test_workers.py shares: the third-party plugins it loads from plugins_dir, HTTP
clients that open a new connection for every request (so the kernel picks a worker each time)
and tell which worker answered, and which worker process holds a given TCP connection (read from
``/proc``, for what carries no ``Hub-Worker`` header: gRPC calls, websockets)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.hubproc import LISTENING

# A hub-scoped periodic job noting each run (time, pid) with O_APPEND, so runs of every worker
# land in one file in order; and a slow route, for requests in flight while the hub drains.
TICKER = """
import asyncio
import os
import time
from pathlib import Path

from aiohttp import web

from hub.hookspecs import hookimpl
from hub.registrations import PeriodicJob, RestApi

RUNS = Path(__file__).with_name("ticks.log")


def tick():
    fd = os.open(RUNS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{time.time():.6f} {os.getpid()}\\n".encode())
    finally:
        os.close(fd)


@hookimpl
def register_jobs(hub, register):
    register(PeriodicJob("tick", 0.5, tick))


@hookimpl
def register_rest(hub, register):
    async def slow(request):
        await asyncio.sleep(float(request.query.get("seconds", "1")))
        return web.json_response({"pid": os.getpid()})

    register(RestApi(routes=[web.get("/slow", slow)]))
"""
TICK_INTERVAL = 0.5

# A job every worker runs (scope "worker") that ends its process once the marker file exists.
CRASHER = """
import os
from pathlib import Path

from hub.hookspecs import hookimpl
from hub.registrations import PeriodicJob

MARKER = Path(__file__).with_name("crash-now")


def check():
    if MARKER.exists():
        os._exit(3)


@hookimpl
def register_jobs(hub, register):
    register(PeriodicJob("check", 0.2, check, scope="worker"))
"""


# A plugin that will not start while ``refuse-start`` is beside it, nor for 100 s while
# ``hang-start`` is: what a replacement worker meets when its database is down or slow.
REFUSER = """
import time
from pathlib import Path

from hub.errors import StartupError
from hub.hookspecs import hookimpl

HERE = Path(__file__).parent


@hookimpl
def register_rest(hub, register):
    if (HERE / "refuse-start").exists():
        raise StartupError("refuser: told not to start")
    if (HERE / "hang-start").exists():
        time.sleep(100)
"""


def ticks(plugins_dir: Path) -> list[tuple[float, int]]:
    """Every run of the ticker so far: (time, pid), in the order they were written."""
    path = plugins_dir / "ticks.log"
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        when, pid = line.split()
        runs.append((float(when), int(pid)))
    return runs


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


# -- HTTP over a new connection per request ---------------------------------------------------
@dataclass
class Answer:
    status: int
    worker: int | None  # the Hub-Worker header
    headers: dict[str, str]
    body: bytes


def new_connections() -> aiohttp.ClientSession:
    """A session that opens a new connection for every request (no keep-alive)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0))


async def fetch(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Answer:
    async with session.request(method, url, **kwargs) as response:
        body = await response.read()
        worker = response.headers.get("Hub-Worker")
        return Answer(
            response.status,
            int(worker) if worker is not None else None,
            dict(response.headers),
            body,
        )


async def until_workers(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    workers: set[int],
    tries: int = 60,
    **kwargs: Any,
) -> list[Answer]:
    """Requests, each on a new connection, until every worker in ``workers`` has answered one."""
    answers: list[Answer] = []
    for _ in range(tries):
        answers.append(await fetch(session, method, url, **kwargs))
        if workers <= {a.worker for a in answers}:
            return answers
    raise AssertionError(f"workers {workers} not all reached in {tries} connections: {answers}")


async def worker_pids(url: str, count: int = 2) -> dict[int, int]:
    """Each worker's pid, as its ``/healthz`` says."""
    async with new_connections() as session:
        answers = await until_workers(session, "GET", url + "/healthz", set(range(count)))
    pids: dict[int, int] = {}
    for answer in answers:
        health = json.loads(answer.body)
        assert health["status"] == "ok" and health["worker"] == answer.worker, health
        pids[health["worker"]] = health["pid"]
    return pids


async def replaced(url: str, index: int, old_pid: int, timeout: float = 60) -> dict[int, int]:
    """The workers' pids once worker ``index`` answers from a process other than ``old_pid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with_new = await worker_pids(url)
        except AssertionError:  # only the other worker answers while this one starts
            continue
        if with_new[index] != old_pid:
            return with_new
        await asyncio.sleep(0.2)
    raise AssertionError(f"worker {index} (pid {old_pid}) was not replaced in {timeout}s")


# -- which process holds a connection ---------------------------------------------------------
def _established(local_port: int, remote_port: int | None = None) -> dict[int, int]:
    """inode -> remote port of the established TCP connections on ``local_port``."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
                port, peer = int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)
                if state == "01" and port == local_port and remote_port in (None, peer):
                    found[inode] = peer
    return found


def sockets_of(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` has open."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def accepted(pids: dict[int, int], port: int) -> dict[int, set[int]]:
    """Per worker index: the connections on ``port`` it holds (their inodes)."""
    established = set(_established(port))
    return {index: sockets_of(pid) & established for index, pid in pids.items()}


def holder(pids: dict[int, int], server_port: int, client_port: int) -> int:
    """The index of the worker holding the server side of the connection from ``client_port``."""
    inodes = set(_established(server_port, client_port))
    (index,) = [i for i, pid in pids.items() if sockets_of(pid) & inodes]
    return index


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


# -- a hub whose stdout and stderr are read apart ----------------------------------------------
def serve_apart(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``hub serve ARGS`` with stdout and stderr on separate pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "--data-dir", str(data_dir), "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_listening(proc: subprocess.Popen[str], timeout: float = 60) -> list[str]:
    """The lines ``proc`` printed up to and including its two listening lines."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while sum(bool(LISTENING.match(line.strip())) for line in lines) < 2:
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise AssertionError(f"no listening lines: {lines}")
        lines.append(line)
    return lines
