"""``mode = "upstream"``: the integration channels of a real ERA deployment, through the host's
upstream machinery. Reads (lists, a channel, ``LOOKUP``, ``integration_tokens``) come from the
cache, keyed by the vendor request that produced them (``LOOKUP`` is the vendor's own method,
keyed by its body too); writes go through the host's durable queue and reach the vendor exactly
once. A create whose answer was lost is looked up by its ``code`` before it is sent again; a
delete whose retry finds nothing was done.

The vendor's answers are read into the records local mode builds, so GraphQL and gRPC render
them as they always do; REST serves the vendor's own bytes, errors included."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from hub import paging
from hub.api import HubApi
from hub.caller import Caller
from hub.errors import HubError
from hub.records import parse_iso8601
from hub.upstream import (
    REFUSALS,
    Reading,
    Reply,
    Target,
    Upstream,
    Vendor,
    VendorAuth,
    Write,
    json_only,
)
from hub_era.errors import PLUGIN, error
from hub_era.fields import FIELDS, OPTS, Order
from hub_era.records import Ext, IntegrationPoint, Opts
from hub_era.settings import EraSettings

BASE = "/rest/v1/service/integration_points"
TOKENS = "/rest/v1/service/integration_tokens"
JSON_TYPE = "application/json; charset=utf-8"
JSON_HEADERS = {"Content-Type": JSON_TYPE}
COUNT_PAGE = 1000  # the vendor's largest limit: a total is counted in pages this long
WRITTEN = (BASE, TOKENS)  # what any write may change: lists, channels, token look-ups
OPTS_EXT = ("opts", "ext")

T = TypeVar("T")


def category_of(target: Target) -> str:
    """The budget's categories are ERA's endpoints: the collection (list, LOOKUP, create),
    one channel (any id: get, patch, delete) and the token look-up."""
    if target.path.startswith(TOKENS + "/"):
        return "integration_tokens"
    if target.path.startswith(BASE + "/"):
        return "integration_point"
    return "integration_points"


def point_path(ident: str) -> str:
    if not ident:
        raise error(404, "Not found")
    return f"{BASE}/{quote(ident, safe='')}"


def vendor_error(status: int, body: bytes) -> HubError:
    """The vendor's refusal: REST passes its body through as it is; GraphQL and gRPC get its
    status and ``error_code`` (the reason local mode gives), except that the vendor's 401/403
    say it refused the hub's own vendor token (``upstream_unauthorized``/``_forbidden``)."""
    if not 400 <= status < 500:
        return bad_answer(str(status))
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        return error(status, f"upstream answered {status}", REFUSALS.get(status))
    sent = document.get("error_message")
    message = sent if isinstance(sent, str) and sent else f"upstream answered {status}"
    code = document.get("error_code")
    if isinstance(code, bool) or not isinstance(code, int):
        code = 1000 + status
    return error(status, message, REFUSALS[status] if status in (401, 403) else code, body=body)


def bad_answer(what: str) -> HubError:
    return HubError(502, f"upstream answered {what}", reason="upstream_bad_answer", plugin=PLUGIN)


# -- the vendor's JSON into records ----------------------------------------------------------
def _typed(value: Any, kind: type, name: str) -> Any:
    if type(value) is not kind:
        raise TypeError(f"{name}: expected a {'boolean' if kind is bool else 'string'}")
    return value


def point_of(item: Any) -> IntegrationPoint:
    """A channel as the vendor sends it: the seed's fields (a string left out is ``""``, a
    boolean ``false``; fields the seed does not name are not the hub's to show)."""
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    opts, ext = item.get("opts") or {}, item.get("ext")
    if not isinstance(opts, dict) or not isinstance(ext, dict):
        raise TypeError("opts and ext: expected objects")
    plain = {name: _typed(item.get(name, ""), str, name) for name in FIELDS if name not in OPTS_EXT}
    if not plain["id"]:
        raise ValueError("id: empty")
    options = {k: _typed(opts.get(k, kind()), kind, f"opts.{k}") for k, kind in OPTS.items()}
    return IntegrationPoint(
        **plain,
        opts=Opts(**options),
        ext=Ext(
            parse_iso8601(_typed(ext.get("ct"), str, "ext.ct")),
            parse_iso8601(_typed(ext.get("lwt"), str, "ext.lwt")),
        ),
    )


def _decoding(reading: Reading, read: Callable[[Any], T]) -> T:
    """``read`` of the vendor's JSON; what it cannot read is the table's 502."""
    try:
        return read(reading.json())
    except (KeyError, TypeError, ValueError) as exc:
        raise reading.bad_answer(str(exc)) from None


