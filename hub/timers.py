"""Every periodic job of every plugin runs through here, so the hub can report them all
(webim's ``timer-stats``, ``/metrics``) and stop them cleanly.

In a multi-worker hub (``hub serve --workers N``), and in every hub whose state is on
PostgreSQL (several hubs may share it), a timer of scope ``hub`` runs in one process at a time,
under a lease (:mod:`hub.leases`) renewed while it runs: the other processes (workers, hubs) try
to take it every half interval, so when its holder dies another takes over within two
intervals, and no interval is run twice. Timers of scope ``worker`` (a queue's consumer, whose
items are leased one by one; a process's own bookkeeping) run in every process. Their
statistics go to the shared database (:mod:`hub.timer_stats`) so that every process reports the
whole hub (the whole cluster on PostgreSQL)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from hub.outage import is_outage, log_failure
from hub.storage import DatabaseUnavailable

if TYPE_CHECKING:
    from hub.leases import Leases
    from hub.timer_stats import TimerStore

log = logging.getLogger("hub.timers")

Job = Callable[[], Awaitable[None] | None]
T = TypeVar("T")
Scope = Literal["hub", "worker"]
WINDOW = 60.0  # seconds of executions kept per timer (webim's "last_min")
FAILURES_KEPT = 100


def func_name(job: Job) -> str:
    """``module.qualname`` of the job, unwrapping bound methods and partials."""
    target = getattr(job, "func", job)
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}" if module else name


@dataclass
class Timer:
    plugin: str
    name: str
    interval: float
    job: Job
    scope: Scope = "hub"
    runs: int = 0
    failures: int = 0
    last_started: float | None = None
    last_duration: float | None = None
    last_error: str | None = None
    total_duration: float = 0.0
    running: bool = False
    in_outage: bool = False  # its last run failed for want of the database
    recent: deque[tuple[float, float]] = field(default_factory=deque, repr=False)
    failed: deque[tuple[float, float, str]] = field(
        default_factory=lambda: deque(maxlen=FAILURES_KEPT), repr=False
    )
    _task: asyncio.Task | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.plugin}.{self.name}"

    def last_minute(self, now: float | None = None) -> list[tuple[float, float]]:
        """``(started, seconds)`` of every run that started in the last minute."""
        cutoff = (time.time() if now is None else now) - WINDOW
        while self.recent and self.recent[0][0] < cutoff:
            self.recent.popleft()
        return list(self.recent)

    def stats(self) -> dict:
        return {
            "func_name": func_name(self.job),
            "plugin": self.plugin,
            "name": self.name,
            "interval": self.interval,
            "runs": self.runs,
            "failures": self.failures,
            "running": self.running,
            "last_started": self.last_started,
            "last_duration": self.last_duration,
            "average_duration": self.total_duration / self.runs if self.runs else None,
            "last_error": self.last_error,
            "last_min": [{"ts": ts, "duration": d} for ts, d in self.last_minute()],
            "failed": [{"ts": ts, "duration": d, "error": e} for ts, d, e in self.failed],
        }


class TimerRegistry:
    def __init__(self, leases: Leases | None = None, store: TimerStore | None = None) -> None:
        """``leases`` and ``store``: a worker of a multi-worker hub or a hub on PostgreSQL;
        none: one process alone."""
        self.timers: dict[str, Timer] = {}
        self.leases = leases
        self.store = store
        self._held: set[str] = set()
        self._shared_down = False  # the shared database was unavailable at the last write

    def add(self, plugin: str, name: str, interval: float, job: Job, scope: Scope = "hub") -> Timer:
        if interval <= 0:
            raise ValueError(f"timer {plugin}.{name}: interval must be positive")
        timer = Timer(plugin, name, interval, job, scope)
        if timer.key in self.timers:
            raise ValueError(f"timer {timer.key} is registered twice")
        self.timers[timer.key] = timer
        return timer

    async def run_once(self, timer: Timer) -> None:
        timer.running = True
        timer.last_started = at = time.time()
        if self.store is not None:
            store = self.store
            self._shared(timer, "recording its run", lambda: store.started(timer.key, at))
        started = time.perf_counter()
        error: str | None = None
        try:
            result = timer.job()
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one failing run must not stop the timer
            timer.failures += 1
            timer.last_error = error = f"{type(exc).__name__}: {exc}"
            self._failed(timer, exc)
        else:
            if timer.in_outage:
                timer.in_outage = False
                log.info("timer %s: runs again", timer.key)
        finally:
            timer.running = False
            timer.runs += 1
            timer.last_duration = time.perf_counter() - started
            timer.total_duration += timer.last_duration
            timer.recent.append((timer.last_started, timer.last_duration))
            timer.last_minute()
            if error is not None:
                timer.failed.append((timer.last_started, timer.last_duration, error))
            if self.store is not None:
                store, took = self.store, timer.last_duration
                self._shared(
                    timer, "recording its run", lambda: store.finished(timer.key, at, took, error)
                )

    @staticmethod
    def _failed(timer: Timer, exc: Exception) -> None:
        """A bug is logged with its traceback each time; the database being unavailable is
        one line when the outage starts (and one when the timer runs again), however many
        runs it fails meanwhile: each tries again after the interval."""
        if not is_outage(exc):
            log.exception("timer %s failed", timer.key)
        elif not timer.in_outage:
            timer.in_outage = True
            log.warning(
                "timer %s: the database is unavailable (%s); trying again every %gs",
                timer.key,
                exc,
                timer.interval,
            )

    async def _loop(self, timer: Timer) -> None:
        if self.leases is None or timer.scope == "worker":
            while True:
                await self.run_once(timer)
                await asyncio.sleep(timer.interval)
        leases, name, ttl = self.leases, f"timer:{timer.key}", 1.5 * timer.interval

        def acquire() -> int | None:
            return self._shared(timer, "taking its lease", lambda: leases.acquire(name, ttl))

        while True:
            if acquire() is None:
                self._held.discard(name)
                await asyncio.sleep(timer.interval / 2)
                continue
            self._held.add(name)
            keeper = asyncio.get_running_loop().create_task(self._keep(acquire, timer))
            try:
                await self.run_once(timer)
            finally:
                keeper.cancel()
            if acquire() is None:  # lost while running (frozen): let go
                self._held.discard(name)
            await asyncio.sleep(timer.interval)

    async def _keep(self, acquire: Callable[[], int | None], timer: Timer) -> None:
        """Renew the lease every half interval while the timer runs, so a long run keeps it."""
        while True:
            await asyncio.sleep(timer.interval / 2)
            acquire()

    def _shared(self, timer: Timer, what: str, write: Callable[[], T]) -> T | None:
        """A write to the database every worker shares (a lease, a run's figures). Busy past its
        timeout (a process frozen mid-write) it fails for a while, which must not end the timer:
        it goes on without the lease (the lease may lapse) or without those figures. The
        database unavailable is one line for every timer until it answers again."""
        try:
            found = write()
        except Exception as exc:
            if not is_outage(exc):
                log.warning("timer %s: %s failed: %s", timer.key, what, exc)
            elif not self._shared_down:
                self._shared_down = True
                log.warning("timers: leases and run figures are not kept meanwhile: %s", exc)
            return None
        if self._shared_down:
            self._shared_down = False
            log.info("timers: leases and run figures are kept again")
        return found

    def start(self) -> None:
        for timer in self.timers.values():
            if timer._task is None:
                timer._task = asyncio.get_running_loop().create_task(
                    self._loop(timer), name=f"timer:{timer.key}"
                )

    async def stop(self) -> None:
        tasks = [t._task for t in self.timers.values() if t._task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for timer in self.timers.values():
            timer._task = None
        if self.leases is not None:  # another worker takes them at once, not after the ttl
            try:
                self.leases.release(sorted(self._held))
            except Exception as exc:  # the database away: they lapse after their ttl instead
                log_failure(log, exc, "timers: giving their leases back failed")
            self._held.clear()

    def stats(self) -> list[dict]:
        """Every timer; in a multi-worker hub the figures of all workers together."""
        own = [t.stats() for t in self.timers.values()]
        if self.store is None:
            return own
        try:
            totals = self.store.totals(self.timers)
        except DatabaseUnavailable:  # /metrics and the status page answer through an outage
            return own
        for stats in own:
            shared = totals[f"{stats['plugin']}.{stats['name']}"]
            runs = shared["runs"]
            stats.update(
                runs=runs,
                failures=shared["failures"],
                running=shared["running"],
                last_started=shared["last_started"],
                last_duration=shared["last_duration"],
                average_duration=shared["total_duration"] / runs if runs else None,
                last_error=shared["last_error"],
                last_min=[{"ts": ts, "duration": d} for ts, d in shared["recent"]],
                failed=[{"ts": ts, "duration": d, "error": e} for ts, d, e in shared["failed"]],
            )
        return own
