"""The host's one paging type (``hub.paging``): cursors, keyset pages, and the same bounds on
every list of every plugin over REST, GraphQL and gRPC, probed on a real hub."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hub_era.v1 import era_pb2, era_pb2_grpc
from hub_monitorozas.v1 import monitorozas_pb2, monitorozas_pb2_grpc
from hub_rop.v1 import rop_pb2, rop_pb2_grpc
from hub_unspot.v1 import unspot_pb2, unspot_pb2_grpc

from hub.errors import HubError
from hub.paging import (
    MAX_LIMIT,
    MAX_OFFSET,
    Keyset,
    Page,
    Seek,
    SortKey,
    decode_cursor,
    offset_cursor,
)
from hub.v1 import hub_pb2, hub_pb2_grpc
from tests.hubproc import ADMIN_TOKEN, HubProcess

ADMIN = f"Bearer {ADMIN_TOKEN}"
ERA_LIST = "/era/rest/v1/service/integration_points"
ERA_QUERY = """query($f: JSON, $o: [EraOrderInput!], $first: Int, $after: String) {
  era { integrationPoints(filter: $f, order: $o, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id code } }
  } }
}"""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def garbage_cursors(valid: str) -> list[str]:
    """Cursors this API never made: damaged copies of ``valid`` and hand-made look-alikes."""
    raw = base64.urlsafe_b64decode(valid + "=" * (-len(valid) % 4))
    data = json.loads(raw)
    order, key = data["order"], data["key"]
    flipped = valid[:-3] + ("A" if valid[-3] != "A" else "B") + valid[-2:]
    return [
        "not-a-cursor",
        "!!!!",
        "é",
        valid[:-5],  # truncated
        flipped,  # one character changed
        valid + "x",
        b64(raw[:-1]),  # JSON cut short
        b64(b"offset:3"),  # an older format
        b64(json.dumps({**data, "v": 2}).encode()),  # another version
        b64(json.dumps({**data, "v": True}).encode()),  # a version that only equals 1
        b64(json.dumps({"order": order, "key": key}).encode()),  # no version
        b64(json.dumps({**data, "extra": 1}).encode()),
        b64(json.dumps({**data, "key": key[:-1]}).encode()),  # arity
        b64(json.dumps({**data, "key": [*key[:-1], None]}).encode()),  # NULL
        b64(json.dumps({**data, "key": [*key[:-1], True]}).encode()),  # a boolean
        b64(json.dumps({**data, "key": [*key[:-1], {"x": 1}]}).encode()),  # an object
        b64(json.dumps({**data, "key": [*key[:-1], float("nan")]}).encode()),  # NaN
        b64(json.dumps({**data, "key": [*key[:-1], 1e400]}).encode()),  # Infinity
        b64(json.dumps({**data, "order": []}).encode()),
        b64(json.dumps({"v": 1, "offset": -1}).encode()),
        b64(json.dumps({"v": 1, "offset": MAX_OFFSET}).encode()),  # no row follows it
        b64(json.dumps({"v": 1, "offset": "3"}).encode()),
        b64(json.dumps([1, 2]).encode()),
        "A" * 60_000,  # fits a GraphQL body; ``MAX_CURSOR`` refuses longer ones unread
    ]


# == the cursor itself =========================================================================
KEYSETS = [
    Keyset((SortKey("seq", "seq"),)),
    Keyset((SortKey("a", "a"), SortKey("seq", "seq"))),
    Keyset((SortKey("a", "a", desc=True), SortKey("b", "b"), SortKey("seq", "seq"))),
    Keyset((SortKey("b", "b", desc=True), SortKey("seq", "seq", desc=True))),
]


@pytest.mark.parametrize(
    "key",
    [
        (0,),
        (-(2**63), 2**63 - 1),
        ("Győr, Ünnepi bolt ☃ \x00 \"'", 7),
        ("x" * 2048, 1.5, -0.0, 3),
        ("", 1),
    ],
)
def test_keyset_cursors_round_trip(key: tuple[Any, ...]) -> None:
    keyset = Keyset(tuple(SortKey(f"k{i}", f"k{i}", desc=i % 2 == 1) for i in range(len(key))))
    cursor = keyset.cursor(key)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    decoded = decode_cursor(cursor)
    assert decoded == Seek(tuple(t.signed for t in keyset.terms), key)
    page = Page.relay(5, cursor, seekable=True)
    assert page == Page(0, 5, decoded)
    assert isinstance(page.after, Seek)
    keyset.seek(page.after)  # the order it was made for takes it


@pytest.mark.parametrize("offset", [0, 1, 99, MAX_OFFSET - 1])
def test_offset_cursors_round_trip(offset: int) -> None:
    cursor = offset_cursor(offset)
    assert decode_cursor(cursor) == offset
    assert Page.relay(None, cursor) == Page(offset + 1, 100)
    assert Page.relay(None, cursor, seekable=True) == Page(offset + 1, 100)


def test_garbage_cursors_are_400_naming_after() -> None:
    valid = KEYSETS[2].cursor(("x", "y", 4))
    for cursor in [*garbage_cursors(valid), "A" * 70_000]:
        with pytest.raises(HubError) as caught:
            Page.relay(10, cursor, seekable=True)
        assert caught.value.status == 400 and caught.value.message.startswith("after: "), cursor
    # a keyset cursor where the list cannot seek, or was made for another order
    with pytest.raises(HubError, match=r"^after: "):
        Page.relay(10, valid)
    with pytest.raises(HubError, match=r"^after: "):
        KEYSETS[1].seek(Page.relay(10, valid, seekable=True).after)  # type: ignore[arg-type]


def test_the_bounds_are_the_same_for_offset_limit_and_first_after() -> None:
    assert Page.of(None, None) == Page(0, 100) == Page.relay(None, None)
    assert Page.of(0, MAX_LIMIT) == Page.relay(MAX_LIMIT, None)
    assert Page.relay(0, "") == Page(0, 0)  # an empty cursor is the start, as it always was
    for offset, limit, named in [(-1, 1, "offset"), (0, MAX_LIMIT + 1, "limit"), (0, -1, "limit")]:
        with pytest.raises(HubError, match=rf"^{named}: must be between"):
            Page.of(offset, limit)
    for first in (-1, MAX_LIMIT + 1):
        with pytest.raises(HubError, match=r"^first: must be between 0 and 1000"):
            Page.relay(first, KEYSETS[0].cursor((3,)), seekable=True)
        with pytest.raises(HubError, match=r"^first: must be between 0 and 1000"):
            Page.relay(first, None)


@pytest.mark.parametrize("keyset", KEYSETS, ids=lambda k: ",".join(t.signed for t in k.terms))
def test_seek_conditions_walk_a_real_table_in_order(keyset: Keyset) -> None:
    """Every row's seek condition answers exactly the rows after it, in SQLite, for orders in
    one direction (a row value comparison) and mixed ones."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a INTEGER NOT NULL, b TEXT NOT NULL)")
    rows = [(a, b) for a, b in itertools.product((1, 2, 3), ("x", "y", "ä", ""))] * 2
    db.executemany("INSERT INTO t (a, b) VALUES (?, ?)", rows)
    ordered = db.execute(f"SELECT seq, {keyset.columns()} FROM t ORDER BY {keyset.order_by()}")
    everything = ordered.fetchall()
    for i, row in enumerate(everything):
        after = decode_cursor(keyset.cursor(row[1:]))
        assert isinstance(after, Seek)
        condition, params = keyset.seek(after)
        later = db.execute(
            f"SELECT seq FROM t WHERE {condition} ORDER BY {keyset.order_by()}", params
        ).fetchall()
        assert [r[0] for r in later] == [r[0] for r in everything[i + 1 :]]


