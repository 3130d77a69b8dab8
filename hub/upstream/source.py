"""One vendor deployment behind a plugin: reads served from the cache within fresh and stale
windows, one fetch per key in flight however many readers wait for it, every request to the
vendor paid for from the budget, and a poller that keeps what readers asked for recently fresh.

A reader never waits for the budget when there is something to serve: past freshness it gets
what is cached (``stale`` once the vendor failed or the revalidation window passed) while a
refresh runs; only a key never fetched waits, up to ``max_wait``, for a budget slot."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from hub.errors import HubError
from hub.storage import Database
from hub.upstream.budget import Budget, held_back_at_most
from hub.upstream.cache import CLOCK_STEP, Cache, Change, Entry, Target, digest
from hub.upstream.client import Reply, VendorClient, VendorFailure
from hub.upstream.vendor import REASONS, Reading, Vendor
from hub.upstream.writes import Write, Writes

if TYPE_CHECKING:
    from hub.caller import Caller
    from hub.metrics import HubMetrics

log = logging.getLogger("hub.upstream")

T = TypeVar("T")
PRUNE_EVERY = 60.0  # seconds between bounding the cache and histories (Cache.prune)
HISTORY_KEPT = 86_400.0  # seconds the history of a key no longer cached is kept
DECODED_KEPT = 1024  # decoded answers kept, least recently used dropped first


def _under(path: str, paths: Iterable[str]) -> bool:
    """``path`` is one of ``paths`` or below one, as ``Cache.invalidate`` matches them."""
    return any(path == p or path.startswith(p + "/") for p in paths)


class Upstream:
    """Made by ``hub.upstream(plugin, vendor)``, which also runs its poller, reports its health
    and closes it at shutdown."""

    def __init__(
        self,
        plugin: str,
        vendor: Vendor,
        database: Database,
        metrics: HubMetrics,
        shared_events: bool = False,
    ) -> None:
        """``shared_events``: the hub's event bus reaches every worker, so a change is
        announced once, by the process that stored it; without it each process tells its own
        subscribers of what any process stored (``_tell``)."""
        self.plugin = plugin
        self.vendor = vendor
        self.settings = vendor.settings
        self.rate = vendor.settings.rate(plugin)
        self.fresh = self.settings.fresh or self.rate.interval
        self.revalidate = self.settings.revalidate or self.rate.interval
        self.client = VendorClient(self.settings, vendor.auth)
        self.cache = Cache(database, plugin)
        self.budget = Budget(database)
        self.metrics = metrics
        self._inflight: dict[str, asyncio.Task[Entry]] = {}
        self._fetching: dict[str, Target] = {}  # the targets of the fetches in flight
        self._reads: dict[str, float] = {}  # key -> last read, written to the cache each poll
        self._heard: dict[str, bytes] = {}  # watched key -> the content its listeners know
        self._shared_events = shared_events
        self._next_prune = 0.0
        self._splits = {split.path: split for split in vendor.splits}
        self._covered = frozenset(path for split in vendor.splits for path in split.covers)
        self._background: set[asyncio.Task[Any]] = set()
        self._decoded: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._not_before: dict[str, float] = {}  # category -> no budget slot before then
        self.writes = Writes(self)

    # -- reading -------------------------------------------------------------------------
    async def read(
        self,
        caller: Caller | None,
        path: str,
        query: Iterable[tuple[str, str]] = (),
        *,
        method: str = "GET",
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Reading:
        """The vendor's answer to ``GET path?query`` (or another reading method with its body,
        as ERA's ``LOOKUP``), from the cache when it may be; the caller learns how fresh it is
        (``Age``, ``extensions.upstream``, trailers)."""
        target = Target.of(path, query, method=method, body=body, content_type=content_type)
        now = time.time()
        self._reads[target.key] = now
        entry = self.cache.get(target)
        if entry is None:
            self._count("miss")
            entry = await self._refresh(target, now + self.settings.max_wait)
        elif self._age(entry, now) > self.fresh:
            entry = await self._past_fresh(target, entry, now)
        else:
            self._count("hit")
        age = max(0.0, time.time() - entry.fetched_at)
        # an answer fetched since this read began is as fresh as any, however slow the vendor
        stale = entry.failing or (entry.fetched_at < now and age > self.fresh + self.revalidate)
        if caller is not None:
            caller.saw_upstream(self.plugin, entry.fetched_at, stale)
        return Reading(entry, age, stale, self.plugin)

    def decoded(self, reading: Reading, decode: Callable[..., T], *args: Hashable) -> T:
        """``decode(reading, *args)``, made once per content: the records a plugin reads out
        of an answer are immutable, so readers of the same content share them instead of
        parsing the vendor's bytes on every read. A decode that raises is not kept."""
        entry = reading.entry
        key = (entry.target.key, entry.digest, entry.status, decode, args)
        if key in self._decoded:
            self._decoded.move_to_end(key)
            return self._decoded[key]  # type: ignore[no-any-return]
        value = decode(reading, *args)
        self._decoded[key] = value
        if len(self._decoded) > DECODED_KEPT:
            self._decoded.popitem(last=False)
        return value

    def _age(self, entry: Entry, now: float) -> float:
        """How old ``entry`` is. One fetched "in the future" was fetched before the clock was
        set back, by however much: it is taken as at the end of its revalidation window, so it
        is refreshed now and served meanwhile, never as fresh (it would be until the clock
        caught up)."""
        age = now - entry.fetched_at
        return age if age >= -CLOCK_STEP else self.fresh + self.revalidate

    async def _past_fresh(self, target: Target, entry: Entry, now: float) -> Entry:
        age = self._age(entry, now)
        if age <= self.fresh + self.revalidate and not entry.failing:
            self._count("revalidate")
            if target.path not in self._covered:  # else the poller may answer several at once
                self._refresh_later(target)
            return entry
        try:  # a slot free now, or a fetch already in flight: take its answer
            fresh = await self._refresh(target, now)
            self._count("miss")
            return fresh
        except HubError as exc:
            if age - self.fresh > self.settings.max_stale:
                raise self._past_max_stale(exc) from None
            self._count("stale")
            return self.cache.get(target) or entry

    def _past_max_stale(self, cause: HubError) -> HubError:
        message = (
            f"upstream unavailable and the last answer is more than"
            f" {self.settings.max_stale:g}s past fresh: {cause.message}"
        )
        return HubError(
            503,
            message,
            reason=REASONS[503],
            plugin=self.plugin,
            retry_after=cause.retry_after or max(1, math.ceil(self.rate.interval)),
        )

    # -- refreshing ----------------------------------------------------------------------
    async def _refresh(self, target: Target, deadline: float) -> Entry:
        """One fetch per key in flight; readers that come while it runs share its answer."""
        task = self._inflight.get(target.key)
        if task is not None:
            self.metrics.upstream_coalesced.labels(self.plugin).inc()
        else:
            task = asyncio.get_running_loop().create_task(self._within_budget(target, deadline))
            self._inflight[target.key] = task
            self._fetching[target.key] = target
            task.add_done_callback(lambda done: self._settled(target.key, done))
        return await asyncio.shield(task)

    def _settled(self, key: str, task: asyncio.Task[Entry]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
            del self._fetching[key]
        if not task.cancelled():
            task.exception()  # retrieved: a background refresh's failure is on record already

    def _refresh_later(self, target: Target) -> None:
        if target.key in self._inflight:
            return
        task = asyncio.get_running_loop().create_task(self._quietly(target))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _quietly(self, target: Target) -> None:
        with contextlib.suppress(HubError):  # on record already: metrics, log, health
            await self._refresh(target, time.time())

    async def _within_budget(self, target: Target, deadline: float) -> Entry:
        category = self.category(target)
        budget_key = self.budget_key(category)
        waited = False
        while True:
            entry = self.cache.get(target)
            if entry is not None and self._is_fresh(entry):
                return entry  # another process spent a slot on it meanwhile
            now = time.time()
            known = self._not_before.get(category, 0.0) - now
            # what this process learnt of the budget spares the shared lock a certain refusal
            wait = known if known > 0 else self.budget.take(budget_key, self.rate)
            if wait == 0:
                return await self._fetch(target, entry, category)
            self._not_before[category] = now + wait
            if now + wait > deadline and not self._answer_coming(budget_key, now, deadline):
                raise self._budget_spent(category, wait)
            if not waited:
                self.metrics.upstream_budget_waits.labels(self.plugin).inc()
                waited = True
            await asyncio.sleep(min(wait, self.settings.poll))

    def _answer_coming(self, budget_key: str, now: float, deadline: float) -> bool:
        """Whether a request of the category may still be on its way from another process of
        the hub (this one's own are coalesced): its answer may be this key's, so a reader
        with nothing to serve waits for the shared cache, up to its deadline, rather than
        hear at once that the budget is spent."""
        if now >= deadline:
            return False
        sent = self.budget.last_sent(budget_key)
        return sent is not None and now - sent < self.settings.timeout

    def _budget_spent(self, category: str, wait: float) -> HubError:
        return HubError(
            503,
            f"upstream budget {self.rate} for {category!r} is spent: the next request"
            f" may go in {math.ceil(wait)}s",
            reason="upstream_budget",
            plugin=self.plugin,
            retry_after=max(1, math.ceil(wait)),
        )

    def _is_fresh(self, entry: Entry) -> bool:
        return not entry.failing and self._age(entry, time.time()) <= self.fresh

    async def _fetch(self, target: Target, previous: Entry | None, category: str) -> Entry:
        validators = {}
        if previous is not None and 200 <= previous.status < 300:
            if previous.etag:
                validators["If-None-Match"] = previous.etag
            if previous.last_modified:
                validators["If-Modified-Since"] = previous.last_modified
        sent_at = time.time()
        try:
            reply = await self.client.get(target, validators)
        except VendorFailure as exc:
            self._requests("error" if exc.status != 504 else "timeout")
            raise self._failed(target, exc.status, exc.message) from None
        self._requests(str(reply.status))
        where = self.client.where(target)
        if reply.status == 429:
            pushed = self._held_back(category, reply)
            raise self._failed(
                target, 503, f"{where} answered 429: budget pushed back {pushed:g}s", pushed
            )
        if reply.status == 304 and previous is not None:
            self.cache.confirm(target, sent_at)
            confirmed = dataclasses.replace(
                previous, fetched_at=sent_at, failed_at=None, error=None
            )
            self._store_parts(confirmed)  # what a confirmed whole holds is confirmed with it
            return confirmed
        vendor_failed = reply.status >= 500 and not self.vendor.answers(target, reply.status)
        if vendor_failed or 300 <= reply.status < 400:
            raise self._failed(target, 502, f"{where} answered {reply.status}")
        unreadable = self._unreadable(target, reply)
        if unreadable is not None:
            raise self._failed(target, 502, f"{where} answered {reply.status}: {unreadable}")
        entry = Entry(
            target,
            category,
            reply.status,
            reply.content_type,
            reply.body,
            digest(reply.body),
            reply.etag,
            reply.last_modified,
            sent_at,
        )
        self._store(entry)
        self._store_parts(entry)
        return entry

    def _unreadable(self, target: Target, reply: Reply) -> str | None:
        try:
            return self.vendor.unreadable(target, reply)
        except Exception as exc:  # the plugin's check failing is no reason to keep the answer
            log.exception("upstream %s: unreadable() failed for %s", self.plugin, target.path)
            return f"it could not be checked ({type(exc).__name__})"

    def _held_back(self, category: str, reply: Reply) -> float:
        """A 429: the category's next slot pushed back by the vendor's ``Retry-After`` (one
        window when it sends none), and the seconds it was, at most ``held_back_at_most``."""
        asked = reply.retry_after if reply.retry_after is not None else self.rate.window
        pushed = min(asked, held_back_at_most(self.rate))
        self.budget.push_back(self.budget_key(category), pushed)
        self._not_before[category] = time.time() + pushed
        return pushed

    def _store_parts(self, whole: Entry) -> None:
        """A whole answer (a :class:`Split`'s) also answers the paths it covers."""
        split = self._splits.get(whole.target.path)
        if split is None or whole.status != 200 or whole.target.query:
            return
        try:
            parts = split.parts(whole.body)
        except Exception as exc:  # a malformed whole still answered its own readers
            log.warning("upstream %s: cannot split %s: %s", self.plugin, split.path, exc)
            return
        for path, body in parts.items():
            target = Target.of(path)
            self._store(
                Entry(
                    target,
                    self.category(target),
                    200,
                    whole.content_type,
                    body,
                    digest(body),
                    None,
                    None,
                    whole.fetched_at,
                )
            )

    def _store(self, entry: Entry) -> None:
        kept, change = self.cache.store(entry, self._reads.get(entry.target.key, 0.0))
        if not kept:  # a later answer, or a write's invalidation, came first
            return
        if entry.target.key in self._heard:
            self._tell(entry)
        elif change is not None:
            self._announce(change)

    def _tell(self, entry: Entry) -> None:
        """A watched key's listeners hear of each content it takes in the shared cache,
        whichever process of the hub fetched it (the poller looks at the cache for them)."""
        before = self._heard[entry.target.key]
        if 200 <= entry.status < 300 and entry.body != before:
            self._heard[entry.target.key] = entry.body
            self._announce(Change(entry.target, before, entry.body, entry.fetched_at))

    def _announce(self, change: Change) -> None:
        if self.vendor.on_change is None:
            return
        try:
            self.vendor.on_change(change)
        except Exception:
            log.exception("upstream %s: on_change failed for %s", self.plugin, change.target.path)

    def _failed(
        self, target: Target, status: int, message: str, retry_after: float | None = None
    ) -> HubError:
        self.cache.failed(target, time.time(), message)
        return self._unavailable(status, message, retry_after)

    def _unavailable(self, status: int, message: str, retry_after: float | None = None) -> HubError:
        log.warning("upstream %s: %s", self.plugin, message)
        wait = retry_after if retry_after is not None else self.rate.interval
        return HubError(
            status,
            f"upstream unavailable: {message}",
            reason=REASONS[status],
            plugin=self.plugin,
            retry_after=max(1, math.ceil(wait)),
        )

    # -- writes --------------------------------------------------------------------------
    async def forward(
        self,
        caller: Caller | None,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]] = (),
        *,
        headers: dict[str, str] | None = None,
        data: Any = None,
        invalidates: Iterable[str] = (),
    ) -> Reply:
        """A request that changes nothing lasting at the vendor (webim's ``set-log-level``)
        sent as it is: never cached, never coalesced, never retried, paid for from the budget
        of its category (waiting up to ``max_wait`` for a slot). The vendor's answer comes back
        whatever its status; only a vendor that cannot be reached or answers 5xx or 429 raises
        the table's 502/503/504. A write that creates or deletes goes through :meth:`write`."""
        target = Target.of(path, query)
        wait = await self.wait_for_slot(target)
        if wait > 0:
            raise self._budget_spent(self.category(target), wait)
        write = Write(method, target.path, target.query, invalidates=tuple(invalidates))
        reply = await self.send(write, headers=headers, data=data)
        self.forget(write.invalidates)
        if caller is not None:
            caller.saw_upstream(self.plugin, time.time(), False)
        return reply

    async def write(self, caller: Caller | None, write: Write) -> Reply:
        """A write delivered to the vendor exactly once (:mod:`hub.upstream.writes`): the
        vendor's answer, or :class:`~hub.upstream.writes.WritePending` when it could not be
        had within ``write_wait`` (the write is kept and delivered later)."""
        credential = caller.credential if caller is not None else None
        reply = await self.writes.send(credential.id if credential is not None else None, write)
        if caller is not None:
            caller.saw_upstream(self.plugin, time.time(), False)
        return reply

    def forget(self, paths: Iterable[str]) -> None:
        """A write the vendor answered made these paths' cached answers stale (with any query
        and every path under them). A fetch of one still on its way was sent before that
        answer: its answer is not kept, and readers from now on do not share it, they wait
        for a fetch of their own."""
        paths = tuple(paths)
        if not paths:
            return
        under = [t for t in self._fetching.values() if _under(t.path, paths)]
        marked = [Target.of(path) for path in paths] + under
        self.cache.invalidate(paths, [(t, self.category(t)) for t in marked])
        for target in under:  # left to finish for the readers that asked before the write
            task = self._inflight.pop(target.key)
            del self._fetching[target.key]
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def wait_for_slot(self, target: Target) -> float:
        """Take a budget slot for ``target``'s category, waiting up to ``max_wait`` for one:
        0 when taken, else the seconds still to wait (nothing taken)."""
        category = self.category(target)
        deadline = time.time() + self.settings.max_wait
        waited = False
        while (wait := self.budget.take(self.budget_key(category), self.rate)) > 0:
            if time.time() + wait > deadline:
                return wait
            if not waited:
                self.metrics.upstream_budget_waits.labels(self.plugin).inc()
                waited = True
            await asyncio.sleep(min(wait, self.settings.poll))
        return 0.0

    async def send(
        self, write: Write, *, headers: dict[str, str] | None = None, data: Any = None
    ) -> Reply:
        """One request to the vendor, budget already paid: its answer, or the table's error
        for a vendor that cannot be reached (503), is slow (504), answers 5xx (502) or 429
        (503, and the category's budget pushed back by its ``Retry-After``)."""
        target = write.target
        headers = dict(headers or {})
        if write.content_type:
            headers["Content-Type"] = write.content_type
        body = data if data is not None else (write.body or None)
        try:
            reply = await self.client.send(write.method, target, headers=headers, data=body)
        except VendorFailure as exc:
            self._requests("error" if exc.status != 504 else "timeout")
            raise self._unavailable(exc.status, exc.message) from None
        self._requests(str(reply.status))
        if reply.status == 429:
            pushed = self._held_back(self.category(target), reply)
            message = f"{self.client.where(target)} answered 429: budget pushed back {pushed:g}s"
            raise self._unavailable(503, message, pushed)
        if reply.status >= 500:
            raise self._unavailable(502, f"{self.client.where(target)} answered {reply.status}")
        return reply

    # -- the poller ----------------------------------------------------------------------
    def flush_reads(self) -> None:
        """What this process's readers asked for, into the shared cache, where the poller (in
        whichever process runs it) finds the keys to keep fresh."""
        reads, self._reads = self._reads, {}
        self.cache.touch(reads)

    async def poll(self) -> None:
        """Refresh, within the budget, the keys read in the last ``hot`` seconds (and those
        someone listens to) that are past fresh, the oldest first."""
        now = time.time()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            settings = self.settings
            forgotten = now - max(settings.hot, self.fresh + settings.max_stale, HISTORY_KEPT)
            self.cache.prune(settings.max_keys, settings.history_versions, forgotten)
        watched = list(self.vendor.watched())
        self._heard = {t.key: self._heard[t.key] for t in watched if t.key in self._heard}
        for target in watched:
            self._reads[target.key] = now
            entry = self.cache.get(target)
            if entry is None:
                if target.key not in self._inflight:
                    self._refresh_later(target)
            elif self._shared_events:
                continue  # the process that stores a change announces it to every worker
            elif target.key in self._heard:
                self._tell(entry)  # another process may have fetched it
            elif 200 <= entry.status < 300:
                self._heard[target.key] = entry.body  # the baseline listeners hear changes from
        self.flush_reads()
        due = [
            entry.target
            for entry in self.cache.due(now - self.settings.hot, now - self.fresh)
            if entry.target.key not in self._inflight
        ]
        hot = self.cache.hot_paths(now - self.settings.hot) if self.vendor.splits else set()
        for split in self.vendor.splits:
            covered = [target for target in due if target.path in split.covers]
            whole = Target.of(split.path)
            # one due part is enough when others are read too: they are due soon after it
            if covered and len(hot & split.covers) >= 2 and self._slot_free(whole):
                self._refresh_later(whole)
                due = [target for target in due if target not in covered]
        for target in due:
            if self._slot_free(target):
                self._refresh_later(target)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _slot_free(self, target: Target) -> bool:
        return self.budget.next_slot(self.budget_key(self.category(target)), self.rate) == 0

    # -- what the hub reports ------------------------------------------------------------
    def category(self, target: Target) -> str:
        return self.vendor.category(target)

    def budget_key(self, category: str) -> str:
        return f"{self.plugin}|{category}|{self.vendor.auth.fingerprint}"

    def next_slot(self) -> float:
        """Seconds until the soonest budget slot of the categories the cache holds."""
        categories = {
            row[0]
            for row in self.cache.database.execute(
                "SELECT DISTINCT category FROM upstream_cache WHERE source = ?", (self.plugin,)
            )
        }
        slots = [self.budget.next_slot(self.budget_key(c), self.rate) for c in categories]
        return min(slots, default=0.0)

    async def health(self) -> tuple[str, str]:
        """``ok`` while the vendor's last answer was a success, ``degraded`` while it fails
        (stale answers are still served): never critical, the hub still answers."""
        success, error_at, error = self.cache.state()
        now = time.time()
        parts = [self.client.where(Target(""))]
        parts.append(f"last success {now - success:.0f}s ago" if success else "no success yet")
        if error_at is not None:
            parts.append(f"last error {now - error_at:.0f}s ago: {error}")
        parts.append(f"next budget slot in {math.ceil(self.next_slot())}s ({self.rate})")
        failing = error_at is not None and (success is None or error_at > success)
        return ("degraded" if failing else "ok"), "; ".join(parts)

    def _count(self, result: str) -> None:
        self.metrics.upstream_cache.labels(self.plugin, result).inc()

    def _requests(self, status: str) -> None:
        self.metrics.upstream_requests.labels(self.plugin, status).inc()

    async def close(self) -> None:
        for task in list(self._background) + list(self._inflight.values()):
            task.cancel()
        await asyncio.gather(*self._background, *self._inflight.values(), return_exceptions=True)
        await self.client.close()
