"""``mode = "upstream"``: the CRM's methods forwarded to a real "Цифровой РОП" deployment through
the host's upstream machinery. ``call-ready`` is a cached read; audio-upload, offices-update and
managers-update are writes delivered exactly once (``hub.upstream.writes``): each is made into
the very bytes the vendor gets before it is recorded, so a resend is byte-identical, and an
upload whose answer was lost is settled by ROP's 409 on its ``call_id``. The vendor's answers are
read into the same records local mode returns; its refusals keep their status, and REST passes
its error body on as it came."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
import orjson

from hub.api import HubApi
from hub.caller import Caller
from hub.errors import HubError
from hub.upstream import (
    REASONS,
    Reading,
    Reply,
    Target,
    Upstream,
    Vendor,
    VendorAuth,
    Write,
    json_only,
)
from hub_rop.errors import PLUGIN, error
from hub_rop.inputs import UPLOAD_FIELDS
from hub_rop.records import CallReady, ManagersUpdate, OfficesUpdate, Queued
from hub_rop.settings import RopSettings

R = TypeVar("R")

# the seed's paths, after the vendor's base URL
CALL_READY = "/api/v1/tables/call-ready"
AUDIO_UPLOAD = "/api/v1/calls/audio-upload"
OFFICES_UPDATE = "/api/v1/settings/offices-update"
MANAGERS_UPDATE = "/api/v1/settings/managers-update"
WRITES = frozenset({AUDIO_UPLOAD, OFFICES_UPDATE, MANAGERS_UPDATE})
JSON = "application/json"


def category_of(target: Target) -> str:
    """Two budget categories: the poller keeping call-ready answers fresh never takes the slots
    writes need (ROP counts both against one key: the default budget is half its limit)."""
    return "writes" if target.path in WRITES else "reads"


async def reconcile_upload(upstream: Upstream, write: Write, reply: Reply | None) -> Reply | None:
    """An upload that may have landed is sent again (ROP has no way to look a call up); its
    409 on the ``call_id`` then means the first one got there: answered as ROP answers an
    upload it takes."""
    if reply is None or reply.status != 409:
        return None
    queued = {"status": "queued", "call_id": write.params["call_id"]}
    return Reply(200, JSON, orjson.dumps(queued))


class UpstreamRop:
    """What the service does instead of its local work when the plugin fronts ROP."""

    def __init__(self, hub: HubApi, settings: RopSettings) -> None:
        vendor = Vendor(
            settings=settings.upstream,
            auth=VendorAuth(params={"apiKey": settings.upstream.api_key}),
            category=category_of,
            reconcilers={"audio_upload": reconcile_upload},
            unreadable=json_only,  # ROP answers JSON only: an HTML page is a proxy's
        )
        self.upstream: Upstream = hub.upstream(PLUGIN, vendor)

    async def call_ready(self, caller: Caller, tab: str, call: str) -> CallReady:
        reading = await self.upstream.read(caller, CALL_READY, (("tab", tab), ("call", call)))
        return self.upstream.decoded(reading, _call_ready)

    async def upload(self, caller: Caller, call: dict[str, Any]) -> Queued:
        """The checked fields as the seed's curl sends them: ``multipart/form-data``."""
        form = aiohttp.FormData(default_to_multipart=True)
        for name in UPLOAD_FIELDS:
            if call.get(name) is not None:
                value = call[name]
                form.add_field(name, f"{value:g}" if isinstance(value, float) else str(value))
        payload = form()
        write = Write(
            "POST",
            AUDIO_UPLOAD,
            body=await payload.as_bytes(),
            content_type=payload.content_type,
            reconcile="audio_upload",
            params={"call_id": call["call_id"]},
            invalidates=(CALL_READY,),
        )
        return _answer(await self.upstream.write(caller, write), Queued)

    async def update_offices(self, caller: Caller, offices: list[dict[str, Any]]) -> OfficesUpdate:
        """Replacing the structure twice leaves what replacing it once does: a resend is safe."""
        reply = await self._json_write(caller, OFFICES_UPDATE, {"offices": offices})
        return _answer(reply, OfficesUpdate)

    async def update_managers(
        self, caller: Caller, managers: list[dict[str, Any]]
    ) -> ManagersUpdate:
        """An upsert: a resend is safe (its counts say ``updated`` where the first said
        ``created``)."""
        reply = await self._json_write(caller, MANAGERS_UPDATE, {"managers": managers})
        return _answer(reply, ManagersUpdate)

    async def _json_write(self, caller: Caller, path: str, document: Any) -> Reply:
        write = Write("POST", path, body=orjson.dumps(document), content_type=JSON)
        return await self.upstream.write(caller, write)


def refused(status: int, body: bytes) -> HubError:
    """The vendor's refusal with its status, a ``reason`` saying it was the upstream
    (``upstream_<its code>``), and its error body, which REST passes on as it came."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        return error(status, f"the fronted ROP answered {status}", f"upstream_{status}")
    code, message = document.get("error"), document.get("message")
    reason = f"upstream_{code}" if isinstance(code, str) and code else f"upstream_{status}"
    text = f"the fronted ROP answered {status}" + (f": {message}" if message else "")
    return error(status, text, reason, body=document)


def _answer(reply: Reply, record: Callable[..., R]) -> R:
    """The vendor's 2xx answer as ``record``; anything else its refusal."""
    if not 200 <= reply.status < 300:
        raise refused(reply.status, reply.body)
    try:
        document = orjson.loads(reply.body)
        values = {}
        for name, kind in typing.get_type_hints(record).items():  # str and int fields
            value = document[name]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(f"{name!r} is not a {kind.__name__}")
            values[name] = value
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        message = f"the fronted ROP answered its write unreadably: {type(exc).__name__} {exc}"
        raise error(502, message, REASONS[502]) from None
    return record(**values)


def _call_ready(reading: Reading) -> CallReady:
    if not reading.ok:
        raise refused(reading.status, reading.body)
    document = reading.json()
    ready = document.get("ready") if isinstance(document, dict) else None
    if not isinstance(ready, bool):
        raise reading.bad_answer("no boolean 'ready'")
    data = document.get("data")
    if ready and not isinstance(data, dict):
        raise reading.bad_answer("'ready' without a 'data' object")
    return CallReady(ready=ready, data=data if ready else None)
