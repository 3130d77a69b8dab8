"""The monitor really checks: a real hub on loopback checks real servers the test starts
(HTTP, HTTPS with a test CA, bad certificates, an origin behind a proxy, banners, a hanging
server, a closed port) and a real DNS server for the DNSBL look-ups. Interval 1 s; each status
must appear within two intervals (plus the check timeout for the ones that time out)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import grpc
import pytest
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.monitorozas_fixtures import api_fixture, checking_hub_fixture, targets_fixture
from tests.monitorozas_support import (
    LISTED_IPV6,
    ORIGIN_NAME,
    Api,
    Targets,
    has_ipv6_loopback,
    wait_for,
)

INTERVAL = 1.0
TIMEOUT = 1.5
DEADLINE = 2 * INTERVAL + TIMEOUT + 1.0  # two intervals, the check's own timeout, slack


targets = targets_fixture()
hub = checking_hub_fixture(
    "checks-hub",
    HUB_MONITOROZAS_HISTORY_SIZE="3",
    HUB_MONITOROZAS_RATE_LIMIT="100000",
    HUB_MONITOROZAS_CONCURRENCY="4",
)
api = api_fixture()


@pytest.fixture(scope="module")
def key(hub: HubProcess) -> str:
    return str(hub.creds("monitorozas", user="checker", scopes="read,write")["key"])


def create(api: Api, key: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, answer = api.call("POST", "/devices/create", key, body)
    assert status == 201, answer
    return answer["data"]  # type: ignore[no-any-return]


def device(api: Api, key: str, ident: int) -> dict[str, Any]:
    status, _, answer = api.call("GET", "/devices", key)
    assert status == 200
    return next(d for d in answer["data"] if d["id"] == ident)


def settle(api: Api, key: str, ident: int, status: str) -> dict[str, Any]:
    """The device once its last check gave ``status``."""
    return wait_for(  # type: ignore[no-any-return]
        lambda: (d := device(api, key, ident))["last_status"] == status and d,
        DEADLINE,
        f"device {ident} did not become {status}",
    )


def web(targets: Targets, server: str, **fields: Any) -> dict[str, Any]:
    """A web device on the ``server`` of ``targets``, at a loopback address no device uses yet
    (the duplicate rule)."""
    port = targets.ports[server]
    body = {
        "target_type": "ip",
        "target_value": targets.address(port),
        "service_type": "web",
        "scheme": "http",
        "port": port,
    }
    body.update(fields)
    return body


def test_http_status_with_host_header(api: Api, key: str, targets: Targets) -> None:
    up = create(api, key, web(targets, "http", host_header="status.example.hu"))
    assert up["last_status"] == "unknown" and up["check_public_http"] == 1
    wrong = create(api, key, web(targets, "http_503"))
    expected = create(
        api,
        key,
        web(targets, "http_503", expect_status=503, host_header="other.example.hu"),
    )
    checked = settle(api, key, up["id"], "up")
    assert checked["last_error"] is None and isinstance(checked["last_response_ms"], int)
    assert checked["last_check_at"] is not None
    # Host is host[:port]: this server is not on port 80, so the port is named (was dropped)
    assert f"status.example.hu:{targets.ports['http']}" in targets.hosts_seen["http"]
    assert "status.example.hu" not in targets.hosts_seen["http"]
    assert settle(api, key, wrong["id"], "down")["last_error"] == (
        "public_http: HTTP 503, expected 200"
    )
    settle(api, key, expected["id"], "up")


def test_https_and_tls_with_the_test_ca(api: Api, key: str, targets: Targets) -> None:
    good = create(
        api,
        key,
        {
            "target_type": "domain",
            "target_value": "localhost",
            "service_type": "web",
            "scheme": "https",
            "port": targets.ports["https"],
            "check_public_https": 1,
            "check_public_tls": 1,
        },
    )
    checked = settle(api, key, good["id"], "up")
    expires = datetime.strptime(checked["tls_expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=UTC) > datetime.now(UTC)


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_host_header_of_an_ipv6_target_is_bracketed(api: Api, key: str, targets: Targets) -> None:
    """Was ``Host: ::1``: an IPv6 literal in a Host header goes in brackets."""
    port = targets.ports["http6"]
    six = create(
        api,
        key,
        {
            "target_type": "ip",
            "target_value": "::1",
            "service_type": "web",
            "scheme": "http",
            "port": port,
        },
    )
    settle(api, key, six["id"], "up")
    assert targets.hosts_seen["http6"] and set(targets.hosts_seen["http6"]) == {f"[::1]:{port}"}


def test_host_header_leaves_out_only_the_schemes_default_port() -> None:
    from hub_monitorozas.checks import host_header

    assert host_header("example.hu", 80, tls=False) == "example.hu"
    assert host_header("example.hu", 443, tls=True) == "example.hu"
    assert host_header("example.hu", 443, tls=False) == "example.hu:443"
    assert host_header("example.hu", 80, tls=True) == "example.hu:80"
    assert host_header("2001:db8::1", 443, tls=True) == "[2001:db8::1]"
    assert host_header("::1", 8443, tls=True) == "[::1]:8443"


@pytest.mark.parametrize(
    ("server", "complaint"),
    [
        ("https_wrong_name", "certificate verification failed: Hostname mismatch"),
        ("https_expired", "certificate verification failed: certificate has expired"),
    ],
)
def test_bad_certificates_are_down(
    api: Api, key: str, targets: Targets, server: str, complaint: str
) -> None:
    bad = create(
        api,
        key,
        {
            "target_type": "domain",
            "target_value": "localhost",
            "service_type": "web",
            "scheme": "https",
            "port": targets.ports[server],
            "check_public_tls": 1,
            "check_public_https": 1,
        },
    )
    checked = settle(api, key, bad["id"], "down")
    assert f"public_https: {complaint}" in checked["last_error"]
    assert f"public_tls: {complaint}" in checked["last_error"]
    # the expiry the server presented is recorded although verification failed (was null)
    assert checked["tls_expires_at"] is not None
    expires = datetime.strptime(checked["tls_expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if server == "https_expired":  # it ended yesterday
        assert datetime.now(UTC) - timedelta(days=2) < expires < datetime.now(UTC)
    else:
        assert expires > datetime.now(UTC)
    history = api.call("GET", f"/devices/history?id={bad['id']}", key)[2]["data"]
    assert history[0]["tls_expires_at"] == checked["tls_expires_at"]


def test_origin_behind_a_proxy_gets_the_public_name(api: Api, key: str, targets: Targets) -> None:
    behind = {
        "target_type": "domain",
        "target_value": "localhost",
        "service_type": "web",
        "scheme": "http",
        "port": targets.ports["proxy"],
        "check_public_http": 1,
        "proxy_enabled": 1,
        "origin_host": "127.0.0.1",
        "origin_scheme": "https",
        "origin_port": targets.ports["origin"],
        "check_origin_http": 1,
        "check_origin_tls": 1,
    }
    good = create(api, key, {**behind, "host_header": ORIGIN_NAME})
    checked = settle(api, key, good["id"], "up")
    assert checked["tls_expires_at"] is not None  # the origin's certificate
    # the public name, with the port each request went to (neither is the scheme's default)
    assert f"{ORIGIN_NAME}:{targets.ports['origin']}" in targets.hosts_seen["origin"]
    assert f"{ORIGIN_NAME}:{targets.ports['proxy']}" in targets.hosts_seen["proxy"]
    # a public name the origin's certificate does not cover: the origin checks fail, not the proxy
    stranger = create(
        api,
        key,
        {
            **behind,
            "host_header": "other.site.test",
            "target_type": "ip",
            "target_value": targets.address(targets.ports["proxy"]),
        },
    )
    error = settle(api, key, stranger["id"], "down")["last_error"]
    assert "origin_tls: certificate verification failed" in error
    assert "origin_http: certificate verification failed" in error
    assert "public_http" not in error


def test_services_that_greet(api: Api, key: str, targets: Targets) -> None:
    ssh = create(
        api,
        key,
        {
            "target_type": "ip",
            "target_value": "127.0.0.1",
            "service_type": "ssh",
            "port": targets.ports["ssh"],
        },
    )
    smtp = create(
        api,
        key,
        {
            "target_type": "domain",
            "target_value": "localhost",
            "service_type": "smtp",
            "port": targets.ports["smtp"],
        },
    )
    impostor = create(
        api,
        key,
        {
            "target_type": "ip",
            "target_value": targets.address(targets.ports["not_ssh"]),
            "service_type": "ssh",
            "port": targets.ports["not_ssh"],
        },
    )
    plain = create(
        api,
        key,
        {
            "target_type": "ip",
            "target_value": targets.address(targets.ports["not_ssh"]),
            "service_type": "tcp",
            "port": targets.ports["not_ssh"],
        },
    )
    settle(api, key, ssh["id"], "up")
    settle(api, key, smtp["id"], "up")
    settle(api, key, plain["id"], "up")
    error = settle(api, key, impostor["id"], "down")["last_error"]
    assert error.startswith("ssh: unexpected greeting") and "expected SSH-" in error


def test_hanging_and_closed_targets_do_not_hold_up_the_others(
    api: Api, key: str, targets: Targets
) -> None:
    # more hanging devices than the hub's concurrency (4): the good one still gets its turn
    hanging = [
        create(
            api,
            key,
            {
                "target_type": "ip",
                "target_value": targets.address(targets.ports["hang"]),
                "service_type": "tcp" if i else "ssh",
                "port": targets.ports["hang"],
                "location": f"hang {i}",
            },
        )
        for i in range(5)
    ]
    closed = create(api, key, web(targets, "closed"))
    good = create(api, key, web(targets, "http", host_header="after.example.hu"))
    settle(api, key, good["id"], "up")
    assert settle(api, key, closed["id"], "down")["last_error"] == (
        "public_http: connection refused"
    )
    # ssh waits for a greeting that never comes; a bare tcp check only needs the connect
    assert settle(api, key, hanging[0]["id"], "down")["last_error"] == "ssh: timed out"
    assert settle(api, key, hanging[1]["id"], "up")["last_error"] is None
    for item in hanging:
        assert api.call("DELETE", f"/devices/delete?id={item['id']}", key)[0] == 200


def test_history_is_bounded_and_newest_first(api: Api, key: str, targets: Targets) -> None:
    item = create(api, key, web(targets, "http"))
    disabled = create(api, key, web(targets, "http", host_header="off.example.hu", is_enabled=0))

    def full() -> Any:
        status, _, answer = api.call("GET", f"/devices/history?id={item['id']}", key)
        assert status == 200
        return len(answer["data"]) == 3 and answer["data"]

    history = wait_for(full, 3 * INTERVAL + DEADLINE, "the history never held 3 results")
    assert [h["status"] for h in history] == ["up"] * 3
    assert history[0]["checked_at"] >= history[-1]["checked_at"]
    assert history[0]["checks"] == [{"check": "public_http", "ok": True, "error": None}]
    assert device(api, key, disabled["id"])["last_status"] == "unknown"  # never checked
    _status, _, again = api.call("GET", f"/devices/history?id={item['id']}", key)
    assert len(again["data"]) == 3


def test_check_now_over_rest_graphql_and_grpc(
    api: Api, hub: HubProcess, key: str, targets: Targets
) -> None:
    item = create(api, key, web(targets, "http_503", is_enabled=0))
    status, _, answer = api.call("POST", f"/devices/check-now?id={item['id']}", key)
    assert status == 200 and answer["data"]["last_status"] == "down"
    assert answer["data"]["last_error"] == "public_http: HTTP 503, expected 200"
    result = api.graphql(
        "mutation($id: Int!) { monitorozasCheckNow(deviceId: $id) { lastStatus lastCheckAt"
        " history { status } } }",
        key,
        {"id": item["id"]},
    )
    checked = result["data"]["monitorozasCheckNow"]
    assert checked["lastStatus"] == "down" and len(checked["history"]) == 2
    # GetDeviceHistory of a checked device: was INTERNAL under protobuf 7 (FieldDescriptor.label)
    rest = api.call("GET", f"/devices/history?id={item['id']}", key)[2]["data"]
    metadata = (("authorization", f"Bearer {key}"),)
    with grpc.insecure_channel(hub.grpc) as channel:
        stub = monitorozas_pb2_grpc.MonitorozasStub(channel)
        answer = stub.GetDeviceHistory(pb.HistoryRequest(id=item["id"]), metadata=metadata)
        one = stub.GetDeviceHistory(pb.HistoryRequest(id=item["id"], limit=1), metadata=metadata)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetDeviceHistory(pb.HistoryRequest(id=item["id"], limit=-1), metadata=metadata)
    assert [(r.checked_at, r.status, r.error) for r in answer.results] == [
        (h["checked_at"], h["status"], h["error"]) for h in rest
    ]
    assert [[(c.check, c.ok, c.error) for c in r.checks] for r in answer.results] == [
        [("public_http", False, "HTTP 503, expected 200")]
    ] * 2
    assert len(one.results) == 1
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("target_type", "value", "status", "listings", "complaint"),
    [
        ("ip", "127.0.0.2", "listed", [("bl.test", ["127.0.0.2"])], None),
        ("ip", LISTED_IPV6, "listed", [("bl2.test", ["127.0.0.2"])], None),
        ("domain", "spam.example.hu", "listed", [("dbl.test", ["127.0.0.2"])], None),
        ("ip", "1.2.3.4", "clean", [], None),
        ("domain", "tiszta.example.hu", "clean", [], None),
        ("ip", "192.0.2.99", "error", [], "bl.test: no name server answered"),
        # several listing codes are kept, in order
        ("ip", "192.0.2.12", "listed", [("bl.test", ["127.0.0.4", "127.0.0.10"])], None),
        # refusal codes and answers that are not listing codes are errors, not listings
        (
            "ip",
            "192.0.2.13",
            "error",
            [],
            "bl.test: query refused: public or open resolver (127.255.255.254)",
        ),
        (
            "ip",
            "192.0.2.14",
            "error",
            [],
            "bl.test: query refused: typing error in the zone name (127.255.255.252)",
        ),
        (
            "ip",
            "192.0.2.15",
            "error",
            [],
            "bl.test: query refused: excessive number of queries (127.255.255.255)",
        ),
        (
            "ip",
            "192.0.2.16",
            "error",
            [],
            "bl.test: answered 10.0.0.1, not a listing code (127.0.0.2-127.255.255.251)",
        ),
        ("ip", "192.0.2.17", "error", [], "bl.test: query refused: blocked resolver (127.0.0.1)"),
    ],
)
def test_dnsbl_look_ups(
    api: Api,
    hub: HubProcess,
    key: str,
    targets: Targets,
    target_type: str,
    value: str,
    status: str,
    listings: list[tuple[str, list[str]]],
    complaint: str | None,
) -> None:
    code, _, answer = api.call(
        "POST",
        "/blacklist-monitors/create",
        key,
        {"target_type": target_type, "target_value": value},
    )
    assert code == 201 and answer["data"]["last_status"] == "unknown"
    assert answer["data"]["listings"] == []
    ident = answer["data"]["id"]

    def verdict() -> Any:
        monitors = api.call("GET", "/blacklist-monitors", key)[2]["data"]
        found = next(m for m in monitors if m["id"] == ident)
        return found["last_status"] != "unknown" and found

    found = wait_for(verdict, DEADLINE, f"{value} was never looked up")
    zones = [zone for zone, _ in listings]
    assert (found["last_status"], found["listed_on"]) == (status, zones)
    assert found["listings"] == [{"zone": zone, "codes": codes} for zone, codes in listings]
    if complaint:
        assert complaint in found["last_error"]
    if target_type == "ip" and ":" in value:
        nibbles = ".".join(reversed(ipaddress.ip_address(value).exploded.replace(":", "")))
        assert f"{nibbles}.bl.test" in targets.dns_queries
    elif target_type == "ip":
        assert ".".join(reversed(value.split("."))) + ".bl2.test" in targets.dns_queries
    else:
        assert f"{value}.dbl.test" in targets.dns_queries
    # the same listings over GraphQL and gRPC
    result = api.graphql(
        "query($id: Int!) { monitorozas { blacklistMonitor(id: $id)"
        " { listedOn listings { zone codes } } } }",
        key,
        {"id": ident},
    )
    assert result["data"]["monitorozas"]["blacklistMonitor"] == {
        "listedOn": zones,
        "listings": found["listings"],
    }
    with grpc.insecure_channel(hub.grpc) as channel:
        monitor = monitorozas_pb2_grpc.MonitorozasStub(channel).GetBlacklistMonitor(
            pb.IdRequest(id=ident), metadata=(("authorization", f"Bearer {key}"),)
        )
    assert [(item.zone, list(item.codes)) for item in monitor.listings] == listings


def test_scheduler_runs_through_the_hosts_timers_and_queue(hub: HubProcess) -> None:
    with urllib.request.urlopen(hub.url + "/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'hub_queue_depth{queue="monitorozas.checks"}' in metrics
    runs = [
        line
        for line in metrics.splitlines()
        if line.startswith("hub_timer_runs_total") and "monitorozas.scheduler" in line
    ]
    assert runs and float(runs[0].split()[-1]) > 1


async def test_status_change_subscription(hub: HubProcess, key: str, targets: Targets) -> None:
    api = Api(hub.http)
    other = hub.creds("monitorozas", user="someone-else", scopes="read,write")["key"]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(hub.url + "/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        )
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": (
                        "subscription { monitorozasDeviceStatusChanged { previousStatus"
                        " device { id lastStatus userId } } }"
                    )
                },
            }
        )
        await asyncio.to_thread(
            wait_for,
            lambda: "status subscribers: 1" in _readiness(hub),
            10,
            "the subscription never registered",
        )
        # another user's device changes first: this subscriber must not see it
        await asyncio.to_thread(
            create, api, other, web(targets, "http", host_header="theirs.example.hu")
        )
        mine = await asyncio.to_thread(
            create, api, key, web(targets, "http", host_header="mine.example.hu")
        )
        message = await ws.receive_json(timeout=DEADLINE + 5)
        assert message["type"] == "next", message
        change = message["payload"]["data"]["monitorozasDeviceStatusChanged"]
        assert change == {
            "previousStatus": "unknown",
            "device": {"id": mine["id"], "lastStatus": "up", "userId": mine["user_id"]},
        }


def test_status_change_stream_over_grpc(hub: HubProcess, key: str, targets: Targets) -> None:
    api = Api(hub.http)
    with grpc.insecure_channel(hub.grpc) as channel:
        stub = monitorozas_pb2_grpc.MonitorozasStub(channel)
        stream = stub.WatchDeviceStatus(
            pb.WatchRequest(), metadata=(("authorization", f"Bearer {key}"),), timeout=30
        )
        wait_for(
            lambda: "status subscribers: 1" in _readiness(hub),
            10,
            "the gRPC stream never subscribed",
        )
        mine = create(api, key, web(targets, "http_503", location="grpc stream"))
        change = next(stream)
        stream.cancel()
    assert (change.device.id, change.previous_status) == (mine["id"], "unknown")
    assert change.device.last_status == "down"
    assert change.device.last_error == "public_http: HTTP 503, expected 200"


def _credential_ids(hub: HubProcess) -> set[str]:
    return {c["id"] for c in json.loads(hub.cli("creds", "list", "monitorozas").stdout)}


def test_a_stream_ends_at_its_next_change_once_its_key_is_revoked(
    hub: HubProcess, targets: Targets
) -> None:
    api = Api(hub.http)
    before = _credential_ids(hub)
    watcher = hub.creds("monitorozas", user="watcher", scopes="read")["key"]
    (watcher_id,) = _credential_ids(hub) - before
    writer = hub.creds("monitorozas", user="watcher", scopes="read,write")["key"]  # same user
    with grpc.insecure_channel(hub.grpc) as channel:
        stub = monitorozas_pb2_grpc.MonitorozasStub(channel)
        stream = stub.WatchDeviceStatus(
            pb.WatchRequest(), metadata=(("authorization", f"Bearer {watcher}"),), timeout=30
        )
        wait_for(lambda: "status subscribers: 1" in _readiness(hub), 10, "never subscribed")
        first = create(api, writer, web(targets, "http", location="while the key is live"))
        assert next(stream).device.id == first["id"]
        hub.cli("creds", "revoke", "monitorozas", watcher_id)
        second = create(api, writer, web(targets, "http", location="after the revocation"))
        with pytest.raises(grpc.RpcError) as ended:
            for change in stream:  # anything but the revoked key's error fails the test
                assert change.device.id != second["id"]
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED, ended.value
    wait_for(lambda: "status subscribers: 0" in _readiness(hub), 10, "the stream outlived its key")


def _readiness(hub: HubProcess) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # the subscriber count is a probe detail
    asked = urllib.request.Request(hub.url + "/readyz", headers=admin)
    with urllib.request.urlopen(asked, timeout=10) as resp:
        return json.dumps(json.loads(resp.read()))


def test_admin_sees_every_users_devices(api: Api, hub: HubProcess) -> None:
    status, _, answer = api.call("GET", "/devices", ADMIN_TOKEN)
    assert status == 200
    assert len({d["user_id"] for d in answer["data"]}) >= 1
