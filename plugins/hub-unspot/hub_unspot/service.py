"""The one service layer of ``unspot``: REST, GraphQL, gRPC and ``hub creds add`` call this and
nothing else, so every protocol gives the same data and the same errors."""

from __future__ import annotations

import asyncio
import re
import secrets
import string
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from hub.credentials import Credential, CredentialType
from hub.errors import ErrorFactory, HubError
from hub.paging import Page
from hub.records import instant, parse_iso8601
from hub_unspot import probes
from hub_unspot.records import (
    Counts,
    Display,
    DisplayStatusChange,
    Entity,
    IssuedToken,
    Monitoring,
    QueueDepth,
    System,
    User,
    UserSync,
)
from hub_unspot.settings import PLUGIN, UnspotSettings
from hub_unspot.storage import CALENDARS, DISPLAYS, WEBHOOKS, Kind

READ_ROLES = ("owner", "integration_admin")
ROLES = ("owner", "integration_admin", "admin", "office_manager", "employee")
# REST's category names, in the order the full request lists them, and their Monitoring fields
CATEGORIES = {
    "displays": "displays",
    "calendars": "calendars",
    "webhooks": "webhooks",
    "user-sync": "user_sync",
    "system": "system",
}
FULL_REQUEST = "monitoring"  # the rate-limit category of GET /monitoring
DISPLAY_TOPIC = "unspot.display_status"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ID_ALPHABET = string.ascii_letters + string.digits
MAX_NAME = 255
MAX_URL = 2048


error = ErrorFactory(PLUGIN)


def bad_request(message: str) -> HubError:
    return error(400, message, "bad_request")


def invalid_token() -> HubError:
    return error(401, "Invalid API token", "invalid_token")


def not_found() -> HubError:
    return error(404, "Not Found", "unknown_category")


def parse_instant(value: Any) -> int:
    if not isinstance(value, str):
        raise bad_request("at: expected an ISO 8601 date-time string")
    try:
        return int(parse_iso8601(value).timestamp())
    except ValueError as exc:
        raise bad_request(f"at: {exc}") from None


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{key}: expected a non-empty string")
    if len(value) > limit:
        raise bad_request(f"{key}: longer than {limit} characters")
    return value


def _url(data: dict[str, Any]) -> str:
    value = _text(data, "url", MAX_URL)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request(f"url: expected an http:// or https:// URL, got {value!r}")
    return value


def _status(kind: Kind, value: Any) -> str:
    if value not in kind.statuses:
        raise bad_request(f"status: expected one of {', '.join(kind.statuses)}, got {value!r}")
    return str(value)


def _entity_id(value: Any) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise bad_request("id: expected 1-64 characters of letters, digits, '_', '.' or '-'")
    return value


