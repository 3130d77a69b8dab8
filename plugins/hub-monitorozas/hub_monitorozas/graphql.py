"""Monitorozás in the hub's GraphQL schema: ``{ monitorozas { me devices device
blacklistMonitors } }``, the ``monitorozas*`` mutations and ``monitorozasDeviceStatusChanged``.
Values are the REST ones; REST's 0/1 flags are Booleans here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import strawberry

from hub.graphql.types import Connection, connection, page_window
from hub.peer import Peer
from hub.records import sent_fields
from hub_monitorozas.service import Caller, MonitorozasService, error

FLAGS = (
    "proxy_enabled",
    "check_public_http",
    "check_public_https",
    "check_public_tls",
    "check_origin_http",
    "check_origin_tls",
    "is_enabled",
)


def bad_argument(message: str) -> Any:
    return error(400, message, "invalid_field")


def _service(info: strawberry.Info) -> MonitorozasService:
    return info.context.hub.service(MonitorozasService)  # type: ignore[no-any-return]


def _caller(info: strawberry.Info) -> Caller:
    """Authorised once per request (one rate-limit hit however many fields it asks for)."""
    ctx = info.context
    cached = getattr(ctx, "_monitorozas_caller", None)
    if cached is None:
        cached = _service(info).authorize(ctx.authorization, Peer.of_request(ctx.request))
        ctx._monitorozas_caller = cached
    return cached  # type: ignore[no-any-return]


def _flags(data: dict[str, Any]) -> dict[str, Any]:
    return {k: bool(v) if k in FLAGS else v for k, v in data.items()}


@strawberry.type(name="MonitorozasMe")
class Me:
    user_id: int | None = strawberry.field(description="Null for the admin token.")
    key_id: int | None
    scopes: list[str]


@strawberry.type(name="MonitorozasSubCheck")
class SubCheck:
    check: str
    ok: bool
    error: str | None


@strawberry.type(name="MonitorozasCheckResult")
class CheckResult:
    checked_at: str
    status: str
    response_ms: int | None
    error: str | None
    tls_expires_at: str | None
    checks: list[SubCheck]

    @classmethod
    def of(cls, entry: dict[str, Any]) -> CheckResult:
        return cls(**{**entry, "checks": [SubCheck(**c) for c in entry["checks"]]})


@strawberry.type(name="MonitorozasDevice")
class Device:
    id: int
    user_id: int
    target_type: str
    target_value: str
    service_type: str
    scheme: str | None
    port: int
    host_header: str | None
    proxy_enabled: bool
    origin_host: str | None
    origin_scheme: str | None
    origin_port: int | None
    check_public_http: bool
    check_public_https: bool
    check_public_tls: bool
    check_origin_http: bool
    check_origin_tls: bool
    expect_status: int
    location: str
    is_enabled: bool
    last_status: str = strawberry.field(description="up, down, or unknown before the first check.")
    last_check_at: str | None
    last_response_ms: int | None
    last_error: str | None
    tls_expires_at: str | None
    created_at: str
    updated_at: str

    @strawberry.field(description="Check results, newest first (at most history_size).")
    def history(self, info: strawberry.Info, first: int | None = None) -> list[CheckResult]:
        return [CheckResult.of(e) for e in _service(info).device_history(self.id, first, "first")]

    @classmethod
    def of(cls, data: dict[str, Any]) -> Device:
        return cls(**_flags(data))


@strawberry.type(name="MonitorozasListing", description="One DNSBL listing.")
class Listing:
    zone: str
    codes: list[str] = strawberry.field(
        description="The A records the zone answered (127.0.0.2-127.255.255.251)."
    )


@strawberry.type(name="MonitorozasBlacklistMonitor")
class BlacklistMonitor:
    id: int
    user_id: int
    target_type: str
    target_value: str
    is_enabled: bool
    last_status: str = strawberry.field(description="unknown, clean, listed or error.")
    last_check_at: str | None
    listed_on: list[str]
    listings: list[Listing] = strawberry.field(
        description="Each zone of listedOn with its return codes."
    )
    last_error: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> BlacklistMonitor:
        listings = [Listing(**item) for item in data["listings"]]
        return cls(**{**_flags(data), "listings": listings})


@strawberry.type(name="MonitorozasDeleteResult")
class DeleteResult:
    id: int
    deleted: bool


@strawberry.type(name="MonitorozasStatusChange")
class StatusChange:
    device: Device
    previous_status: str


@strawberry.input(name="MonitorozasDeviceInput", description="The REST create body's fields.")
class DeviceInput:
    target_type: str | None = strawberry.UNSET
    target_value: str | None = strawberry.UNSET
    service_type: str | None = strawberry.UNSET
    scheme: str | None = strawberry.UNSET
    port: int | None = strawberry.UNSET
    host_header: str | None = strawberry.UNSET
    proxy_enabled: bool | None = strawberry.UNSET
    origin_host: str | None = strawberry.UNSET
    origin_scheme: str | None = strawberry.UNSET
    origin_port: int | None = strawberry.UNSET
    check_public_http: bool | None = strawberry.UNSET
    check_public_https: bool | None = strawberry.UNSET
    check_public_tls: bool | None = strawberry.UNSET
    check_origin_http: bool | None = strawberry.UNSET
    check_origin_tls: bool | None = strawberry.UNSET
    expect_status: int | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    is_enabled: bool | None = strawberry.UNSET
    user_id: int | None = strawberry.field(
        default=strawberry.UNSET, description="The owner; the admin token only."
    )


@strawberry.input(name="MonitorozasBlacklistMonitorInput")
class BlacklistMonitorInput:
    target_type: str | None = strawberry.UNSET
    target_value: str | None = strawberry.UNSET
    is_enabled: bool | None = strawberry.UNSET
    user_id: int | None = strawberry.field(
        default=strawberry.UNSET, description="The owner; the admin token only."
    )


@strawberry.type(name="MonitorozasQuery")
class MonitorozasQuery:
    @strawberry.field(description="The key's user, key id and scopes.")
    def me(self, info: strawberry.Info) -> Me:
        return Me(**_service(info).me(_caller(info)))

    @strawberry.field(description="The caller's devices (every user's for the admin), by id.")
    def devices(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Device]:
        page = page_window(first, after, bad_argument)
        items, total = _service(info).list_devices(_caller(info), page)
        return connection([Device.of(d) for d in items], total, page)

    @strawberry.field
    def device(self, info: strawberry.Info, id: int) -> Device:
        return Device.of(_service(info).get_device(_caller(info), id))

    @strawberry.field(description="The caller's blacklist monitors, by id.")
    def blacklist_monitors(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[BlacklistMonitor]:
        page = page_window(first, after, bad_argument)
        items, total = _service(info).list_monitors(_caller(info), page)
        return connection([BlacklistMonitor.of(m) for m in items], total, page)

    @strawberry.field
    def blacklist_monitor(self, info: strawberry.Info, id: int) -> BlacklistMonitor:
        return BlacklistMonitor.of(_service(info).get_monitor(_caller(info), id))


@strawberry.type(name="MonitorozasMutation")
class MonitorozasMutation:
    @strawberry.mutation
    def monitorozas_create_device(self, info: strawberry.Info, input: DeviceInput) -> Device:
        return Device.of(_service(info).create_device(_caller(info), sent_fields(input)))

    @strawberry.mutation
    def monitorozas_delete_device(self, info: strawberry.Info, id: int) -> DeleteResult:
        return DeleteResult(**_service(info).delete_device(_caller(info), id))

    @strawberry.mutation
    def monitorozas_create_blacklist_monitor(
        self, info: strawberry.Info, input: BlacklistMonitorInput
    ) -> BlacklistMonitor:
        return BlacklistMonitor.of(_service(info).create_monitor(_caller(info), sent_fields(input)))

    @strawberry.mutation
    def monitorozas_delete_blacklist_monitor(self, info: strawberry.Info, id: int) -> DeleteResult:
        return DeleteResult(**_service(info).delete_monitor(_caller(info), id))

    @strawberry.mutation(description="Check the device now and return it with the result.")
    async def monitorozas_check_now(self, info: strawberry.Info, device_id: int) -> Device:
        return Device.of(await _service(info).check_now(_caller(info), device_id))


@strawberry.type(name="MonitorozasSubscription")
class MonitorozasSubscription:
    @strawberry.subscription(description="Each change of a device's status from now on.")
    async def monitorozas_device_status_changed(
        self, info: strawberry.Info
    ) -> AsyncIterator[StatusChange]:
        async for event in _service(info).status_changes(_caller(info)):
            yield StatusChange(
                device=Device.of(event["device"]), previous_status=event["previous_status"]
            )
