"""monitorozas' GraphQL and gRPC lists hand their stored rows over as they are: each row is
rendered once (per selection, per message type) and the rendering reused while the row's
stored JSON stays the same. Answers must be what REST's rows say, asked once or again, and a
row changed by a check (check-now, a DNSBL round) must show in the very next list."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc

from hub.paging import Seek, decode_cursor
from tests.monitorozas_fixtures import (
    api_fixture,
    checking_hub_fixture,
    stub_fixture,
    targets_fixture,
)
from tests.monitorozas_support import Api, Targets, issue, wait_for

# every device field, REST's names, in the record's order
DEVICE = [
    "id",
    "user_id",
    "target_type",
    "target_value",
    "service_type",
    "scheme",
    "port",
    "host_header",
    "proxy_enabled",
    "origin_host",
    "origin_scheme",
    "origin_port",
    "check_public_http",
    "check_public_https",
    "check_public_tls",
    "check_origin_http",
    "check_origin_tls",
    "expect_status",
    "location",
    "is_enabled",
    "last_status",
    "last_check_at",
    "last_response_ms",
    "last_error",
    "tls_expires_at",
    "created_at",
    "updated_at",
]
MONITOR = [
    "id",
    "user_id",
    "target_type",
    "target_value",
    "is_enabled",
    "last_status",
    "last_check_at",
    "listed_on",
    "listings",
    "last_error",
    "created_at",
    "updated_at",
]
FLAGS = {name for name in DEVICE if name.startswith(("check_", "is_", "proxy_"))}
ROUND = 1.0  # seconds between two DNSBL rounds of a monitor (and two checks of a device)

targets = targets_fixture()
hub = checking_hub_fixture("stored-hub", HUB_MONITOROZAS_RATE_LIMIT="100000")
api = api_fixture()
stub = stub_fixture()

USERS = itertools.count(1)


@pytest.fixture
def key(api: Api) -> str:
    """A user of the test's own, so its lists hold only the rows it made."""
    return str(issue(api, user=f"user{next(USERS)}", scopes="read,write")["key"])


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def shown(row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """A REST row's fields as GraphQL shows them, in the selection's order."""
    return {camel(n): bool(row[n]) if n in FLAGS else row[n] for n in names}


def rest(api: Api, key: str, path: str) -> list[dict[str, Any]]:
    status, _, body = api.call("GET", path, key)
    assert status == 200, body
    return body["data"]  # type: ignore[no-any-return]


def create(api: Api, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, answer = api.call("POST", f"{path}/create", key, body)
    assert status == 201, answer
    return answer["data"]  # type: ignore[no-any-return]


def graphql(api: Api, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    result = api.graphql(query, key, variables)
    assert "errors" not in result, result
    return result["data"]["monitorozas"]


def settled(read: Callable[[], Any], rows: Callable[[], list[dict[str, Any]]]) -> Any:
    """``read()`` (GraphQL answers) with the REST rows it was read between, unchanged: a check
    that lands in between is read again."""
    for _ in range(20):
        before = rows()
        answers = read()
        if rows() == before:
            return before, answers
    raise AssertionError("the rows kept changing")


# -- answers are REST's rows, the first time and from the renderings -----------------------------
DEVICE_SELECTIONS: list[tuple[str, Callable[[list[dict[str, Any]]], Any]]] = [
    (
        "{ nodes { id targetValue lastStatus } }",
        lambda rows: {"nodes": [shown(r, ["id", "target_value", "last_status"]) for r in rows]},
    ),
    (
        "{ totalCount nodes { " + " ".join(map(camel, DEVICE)) + " } }",
        lambda rows: {"totalCount": len(rows), "nodes": [shown(r, DEVICE) for r in rows]},
    ),
    (  # aliases, fragments and __typename inside the kept rendering
        "{ edges { node { __typename k: id ...D port } } }"
        " fragment D on MonitorozasDevice { isEnabled lastError lastCheckAt }",
        lambda rows: {
            "edges": [
                {
                    "node": {
                        "__typename": "MonitorozasDevice",
                        "k": r["id"],
                        **shown(r, ["is_enabled", "last_error", "last_check_at", "port"]),
                    }
                }
                for r in rows
            ]
        },
    ),
]


def device_bodies(targets: Targets) -> list[dict[str, Any]]:
    """Devices of every shape, none enabled: only check-now changes them."""
    port = targets.ports["http_503"]
    return [
        {
            "target_type": "ip",
            "target_value": targets.address(port),
            "service_type": "web",
            "scheme": "http",
            "port": port,
            "host_header": "status.example.hu",
            "is_enabled": 0,
        },
        {
            "target_type": "domain",
            "target_value": "localhost",
            "service_type": "web",
            "scheme": "http",
            "port": targets.ports["proxy"],
            "proxy_enabled": 1,
            "origin_host": "127.0.0.1",
            "origin_scheme": "https",
            "origin_port": targets.ports["origin"],
            "check_origin_http": 1,
            "check_origin_tls": 1,
            "location": "Ügyfél, Budapest",
            "is_enabled": 0,
        },
        {
            "target_type": "ip",
            "target_value": "127.0.0.1",
            "service_type": "ssh",
            "port": targets.ports["ssh"],
            "is_enabled": 0,
        },
    ]


def check_now(api: Api, key: str, ident: int) -> dict[str, Any]:
    status, _, answer = api.call("POST", f"/devices/check-now?id={ident}", key)
    assert status == 200, answer
    return answer["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("selection", "expected"), DEVICE_SELECTIONS)
def test_device_lists_answer_as_rest_and_again(
    api: Api, key: str, targets: Targets, selection: str, expected: Any
) -> None:
    made = [create(api, key, "/devices", body) for body in device_bodies(targets)]
    check_now(api, key, made[0]["id"])  # a checked row too: its last_* fields are set
    head, _, fragment = selection.partition(" fragment ")
    query = f"{{ monitorozas {{ devices {head} }} }}" + (
        f" fragment {fragment}" if fragment else ""
    )
    for _ in range(3):  # rendered, then from the kept renderings
        answer = api.call("POST", "/graphql", key, {"query": query})[2]
        rows = rest(api, key, "/devices")
        # the same JSON text, keys in the selection's order
        assert json.dumps(answer) == json.dumps(
            {"data": {"monitorozas": {"devices": expected(rows)}}}
        )


def test_device_pages_with_cursors_answer_as_rest_and_again(
    api: Api, key: str, targets: Targets
) -> None:
    for body in device_bodies(targets):
        create(api, key, "/devices", body)
    rows = rest(api, key, "/devices")
    query = (
        "query($after: String) { monitorozas { devices(first: 2, after: $after) { totalCount"
        " pageInfo { hasNextPage endCursor } edges { cursor node { id location originPort } } }"
        " } }"
    )
    for _ in range(2):
        first = graphql(api, key, query)["devices"]
        assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
        assert [e["node"] for e in first["edges"]] == [
            shown(r, ["id", "location", "origin_port"]) for r in rows[:2]
        ]
        cursors = [decode_cursor(e["cursor"]) for e in first["edges"]]
        assert cursors == [Seek(("id",), (r["id"],)) for r in rows[:2]]
        rest_page = graphql(api, key, query, {"after": first["pageInfo"]["endCursor"]})["devices"]
        assert rest_page["pageInfo"]["hasNextPage"] is False
        assert [e["node"]["id"] for e in rest_page["edges"]] == [rows[2]["id"]]


MONITOR_SELECTIONS: list[tuple[str, Callable[[list[dict[str, Any]]], Any]]] = [
    (
        "{ nodes { id targetValue lastStatus listedOn } }",
        lambda rows: {
            "nodes": [shown(r, ["id", "target_value", "last_status", "listed_on"]) for r in rows]
        },
    ),
    (
        "{ totalCount pageInfo { hasNextPage } nodes { "
        + " ".join(camel(n) for n in MONITOR if n != "listings")
        + " listings { zone codes } } }",
        lambda rows: {
            "totalCount": len(rows),
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                shown(r, [*(n for n in MONITOR if n != "listings"), "listings"]) for r in rows
            ],
        },
    ),
    (
        "{ edges { node { __typename listings { codes z: zone } id } } }",
        lambda rows: {
            "edges": [
                {
                    "node": {
                        "__typename": "MonitorozasBlacklistMonitor",
                        "listings": [{"codes": i["codes"], "z": i["zone"]} for i in r["listings"]],
                        "id": r["id"],
                    }
                }
                for r in rows
            ]
        },
    ),
]


@pytest.mark.parametrize(("selection", "expected"), MONITOR_SELECTIONS)
def test_blacklist_monitor_lists_answer_as_rest_and_again(
    api: Api, key: str, selection: str, expected: Any
) -> None:
    listed = create(
        api, key, "/blacklist-monitors", {"target_type": "ip", "target_value": "192.0.2.12"}
    )
    create(
        api,
        key,
        "/blacklist-monitors",
        {"target_type": "domain", "target_value": "pelda.hu", "is_enabled": 0},
    )

    def looked_up() -> bool:
        rows = rest(api, key, "/blacklist-monitors")
        return next(r for r in rows if r["id"] == listed["id"])["last_status"] == "listed"

    wait_for(looked_up, 5 * ROUND, "the monitor was never looked up")
    query = f"{{ monitorozas {{ blacklistMonitors {selection} }} }}"

    def twice() -> list[Any]:
        return [api.call("POST", "/graphql", key, {"query": query})[2] for _ in range(2)]

    for _ in range(2):
        rows, answers = settled(twice, lambda: rest(api, key, "/blacklist-monitors"))
        assert rows[0]["listings"] == [{"zone": "bl.test", "codes": ["127.0.0.4", "127.0.0.10"]}]
        for answer in answers:
            want = {"data": {"monitorozas": {"blacklistMonitors": expected(rows)}}}
            assert json.dumps(answer) == json.dumps(want)


# -- a changed row shows in the next list ---------------------------------------------------------
CHANGING = "id lastStatus lastCheckAt lastResponseMs lastError updatedAt"


def test_a_checked_device_shows_in_the_next_list(
    api: Api, key: str, targets: Targets, stub: monitorozas_pb2_grpc.MonitorozasStub
) -> None:
    made = [create(api, key, "/devices", body) for body in device_bodies(targets)[:2]]
    names = ["id", "last_status", "last_check_at", "last_response_ms", "last_error", "updated_at"]
    queries = [
        f"{{ monitorozas {{ devices {{ nodes {{ {CHANGING} }} }} }} }}",
        f"{{ monitorozas {{ devices {{ edges {{ node {{ {CHANGING} }} }} }} }} }}",
    ]
    metadata = (("authorization", f"Bearer {key}"),)

    def answers() -> list[list[dict[str, Any]]]:
        nodes = graphql(api, key, queries[0])["devices"]["nodes"]
        edges = graphql(api, key, queries[1])["devices"]["edges"]
        return [nodes, [e["node"] for e in edges]]

    def same_everywhere(rows: list[dict[str, Any]]) -> None:
        for answer in answers():
            assert answer == [shown(r, names) for r in rows]
        listed = stub.ListDevices(pb.ListRequest(), metadata=metadata)
        assert [(d.id, d.last_status, d.last_error, d.last_check_at) for d in listed.devices] == [
            (r["id"], r["last_status"], r["last_error"] or "", r["last_check_at"] or "")
            for r in rows
        ]

    before = rest(api, key, "/devices")
    assert [r["last_status"] for r in before] == ["unknown", "unknown"]
    for _ in range(2):  # the renderings of the unchecked rows are kept
        same_everywhere(before)
    checked = check_now(api, key, made[0]["id"])
    assert checked["last_status"] == "down" and checked["last_error"]
    after = rest(api, key, "/devices")
    assert after[0]["last_status"] == "down" and after[1] == before[1]
    same_everywhere(after)
    time.sleep(1.1)  # instants are stored to the second: the next check's is another
    again = check_now(api, key, made[0]["id"])
    assert again["last_check_at"] != checked["last_check_at"]
    same_everywhere(rest(api, key, "/devices"))


def test_a_lists_history_is_read_every_time(api: Api, key: str, targets: Targets) -> None:
    """``history`` is a resolver: it is never part of a kept rendering, so results stored
    since the last list show even when the row itself reads the same."""
    made = create(api, key, "/devices", device_bodies(targets)[0])
    query = "{ monitorozas { devices { nodes { id lastStatus history { status error } } } } }"
    for count in range(3):
        nodes = graphql(api, key, query)["devices"]["nodes"]
        history = rest(api, key, f"/devices/history?id={made['id']}")
        assert len(history) == count
        assert nodes == [
            {
                "id": made["id"],
                "lastStatus": "unknown" if count == 0 else "down",
                "history": [{"status": h["status"], "error": h["error"]} for h in history],
            }
        ]
        check_now(api, key, made["id"])


def test_a_new_dnsbl_verdict_shows_in_the_next_list(
    api: Api, key: str, targets: Targets, stub: monitorozas_pb2_grpc.MonitorozasStub
) -> None:
    """A round that lists the address changes the row's status and listings: the next list
    shows them, over GraphQL and gRPC, though the renderings of its clean verdict are kept."""
    address = "192.0.2.60"
    made = create(api, key, "/blacklist-monitors", {"target_type": "ip", "target_value": address})
    query = (
        "{ monitorozas { blacklistMonitors { nodes { id lastStatus listedOn"
        " listings { zone codes } lastCheckAt } } } }"
    )
    names = ["id", "last_status", "listed_on", "listings", "last_check_at"]
    metadata = (("authorization", f"Bearer {key}"),)

    def rows() -> list[dict[str, Any]]:
        return rest(api, key, "/blacklist-monitors")

    def both() -> tuple[list[Any], list[Any]]:
        nodes = graphql(api, key, query)["blacklistMonitors"]["nodes"]
        listed = stub.ListBlacklistMonitors(pb.ListRequest(), metadata=metadata)
        grpc_rows = [
            (m.id, m.last_status, list(m.listed_on), [(i.zone, list(i.codes)) for i in m.listings])
            for m in listed.blacklist_monitors
        ]
        return nodes, grpc_rows

    def same_everywhere(status: str) -> None:
        found, (nodes, grpc_rows) = settled(both, rows)
        assert found[0]["last_status"] == status
        assert nodes == [shown(r, names) for r in found]
        assert grpc_rows == [
            (
                r["id"],
                r["last_status"],
                r["listed_on"],
                [(i["zone"], i["codes"]) for i in r["listings"]],
            )
            for r in found
        ]

    wait_for(lambda: rows()[0]["last_status"] == "clean", 5 * ROUND, "never looked up")
    for _ in range(2):
        same_everywhere("clean")
    targets.listed.add(".".join(reversed(address.split("."))) + ".bl.test")
    try:
        wait_for(lambda: rows()[0]["last_status"] == "listed", 5 * ROUND, "never listed")
        same_everywhere("listed")
        assert rows()[0]["listings"] == [{"zone": "bl.test", "codes": ["127.0.0.2"]}]
    finally:
        api.call("DELETE", f"/blacklist-monitors/delete?id={made['id']}", key)
