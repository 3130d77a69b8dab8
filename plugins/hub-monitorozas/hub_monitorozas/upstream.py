"""``mode = "upstream"``: ``/me``, devices and blacklist monitors read from a real Monitorozás.hu
deployment through the host's upstream machinery, and their creates and deletes forwarded to it
exactly once (``hub.upstream.writes``). The vendor runs the checks: its answers are read into
the same records local mode builds, so every protocol renders them as it always does, and a
device whose ``last_status`` changes at the vendor is the same event a local check makes.

The vendor counts requests per key, whatever the path (120 per minute): every request to it is
paid for from one budget category, ``api``. A write whose answer was lost is sent again, and the
vendor's own duplicate rule tells what happened: a 409 to the resent create means the first one
made the object (it is looked up and answered as the create's answer), a 404 to the resent
delete means the first one deleted it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import orjson

from hub.api import HubApi
from hub.caller import Caller
from hub.errors import HubError
from hub.paging import Page, Slice
from hub.records import to_json
from hub.upstream import (
    Change,
    Reading,
    Reconciler,
    Reply,
    Target,
    Upstream,
    Vendor,
    VendorAuth,
    Write,
    json_only,
)
from hub_monitorozas import validation
from hub_monitorozas.errors import error
from hub_monitorozas.events import StatusEvents
from hub_monitorozas.inventory import Inventory
from hub_monitorozas.records import Deleted, Device, Identity, StatusChange
from hub_monitorozas.settings import PLUGIN, MonitorozasSettings
from hub_monitorozas.storage import BY_ID, DEVICES, MONITORS, Kind, StoredPage


class Identified(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=Identified)
API = "/api/v1"
ME = f"{API}/me"
JSON = "application/json; charset=utf-8"
CATEGORY = "api"  # the vendor limits each key, not each path
KEY_REFUSED = {401: "upstream_unauthorized", 403: "upstream_forbidden"}


def _since_created(item: dict[str, Any]) -> dict[str, Any]:
    return {"last_error": None, "updated_at": item.get("created_at")}


def _device_defaults(item: dict[str, Any]) -> dict[str, Any]:
    """What the seed does not promise a device answer holds."""
    return {**_since_created(item), "last_response_ms": None, "tls_expires_at": None}


def _monitor_defaults(item: dict[str, Any]) -> dict[str, Any]:
    """``listings`` is the hub's addition: a vendor that has none names only the zones."""
    zones = item.get("listed_on") or []
    return {**_since_created(item), "listings": [{"zone": zone, "codes": []} for zone in zones]}