class UnspotService:
    """Built once per hub by ``hub.service(UnspotService)``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.settings: UnspotSettings = hub.settings_for(PLUGIN)
        self.database = hub.database(PLUGIN)
        ttl, timeout = self.settings.system_cache, self.settings.probe_timeout
        redis = self.settings.redis
        self._redis = probes.CachedProbe(lambda: probes.redis_status(redis), ttl, timeout)
        identity = probes.file_identity(self.database.path)  # the file the hub opened
        self._database = probes.CachedProbe(
            lambda: probes.database_status(self.database, identity), ttl, timeout
        )
        self._filesystem = probes.CachedProbe(
            lambda: asyncio.to_thread(probes.filesystem_status, hub.data_dir), ttl, timeout
        )

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row, or None. Read with ``fetchall`` so the statement runs to its end and
        lets go of its read snapshot at once: a half-read statement pins the connection to an
        old snapshot, hiding users that ``hub creds add`` (another process) commits later."""
        rows = self.database.execute(sql, params).fetchall()
        return rows[0] if rows else None

    # -- credentials: `hub creds add unspot --param role=owner [--param name=...]` --------
    def credential_type(self) -> CredentialType:
        """A new user per credential, or with ``user_id`` a new token for an existing user;
        ``one_per`` makes the new token revoke the user's previous one."""
        return CredentialType(
            validate=self._credential_attrs, present=self._present, one_per="user_id"
        )

    def _credential_attrs(self, params: dict[str, str]) -> dict[str, Any]:
        for name in params:
            if name not in ("role", "name", "user_id"):
                raise bad_request(f"{name}: unknown parameter; unspot takes role, name or user_id")
        if "user_id" in params:
            if "role" in params or "name" in params:
                raise bad_request("user_id: a new token for an existing user takes no role or name")
            return {"user_id": self.user(params["user_id"]).id}
        role = params.get("role")
        if role not in ROLES:
            raise bad_request(f"role: required, one of {', '.join(ROLES)}; got {role!r}")
        name = params.get("name", "")
        if len(name) > MAX_NAME:
            raise bad_request(f"name: longer than {MAX_NAME} characters")
        user_id = str(uuid.uuid4())
        with self.database.write() as db:
            db.execute(
                "INSERT INTO users (id, name, role, created_at) VALUES (?, ?, ?, ?)",
                (user_id, name, role, time.time()),
            )
        return {"user_id": user_id}

    def _present(self, secret: str, credential: Credential) -> dict[str, Any]:
        user = self.user(credential.attrs["user_id"])
        return {"user_id": user.id, "role": user.role, "token": secret}

    # -- auth ----------------------------------------------------------------------------
    def authorize(self, authorization: str | None) -> Credential:
        """A reader: the hub admin, or a live user's current token whose role may read."""
        credential = self.hub.credentials.authenticate(PLUGIN, authorization)
        if credential is None:
            raise invalid_token()
        if credential.is_admin:
            return credential  # type: ignore[no-any-return]
        row = self._one("SELECT role FROM users WHERE id = ?", (credential.attrs.get("user_id"),))
        if row is None:  # the user was deleted: its token died with it
            raise invalid_token()
        if row[0] not in READ_ROLES:
            raise error(403, "Access denied", "access_denied")
        return credential  # type: ignore[no-any-return]

    def require_admin(self, authorization: str | None) -> None:
        self.hub.credentials.require_admin(authorization)

    # -- monitoring reads ----------------------------------------------------------------
    def categories(self, requested: Sequence[str] | None) -> list[str]:
        """REST category names in body order; none asked for means the full request, which
        carries ``system`` only on-premise. An unknown name is a 404."""
        if not requested:
            return [c for c in CATEGORIES if c != "system" or self.settings.on_premise]
        for name in requested:
            if name not in CATEGORIES:
                raise not_found()
        return [c for c in CATEGORIES if c in requested]

    async def monitoring(
        self,
        authorization: str | None,
        requested: Sequence[str] | None = None,
        *,
        rate_limit_category: str | None = None,
    ) -> Monitoring:
        """The categories asked for (none: the full request). REST passes
        ``rate_limit_category``: one request per token per category per ``rate_window``,
        checked after everything that could refuse the request, so a 401/403/404 never uses up
        the window (nor does a 429)."""
        categories = self.categories(requested)
        credential = self.authorize(authorization)
        if requested and "system" in categories and not self.settings.on_premise:
            raise error(
                401,
                "System monitoring is only available for on-premise environment",
                "not_on_premise",
            )
        if rate_limit_category is not None:
            decision = self.hub.rate_limiter.hit(
                f"{PLUGIN}:{credential.id}:{rate_limit_category}", 1, self.settings.rate_window
            )
            if not decision.allowed:
                raise error(
                    429, "Too Many Requests", "rate_limited", retry_after=decision.retry_after
                )
        return Monitoring(**{CATEGORIES[c]: await self.category(c) for c in categories})

    async def category(self, name: str) -> Any:
        if name == "displays":
            return self.displays()
        if name == "calendars":
            return self.calendar_counts()
        if name == "webhooks":
            return self.webhook_counts()
        if name == "user-sync":
            return self.user_sync()
        return await self.system()

    def displays(self) -> tuple[Display, ...]:
        rows = self.database.execute("SELECT id, name, status FROM displays ORDER BY seq")
        return tuple(Display(i, n, s) for i, n, s in rows.fetchall())

    def _counts(self, kind: Kind) -> Counts:
        assert kind.counts is not None
        rows = self.database.execute(
            f"SELECT status, count(*) FROM {kind.table} GROUP BY status"
        ).fetchall()
        by_status = dict(rows)
        counts = {s: int(by_status.get(s, 0)) for s in kind.statuses}
        return kind.counts(total=sum(counts.values()), **counts)

    def calendar_counts(self) -> Counts:
        return self._counts(CALENDARS)

    def webhook_counts(self) -> Counts:
        return self._counts(WEBHOOKS)

    def user_sync(self) -> UserSync:
        enabled, last = self._one("SELECT enabled, last_sync_at FROM user_sync WHERE id = 1")
        last_sync: datetime | None = instant(last) if enabled and last is not None else None
        return UserSync(last_sync_date=last_sync)

    async def system(self) -> System:
        redis, database, filesystem = await asyncio.gather(
            self._redis.status(), self._database.status(), self._filesystem.status()
        )
        queue = tuple(QueueDepth(name, n) for name, n in self.hub.queue_depths())
        return System(redis=redis, database=database, filesystem=filesystem, queue=queue)

    async def storage_health(self) -> tuple[str, str]:
        """The hub's own health probe: down while the database or data directory is; the
        detail also counts display-status subscribers."""
        database, filesystem = await asyncio.gather(
            self._database.status(), self._filesystem.status()
        )
        ok = database == filesystem == probes.ONLINE
        subscribers = self.hub.events.subscribers(DISPLAY_TOPIC)
        detail = f"database {database}, filesystem {filesystem}, subscribers: {subscribers}"
        return ("ok" if ok else "down"), detail

    # -- users (admin) -------------------------------------------------------------------
    def user(self, user_id: Any) -> User:
        row = self._one("SELECT id, name, role FROM users WHERE id = ?", (str(user_id),))
        if row is None:
            raise error(404, f"user_id: no user {user_id!r}", "user_not_found")
        return User(*row)

    def create_user(self, authorization: str | None, role: Any, name: Any = "") -> IssuedToken:
        """A user and its first token, exactly as ``hub creds add unspot`` makes them."""
        self.require_admin(authorization)
        params = {"role": role, "name": name}
        for key, value in params.items():
            if not isinstance(value, str):
                raise bad_request(f"{key}: expected a string")
        return IssuedToken(**self.hub.credentials.issue(PLUGIN, params))

    def issue_token(self, authorization: str | None, user_id: Any) -> IssuedToken:
        """A new current token for the user; the previous one stops working at once."""
        self.require_admin(authorization)
        return IssuedToken(**self.hub.credentials.issue(PLUGIN, {"user_id": str(user_id)}))

    def delete_user(self, authorization: str | None, user_id: Any) -> str:
        self.require_admin(authorization)
        with self.database.write() as db:
            if db.execute("DELETE FROM users WHERE id = ?", (str(user_id),)).rowcount == 0:
                raise error(404, f"user_id: no user {user_id!r}", "user_not_found")
        return str(user_id)

    def list_users(
        self, authorization: str | None, *, offset: int = 0, limit: int | None = None
    ) -> tuple[list[User], int]:
        self.require_admin(authorization)
        page = Page.of(offset, limit, bad_request)
        offset, limit = page.offset, page.limit
        total = self._one("SELECT count(*) FROM users")[0]
        rows = self.database.execute(
            "SELECT id, name, role FROM users ORDER BY seq LIMIT ? OFFSET ?", (limit, offset)
        ).fetchall()
        return [User(*row) for row in rows], int(total)

    # -- displays, calendars, webhooks (admin) -------------------------------------------
    def upsert(self, authorization: str | None, kind: Kind, data: Any) -> Entity:
        """Create or change one entity. ``data`` is the dict a REST body would be: ``id``
        (left out: a new entity with a generated id), the label (``name``, or ``url`` for
        webhooks) and ``status``, both required when the entity is new."""
        self.require_admin(authorization)
        if not isinstance(data, dict):
            raise bad_request(f"body: expected an object with id, {kind.label} and status")
        for key in data:
            if key not in ("id", kind.label, "status"):
                raise bad_request(f"{key}: unknown field of a {kind.singular}")
        changes: dict[str, str] = {}
        if kind.label in data:
            changes[kind.label] = (
                _url(data) if kind.label == "url" else _text(data, kind.label, MAX_NAME)
            )
        if "status" in data:
            changes["status"] = _status(kind, data["status"])
        ident = _entity_id(data["id"]) if "id" in data else None
        with self.database.write() as db:
            row = None
            entity: dict[str, str]
            if ident is not None:
                row = self._one(
                    f"SELECT {kind.label}, status FROM {kind.table} WHERE id = ?", (ident,)
                )
            if row is None:
                for required in (kind.label, "status"):
                    if required not in changes:
                        raise bad_request(f"{required}: required for a new {kind.singular}")
                ident = ident or "".join(secrets.choice(ID_ALPHABET) for _ in range(12))
                db.execute(
                    f"INSERT INTO {kind.table} (id, {kind.label}, status) VALUES (?, ?, ?)",
                    (ident, changes[kind.label], changes["status"]),
                )
                previous = None
                entity = {"id": ident, **{k: changes[k] for k in (kind.label, "status")}}
            else:
                previous = row[1]
                entity = {"id": str(ident), kind.label: row[0], "status": row[1], **changes}
                db.execute(
                    f"UPDATE {kind.table} SET {kind.label} = ?, status = ? WHERE id = ?",
                    (entity[kind.label], entity["status"], ident),
                )
        return self._announce(kind.record(**entity), previous)

    def set_status(self, authorization: str | None, kind: Kind, ident: Any, status: Any) -> Entity:
        self.require_admin(authorization)
        status = _status(kind, status)
        with self.database.write() as db:
            row = self._one(
                f"SELECT {kind.label}, status FROM {kind.table} WHERE id = ?", (str(ident),)
            )
            if row is None:
                raise self._missing(kind, ident)
            db.execute(f"UPDATE {kind.table} SET status = ? WHERE id = ?", (status, str(ident)))
        return self._announce(kind.record(str(ident), row[0], status), row[1])

    def delete(self, authorization: str | None, kind: Kind, ident: Any) -> str:
        self.require_admin(authorization)
        with self.database.write() as db:
            if db.execute(f"DELETE FROM {kind.table} WHERE id = ?", (str(ident),)).rowcount == 0:
                raise self._missing(kind, ident)
        return str(ident)

    @staticmethod
    def _missing(kind: Kind, ident: Any) -> HubError:
        return error(404, f"id: no {kind.singular} {ident!r}", f"{kind.singular}_not_found")

    def _announce(self, entity: Entity, previous: str | None) -> Entity:
        """A display that appears or whose status changes is an event for subscribers."""
        if isinstance(entity, Display) and entity.status != previous:
            change = DisplayStatusChange(entity.id, entity.name, entity.status, previous)
            self.hub.events.publish(DISPLAY_TOPIC, change)
        return entity

    def display_status_changes(
        self, authorization: str | None
    ) -> AsyncIterator[DisplayStatusChange]:
        self.authorize(authorization)
        return self.hub.events.subscribe(DISPLAY_TOPIC)  # type: ignore[no-any-return]

    # -- user sync (admin) ---------------------------------------------------------------
    def record_user_sync(self, authorization: str | None, at: Any = None) -> UserSync:
        """A finished user sync (at ``at``, default now); it also (re-)enables user sync."""
        self.require_admin(authorization)
        epoch = int(time.time()) if at is None else parse_instant(at)
        with self.database.write() as db:
            db.execute("UPDATE user_sync SET enabled = 1, last_sync_at = ? WHERE id = 1", (epoch,))
        return self.user_sync()

    def disable_user_sync(self, authorization: str | None) -> UserSync:
        self.require_admin(authorization)
        with self.database.write() as db:
            db.execute("UPDATE user_sync SET enabled = 0 WHERE id = 1")
        return self.user_sync()


__all__ = ["CALENDARS", "DISPLAYS", "WEBHOOKS", "UnspotService"]