def _points(reading: Reading) -> tuple[IntegrationPoint, ...]:
    return _decoding(reading, lambda doc: tuple(point_of(item) for item in _array(doc)))


def _point(reading: Reading) -> IntegrationPoint:
    return _decoding(reading, point_of)


def _objects(reading: Reading) -> int:
    """A masked or flat list: objects of whatever fields were asked for; how many."""
    return _decoding(reading, lambda doc: len([_object(item) for item in _array(doc)]))


def _one_object(reading: Reading) -> dict[str, Any]:
    return _decoding(reading, _object)


def _token_owner(reading: Reading) -> str:
    def owner(doc: Any) -> str:
        ident = _object(_object(doc)["integration_point"])["id"]
        return str(_typed(ident, str, "integration_point.id"))

    return _decoding(reading, owner)


def _array(doc: Any) -> list[Any]:
    if not isinstance(doc, list):
        raise TypeError("expected a JSON array")
    return doc


def _object(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise TypeError("expected a JSON object")
    return doc


def _ids(doc: Any) -> list[str]:
    return [_typed(ident, str, "id") for ident in _array(doc)]


def _found(reading: Reading) -> list[str]:
    return _decoding(reading, _ids)


def _document(reply: Reply) -> Any:
    """A write's answer: the vendor's JSON on a 2xx, else its refusal."""
    if not 200 <= reply.status < 300:
        raise vendor_error(reply.status, reply.body)
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise bad_answer(f"{reply.status} with something that is not JSON") from None


def _written(reply: Reply) -> IntegrationPoint:
    try:
        return point_of(_document(reply))
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_answer(f"a write with an unreadable channel: {exc}") from None


# -- reconcilers: a write whose answer was lost ----------------------------------------------
async def find_created(upstream: Upstream, write: Write, reply: Reply | None) -> Reply | None:
    """Before a create that may have landed is sent again: ``LOOKUP {"code": ...}``; found,
    the channel is the create's answer and nothing is sent. The same when the resend is
    refused as a duplicate (409): the first attempt, still on its way when its answer was lost,
    landed meanwhile. Anything but found or not found (the vendor refusing, failing) keeps
    the write for a later attempt, never a resend. Sent, never read from the cache: a cached
    "Lookup failed" from before the create landed would send it twice."""
    if reply is not None and reply.status != 409:
        return None
    code = write.params["code"]
    found = await upstream.forward(
        None, "LOOKUP", BASE, headers=JSON_HEADERS, data=orjson.dumps({"code": code})
    )
    if found.status == 404:
        return None
    if found.status != 200:
        raise bad_answer(f"the LOOKUP of code {code!r} with {found.status}")
    try:
        ids = _ids(orjson.loads(found.body))
    except (TypeError, orjson.JSONDecodeError):
        raise bad_answer(f"the LOOKUP of code {code!r} with no array of ids") from None
    if not ids:
        return None
    channel = await upstream.forward(None, "GET", point_path(ids[0]))
    if channel.status != 200:
        raise bad_answer(f"the channel of code {code!r} with {channel.status}")
    return Reply(200, channel.content_type, channel.body)


async def already_gone(upstream: Upstream, write: Write, reply: Reply | None) -> Reply | None:
    """A delete sent again after its answer was lost finds nothing: the first one did it, and
    its answer was the vendor's ``204``."""
    if reply is not None and reply.status == 404:
        return Reply(204, "", b"")
    return None


# -- the service's upstream half -------------------------------------------------------------
@dataclass(frozen=True)
class VendorPage:
    """A page of the vendor's list: its channels and the count of all that match."""

    points: tuple[IntegrationPoint, ...]
    total: int
    has_next: bool
    stored = None  # the vendor's channels are decoded records, not stored rows
    ids = None

    def records(self) -> list[IntegrationPoint]:
        return list(self.points)

    def cursors(self) -> None:
        """Offset cursors: the vendor pages by offset."""
        return None


def list_query(filter: Any, order: Sequence[Order]) -> list[tuple[str, str]]:
    """GraphQL's and gRPC's ``filter`` and ``order`` as the vendor's REST query spells them."""
    query = []
    if filter is not None:
        query.append(("filter", orjson.dumps(filter).decode()))
    if order:
        terms = [{o.field: "desc" if o.desc else "asc"} for o in order]
        query.append(("order", orjson.dumps(terms).decode()))
    return query


class UpstreamPoints:
    """What :class:`~hub_era.service.EraService` does in upstream mode, after it has checked
    the caller and the request as local mode does (a bad request never costs the budget)."""

    def __init__(self, hub: HubApi, settings: EraSettings) -> None:
        token = settings.upstream.token
        vendor = Vendor(
            settings=settings.upstream,
            auth=VendorAuth(headers={"Authorization": f"Bearer {token}"}),
            category=category_of,
            reconcilers={"create": find_created, "delete": already_gone},
            unreadable=json_only,  # ERA answers JSON only: an HTML page is a proxy's
        )
        self.upstream: Upstream = hub.upstream(PLUGIN, vendor)

    async def _read(
        self, caller: Caller, path: str, query: Iterable[tuple[str, str]] = ()
    ) -> Reading:
        reading = await self.upstream.read(caller, path, query)
        if not reading.ok:
            raise vendor_error(reading.status, reading.body)
        return reading

    # -- reads ---------------------------------------------------------------------------
    async def list_json(
        self, caller: Caller, sent: Sequence[tuple[str, str]], plain: bool
    ) -> bytes:
        """REST's list: the vendor's answer to the same query, checked before it is served
        (channels when ``plain``, else the objects ``mask``/``flat`` asked for)."""
        reading = await self._read(caller, BASE, sent)
        self.upstream.decoded(reading, _points if plain else _objects)
        return reading.body

    async def get_json(
        self, caller: Caller, ident: str, sent: Sequence[tuple[str, str]], plain: bool
    ) -> bytes:
        reading = await self._read(caller, point_path(ident), sent)
        self.upstream.decoded(reading, _point if plain else _one_object)
        return reading.body

    async def get(self, caller: Caller, ident: str) -> IntegrationPoint:
        reading = await self._read(caller, point_path(ident))
        return self.upstream.decoded(reading, _point)

    async def page(
        self, caller: Caller, filter: Any, order: Sequence[Order], window: paging.Page
    ) -> VendorPage:
        """One page from ``window.offset``; the total is what the page shows when it ends
        the list, else counted from the vendor's ids (``mask=id``, 1000 a request)."""
        query = list_query(filter, order)
        points: tuple[IntegrationPoint, ...] = ()
        if window.limit:
            paged = [*query, ("offset", str(window.offset)), ("limit", str(window.limit))]
            points = self.upstream.decoded(await self._read(caller, BASE, paged), _points)
        if len(points) < window.limit and (points or window.offset == 0):
            total = window.offset + len(points)
        else:
            total = await self._count(caller, query)
        return VendorPage(points, total, window.offset + len(points) < total)

    async def _count(self, caller: Caller, query: list[tuple[str, str]]) -> int:
        total = 0
        while True:
            ids = [*query, ("mask", "id"), ("offset", str(total)), ("limit", str(COUNT_PAGE))]
            found = self.upstream.decoded(await self._read(caller, BASE, ids), _objects)
            total += found
            if found < COUNT_PAGE:
                return total

    async def lookup(self, caller: Caller, key: Any) -> list[str]:
        """The vendor's own ``LOOKUP`` with the same key, cached by its body."""
        reading = await self.upstream.read(
            caller, BASE, method="LOOKUP", body=orjson.dumps(key), content_type=JSON_TYPE
        )
        if not reading.ok:
            raise vendor_error(reading.status, reading.body)
        return self.upstream.decoded(reading, _found)

    async def by_token(self, caller: Caller, token: str) -> str:
        if not token:
            raise error(404, "Token not found")
        reading = await self._read(caller, f"{TOKENS}/{quote(token, safe='')}")
        return self.upstream.decoded(reading, _token_owner)

    # -- writes: exactly once ------------------------------------------------------------
    async def create(self, caller: Caller, changes: dict[str, Any]) -> IntegrationPoint:
        write = Write(
            "POST",
            BASE,
            body=orjson.dumps(changes),
            content_type=JSON_TYPE,
            reconcile="create",
            params={"code": changes["code"]},
            invalidates=WRITTEN,
        )
        return _written(await self.upstream.write(caller, write))

    async def update(self, caller: Caller, ident: str, changes: dict[str, Any]) -> IntegrationPoint:
        """PATCH merges the same fields however often it is applied: one whose answer was
        lost is simply sent again."""
        write = Write(
            "PATCH",
            point_path(ident),
            body=orjson.dumps(changes),
            content_type=JSON_TYPE,
            invalidates=WRITTEN,
        )
        return _written(await self.upstream.write(caller, write))

    async def delete(self, caller: Caller, ident: str) -> None:
        write = Write("DELETE", point_path(ident), reconcile="delete", invalidates=WRITTEN)
        reply = await self.upstream.write(caller, write)
        if not 200 <= reply.status < 300:
            raise vendor_error(reply.status, reply.body)
