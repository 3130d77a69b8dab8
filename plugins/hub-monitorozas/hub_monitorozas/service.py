"""The one service layer of ``monitorozas``: keys, scopes, IP allow-lists and the rate limit;
devices and blacklist monitors per user; and the monitor itself, which checks every enabled
device and blacklist monitor on its interval. REST, GraphQL and gRPC call this and nothing else."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from prometheus_client import Counter

from hub.errors import ErrorFactory, HubError
from hub.paging import Page
from hub.peer import Peer
from hub.queue import Backoff, Claim, Outcome, Table, WorkQueue, later
from hub_monitorozas import checks, dnsbl, keys, validation
from hub_monitorozas.settings import PLUGIN, MonitorozasSettings

log = logging.getLogger("hub_monitorozas")
F = TypeVar("F", bound=Callable[..., Any])
STATUS_TOPIC = "monitorozas.device_status"
MAX_ID = 2**63 - 1
GOLDEN = 0.6180339887498949  # spreads first checks evenly over the interval, id by id

# what a device and a monitor look like to callers, in this order
DEVICE_COLUMNS = (
    "id",
    "user_id",
    *validation.DEVICE_FIELDS,
    "last_status",
    "last_check_at",
    "last_response_ms",
    "last_error",
    "tls_expires_at",
    "created_at",
    "updated_at",
)
MONITOR_COLUMNS = (
    "id",
    "user_id",
    *validation.MONITOR_FIELDS,
    "last_status",
    "last_check_at",
    "listed_on",
    "listings",
    "last_error",
    "created_at",
    "updated_at",
)
JSON_COLUMNS = ("listed_on", "listings")  # stored as JSON text, returned as JSON values
DEVICE_JSON = "json_object(" + ", ".join(f"'{c}', {c}" for c in DEVICE_COLUMNS) + ")"
MONITOR_JSON = (
    "json_object("
    + ", ".join(
        f"'{c}', json({c})" if c in JSON_COLUMNS else f"'{c}', {c}" for c in MONITOR_COLUMNS
    )
    + ")"
)
# each row keeps its caller-facing JSON in ``doc``, rewritten after every write to the row
REFRESH_DEVICE_DOC = f"UPDATE devices SET doc = {DEVICE_JSON} WHERE id = ?"
REFRESH_MONITOR_DOC = f"UPDATE blacklist_monitors SET doc = {MONITOR_JSON} WHERE id = ?"


error = ErrorFactory(PLUGIN)


def stamp(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


# -- storage -----------------------------------------------------------------------------------
def m001_monitorozas(db: Any) -> None:
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
        " created_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER NOT NULL REFERENCES users(id), created_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE devices (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER NOT NULL REFERENCES users(id),"
        " target_type TEXT NOT NULL, target_value TEXT NOT NULL, service_type TEXT NOT NULL,"
        " scheme TEXT, port INTEGER NOT NULL, host_header TEXT, proxy_enabled INTEGER NOT NULL,"
        " origin_host TEXT, origin_scheme TEXT, origin_port INTEGER,"
        " check_public_http INTEGER NOT NULL, check_public_https INTEGER NOT NULL,"
        " check_public_tls INTEGER NOT NULL, check_origin_http INTEGER NOT NULL,"
        " check_origin_tls INTEGER NOT NULL, expect_status INTEGER NOT NULL,"
        " location TEXT NOT NULL, is_enabled INTEGER NOT NULL,"
        " last_status TEXT NOT NULL DEFAULT 'unknown', last_check_at TEXT,"
        " last_response_ms INTEGER, last_error TEXT, tls_expires_at TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, next_check_at REAL NOT NULL,"
        " doc TEXT NOT NULL DEFAULT '{}')"
    )
    # the seed's duplicate rule; a non-web device has no scheme, hence the coalesce
    db.execute(
        "CREATE UNIQUE INDEX devices_identity ON devices (user_id, target_type, target_value,"
        " service_type, coalesce(scheme, ''), port)"
    )
    db.execute("CREATE INDEX devices_due ON devices (next_check_at) WHERE is_enabled = 1")
    db.execute(
        "CREATE TABLE device_checks (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
        " checked_at TEXT NOT NULL, status TEXT NOT NULL, response_ms INTEGER,"
        " error TEXT, tls_expires_at TEXT, checks TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX device_checks_device ON device_checks (device_id, id)")
    db.execute(
        "CREATE TABLE blacklist_monitors (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER NOT NULL REFERENCES users(id),"
        " target_type TEXT NOT NULL, target_value TEXT NOT NULL, is_enabled INTEGER NOT NULL,"
        " last_status TEXT NOT NULL DEFAULT 'unknown', last_check_at TEXT,"
        " listed_on TEXT NOT NULL DEFAULT '[]', last_error TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, next_check_at REAL NOT NULL,"
        " doc TEXT NOT NULL DEFAULT '{}', UNIQUE (user_id, target_type, target_value))"
    )
    db.execute(
        "CREATE INDEX blacklist_monitors_due ON blacklist_monitors (next_check_at)"
        " WHERE is_enabled = 1"
    )


def m002_listing_codes(db: Any) -> None:
    """The return codes of each listing: ``[{"zone", "codes"}]`` beside ``listed_on``."""
    db.execute("ALTER TABLE blacklist_monitors ADD COLUMN listings TEXT NOT NULL DEFAULT '[]'")
    db.execute("UPDATE blacklist_monitors SET doc = json_set(doc, '$.listings', json('[]'))")


def m003_check_leases(db: Any) -> None:
    """Devices and blacklist monitors are the rows of the host's work queue ``checks``
    (``next_check_at`` its due time): its attempt and lease columns."""
    for table in ("devices", "blacklist_monitors"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
        db.execute(f"ALTER TABLE {table} ADD COLUMN claimed_until REAL")
        db.execute(f"ALTER TABLE {table} ADD COLUMN claimed_by TEXT")


MIGRATIONS = [m001_monitorozas, m002_listing_codes, m003_check_leases]


def storage_errors(method: F) -> F:
    """SQLite failures as the seed's 500s: ``missing_table`` when a table is gone,
    ``server_error`` otherwise (the details go to the log only)."""

    def translate(exc: sqlite3.Error) -> HubError:
        log.error("monitorozas storage error: %s", exc)
        if "no such table" in str(exc):
            return error(500, "a table of the monitor is missing", "missing_table")
        return error(500, "the monitor's storage failed", "server_error")

    if asyncio.iscoroutinefunction(method):

        @functools.wraps(method)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except sqlite3.Error as exc:
                raise translate(exc) from None

        return wrapped_async  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise translate(exc) from None

    return wrapped  # type: ignore[return-value]


# -- callers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    user_id: int | None  # None: the admin token, which acts across users
    key_id: int | None
    scopes: tuple[str, ...]
    is_admin: bool = False

    def me(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "key_id": self.key_id, "scopes": list(self.scopes)}

    def require(self, scope: str) -> Caller:
        if scope not in self.scopes:
            raise error(403, f"this key lacks the {scope} scope", "insufficient_scope")
        return self


def bad_page(message: str) -> HubError:
    return error(400, message, "invalid_field")


def page(offset: int | None, limit: int | None, *, limit_name: str = "limit") -> Page:
    """The host's paging bounds (``hub.paging``) with this plugin's error code."""
    return Page.of(offset, limit, bad_page, limit_name=limit_name)


def parse_id(raw: Any, name: str = "id") -> int:
    """A positive integer id from a query string, GraphQL or gRPC; else 400 ``invalid_id``."""
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) <= 19:
        value = int(raw.strip())
    else:
        raise error(400, f"{name}: required, a positive integer", "invalid_id")
    if not 1 <= value <= MAX_ID:
        raise error(400, f"{name}: required, a positive integer", "invalid_id")
    return value


class MonitorozasService:
    """Built once per hub by ``hub.service(MonitorozasService)``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.settings: MonitorozasSettings = hub.settings_for(PLUGIN) or MonitorozasSettings()
        self.database = hub.database(PLUGIN)
        self.proxies = self.settings.proxy_networks()
        self._tls: Any = None
        self._resolver: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        # the checks run on the host's work queue, over these rows; a check lost with its process
        # is taken over one interval on, when the old check would have been due again
        schedule = functools.partial(
            Table, where="is_enabled = 1", state=None, due="next_check_at", error=None, dead_at=None
        )
        self.scheduler = WorkQueue(
            self.database,
            "checks",
            self._check_due,
            schedule("devices"),
            schedule("blacklist_monitors"),
            interval=self.settings.scheduler_tick,
            lease=self.settings.interval,
            concurrency=2 * self.settings.concurrency,
            backoff=Backoff(self.settings.interval, self.settings.interval),
            job="scheduler",
        )
        self.checks_done = Counter(
            "hub_monitorozas_checks",
            "Device checks and DNSBL look-ups finished, by kind and result",
            ["kind", "status"],
            registry=hub.metrics.registry,
        )

    # -- auth --------------------------------------------------------------------------------
    def authorize(self, authorization: str | None, peer: Peer) -> Caller:
        """The caller, once per request: 401 without a valid key, 403 from outside its
        allow-list, 429 over its rate (the admin token passes all three). Each operation then
        asks for its scope with :meth:`Caller.require`."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        if not scheme or (scheme.lower() == "bearer" and not value.strip()):
            raise error(401, "send Authorization: Bearer <API key>", "missing_api_key")
        credential = self.hub.credentials.authenticate(PLUGIN, authorization)
        if credential is None:
            raise error(401, "the API key is not valid", "invalid_api_key")
        if credential.is_admin:
            return Caller(None, None, keys.SCOPES, is_admin=True)
        attrs = credential.attrs
        allow = attrs.get("allow_ips") or []
        if allow:
            address = peer.client(self.proxies)
            if address is None or not any(address in ipaddress.ip_network(net) for net in allow):
                shown = address.compressed if address else "unknown"
                raise error(403, f"requests from {shown} are not allowed", "ip_not_allowed")
        decision = self.hub.rate_limiter.hit(
            f"{PLUGIN}:key:{credential.id}", self.settings.rate_limit, self.settings.rate_window
        )
        if not decision.allowed:
            raise error(
                429,
                f"at most {self.settings.rate_limit} requests per {self.settings.rate_window:g}s"
                " per key",
                "rate_limit_exceeded",
                retry_after=decision.retry_after,
            )
        return Caller(int(attrs["user_id"]), int(attrs["key_id"]), tuple(attrs["scopes"]))

    def me(self, caller: Caller) -> dict[str, Any]:
        return caller.require("read").me()

    # -- devices -----------------------------------------------------------------------------
    def _owner(self, caller: Caller, data: Any) -> int:
        if not caller.is_admin:
            assert caller.user_id is not None
            return caller.user_id
        user_id = validation.owner(data, True)
        assert user_id is not None
        if self.database.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
            raise validation.invalid("user_id", f"no user {user_id}")
        return user_id

    def _scope_sql(self, caller: Caller) -> tuple[str, tuple[Any, ...]]:
        return ("", ()) if caller.is_admin else (" AND user_id = ?", (caller.user_id,))

    def _rows(self, table: str, where: str, params: tuple[Any, ...], tail: str = "") -> list[bytes]:
        """Devices or monitors as their stored JSON text (``doc``, rewritten by SQLite from the
        columns on every write): REST joins them as they are, the others decode them."""
        rows = self.database.execute(
            f"SELECT CAST(doc AS BLOB) FROM {table} WHERE 1{where} ORDER BY id{tail}",
            params,
        ).fetchall()
        return [row[0] for row in rows]

    def _select(
        self, table: str, where: str, params: tuple[Any, ...], tail: str = ""
    ) -> list[dict[str, Any]]:
        return [orjson.loads(row) for row in self._rows(table, where, params, tail)]

    def _list_json(self, table: str, caller: Caller, window: Page | None) -> bytes:
        """The caller's rows as one JSON array, never decoded (REST's lists): every row, as the
        seed answers, unless the request asked for a page."""
        caller.require("read")
        where, params = self._scope_sql(caller)
        tail = ""
        if window is not None:
            params, tail = (*params, window.limit, window.offset), " LIMIT ? OFFSET ?"
        return b"[" + b",".join(self._rows(table, where, params, tail)) + b"]"

    def _list(self, table: str, caller: Caller, window: Page) -> tuple[list[dict[str, Any]], int]:
        caller.require("read")
        where, params = self._scope_sql(caller)
        total = self.database.execute(
            f"SELECT count(*) FROM {table} WHERE 1{where}", params
        ).fetchone()[0]
        page_params = (*params, window.limit, window.offset)
        return self._select(table, where, page_params, " LIMIT ? OFFSET ?"), total

    @storage_errors
    def list_devices_json(self, caller: Caller, window: Page | None = None) -> bytes:
        return self._list_json("devices", caller, window)

    @storage_errors
    def list_devices(self, caller: Caller, window: Page) -> tuple[list[dict[str, Any]], int]:
        return self._list("devices", caller, window)

    def _device_of(self, caller: Caller, device_id: int) -> dict[str, Any]:
        where, params = self._scope_sql(caller)
        found = self._select("devices", " AND id = ?" + where, (device_id, *params))
        if not found:
            raise error(404, f"id: no device {device_id}", "device_not_found")
        return found[0]

    @storage_errors
    def get_device(self, caller: Caller, device_id: Any) -> dict[str, Any]:
        caller.require("read")
        return self._device_of(caller, parse_id(device_id))

    @storage_errors
    def history(
        self, caller: Caller, device_id: Any, limit: int | None = None
    ) -> list[dict[str, Any]]:
        caller.require("read")
        device = self._device_of(caller, parse_id(device_id))
        return self.device_history(device["id"], limit)

    def device_history(
        self, device_id: int, limit: int | None = None, limit_name: str = "limit"
    ) -> list[dict[str, Any]]:
        """Newest first; every kept result unless ``limit`` (the host's paging bounds) says."""
        size = (
            self.settings.history_size
            if limit is None
            else page(0, limit, limit_name=limit_name).limit
        )
        rows = self.database.execute(
            "SELECT checked_at, status, response_ms, error, tls_expires_at, checks"
            " FROM device_checks WHERE device_id = ? ORDER BY id DESC LIMIT ?",
            (device_id, size),
        ).fetchall()
        return [
            {
                "checked_at": r[0],
                "status": r[1],
                "response_ms": r[2],
                "error": r[3],
                "tls_expires_at": r[4],
                "checks": orjson.loads(r[5]),
            }
            for r in rows
        ]

    def _first_check_at(self, row_id: int, interval: float) -> float:
        return time.time() + ((row_id * GOLDEN) % 1.0) * interval

    @storage_errors
    def create_device(self, caller: Caller, data: Any) -> dict[str, Any]:
        caller.require("write")
        fields = validation.device(data, is_admin=caller.is_admin)
        owner = self._owner(caller, data)
        now = stamp()
        columns = (
            "user_id",
            *validation.DEVICE_FIELDS,
            "created_at",
            "updated_at",
            "next_check_at",
        )
        values = (owner, *(fields[f] for f in validation.DEVICE_FIELDS), now, now, 0.0)
        try:
            with self.database.write() as db:
                device_id = db.execute(
                    f"INSERT INTO devices ({', '.join(columns)})"
                    f" VALUES ({', '.join('?' * len(columns))})",
                    values,
                ).lastrowid
                db.execute(
                    "UPDATE devices SET next_check_at = ? WHERE id = ?",
                    (self._first_check_at(device_id, self.settings.interval), device_id),
                )
                db.execute(REFRESH_DEVICE_DOC, (device_id,))
        except sqlite3.IntegrityError:
            raise error(
                409,
                "a device with this target_type, target_value, service_type, scheme and port"
                " already exists",
                "duplicate_device",
            ) from None
        return self._device_of(Caller(owner, None, ()), device_id)

    @storage_errors
    def delete_device(self, caller: Caller, device_id: Any) -> dict[str, Any]:
        caller.require("write")
        ident = parse_id(device_id)
        where, params = self._scope_sql(caller)
        with self.database.write() as db:
            if (
                db.execute(f"DELETE FROM devices WHERE id = ?{where}", (ident, *params)).rowcount
                == 0
            ):
                raise error(404, f"id: no device {ident}", "device_not_found")
        return {"id": ident, "deleted": True}

    @storage_errors
    async def check_now(self, caller: Caller, device_id: Any) -> dict[str, Any]:
        """Check the device at once (within the concurrency bound) and return it updated."""
        caller.require("write")
        device = self._device_of(caller, parse_id(device_id))
        result = DeviceResult(self, device["id"], await self._check_device(device))
        with self.database.write() as db:
            result.store(db)
        result.announce()
        return self._device_of(caller, device["id"])

    # -- blacklist monitors -------------------------------------------------------------------
    @storage_errors
    def list_monitors_json(self, caller: Caller, window: Page | None = None) -> bytes:
        return self._list_json("blacklist_monitors", caller, window)

    @storage_errors
    def list_monitors(self, caller: Caller, window: Page) -> tuple[list[dict[str, Any]], int]:
        return self._list("blacklist_monitors", caller, window)

    def _monitor_of(self, caller: Caller, monitor_id: int) -> dict[str, Any]:
        where, params = self._scope_sql(caller)
        found = self._select("blacklist_monitors", " AND id = ?" + where, (monitor_id, *params))
        if not found:
            raise error(
                404, f"id: no blacklist monitor {monitor_id}", "blacklist_monitor_not_found"
            )
        return found[0]

    @storage_errors
    def get_monitor(self, caller: Caller, monitor_id: Any) -> dict[str, Any]:
        caller.require("read")
        return self._monitor_of(caller, parse_id(monitor_id))

    @storage_errors
    def create_monitor(self, caller: Caller, data: Any) -> dict[str, Any]:
        caller.require("write")
        fields = validation.blacklist_monitor(data, is_admin=caller.is_admin)
        owner = self._owner(caller, data)
        now = stamp()
        try:
            with self.database.write() as db:
                monitor_id = db.execute(
                    "INSERT INTO blacklist_monitors (user_id, target_type, target_value,"
                    " is_enabled, created_at, updated_at, next_check_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 0)",
                    (
                        owner,
                        fields["target_type"],
                        fields["target_value"],
                        fields["is_enabled"],
                        now,
                        now,
                    ),
                ).lastrowid
                db.execute(
                    "UPDATE blacklist_monitors SET next_check_at = ? WHERE id = ?",
                    (
                        self._first_check_at(monitor_id, self.settings.blacklist_interval),
                        monitor_id,
                    ),
                )
                db.execute(REFRESH_MONITOR_DOC, (monitor_id,))
        except sqlite3.IntegrityError:
            raise error(
                409,
                "a blacklist monitor with this target_type and target_value already exists",
                "duplicate_blacklist_monitor",
            ) from None
        return self._monitor_of(Caller(owner, None, ()), monitor_id)

    @storage_errors
    def delete_monitor(self, caller: Caller, monitor_id: Any) -> dict[str, Any]:
        caller.require("write")
        ident = parse_id(monitor_id)
        where, params = self._scope_sql(caller)
        with self.database.write() as db:
            if (
                db.execute(
                    f"DELETE FROM blacklist_monitors WHERE id = ?{where}", (ident, *params)
                ).rowcount
                == 0
            ):
                raise error(404, f"id: no blacklist monitor {ident}", "blacklist_monitor_not_found")
        return {"id": ident, "deleted": True}

    # -- status events ------------------------------------------------------------------------
    async def status_changes(self, caller: Caller) -> AsyncIterator[dict[str, Any]]:
        """Each change of a device's status from now on: the caller's devices (all for the
        admin)."""
        caller.require("read")
        async for event in self.hub.events.subscribe(STATUS_TOPIC):
            if caller.is_admin or event["device"]["user_id"] == caller.user_id:
                yield event

    @property
    def subscribers(self) -> int:
        return int(self.hub.events.subscribers(STATUS_TOPIC))

    # -- the monitor --------------------------------------------------------------------------
    @property
    def tls(self) -> Any:
        if self._tls is None:
            self._tls = checks.trust_store(self.settings.ca_file)
        return self._tls

    @property
    def resolver(self) -> Any:
        if self._resolver is None:
            s = self.settings
            self._resolver = dnsbl.make_resolver(s.resolver, s.resolver_port, s.timeout)
        return self._resolver

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        return self._semaphore

    def pending(self) -> int:
        """Checks due or in flight (the depth of the ``monitorozas.checks`` work queue)."""
        return self.scheduler.pending()

    async def run_due(self) -> int:
        """Start the checks that are due now, as the host's timer ``monitorozas.scheduler`` does
        every ``scheduler_tick``; returns how many it started."""
        return self.scheduler.start_due()

    async def _check_due(self, claim: Claim) -> Outcome:
        """One due row of the ``checks`` queue: check it and store the result; the row's next
        check comes one interval after this one was claimed."""
        if claim.table == "blacklist_monitors":
            return await self._check_monitor(claim)
        next_at = claim.claimed_at + self.settings.interval
        found = self._select("devices", " AND id = ?", (claim.key,))
        if not found:
            return later(next_at)  # deleted meanwhile: the settle finds no row
        result = DeviceResult(self, found[0]["id"], await self._check_device(found[0]))
        return later(next_at, write=result.store, then=result.announce)

    async def _check_device(self, device: dict[str, Any]) -> checks.Outcome:
        async with self.semaphore:
            try:
                return await checks.run_device(
                    device,
                    tls=self.tls,
                    timeout=self.settings.timeout,
                    user_agent=self.settings.user_agent,
                )
            except Exception as exc:  # a bug in a check must not stop the monitor
                log.exception("check of device %s failed", device["id"])
                return checks.Outcome("down", f"check failed: {type(exc).__name__}", 0)

    async def _check_monitor(self, claim: Claim) -> Outcome:
        next_at = claim.claimed_at + self.settings.blacklist_interval
        found = self._select("blacklist_monitors", " AND id = ?", (claim.key,))
        if not found:
            return later(next_at)
        monitor = found[0]
        zones = (
            self.settings.ip_zones
            if monitor["target_type"] == "ip"
            else (self.settings.domain_zones)
        )
        async with self.semaphore:
            try:
                verdict = await dnsbl.look_up(
                    self.resolver, monitor["target_type"], monitor["target_value"], zones
                )
            except Exception as exc:
                log.exception("DNSBL look-up of monitor %s failed", claim.key)
                verdict = dnsbl.Verdict("error", [], f"look-up failed: {type(exc).__name__}")
        values = {
            "last_status": verdict.status,
            "last_check_at": stamp(),
            "listed_on": orjson.dumps(verdict.listed_on).decode(),
            "listings": orjson.dumps(verdict.listings).decode(),
            "last_error": verdict.error,
        }
        return later(
            next_at,
            values,
            write=lambda db: db.execute(REFRESH_MONITOR_DOC, (claim.key,)),
            then=self.checks_done.labels("blacklist", verdict.status).inc,
        )

    def counts(self) -> tuple[int, int]:
        row = self.database.execute(
            "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM blacklist_monitors)"
        ).fetchone()
        return int(row[0]), int(row[1])


@dataclass
class DeviceResult:
    """One device check's result: stored in the transaction that settles the check, then
    counted and, when the status changed, published to the status subscribers."""

    service: MonitorozasService
    device_id: int
    outcome: checks.Outcome
    previous: str | None = None  # the status before; None while unstored or if deleted

    def store(self, db: Any) -> None:
        outcome, device_id = self.outcome, self.device_id
        row = db.execute("SELECT last_status FROM devices WHERE id = ?", (device_id,)).fetchone()
        if row is None:  # deleted while it was being checked
            return
        self.previous = row[0]
        now = stamp()
        db.execute(
            "UPDATE devices SET last_status = ?, last_check_at = ?, last_response_ms = ?,"
            " last_error = ?, tls_expires_at = coalesce(?, tls_expires_at) WHERE id = ?",
            (
                outcome.status,
                now,
                outcome.response_ms,
                outcome.error,
                outcome.tls_expires_at,
                device_id,
            ),
        )
        db.execute(REFRESH_DEVICE_DOC, (device_id,))
        db.execute(
            "INSERT INTO device_checks (device_id, checked_at, status, response_ms, error,"
            " tls_expires_at, checks) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                device_id,
                now,
                outcome.status,
                outcome.response_ms,
                outcome.error,
                outcome.tls_expires_at,
                orjson.dumps(outcome.checks).decode(),
            ),
        )
        db.execute(
            "DELETE FROM device_checks WHERE device_id = ? AND id <= (SELECT id FROM"
            " device_checks WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (device_id, device_id, self.service.settings.history_size),
        )

    def announce(self) -> None:
        if self.previous is None:
            return
        service = self.service
        service.checks_done.labels("device", self.outcome.status).inc()
        if self.previous != self.outcome.status:
            updated = service._select("devices", " AND id = ?", (self.device_id,))
            if updated:
                service.hub.events.publish(
                    STATUS_TOPIC, {"device": updated[0], "previous_status": self.previous}
                )