# == a real hub =================================================================================
class Http:
    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)

    def call(
        self, method: str, path: str, authorization: str | None, body: Any = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Authorization": authorization} if authorization else {}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        assert response.status != 500, payload
        return response.status, json.loads(payload) if payload else None

    def graphql(self, query: str, authorization: str | None, **variables: Any) -> Any:
        status, body = self.call(
            "POST", "/graphql", authorization, {"query": query, "variables": variables}
        )
        assert status == 200, body
        return body


@pytest.fixture(scope="module")
def api(hub_process: HubProcess) -> Http:
    return Http(hub_process.http)


@pytest.fixture(scope="module")
def channel(hub_process: HubProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(hub_process.grpc) as opened:
        yield opened


@pytest.fixture(scope="module")
def keys(hub_process: HubProcess) -> dict[str, str]:
    """An ``Authorization`` value per list owner."""
    return {
        "era": f"Bearer {hub_process.creds('era')['token']}",
        "rop": f"Bearer {hub_process.creds('rop')['api_key']}",
        "monitorozas": "Bearer "
        + hub_process.creds("monitorozas", user="pager-" + uuid.uuid4().hex[:8], scopes="read")[
            "key"
        ],
        "admin": ADMIN,
    }


def era_page(api: Http, key: str, **variables: Any) -> dict[str, Any]:
    result = api.graphql(ERA_QUERY, key, **variables)
    assert "errors" not in result, result
    return result["data"]["era"]["integrationPoints"]  # type: ignore[no-any-return]


def create(api: Http, key: str, **fields: Any) -> str:
    status, body = api.call("POST", ERA_LIST, key, fields)
    assert status == 200, body
    return str(body["id"])


def walk(
    api: Http, key: str, order: list[dict[str, str]], kind: str, size: int, between: Any
) -> list[str]:
    """Every page of ``kind``'s channels by the cursors the hub answers; ``between(n)`` runs
    after page ``n``."""
    seen: list[str] = []
    after = None
    for n in itertools.count():
        page = era_page(api, key, f={"type": kind}, o=order, first=size, after=after)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
        between(n)
    raise AssertionError("unreachable")


ORDERS = {
    "creation": [],
    "code desc": [{"field": "code", "direction": "DESC"}],
    "title desc, code": [{"field": "opts.title", "direction": "DESC"}, {"field": "code"}],
    "issync, code desc": [{"field": "opts.issync"}, {"field": "code", "direction": "DESC"}],
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_keyset_pages_see_every_row_once_while_rows_are_inserted(
    api: Http, keys: dict[str, str], order: list[dict[str, str]]
) -> None:
    """Rows created between two pages, sorting both before and after the rows already read,
    never make the walk repeat or miss a row that was there from the start (an offset page
    repeats the last row of the previous page for each row inserted before it)."""
    kind = "walk-" + uuid.uuid4().hex
    original = [
        create(
            api,
            keys["era"],
            type=kind,
            code=f"{kind}-{i:02d}",
            opts={"title": str(i % 3), "issync": i % 2 == 0},
        )
        for i in range(23)
    ]
    added: list[str] = []

    def insert(n: int) -> None:  # one row sorting first, one sorting last, in either direction
        for code in (f"{kind}-!{n}", f"{kind}-~{n}"):
            added.append(create(api, keys["era"], type=kind, code=code, opts={"title": "1"}))

    seen = walk(api, keys["era"], order, kind, 4, insert)
    assert len(seen) == len(set(seen)), "a row was answered twice"
    assert set(original) <= set(seen), "a row that was there from the start was missed"
    assert set(seen) <= set(original) | set(added)
    everything = era_page(api, keys["era"], f={"type": kind}, o=order, first=1000)
    in_order = [e["node"]["id"] for e in everything["edges"]]
    assert seen == [i for i in in_order if i in set(seen)], "the walk left the list's order"


def test_an_era_cursor_keeps_its_order_and_filter_is_the_callers(
    api: Http, keys: dict[str, str]
) -> None:
    kind = "order-" + uuid.uuid4().hex
    for i in range(3):
        create(api, keys["era"], type=kind, code=f"{kind}-{i}")
    by_code = [{"field": "code", "direction": "DESC"}]
    first = era_page(api, keys["era"], f={"type": kind}, o=by_code, first=1)
    cursor = first["pageInfo"]["endCursor"]
    rest = era_page(api, keys["era"], f={"type": kind}, o=by_code, after=cursor)
    assert [e["node"]["code"] for e in rest["edges"]] == [f"{kind}-1", f"{kind}-0"]
    assert rest["totalCount"] == 3 and rest["pageInfo"]["hasNextPage"] is False
    # the cursor of one order given to another: a 400 naming after, never a wrong page
    result = api.graphql(ERA_QUERY, keys["era"], f={"type": kind}, after=cursor)
    (error,) = result["errors"]
    assert error["message"].startswith("after: ")
    assert error["extensions"] == {
        "code": "BAD_REQUEST",
        "plugin": "era",
        "status": 400,
        "reason": 1400,
    }
    # first: 0 is the count, and says whether a row follows
    empty = era_page(api, keys["era"], f={"type": kind}, o=by_code, first=0, after=cursor)
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True


def test_damaged_era_cursors_are_400_in_eras_graphql_shape(api: Http, keys: dict[str, str]) -> None:
    kind = "damaged-" + uuid.uuid4().hex
    for i in range(2):
        create(api, keys["era"], type=kind, code=f"{kind}-{i}")
    valid = era_page(api, keys["era"], f={"type": kind}, first=1)["pageInfo"]["endCursor"]
    for cursor in garbage_cursors(valid):
        result = api.graphql(ERA_QUERY, keys["era"], f={"type": kind}, after=cursor)
        (error,) = result["errors"]
        assert error["message"].startswith("after: "), (cursor, error)
        assert error["extensions"]["code"] == "BAD_REQUEST", cursor
        assert error["extensions"]["status"] == 400 and error["extensions"]["reason"] == 1400


# every GraphQL connection of every plugin: (owner, query with $first and $after)
CONNECTIONS = [
    ("era", "era", "era { integrationPoints(first: $first, after: $after) { totalCount } }"),
    ("unspot", "admin", "unspot { users(first: $first, after: $after) { totalCount } }"),
    ("rop", "rop", "rop { calls(first: $first, after: $after) { totalCount } }"),
    ("rop", "rop", "rop { managers(first: $first, after: $after) { totalCount } }"),
    ("rop", "admin", "rop { webhookDeliveries(first: $first, after: $after) { totalCount } }"),
    (
        "monitorozas",
        "monitorozas",
        "monitorozas { devices(first: $first, after: $after) { totalCount } }",
    ),
    (
        "monitorozas",
        "monitorozas",
        "monitorozas { blacklistMonitors(first: $first, after: $after) { totalCount } }",
    ),
    ("webim", "admin", "webim { accounts(first: $first, after: $after) { totalCount } }"),
    ("hub", "admin", "hub { credentials(first: $first, after: $after) { totalCount } }"),
]


@pytest.mark.parametrize("owner,key,field", CONNECTIONS, ids=[c[2][:30] for c in CONNECTIONS])
def test_every_graphql_connection_takes_the_bounds_and_refuses_foreign_cursors(
    api: Http, keys: dict[str, str], owner: str, key: str, field: str
) -> None:
    query = f"query($first: Int, $after: String) {{ {field} }}"
    ok = api.graphql(query, keys[key], first=MAX_LIMIT)
    assert "errors" not in ok, ok
    foreign = Keyset((SortKey("elsewhere", "elsewhere"),)).cursor((1,))  # no list's order
    cases: list[tuple[dict[str, Any], str]] = [
        ({"first": MAX_LIMIT + 1}, "first"),
        ({"first": -1}, "first"),
        ({"after": "garbage"}, "after"),
        ({"after": offset_cursor(MAX_OFFSET)}, "after"),
        ({"after": foreign}, "after"),
    ]
    for variables, named in cases:
        result = api.graphql(query, keys[key], **variables)
        (error,) = result["errors"]
        assert error["message"].startswith(f"{named}: "), (variables, error)
        extensions = error["extensions"]
        assert extensions["code"] == "BAD_REQUEST" and extensions["status"] == 400
        if owner != "hub":
            assert extensions["plugin"] == owner, extensions


# every REST list that pages: (path, key, how the plugin's body names the problem)
def era_shape(body: Any) -> str:
    assert list(body) == ["error_code", "error_message"] and body["error_code"] == 1400, body
    return str(body["error_message"])


def monitorozas_shape(body: Any) -> str:
    assert body["success"] is False and body["error"] == "invalid_field", body
    return str(body["message"])


REST_LISTS = [
    (ERA_LIST, "era", era_shape),
    ("/monitorozas/api/v1/devices", "monitorozas", monitorozas_shape),
    ("/monitorozas/api/v1/blacklist-monitors", "monitorozas", monitorozas_shape),
]


@pytest.mark.parametrize("path,key,shape", REST_LISTS, ids=[r[0] for r in REST_LISTS])
def test_every_rest_list_takes_the_same_bounds(
    api: Http, keys: dict[str, str], path: str, key: str, shape: Any
) -> None:
    for query in ("offset=0&limit=1000", f"offset={MAX_OFFSET}&limit=0"):
        status, body = api.call("GET", f"{path}?{query}", keys[key])
        assert status == 200, (query, body)
    for query, named in [
        ("offset=-1", "offset"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("offset=-1&limit=1001", "offset"),
    ]:
        status, body = api.call("GET", f"{path}?{query}", keys[key])
        assert status == 400, (query, body)
        assert shape(body).startswith(f"{named}: "), (query, body)


# every gRPC list: (stub, method, request type, key, plugin named in the trailers)
GRPC_LISTS = [
    (era_pb2_grpc.EraStub, "List", era_pb2.ListRequest, "era", "era"),
    (unspot_pb2_grpc.UnspotStub, "ListUsers", unspot_pb2.ListUsersRequest, "admin", "unspot"),
    (rop_pb2_grpc.RopStub, "ListCalls", rop_pb2.ListCallsRequest, "rop", "rop"),
    (rop_pb2_grpc.RopStub, "ListManagers", rop_pb2.ListManagersRequest, "rop", "rop"),
    (
        rop_pb2_grpc.RopStub,
        "ListWebhookDeliveries",
        rop_pb2.ListWebhookDeliveriesRequest,
        "admin",
        "rop",
    ),
    (
        monitorozas_pb2_grpc.MonitorozasStub,
        "ListDevices",
        monitorozas_pb2.ListRequest,
        "monitorozas",
        "monitorozas",
    ),
    (
        monitorozas_pb2_grpc.MonitorozasStub,
        "ListBlacklistMonitors",
        monitorozas_pb2.ListRequest,
        "monitorozas",
        "monitorozas",
    ),
    (hub_pb2_grpc.HubStub, "ListCredentials", hub_pb2.ListCredentialsRequest, "admin", None),
]


@pytest.mark.parametrize(
    "stub,method,request_type,key,plugin", GRPC_LISTS, ids=[g[1] for g in GRPC_LISTS]
)
def test_every_grpc_list_takes_the_same_bounds(
    channel: grpc.Channel,
    keys: dict[str, str],
    stub: Any,
    method: str,
    request_type: Any,
    key: str,
    plugin: str | None,
) -> None:
    call = getattr(stub(channel), method)
    metadata = (("authorization", keys[key]),)
    call(request_type(offset=0, limit=MAX_LIMIT), metadata=metadata, timeout=10)
    call(request_type(offset=2**31 - 1, limit=0), metadata=metadata, timeout=10)
    for fields, named in [
        ({"offset": -1}, "offset"),
        ({"limit": MAX_LIMIT + 1}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": -1, "limit": MAX_LIMIT + 1}, "offset"),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            call(request_type(**fields), metadata=metadata, timeout=10)
        error: Any = caught.value
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, fields)
        assert error.details().startswith(f"{named}: "), (method, error.details())
        trailers = dict(error.trailing_metadata())
        assert trailers["hub-status"] == "400"
        if plugin is not None:
            assert trailers["hub-plugin"] == plugin, trailers


def test_a_devices_history_takes_the_same_limit(
    api: Http, channel: grpc.Channel, keys: dict[str, str], hub_process: HubProcess
) -> None:
    user = "hist-" + uuid.uuid4().hex[:8]
    owner = hub_process.creds("monitorozas", user=user, scopes="read,write")
    key = f"Bearer {owner['key']}"
    status, body = api.call(
        "POST",
        "/monitorozas/api/v1/devices/create",
        key,
        {"target_type": "ip", "target_value": "192.0.2.10", "service_type": "ssh"},
    )
    assert status == 201, body
    stub = monitorozas_pb2_grpc.MonitorozasStub(channel)
    request = monitorozas_pb2.HistoryRequest(id=body["data"]["id"], limit=MAX_LIMIT + 1)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetDeviceHistory(request, metadata=(("authorization", key),), timeout=10)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("limit: ")
