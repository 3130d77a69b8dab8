"""The durable outbox of outgoing webhooks, a work queue of the host (``hub.queue``) over the
table ``webhook_deliveries``. A delivery is written in the same transaction as the result it
reports; the queue leases due rows (``claimed_until``, ``claimed_by``), so a hub that dies
mid-delivery leaves a lease that simply expires and the row is sent again after restart
(at-least-once; ``X-Hub-Delivery`` lets the receiver drop the repeat)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub import tracing
from hub.paging import Page
from hub.queue import Backoff, Claim, Outcome, Table, WorkQueue, dead, done, retry
from hub.records import instant
from hub.storage import Database
from hub_rop.definitions import KINDS, Definitions, Kind
from hub_rop.errors import bad_request, error
from hub_rop.records import WebhookDelivery
from hub_rop.settings import RopSettings
from hub_rop.storage import Listing, read_page

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
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to float()
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


def delivery_of(row: Any) -> WebhookDelivery:
    """A row of :data:`COLUMNS` as callers see it: a tried pending delivery is ``failed``, and
    only a delivery still to be tried has a next attempt."""
    item = dict(zip([c.strip() for c in COLUMNS.split(",")], row, strict=True))
    if item["status"] == "pending" and item["attempts"] > 0:
        item["status"] = "failed"
    if item["status"] not in ("pending", "failed"):
        item["next_attempt_at"] = None
    for name in ("next_attempt_at", "created_at", "delivered_at", "dead_at"):
        item[name] = None if item[name] is None else instant(item[name])
    return WebhookDelivery(**item)


class Outbox:
    def __init__(
        self,
        database: Database,
        settings: RopSettings,
        session: Callable[[], aiohttp.ClientSession],
        definitions: Definitions,
    ) -> None:
        self.database = database
        self.settings = settings
        self.session = session
        self.definitions = definitions
        self.queue = WorkQueue(
            database,
            "webhooks",
            self._deliver,
            Table("webhook_deliveries", done="delivered"),
            interval=settings.webhook_interval,
            lease=settings.webhook_lease,
            concurrency=settings.webhook_concurrency,
            max_attempts=settings.webhook_max_attempts,
            backoff=Backoff(settings.webhook_backoff, settings.webhook_backoff_max),
            job="webhook_delivery",
        )

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
        row = {
            "id": delivery_id,
            "event": event,
            "call_id": call_id,
            "target_kind": target_kind,
            "target_id": target_id,
            "url": url,
            "secret": secret,
            "body": body,
            "created_at": now,
        }
        self.queue.enqueue(db, row, due=now)
        return delivery_id

    def enqueue_result(self, db: Any, kind: Kind, ident: str, call_id: str, body: bytes) -> None:
        """A result against checklist or table ``ident``, queued with these very bytes when it
        has a webhook; call inside the transaction that stores the result."""
        endpoint = self.definitions.endpoint(db, kind, ident)
        if endpoint is not None:
            self.enqueue(
                db,
                event=f"{kind.name}.result",
                call_id=call_id,
                target_kind=kind.name,
                target_id=ident,
                url=endpoint.url,
                secret=endpoint.secret,
                body=body,
            )

    def redeliver(self, delivery_id: str) -> WebhookDelivery:
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
            endpoint = self.definitions.endpoint(db, KINDS[row[1]], row[2])
            current = {} if endpoint is None else {"url": endpoint.url, "secret": endpoint.secret}
            self.queue.redeliver(db, delivery_id, current)
        return self.get(delivery_id)

    # -- reading -------------------------------------------------------------------------
    def get(self, delivery_id: str) -> WebhookDelivery:
        row = self.database.execute(
            f"SELECT {COLUMNS} FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
        if row is None:
            raise error(404, f"id: no webhook delivery {delivery_id!r}")
        return delivery_of(row)

    def page(self, state: str | None, page: Page) -> Listing[WebhookDelivery]:
        """Deliveries in the order they were made; ``state`` filters."""
        if state is not None and state not in STATES:
            raise bad_request(f"status: expected one of {', '.join(STATES)}, got {state!r}")
        where = _state_sql(state) if state else ""
        return read_page(self.database, "webhook_deliveries", COLUMNS, page, delivery_of, where)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for status, tried, n in self.database.execute(
            "SELECT status, attempts > 0, count(*) FROM webhook_deliveries GROUP BY 1, 2"
        ):
            state = ("failed" if tried else "pending") if status == "pending" else status
            counts[state] += n
        return counts

    # -- delivering ----------------------------------------------------------------------
    async def _deliver(self, claim: Claim) -> Outcome:
        """One attempt, in a task of its own (the queue runs up to ``webhook_concurrency``), so
        one slow endpoint never holds up the others. 2xx is delivered; timeouts, connection
        errors, 408, 429 and 5xx are retried; any other answer is dead at once."""
        row = self.database.execute(
            "SELECT event, url, secret, body FROM webhook_deliveries WHERE id = ?", (claim.key,)
        ).fetchone()
        status, problem, retry_after = await self._post(claim.key, *row)
        answer = {"last_status": status}
        if problem is None:
            return done({**answer, "delivered_at": time.time()})
        log.info("webhook %s: attempt %d: %s", claim.key, claim.attempts + 1, problem)
        if status is None or status in RETRIED or status >= 500:
            return retry(problem, retry_after, answer)
        return dead(problem, answer)

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
            with tracing.outgoing("webhook POST", url) as call:  # a failure marks the span
                async with self.session().post(
                    url,
                    data=bytes(body),
                    headers={**headers, **call.headers},
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response:
                    call.answered(response.status)
                    await response.read()
                    now = time.time()
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"), now)
                    problem = None if 200 <= response.status < 300 else f"HTTP {response.status}"
                    return response.status, problem, retry_after
        except TimeoutError:
            return None, f"timed out after {timeout:g}s", None
        except aiohttp.ClientError as exc:
            return None, f"connection error: {type(exc).__name__}: {exc}", None


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
