"""What :class:`~hub_monitorozas.service.MonitorozasService` returns: typed records, which each
adapter renders through ``hub.records`` (REST writes the flags 0/1, GraphQL and gRPC as
booleans; instants as ``2026-05-01T12:00:00Z`` everywhere). Field order is the seed's: REST
writes them in this order, and the stored JSON of a row (``storage``) follows it too."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from hub.records import PLAIN, SPEC_KEY, flag, parse_iso8601, spec

FLAG = spec(flag=True)


def instant(text: str | None) -> datetime | None:
    """A stored instant (the plugin writes them ``2026-05-01T12:00:00Z``)."""
    return None if text is None else parse_iso8601(text)


@dataclass(frozen=True)
class Identity:
    """``/me``: the key's user, key id and scopes; both ids are None for the admin token."""

    user_id: int | None
    key_id: int | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class SubCheck:
    check: str  # public_http, public_https, public_tls, origin_http, origin_tls, ssh, ...
    ok: bool
    error: str | None


@dataclass(frozen=True)
class CheckResult:
    """One entry of a device's history."""

    checked_at: datetime
    status: str
    response_ms: int | None
    error: str | None
    tls_expires_at: datetime | None
    checks: list[SubCheck]

    @classmethod
    def of(cls, stored: dict[str, Any]) -> CheckResult:
        return cls(
            **{
                **stored,
                "checked_at": parse_iso8601(stored["checked_at"]),
                "tls_expires_at": instant(stored["tls_expires_at"]),
                "checks": [SubCheck(**c) for c in stored["checks"]],
            }
        )


@dataclass(frozen=True)
class Device:
    id: int
    user_id: int
    target_type: str
    target_value: str
    service_type: str
    scheme: str | None
    port: int
    host_header: str | None
    proxy_enabled: bool = field(metadata=FLAG)
    origin_host: str | None
    origin_scheme: str | None
    origin_port: int | None
    check_public_http: bool = field(metadata=FLAG)
    check_public_https: bool = field(metadata=FLAG)
    check_public_tls: bool = field(metadata=FLAG)
    check_origin_http: bool = field(metadata=FLAG)
    check_origin_tls: bool = field(metadata=FLAG)
    expect_status: int
    location: str
    is_enabled: bool = field(metadata=FLAG)
    last_status: str  # unknown before the first check, then up or down
    last_check_at: datetime | None
    last_response_ms: int | None
    last_error: str | None
    tls_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Device:
        """A device as stored (its JSON ``doc``, decoded)."""
        return cls(**{**stored, **_flags(cls, stored), **_instants(cls, stored)})


@dataclass(frozen=True)
class Listing:
    """One DNSBL listing: the zone and the A records it answered."""

    zone: str
    codes: list[str]


@dataclass(frozen=True)
class BlacklistMonitor:
    id: int
    user_id: int
    target_type: str
    target_value: str
    is_enabled: bool = field(metadata=FLAG)
    last_status: str  # unknown, clean, listed or error
    last_check_at: datetime | None
    listed_on: list[str]
    listings: list[Listing]  # each zone of listed_on with its return codes
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: dict[str, Any]) -> BlacklistMonitor:
        listings = [Listing(**item) for item in stored["listings"]]
        return cls(
            **{**stored, **_flags(cls, stored), **_instants(cls, stored), "listings": listings}
        )


@dataclass(frozen=True)
class Deleted:
    id: int
    deleted: bool = True


@dataclass(frozen=True)
class StatusChange:
    """Published on the hub's event bus when a check changes a device's status."""

    device: Device
    previous_status: str


INSTANTS = ("last_check_at", "tls_expires_at", "created_at", "updated_at")


@functools.cache
def _names(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The flag fields and the instant fields of a record."""
    names = [f.name for f in fields(cls)]
    flags = tuple(f.name for f in fields(cls) if f.metadata.get(SPEC_KEY, PLAIN).flag)
    return flags, tuple(name for name in INSTANTS if name in names)


def _flags(cls: type, stored: dict[str, Any]) -> dict[str, Any]:
    return {name: flag(stored[name]) for name in _names(cls)[0]}


def _instants(cls: type, stored: dict[str, Any]) -> dict[str, Any]:
    return {name: instant(stored[name]) for name in _names(cls)[1]}