@dataclass(frozen=True)
class Resource(Generic[R]):
    """One of the vendor's lists (``path``) with its ``/create`` and ``/delete``: the record it
    holds, the create body's rules and the fields of the vendor's duplicate rule."""

    path: str
    code: str  # as the vendor's codes name one: device_not_found, duplicate_device
    kind: Kind[R]
    validate: Callable[..., dict[str, Any]]
    duplicate: tuple[str, ...]
    defaults: Callable[[dict[str, Any]], dict[str, Any]]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def record(self, item: Any) -> R:
        """A vendor item as the record local mode stores; 502 when it is not one."""
        if not isinstance(item, dict) or isinstance(item.get("id"), bool):
            raise bad_answer(self.path, "an item is not an object with an id")
        values = {**self.defaults(item), **item}
        try:
            if not isinstance(values["id"], int):
                raise TypeError("id: expected an integer")
            return self.kind.record({name: values[name] for name in self.kind.columns})
        except KeyError as exc:
            raise bad_answer(self.path, f"an item has no {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise bad_answer(self.path, str(exc)) from None


DEVICE_RESOURCE = Resource(
    f"{API}/devices",
    "device",
    DEVICES,
    validation.device,
    ("target_type", "target_value", "service_type", "scheme", "port"),
    _device_defaults,
)
MONITOR_RESOURCE = Resource(
    f"{API}/blacklist-monitors",
    "blacklist_monitor",
    MONITORS,
    validation.blacklist_monitor,
    ("target_type", "target_value"),
    _monitor_defaults,
)


# -- the vendor's answers ---------------------------------------------------------------------
def bad_answer(path: str, what: str) -> HubError:
    return error(502, f"upstream answered {path} unreadably: {what}", "upstream_bad_answer")


def _document(body: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def refusal(status: int, body: bytes) -> HubError:
    """The vendor's 4xx. REST answers its body as it is; GraphQL and gRPC its status per the
    error table, with the vendor's own code as the reason (``duplicate_device``, as local mode
    gives it), except that a 401/403, which refuses the hub's own key, says so."""
    document = _document(body) or {}
    code, message = document.get("error"), document.get("message")
    reason = KEY_REFUSED.get(status) or (code if isinstance(code, str) and code else None)
    text = message if isinstance(message, str) and message else f"upstream answered {status}"
    return error(status, text, reason or f"upstream_{status}", body=body if document else None)


def payload(status: int, body: bytes, path: str) -> Any:
    """The ``data`` of the vendor's ``{"success": true, "data": ...}``."""
    if status >= 400:
        raise refusal(status, body)
    document = _document(body)
    if not 200 <= status < 300 or document is None or document.get("success") is not True:
        raise bad_answer(path, f"status {status} without a success envelope")
    if "data" not in document:
        raise bad_answer(path, "no data")
    return document["data"]


def _listed(reading: Reading, resource: Resource[R]) -> tuple[R, ...]:
    """Every item of a list answer, by id as local mode lists them."""
    data = payload(reading.status, reading.body, resource.path)
    if not isinstance(data, list):
        raise bad_answer(resource.path, "data is not a list")
    items = [resource.record(item) for item in data]
    return tuple(sorted(items, key=lambda item: item.id))


def _identity(reading: Reading) -> Identity:
    data = payload(reading.status, reading.body, ME)
    try:
        scopes = data["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise TypeError("scopes: expected a list of names")
        return Identity(data["user_id"], data["key_id"], tuple(scopes))
    except (KeyError, TypeError) as exc:
        raise bad_answer(ME, str(exc)) from None


def _window(items: tuple[R, ...], window: Page) -> StoredPage[R]:
    """One page of a list held in memory, as ``storage.page_of`` reads one: by id, from an
    offset or after a keyset cursor's id, with every item's count."""
    rows = list(items)
    if window.after is not None:
        order, key = window.after.order, window.after.key
        if order != ("id",) or len(key) != 1 or type(key[0]) is not int:
            raise validation.invalid("after", "a cursor from a list in another order")
        rows = [item for item in rows if item.id > key[0]]
    shown = rows[window.offset : window.offset + window.limit]
    keys = [(item.id,) for item in shown]
    has_next = len(rows) > window.offset + len(shown)
    return StoredPage(shown, Slice(keys, len(items), keys, BY_ID, has_next))


# -- writes that may have landed --------------------------------------------------------------
def reconcilers(resource: Resource[Any]) -> dict[str, Reconciler]:
    """How a resent create or delete of ``resource`` is read (``Write.reconcile`` names them)."""

    async def created(upstream: Upstream, write: Write, reply: Reply | None) -> Reply | None:
        """The vendor's 409 to a resent create: the first send made it; its answer is the
        object the vendor holds, as a create would have answered it."""
        if reply is None or reply.status != 409:
            return None
        try:
            columns = resource.validate(orjson.loads(write.body), is_admin=True)
        except (HubError, orjson.JSONDecodeError):
            return None
        wanted = tuple(columns[name] for name in resource.duplicate)
        target = Target.of(resource.path)
        wait = await upstream.wait_for_slot(target)
        if wait > 0:  # the write is due again later, and resent then
            message = f"no budget slot to look up the {resource.code} the vendor holds"
            raise error(503, message, "upstream_budget", retry_after=math.ceil(wait))
        listing = await upstream.send(Write("GET", resource.path))
        items = payload(listing.status, listing.body, resource.path)
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and tuple(item.get(f) for f in resource.duplicate) == wanted:
                return Reply(201, JSON, orjson.dumps({"success": True, "data": item}))
        return None

    async def deleted(upstream: Upstream, write: Write, reply: Reply | None) -> Reply | None:
        """The vendor's 404 to a resent delete: the first send deleted it."""
        if reply is None or reply.status != 404:
            return None
        document = _document(reply.body) or {}
        if document.get("error") != f"{resource.code}_not_found":
            return None
        ident = int(dict(write.query)["id"])
        deleted = {"success": True, "data": to_json(Deleted(ident))}
        return Reply(200, JSON, orjson.dumps(deleted))

    return {f"{resource.name}.create": created, f"{resource.name}.delete": deleted}


# -- the vendor account --------------------------------------------------------------------
class VendorAccount:
    """The deployment and the key the hub acts with: every caller of the hub sees what this key
    sees at the vendor (the hub's own keys still say who may read and who may write)."""

    def __init__(self, hub: HubApi, settings: MonitorozasSettings, events: StatusEvents) -> None:
        self.events = events
        key = settings.upstream.key
        vendor = Vendor(
            settings=settings.upstream,
            auth=VendorAuth(headers={"Authorization": f"Bearer {key}"}),
            category=lambda target: CATEGORY,
            on_change=self._changed,
            watched=self._watched,
            reconcilers={**reconcilers(DEVICE_RESOURCE), **reconcilers(MONITOR_RESOURCE)},
            unreadable=json_only,  # the API answers JSON only: an HTML page is a proxy's
        )
        self.upstream: Upstream = hub.upstream(PLUGIN, vendor)

    async def me(self, caller: Caller) -> Identity:
        """The vendor's ``/me``: the vendor's user, key id and scopes of the hub's key."""
        reading = await self.upstream.read(caller, ME)
        return self.upstream.decoded(reading, _identity)

    def records(self, resource: Resource[R], inventory: Inventory[R]) -> UpstreamRecords[R]:
        return UpstreamRecords(self.upstream, resource, inventory)

    # -- change events -----------------------------------------------------------------------
    def _watched(self) -> list[Target]:
        """The device list is polled while someone subscribes to status changes."""
        return [Target.of(DEVICE_RESOURCE.path)] if self.events.subscribers else []

    def _changed(self, change: Change) -> None:
        """A device whose ``last_status`` changed at the vendor is an event, as a local check's
        is; one first seen already checked changed from ``unknown``, as its first check did.
        The first answer ever seen is the baseline, not a burst of events."""
        if change.target != Target.of(DEVICE_RESOURCE.path) or change.before is None:
            return
        before = {device.id: device.last_status for device in _devices_in(change.before)}
        for device in _devices_in(change.after):
            previous = before.get(device.id, "unknown")
            if device.last_status != previous:
                self.events.publish(StatusChange(device, previous))


def _devices_in(answer: bytes) -> list[Device]:
    try:
        data = payload(200, answer, DEVICE_RESOURCE.path)
        return [DEVICE_RESOURCE.record(item) for item in data]
    except (HubError, TypeError):
        return []


class UpstreamRecords(Generic[R]):
    """Upstream mode's :class:`~hub_monitorozas.inventory.Records`: the hub's key checks as in
    local mode (``inventory``'s gate), then the vendor's list, read whole (one cached answer,
    paged here), and writes forwarded once."""

    def __init__(self, upstream: Upstream, resource: Resource[R], inventory: Inventory[R]) -> None:
        self.upstream = upstream
        self.resource = resource
        self.inventory = inventory

    async def _all(self, caller: Caller) -> tuple[R, ...]:
        self.inventory.gate.authorize(caller).require("read")
        reading = await self.upstream.read(caller, self.resource.path)
        return self.upstream.decoded(reading, _listed, self.resource)

    async def list_json(self, caller: Caller, window: Page | None = None) -> bytes:
        items = await self._all(caller)
        if window is not None:
            items = items[window.offset : window.offset + window.limit]
        return orjson.dumps(to_json(list(items)))

    async def page(self, caller: Caller, window: Page) -> StoredPage[R]:
        return _window(await self._all(caller), window)

    async def get(self, caller: Caller, raw_id: Any) -> R:
        items = await self._all(caller)
        ident = validation.parse_id(raw_id)
        for item in items:
            if item.id == ident:
                return item
        raise self.inventory.not_found(ident)

    async def create(self, caller: Caller, data: Any) -> R:
        """The body as the caller sent it: the vendor validates it and answers."""
        self.inventory.gate.authorize(caller).require("write")
        path = self.resource.path
        write = Write(
            "POST",
            f"{path}/create",
            body=orjson.dumps(data),
            content_type="application/json",
            reconcile=f"{self.resource.name}.create",
            invalidates=(path,),
        )
        reply = await self.upstream.write(caller, write)
        return self.resource.record(payload(reply.status, reply.body, write.path))

    async def delete(self, caller: Caller, raw_id: Any) -> Deleted:
        self.inventory.gate.authorize(caller).require("write")
        path = self.resource.path
        write = Write(
            "DELETE",
            f"{path}/delete",
            () if raw_id is None else (("id", str(raw_id)),),
            reconcile=f"{self.resource.name}.delete",
            invalidates=(path,),
        )
        reply = await self.upstream.write(caller, write)
        data = payload(reply.status, reply.body, write.path)
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise bad_answer(write.path, "no deleted id")
        return Deleted(data["id"], bool(data.get("deleted", True)))
