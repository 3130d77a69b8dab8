"""What :class:`~hub_era.service.EraService` returns: an integration point as a typed record,
which each adapter renders through ``hub.records``. ``ext`` holds instants, written as the
seed writes them: UTC with centiseconds, ``2019-08-28T13:34:16.42Z``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.records import Instant, parse_iso8601, spec

CENTISECONDS = Instant(timespec="centiseconds")
STAMP = spec(instant=CENTISECONDS)


def now_stamp() -> str:
    """Now, as ``ext`` stores it."""
    return CENTISECONDS.format(datetime.now(UTC))


@dataclass(frozen=True)
class Opts:
    title: str
    comment: str
    allow_files_api: bool
    issync: bool


@dataclass(frozen=True)
class Ext:
    """Server-set: created and last written."""

    ct: datetime = field(metadata=STAMP)
    lwt: datetime = field(metadata=STAMP)


@dataclass(frozen=True)
class IntegrationPoint:
    """The seed's fields, in the seed's order (REST writes them in this order)."""

    id: str
    code: str
    type: str
    token_local: str
    token_remote: str
    token_remote2: str
    url: str
    recv_svcscriptcode: str
    recv_svcscriptcode_ws: str
    send_svcscriptcode: str
    send_svcscriptcode_ws: str
    opts: Opts
    ext: Ext

    @classmethod
    def of(cls, stored: dict[str, Any]) -> IntegrationPoint:
        """A channel as stored (its canonical JSON, decoded)."""
        plain = {k: v for k, v in stored.items() if k not in ("opts", "ext")}
        ext = stored["ext"]
        return cls(
            **plain,
            opts=Opts(**stored["opts"]),
            ext=Ext(parse_iso8601(ext["ct"]), parse_iso8601(ext["lwt"])),
        )
