"""``hub serve --workers N``: a supervisor and N worker processes behind one set of ports.

The supervisor checks the whole configuration once (plugins, settings, migrations, the admin
token) exactly as one ``hub serve`` does, so a mistake stops the start with one line before any
worker runs. It then *reserves* every port: a socket bound with ``SO_REUSEPORT`` that never
listens, which holds the port (a foreign ``hub serve`` on it fails as it always did) and gives port
0 its real number. Workers are started by **spawn** (gRPC does not survive a fork once imported);
each is a whole hub bound to the same ports with ``SO_REUSEPORT``, so the kernel spreads new
connections over the workers that are up. The supervisor announces the listening lines once every
worker accepts, restarts a worker that dies, stops the hub with one line when workers keep dying,
and drains every worker on SIGTERM. It also runs the event broker that carries subscriptions from
worker to worker (:mod:`hub.bus`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hub.app import (
    BUS_VARIABLE,
    COORDINATION_DATABASE,
    COORDINATION_MIGRATIONS,
    INSTANCE_VARIABLE,
    STARTED_VARIABLE,
    WORKER_VARIABLE,
    Hub,
)
from hub.config import ConfigError, Settings, parse_address
from hub.errors import StartupError
from hub.plugins import CORE, one_line
from hub.timer_stats import TimerStore

log = logging.getLogger("hub.workers")

METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
READY_TIMEOUT = 120.0  # seconds a worker has to build its hub and accept
CRASH_LOOP = (5, 60.0)  # this many unexpected exits within this many seconds stop the hub
RESTART_BACKOFF = (1.0, 30.0)  # a replacement that cannot start is tried again: first, longest wait
STOP_MARGIN = 3.0


def worker_count(value: str, key: str = "workers") -> int:
    """``workers``: a positive number, or ``auto`` for the CPUs this process may use."""
    text = str(value).strip().lower()
    if text == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigError(
            f"{key}: expected a number of processes (1 or more) or auto, got {value!r}"
        )
    return int(text)


@dataclass
class Reservation:
    """The ports of a multi-worker hub, held by the supervisor for as long as it runs."""

    settings: Settings  # with every port 0 replaced by the one reserved
    sockets: list[socket.socket]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _reserve_one(address: str, key: str) -> tuple[socket.socket, str]:
    host, port = parse_address(address, key)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"{key} {address}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return sock, f"{shown}:{bound}"


def reserve(settings: Settings) -> Reservation:
    """Bind (never listen on) every address of the hub with ``SO_REUSEPORT``."""
    sockets: list[socket.socket] = []
    try:
        http_sock, http = _reserve_one(settings.http, "http")
        sockets.append(http_sock)
        grpc_sock, grpc = _reserve_one(settings.grpc, "grpc")
        sockets.append(grpc_sock)
        plugins = {name: dict(table) for name, table in settings.plugins.items()}
        for name, table in plugins.items():
            if table.get("listen"):
                sock, table["listen"] = _reserve_one(str(table["listen"]), f"plugins.{name}.listen")
                sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    reserved = dataclasses.replace(settings, http=http, grpc=grpc, plugins=plugins)
    return Reservation(reserved, sockets)


def prepare(settings: Settings) -> None:
    """What runs once per start, before any worker: the checks, migrations and admin token of
    one ``hub serve``, and a clean slate for the timer statistics of this start."""
    from hub.serve import probe_listeners

    hub = Hub(settings, before_open=probe_listeners)
    try:
        if hub.admin_token_created:
            print(hub.admin_token_notice(), flush=True)
        shared = hub.database(COORDINATION_DATABASE)
        shared.migrate(CORE, COORDINATION_MIGRATIONS)
        if not hub.storage.shared:  # on PostgreSQL the figures are the cluster's: other hubs'
            TimerStore(shared, "supervisor").clear()
    finally:
        hub.close()


# -- the worker side -------------------------------------------------------------------------
def worker_main(settings: Settings, conn: Connection) -> None:
    """A worker process: one whole hub on the reserved ports, until SIGTERM."""
    from hub import logs, tracing

    logs.configure(settings.log_level, settings.log_format)
    tracing.configure(settings.tracing)  # in each worker: a provider's export thread is its own
    from hub.serve import run_loop

    try:
        run_loop(_serve_worker(settings, conn))
    except (ConfigError, StartupError, OSError) as exc:
        with contextlib.suppress(OSError):
            conn.send(("failed", one_line(exc)))
        sys.exit(1)


async def _serve_worker(settings: Settings, conn: Connection) -> None:
    from hub.serve import build_server, running

    hub = Hub(settings)
    server = build_server(hub, reuse_port=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C reaches the whole process group
        loop.add_signal_handler(sig, stop.set)
    supervisor = multiprocessing.parent_process()
    if supervisor is not None:  # killed outright, it stops no one: drain and go, freeing the ports
        loop.add_reader(supervisor.sentinel, stop.set)
    async with running(server):
        conn.send(("ready", dict(server.addresses)))
        await stop.wait()


# -- the supervisor --------------------------------------------------------------------------
@dataclass
class Worker:
    index: int
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    retry_at: float = 0.0  # a replacement that could not start: when to try again (monotonic)
    retry_delay: float = 0.0  # ... and how long it waited last


class Stopping(Exception):
    """SIGINT or SIGTERM came while the supervisor waited for a worker to start."""


class Supervisor:
    def __init__(self, settings: Settings, count: int, reservation: Reservation) -> None:
        self.settings = reservation.settings
        self.count = count
        self.reservation = reservation
        self.context = multiprocessing.get_context("spawn")
        self.workers: dict[int, Worker] = {}
        self.exits: deque[float] = deque()
        self.scratch = Path(tempfile.mkdtemp(prefix="hub-workers-"))
        self.environment = {
            INSTANCE_VARIABLE: secrets.token_hex(16),
            STARTED_VARIABLE: repr(time.time()),
            BUS_VARIABLE: str(self.scratch / "bus.sock"),
            METRICS_VARIABLE: str(self.scratch / "metrics"),
        }
        (self.scratch / "metrics").mkdir()
        self.stopping = asyncio.Event()
        self.failure: str | None = None

    def _spawn(self, index: int) -> Worker:
        """Each worker's environment is set before it starts, so that it is in place before
        the worker imports anything (prometheus_client reads its directory at import)."""
        receive, send = self.context.Pipe(duplex=False)
        saved = {k: os.environ.get(k) for k in (*self.environment, WORKER_VARIABLE)}
        os.environ.update({**self.environment, WORKER_VARIABLE: str(index)})
        try:
            process = self.context.Process(
                target=worker_main, args=(self.settings, send), name=f"hub-worker-{index}"
            )
            process.start()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        send.close()
        worker = Worker(index, process, receive)
        self.workers[index] = worker
        return worker

    async def _ready(self, worker: Worker) -> dict[str, tuple[str, int]]:
        """The addresses the worker accepts on, once it does; a worker that fails first
        says why in one line."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        while loop.time() < deadline:
            if self.stopping.is_set():
                raise Stopping
            if worker.conn.poll():
                try:
                    kind, value = worker.conn.recv()
                except EOFError:
                    break
                if kind == "ready":
                    worker.ready = True
                    return dict(value)
                raise StartupError(f"worker {worker.index}: {value}")
            if not worker.process.is_alive():
                break
            await asyncio.sleep(0.05)
        code = worker.process.exitcode
        raise StartupError(f"worker {worker.index} did not start (exit code {code})")

    async def run(self) -> int:
        from hub.bus import Broker
        from hub.serve import announce_addresses

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        broker = Broker(self.environment[BUS_VARIABLE])
        await broker.start()
        try:
            started = [self._spawn(i) for i in range(self.count)]
            addresses = {}
            for worker in started:
                addresses = await self._ready(worker)
            announce_addresses(addresses)
            await self._supervise()
        except StartupError as exc:
            self.failure = str(exc)
        except Stopping:
            pass
        finally:
            await self._stop_all()
            await broker.stop()
            self.reservation.close()
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self.failure is not None:
            print(f"hub: {self.failure}", file=sys.stderr, flush=True)
            return 1
        return 0

    async def _supervise(self) -> None:
        """Restart a worker that exits while the hub runs, unless workers keep exiting."""
        limit, window = CRASH_LOOP
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.1)
            if self.stopping.is_set():
                return
            for index, worker in list(self.workers.items()):
                if worker.process.is_alive() or time.monotonic() < worker.retry_at:
                    continue
                if worker.ready:  # it ran, then exited: a crash (a failed start is no exit)
                    code = worker.process.exitcode
                    now = time.monotonic()
                    self.exits.append(now)
                    while self.exits and self.exits[0] < now - window:
                        self.exits.popleft()
                    if len(self.exits) >= limit:
                        raise StartupError(
                            f"workers exited {len(self.exits)} times within {window:g}s"
                            f" (worker {index} last, exit code {code}): stopping"
                        )
                    log.warning("worker %d exited (code %s): starting another", index, code)
                    self._metrics_of_dead(worker.process.pid)
                await self._replace(worker)

    async def _replace(self, dead: Worker) -> None:
        """Start a worker in ``dead``'s place. One that cannot start (its database down, say)
        is tried again later, waiting longer each time, while the others serve; with no other
        worker running the hub stops, saying why."""
        replacement = self._spawn(dead.index)
        try:
            await self._ready(replacement)
        except StartupError as exc:
            if replacement.process.is_alive():
                replacement.process.kill()
            replacement.process.join(1)
            replacement.conn.close()
            self._metrics_of_dead(replacement.process.pid)  # its live mark, else one per try
            if not any(w.process.is_alive() for w in self.workers.values()):
                raise
            first, longest = RESTART_BACKOFF
            delay = min(dead.retry_delay * 2, longest) if dead.retry_delay else first
            replacement.retry_at, replacement.retry_delay = time.monotonic() + delay, delay
            log.warning("%s: trying again in %gs", exc, delay)

    def _metrics_of_dead(self, pid: int | None) -> None:
        if pid is None:
            return
        with contextlib.suppress(Exception):  # figures of a dead worker: kept, not live
            from hub.metrics import worker_exited

            worker_exited(pid, self.environment[METRICS_VARIABLE])

    async def _stop_all(self) -> None:
        """SIGTERM to every worker, each drains within ``shutdown_timeout``; whatever is still
        running past the margin is killed."""
        workers = [w for w in self.workers.values() if w.process.is_alive()]
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout + STOP_MARGIN
        while any(w.process.is_alive() for w in workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for worker in workers:
            if worker.process.is_alive():
                log.warning("worker %d did not stop in time: killed", worker.index)
                worker.process.kill()
            worker.process.join(1)
            worker.conn.close()


def serve_workers(settings: Settings, count: int) -> int:
    """Run the hub as ``count`` workers until SIGINT or SIGTERM; the exit status."""
    prepare(settings)
    reservation = reserve(settings)
    return asyncio.run(Supervisor(settings, count, reservation).run())
