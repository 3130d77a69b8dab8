"""The durable outbox of outgoing webhooks. A delivery is written in the same transaction as the
result it reports; the timer job claims due rows with a lease (``claimed_until``), so a hub that
dies mid-delivery leaves a claim that simply expires and the row is sent again after restart
(at-least-once; ``X-Hub-Delivery`` lets the receiver drop the repeat)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

import aiohttp
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.storage import Database
from hub_rop.errors import bad_request, error
from hub_rop.settings import RopSettings

log = logging.getLogger("hub_rop.webhooks")
STATES = ("pending", "failed", "dead", "delivered")
RETRIED = {408, 429}
COLUMNS = (
    "id, event, call_id, target_kind, target_id, url, status, attempts, next_attempt_at,"
    " last_status, last_error, created_at, delivered_at, dead_at"
)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _state_sql(state: str) -> str:
    """Public states: ``pending`` (not tried yet), ``failed`` (tried, will retry), ``dead``,
    ``delivered``; the first two are both stored as ``pending``."""
    if state == "pending":
        return "status = 'pending' AND attempts = 0"
    if state == "failed":
        return "status = 'pending' AND attempts > 0"
    return f"status = '{state}'"


def public(row: Any) -> dict[str, Any]:
    item = dict(zip([c.strip() for c in COLUMNS.split(",")], row, strict=True))
    if item["status"] == "pending" and item["attempts"] > 0:
        item["status"] = "failed"
    if item["status"] not in ("pending", "failed"):
        item["next_attempt_at"] = None
    return item


class Outbox:
    def __init__(
        self,
        database: Database,
        settings: RopSettings,
        session: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self.database = database
        self.settings = settings
        self.session = session
        self.inflight: dict[str, asyncio.Task[None]] = {}

    # -- writing -------------------------------------------------------------------------
    def enqueue(
        self,
        db: Any,
        *,
        event: str,
        call_id: str,
        target_kind: str,
        target_id: str,
        url: str,
        secret: str,
        body: bytes,
    ) -> str:
        """Call inside the transaction that stores what the delivery reports."""
        delivery_id = str(uuid.uuid4())
        now = time.time()
        db.execute(
            "INSERT INTO webhook_deliveries (id, event, call_id, target_kind, target_id, url,"
            " secret, body, status, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (delivery_id, event, call_id, target_kind, target_id, url, secret, body, now, now),
        )
        return delivery_id

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        """A dead (or delivered) delivery goes out again with the same ``X-Hub-Delivery``, to the
        endpoint's current URL and secret when the checklist or table still exists."""
        with self.database.write() as db:
            row = db.execute(
                "SELECT status, target_kind, target_id FROM webhook_deliveries WHERE id = ?",
                (delivery_id,),
            ).fetchone()
            if row is None:
                raise error(404, f"id: no webhook delivery {delivery_id!r}")
            if row[0] == "pending":
                raise error(409, f"id: delivery {delivery_id!r} is still pending")
            table = "checklists" if row[1] == "checklist" else "analytic_tables"
            endpoint = db.execute(
                f"SELECT webhook_url, webhook_secret FROM {table} WHERE id = ?", (row[2],)
            ).fetchone()
            url_sql = ""
            params: list[Any] = [time.time()]
            if endpoint is not None and endpoint[0]:
                url_sql = ", url = ?, secret = ?"
                params += [endpoint[0], endpoint[1]]
            db.execute(
                "UPDATE webhook_deliveries SET status = 'pending', attempts = 0,"
                f" next_attempt_at = ?, claimed_until = NULL, dead_at = NULL{url_sql}"
                " WHERE id = ?",
                [*params, delivery_id],
            )
        return self.get(delivery_id)

    # -- reading -------------------------------------------------------------------------
    def get(self, delivery_id: str) -> dict[str, Any]:
        row = self.database.execute(
            f"SELECT {COLUMNS} FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
        if row is None:
            raise error(404, f"id: no webhook delivery {delivery_id!r}")
        return public(row)

    def page(self, state: str | None, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        if state is not None and state not in STATES:
            raise bad_request(f"status: expected one of {', '.join(STATES)}, got {state!r}")
        where = f" WHERE {_state_sql(state)}" if state else ""
        total = self.database.execute(f"SELECT count(*) FROM webhook_deliveries{where}").fetchone()[
            0
        ]
        rows = self.database.execute(
            f"SELECT {COLUMNS} FROM webhook_deliveries{where} ORDER BY seq LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [public(r) for r in rows], total

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for status, tried, n in self.database.execute(
            "SELECT status, attempts > 0, count(*) FROM webhook_deliveries GROUP BY 1, 2"
        ):
            state = ("failed" if tried else "pending") if status == "pending" else status
            counts[state] += n
        return counts

    def depth(self) -> int:
        row = self.database.execute(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
        ).fetchone()
        return int(row[0])

    # -- delivering ----------------------------------------------------------------------
    async def run(self) -> None:
        """The timer job: claim as many due deliveries as there are free slots and send each
        in a task of its own, so one slow endpoint never holds up the others."""
        free = self.settings.webhook_concurrency - len(self.inflight)
        if free <= 0:
            return
        for row in self._claim(free):
            task = asyncio.get_running_loop().create_task(self._deliver(*row))
            self.inflight[row[0]] = task
            task.add_done_callback(partial(self._done, row[0]))

    def _done(self, delivery_id: str, task: asyncio.Task[None]) -> None:
        self.inflight.pop(delivery_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook %s: delivery failed", delivery_id, exc_info=task.exception())

    def _claim(self, limit: int) -> list[tuple[Any, ...]]:
        now = time.time()
        with self.database.write() as db:
            rows = db.execute(
                "SELECT id, event, url, secret, body, attempts FROM webhook_deliveries"
                " WHERE status = 'pending' AND next_attempt_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until < ?)"
                " ORDER BY next_attempt_at, seq LIMIT ?",
                (now, now, limit),
            ).fetchall()
            rows = [r for r in rows if r[0] not in self.inflight]
            db.conn.executemany(
                "UPDATE webhook_deliveries SET claimed_until = ? WHERE id = ?",
                [(now + self.settings.webhook_lease, r[0]) for r in rows],
            )
        return rows

    async def _deliver(
        self, delivery_id: str, event: str, url: str, secret: str, body: bytes, attempts: int
    ) -> None:
        status, problem, retry_after = await self._post(delivery_id, event, url, secret, body)
        self._record(delivery_id, attempts + 1, status, problem, retry_after)

    async def _post(
        self, delivery_id: str, event: str, url: str, secret: str, body: bytes
    ) -> tuple[int | None, str | None, float | None]:
        """``(HTTP status, what went wrong, Retry-After)`` of one attempt."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hub-rop-webhooks/1",
            "X-Hub-Event": event,
            "X-Hub-Delivery": delivery_id,
            "X-Hub-Signature-256": signature(secret, bytes(body)),
        }
        timeout = self.settings.webhook_timeout
        try:
            async with self.session().post(
                url,
                data=bytes(body),
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                await response.read()
                retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
                problem = None if 200 <= response.status < 300 else f"HTTP {response.status}"
                return response.status, problem, retry_after
        except TimeoutError:
            return None, f"timed out after {timeout:g}s", None
        except aiohttp.ClientError as exc:
            return None, f"connection error: {type(exc).__name__}: {exc}", None

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half to all of the step); never sooner than the
        endpoint's ``Retry-After``."""
        settings = self.settings
        step = min(settings.webhook_backoff_max, settings.webhook_backoff * 2 ** (attempts - 1))
        delay = step * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, settings.webhook_backoff_max))
        return delay

    def _record(
        self,
        delivery_id: str,
        attempts: int,
        status: int | None,
        problem: str | None,
        retry_after: float | None,
    ) -> None:
        now = time.time()
        retryable = status is None or status in RETRIED or status >= 500
        with self.database.write() as db:
            if problem is None:
                sets, params = "status = 'delivered', delivered_at = ?", [now]
            elif not retryable or attempts >= self.settings.webhook_max_attempts:
                sets, params = "status = 'dead', dead_at = ?", [now]
            else:
                sets = "next_attempt_at = ?"
                params = [now + self._backoff(attempts, retry_after)]
            db.execute(
                f"UPDATE webhook_deliveries SET {sets}, attempts = ?, last_status = ?,"
                " last_error = ?, claimed_until = NULL WHERE id = ? AND status = 'pending'",
                [*params, attempts, status, problem, delivery_id],
            )
        if problem is not None:
            log.info("webhook %s: attempt %d: %s", delivery_id, attempts, problem)

    async def stop(self) -> None:
        """At shutdown: stop the attempts in flight and give their claims back, so the next
        start sends them at once instead of after the lease."""
        tasks = list(self.inflight.items())
        for _, task in tasks:
            task.cancel()
        await asyncio.gather(*(t for _, t in tasks), return_exceptions=True)
        if tasks:
            with self.database.write() as db:
                db.conn.executemany(
                    "UPDATE webhook_deliveries SET claimed_until = NULL WHERE id = ?"
                    " AND status = 'pending'",
                    [(key,) for key, _ in tasks],
                )


class WebhookCollector(Collector):
    """``hub_rop_webhook_deliveries{state=...}`` at ``/metrics``."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "hub_rop_webhook_deliveries", "rop webhook deliveries by state", labels=["state"]
        )
        with contextlib.suppress(Exception):  # a closed database at shutdown: report nothing
            for state, n in self.outbox.counts().items():
                gauge.add_metric([state], n)
        yield gauge
