"""Monitorozás in the hub's GraphQL schema: ``{ monitorozas { me devices device
blacklistMonitors } }``, the ``monitorozas*`` mutations and ``monitorozasDeviceStatusChanged``.
Values are the REST ones; REST's 0/1 flags are Booleans here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

import strawberry

from hub.graphql.context import plugin_resolvers
from hub.graphql.stored import stored_objects
from hub.graphql.types import Connection, connection, page_window
from hub.paging import Page
from hub.records import sent_fields, to_graphql
from hub_monitorozas.errors import invalid_field
from hub_monitorozas.service import MonitorozasService
from hub_monitorozas.settings import PLUGIN
from hub_monitorozas.storage import DEVICES, MONITORS, Kind, StoredPage

T = TypeVar("T")


_service, _caller = plugin_resolvers(PLUGIN, MonitorozasService)


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
        entries = _service(info).device_history(self.id, first, "first")
        return [to_graphql(CheckResult, e) for e in entries]


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


def _connection(
    cls: type[T], kind: Kind[Any], page: StoredPage[Any], window: Page
) -> Connection[T]:
    """A page as a connection whose cursors seek (both lists are by id). Stored rows go to
    GraphQL as they are (``hub.graphql.stored``), each rendered once per selection and reused
    while its bytes stay the same. That is safe because a row's object shows nothing but its
    stored JSON: no field depends on the caller, the clock or a setting (``Device.history`` is
    a resolver, which a kept rendering never holds). Each row's id is its primary key."""
    if page.stored is None:  # the vendor's records
        items: Sequence[T] = [to_graphql(cls, record) for record in page.records]
    else:
        items = stored_objects(cls, page.stored, kind.decode, page.ids)
    found = page.found
    return connection(items, page.total, window, found.cursors(), found.has_next)


@strawberry.type(name="MonitorozasQuery")
class MonitorozasQuery:
    @strawberry.field(description="The key's user, key id and scopes.")
    async def me(self, info: strawberry.Info) -> Me:
        return to_graphql(Me, await _service(info).me(_caller(info)))

    @strawberry.field(description="The caller's devices (every user's for the admin), by id.")
    async def devices(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Device]:
        window = page_window(first, after, invalid_field, seekable=True)
        stored = await _service(info).device_records.page(_caller(info), window)
        return _connection(Device, DEVICES, stored, window)

    @strawberry.field
    async def device(self, info: strawberry.Info, id: int) -> Device:
        return to_graphql(Device, await _service(info).device_records.get(_caller(info), id))

    @strawberry.field(description="The caller's blacklist monitors, by id.")
    async def blacklist_monitors(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[BlacklistMonitor]:
        window = page_window(first, after, invalid_field, seekable=True)
        stored = await _service(info).monitor_records.page(_caller(info), window)
        return _connection(BlacklistMonitor, MONITORS, stored, window)

    @strawberry.field
    async def blacklist_monitor(self, info: strawberry.Info, id: int) -> BlacklistMonitor:
        monitor = await _service(info).monitor_records.get(_caller(info), id)
        return to_graphql(BlacklistMonitor, monitor)


@strawberry.type(name="MonitorozasMutation")
class MonitorozasMutation:
    @strawberry.mutation
    async def monitorozas_create_device(self, info: strawberry.Info, input: DeviceInput) -> Device:
        device = await _service(info).device_records.create(_caller(info), sent_fields(input))
        return to_graphql(Device, device)

    @strawberry.mutation
    async def monitorozas_delete_device(self, info: strawberry.Info, id: int) -> DeleteResult:
        deleted = await _service(info).device_records.delete(_caller(info), id)
        return to_graphql(DeleteResult, deleted)

    @strawberry.mutation
    async def monitorozas_create_blacklist_monitor(
        self, info: strawberry.Info, input: BlacklistMonitorInput
    ) -> BlacklistMonitor:
        monitor = await _service(info).monitor_records.create(_caller(info), sent_fields(input))
        return to_graphql(BlacklistMonitor, monitor)

    @strawberry.mutation
    async def monitorozas_delete_blacklist_monitor(
        self, info: strawberry.Info, id: int
    ) -> DeleteResult:
        deleted = await _service(info).monitor_records.delete(_caller(info), id)
        return to_graphql(DeleteResult, deleted)

    @strawberry.mutation(description="Check the device now and return it with the result.")
    async def monitorozas_check_now(self, info: strawberry.Info, device_id: int) -> Device:
        return to_graphql(Device, await _service(info).check_now(_caller(info), device_id))


@strawberry.type(name="MonitorozasSubscription")
class MonitorozasSubscription:
    @strawberry.subscription(description="Each change of a device's status from now on.")
    async def monitorozas_device_status_changed(
        self, info: strawberry.Info
    ) -> AsyncIterator[StatusChange]:
        async for change in _service(info).status_changes(_caller(info)):
            yield to_graphql(StatusChange, change)
