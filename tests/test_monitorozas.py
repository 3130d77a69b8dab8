"""The monitorozas REST surface exactly as the seed documents it (the curl examples, the
envelope, every error code of its table), keys with scopes and IP allow-lists, per-user
isolation, the rate limit, and REST, GraphQL and gRPC side by side over one service."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc

from hub.storage import Engine
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.monitorozas_fixtures import api_fixture, hub_fixture, stub_fixture
from tests.monitorozas_support import Api, has_ipv6_loopback, issue

SEED_WEB = {
    "target_type": "domain",
    "target_value": "google.com",
    "service_type": "web",
    "scheme": "https",
    "check_public_https": 1,
    "check_public_tls": 1,
    "expect_status": 200,
    "location": "API teszt",
}
SEED_SSH = {
    "target_type": "domain",
    "target_value": "pelda.hu",
    "service_type": "ssh",
    "location": "SSH teszt",
}
SEED_DOMAIN_MONITOR = {"target_type": "domain", "target_value": "smtp1.pelda.hu", "is_enabled": 1}
SEED_IP_MONITOR = {"target_type": "ip", "target_value": "1.2.3.4", "is_enabled": 1}
QUIET = {  # nothing is checked during these tests: an hour between checks
    "HUB_MONITOROZAS_INTERVAL": "3600",
    "HUB_MONITOROZAS_BLACKLIST_INTERVAL": "3600",
}

hub = hub_fixture(
    "monitorozas",
    **QUIET,
    HUB_MONITOROZAS_TRUSTED_PROXIES="127.0.0.2",
    HUB_MONITOROZAS_RATE_LIMIT="100000",
    HUB_MONITOROZAS_MAX_BODY="4096",
)
api = api_fixture()
stub = stub_fixture()


@pytest.fixture(scope="module")
def alice(api: Api) -> str:
    return str(issue(api, user="alice", scopes="read,write")["key"])


@pytest.fixture(scope="module")
def alice_reader(api: Api) -> str:
    return str(issue(api, user="alice", scopes="read")["key"])


@pytest.fixture(scope="module")
def bob(api: Api) -> str:
    return str(issue(api, user="bob", scopes="write,read")["key"])


def md(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def expect_error(answer: tuple[int, dict[str, str], Any], status: int, code: str) -> str:
    got_status, headers, body = answer
    assert (got_status, body["error"]) == (status, code), body
    assert body["success"] is False and set(body) == {"success", "error", "message"}
    assert headers["Content-Type"].startswith("application/json")
    return str(body["message"])


def listing(api: Api, key: str, what: str = "devices") -> list[dict[str, Any]]:
    status, _, body = api.call("GET", f"/{what}", key)
    assert status == 200 and body["success"] is True
    return body["data"]  # type: ignore[no-any-return]


# -- keys ----------------------------------------------------------------------------------------
def test_creds_add_prints_the_key_and_reuses_the_user(hub: HubProcess) -> None:
    first = hub.creds("monitorozas", user="carol", scopes="read,write")
    assert set(first) == {"user_id", "key_id", "scopes", "key"}
    assert first["scopes"] == ["read", "write"] and len(first["key"]) == 64
    second = hub.creds("monitorozas", user="carol", scopes="read", allow_ips="10.0.0.0/8,::1")
    assert second["user_id"] == first["user_id"] and second["key_id"] == first["key_id"] + 1
    other = issue(Api(hub.http), user="dave", scopes="write")
    assert other["user_id"] != first["user_id"] and other["scopes"] == ["write"]
    done = hub.cli(
        "creds", "add", "monitorozas", "--param", "user=x", "--param", "scopes=admin", check=False
    )
    assert done.returncode != 0 and "scopes" in done.stderr + done.stdout
    for params, field in [
        ({"user": "x", "allow_ips": "not-an-ip"}, "allow_ips"),
        ({"scopes": "read"}, "user"),
        ({"user": "x", "colour": "red"}, "colour"),
    ]:
        with pytest.raises(ValueError, match=f"^{field}:"):
            issue(Api(hub.http), **params)


def test_seed_me(api: Api, hub: HubProcess) -> None:
    issued = issue(api, user="erin", scopes="read,write")
    status, headers, body = api.call("GET", "/me", issued["key"])
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body == {
        "success": True,
        "data": {
            "user_id": issued["user_id"],
            "key_id": issued["key_id"],
            "scopes": ["read", "write"],
        },
    }


# -- the seed's curl examples -------------------------------------------------------------------
def test_seed_device_examples(api: Api, alice: str) -> None:
    status, _, created = api.call("POST", "/devices/create", alice, SEED_WEB)
    assert status == 201 and created["success"] is True
    web = created["data"]
    assert {k: web[k] for k in SEED_WEB} == {**SEED_WEB}
    assert web["port"] == 443 and web["check_public_http"] == 0 and web["is_enabled"] == 1
    assert web["last_status"] == "unknown" and web["last_check_at"] is None
    assert web["last_error"] is None and web["tls_expires_at"] is None
    assert web["created_at"].endswith("Z") and web["updated_at"] == web["created_at"]
    status, _, created = api.call("POST", "/devices/create", alice, SEED_SSH)
    ssh = created["data"]
    assert status == 201 and (ssh["port"], ssh["scheme"], ssh["service_type"]) == (22, None, "ssh")
    assert [d["id"] for d in listing(api, alice)][-2:] == [web["id"], ssh["id"]]
    expect_error(api.call("POST", "/devices/create", alice, SEED_SSH), 409, "duplicate_device")
    status, _, deleted = api.call("DELETE", f"/devices/delete?id={ssh['id']}", alice)
    assert (status, deleted) == (200, {"success": True, "data": {"id": ssh["id"], "deleted": True}})
    expect_error(api.call("DELETE", "/devices/delete?id=31", alice), 404, "device_not_found")
    assert ssh["id"] not in [d["id"] for d in listing(api, alice)]


def test_seed_blacklist_examples(api: Api, alice: str) -> None:
    ids = []
    for body in (SEED_DOMAIN_MONITOR, SEED_IP_MONITOR):
        status, _, created = api.call("POST", "/blacklist-monitors/create", alice, body)
        assert status == 201 and created["success"] is True
        monitor = created["data"]
        assert {k: monitor[k] for k in body} == body
        assert monitor["last_status"] == "unknown" and monitor["listed_on"] == []
        ids.append(monitor["id"])
        expect_error(
            api.call("POST", "/blacklist-monitors/create", alice, body),
            409,
            "duplicate_blacklist_monitor",
        )
    assert [m["id"] for m in listing(api, alice, "blacklist-monitors")][-2:] == ids
    status, _, deleted = api.call("DELETE", f"/blacklist-monitors/delete?id={ids[1]}", alice)
    assert status == 200 and deleted["data"] == {"id": ids[1], "deleted": True}
    expect_error(
        api.call("DELETE", "/blacklist-monitors/delete?id=5000", alice),
        404,
        "blacklist_monitor_not_found",
    )


# -- every error of the seed's table ------------------------------------------------------------
def test_auth_errors(api: Api, alice_reader: str) -> None:
    expect_error(api.call("GET", "/devices"), 401, "missing_api_key")
    expect_error(
        api.call("GET", "/me", headers={"Authorization": "Bearer "}), 401, "missing_api_key"
    )
    expect_error(api.call("GET", "/devices", "not-a-key"), 401, "invalid_api_key")
    expect_error(
        api.call("GET", "/me", headers={"Authorization": "Basic YTpi"}), 401, "invalid_api_key"
    )
    before = listing(api, alice_reader)
    message = expect_error(
        api.call("POST", "/devices/create", alice_reader, SEED_WEB), 403, "insufficient_scope"
    )
    assert "write" in message
    expect_error(
        api.call("DELETE", "/devices/delete?id=1", alice_reader), 403, "insufficient_scope"
    )
    assert listing(api, alice_reader) == before


def test_a_write_only_key_cannot_read(api: Api, hub: HubProcess) -> None:
    writer = issue(api, user="frank", scopes="write")["key"]
    status, _, _ = api.call("POST", "/devices/create", writer, SEED_SSH)
    assert status == 201
    expect_error(api.call("GET", "/devices", writer), 403, "insufficient_scope")
    expect_error(api.call("GET", "/me", writer), 403, "insufficient_scope")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/nope", "unknown_route"),
        ("/devices/nope", "unknown_devices_route"),
        ("/devices/create/extra", "unknown_devices_route"),
        ("/blacklist-monitors/nope", "unknown_blacklist_monitors_route"),
        ("/monitorozas/api/v2/devices", "unknown_route"),
        ("/monitorozas/", "unknown_route"),
        ("/monitorozas", "unknown_route"),
    ],
)
def test_unknown_routes(api: Api, alice: str, path: str, code: str) -> None:
    expect_error(api.call("GET", path, alice), 404, code)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/devices", "GET"),
        ("GET", "/devices/create", "POST"),
        ("PUT", "/devices/delete?id=1", "DELETE"),
        ("DELETE", "/blacklist-monitors", "GET"),
        ("POST", "/me", "GET"),
    ],
)
def test_wrong_method_is_405(api: Api, alice: str, method: str, path: str, allow: str) -> None:
    status, headers, body = api.call(method, path, alice)
    assert status == 405 and headers["Allow"] == allow
    assert body["error"] == "method_not_allowed" and body["success"] is False


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?id=",
        "?id=abc",
        "?id=-1",
        "?id=0",
        "?id=1.5",
        "?id=99999999999999999999",
        "?ident=3",
        "?id=%C2%B2",
        "?id=%EF%BC%91",
    ],  # "²" and a full-width "1" are digits to str.isdigit
)
def test_invalid_id(api: Api, alice: str, query: str) -> None:
    expect_error(api.call("DELETE", f"/devices/delete{query}", alice), 400, "invalid_id")
    expect_error(api.call("DELETE", f"/blacklist-monitors/delete{query}", alice), 400, "invalid_id")


BAD_DEVICES: list[tuple[dict[str, Any], str, str]] = [
    ({"target_value": "a.hu", "service_type": "web"}, "missing_field", "target_type"),
    ({"target_type": "domain", "service_type": "web"}, "missing_field", "target_value"),
    (
        {"target_type": "domain", "target_value": "  ", "service_type": "web"},
        "missing_field",
        "target_value",
    ),
    ({"target_type": "domain", "target_value": "a.hu"}, "missing_field", "service_type"),
    (
        {"target_type": "ip", "target_value": "1.2.3.4", "service_type": "tcp"},
        "missing_field",
        "port",
    ),
    (
        {"target_type": "host", "target_value": "a.hu", "service_type": "web"},
        "invalid_field",
        "target_type",
    ),
    (
        {"target_type": 1, "target_value": "a.hu", "service_type": "web"},
        "invalid_field",
        "target_type",
    ),
    (
        {"target_type": "ip", "target_value": "300.1.1.1", "service_type": "web"},
        "invalid_field",
        "target_value",
    ),
    (
        {"target_type": "domain", "target_value": "bad_name!.hu", "service_type": "web"},
        "invalid_field",
        "target_value",
    ),
    (
        {"target_type": "domain", "target_value": ["a.hu"], "service_type": "web"},
        "invalid_field",
        "target_value",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "gopher"},
        "invalid_field",
        "service_type",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "scheme": "ftp"},
        "invalid_field",
        "scheme",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "ssh", "scheme": "http"},
        "invalid_field",
        "scheme",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "port": 0},
        "invalid_field",
        "port",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "port": 65536},
        "invalid_field",
        "port",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "port": "80"},
        "invalid_field",
        "port",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "port": 80.5},
        "invalid_field",
        "port",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "host_header": "not a host",
        },
        "invalid_field",
        "host_header",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "proxy_enabled": 2,
        },
        "invalid_field",
        "proxy_enabled",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "proxy_enabled": "yes",
        },
        "invalid_field",
        "proxy_enabled",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "proxy_enabled": 1,
            "check_origin_http": 1,
        },
        "missing_field",
        "origin_host",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "check_origin_tls": 1,
            "origin_host": "10.0.0.1",
        },
        "invalid_field",
        "check_origin_tls",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "proxy_enabled": 1,
            "origin_host": "-bad-",
        },
        "invalid_field",
        "origin_host",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "proxy_enabled": 1,
            "origin_host": "10.0.0.1",
            "origin_scheme": "gopher",
        },
        "invalid_field",
        "origin_scheme",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "proxy_enabled": 1,
            "origin_host": "10.0.0.1",
            "origin_port": 70000,
        },
        "invalid_field",
        "origin_port",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "check_public_http": "nem",
        },
        "invalid_field",
        "check_public_http",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "check_public_https": None,
            "check_public_tls": 3,
        },
        "invalid_field",
        "check_public_tls",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "ssh",
            "check_public_http": 1,
        },
        "invalid_field",
        "check_public_http",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "check_public_https": 0,
            "check_public_tls": False,
        },
        "invalid_field",
        "check_public_http",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "expect_status": 99,
        },
        "invalid_field",
        "expect_status",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "expect_status": 600,
        },
        "invalid_field",
        "expect_status",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "location": 5},
        "invalid_field",
        "location",
    ),
    (
        {
            "target_type": "domain",
            "target_value": "a.hu",
            "service_type": "web",
            "location": "x" * 256,
        },
        "invalid_field",
        "location",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "is_enabled": -1},
        "invalid_field",
        "is_enabled",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "colour": "red"},
        "unknown_field",
        "colour",
    ),
    (
        {"target_type": "domain", "target_value": "a.hu", "service_type": "web", "user_id": 2},
        "unknown_field",
        "user_id",
    ),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_DEVICES)
def test_every_device_field_is_validated(
    api: Api, alice: str, body: dict[str, Any], code: str, field: str
) -> None:
    before = listing(api, alice)
    message = expect_error(api.call("POST", "/devices/create", alice, body), 400, code)
    assert message.startswith(f"{field}:"), message
    assert listing(api, alice) == before


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"target_value": "a.hu"}, "missing_field", "target_type"),
        ({"target_type": "ip"}, "missing_field", "target_value"),
        ({"target_type": "ip", "target_value": "a.hu"}, "invalid_field", "target_value"),
        (
            {"target_type": "domain", "target_value": "a.hu", "is_enabled": "maybe"},
            "invalid_field",
            "is_enabled",
        ),
        ({"target_type": "domain", "target_value": "a.hu", "zones": []}, "unknown_field", "zones"),
    ],
)
def test_every_blacklist_field_is_validated(
    api: Api, alice: str, body: dict[str, Any], code: str, field: str
) -> None:
    before = listing(api, alice, "blacklist-monitors")
    message = expect_error(api.call("POST", "/blacklist-monitors/create", alice, body), 400, code)
    assert message.startswith(f"{field}:")
    assert listing(api, alice, "blacklist-monitors") == before


@pytest.mark.parametrize("raw", [b"{bad", b"", b"[1, 2]", b'"text"', b"null", b"\xff\xfe"])
def test_bodies_that_are_not_a_json_object(api: Api, alice: str, raw: bytes) -> None:
    before = listing(api, alice)
    expect_error(api.call("POST", "/devices/create", alice, raw=raw), 400, "invalid_json")
    expect_error(
        api.call("POST", "/blacklist-monitors/create", alice, raw=raw), 400, "invalid_json"
    )
    assert listing(api, alice) == before


def test_huge_body_is_413(api: Api, alice: str) -> None:
    before = listing(api, alice)
    body = {**SEED_SSH, "location": "x" * 10_000}
    message = expect_error(
        api.call("POST", "/devices/create", alice, body), 413, "payload_too_large"
    )
    assert "4096" in message
    assert listing(api, alice) == before


def test_normalised_storage(api: Api, alice: str) -> None:
    status, _, created = api.call(
        "POST",
        "/devices/create",
        alice,
        {
            "target_type": "domain",
            "target_value": "  Árvíztűrő.Example.HU. ",
            "service_type": "WEB",
            "scheme": "HTTP",
            "host_header": "WWW.Példa.hu",
            "proxy_enabled": "true",
            "origin_host": "2001:DB8:0:0::1",
            "check_origin_http": True,
            "check_public_tls": "0",
            "is_enabled": False,
            "location": "  iroda  ",
        },
    )
    assert status == 201, created
    d = created["data"]
    assert d["target_value"] == "xn--rvztr-wqa0gx3bwi.example.hu"
    assert (d["service_type"], d["scheme"], d["port"]) == ("web", "http", 80)
    assert d["host_header"] == "www.xn--plda-bpa.hu"
    assert (d["proxy_enabled"], d["origin_host"], d["origin_scheme"], d["origin_port"]) == (
        1,
        "2001:db8::1",
        "http",
        80,
    )
    assert (d["check_public_http"], d["check_public_https"], d["check_public_tls"]) == (0, 0, 0)
    assert (d["check_origin_http"], d["is_enabled"], d["location"]) == (1, 0, "iroda")
    # the same target written differently is the same device
    expect_error(
        api.call(
            "POST",
            "/devices/create",
            alice,
            {
                "target_type": "domain",
                "target_value": "árvíztűrő.example.hu",
                "service_type": "web",
                "scheme": "http",
                "port": 80,
            },
        ),
        409,
        "duplicate_device",
    )
    status, _, ipv6 = api.call(
        "POST",
        "/devices/create",
        alice,
        {"target_type": "ip", "target_value": "2001:0DB8::0:1", "service_type": "postgresql"},
    )
    assert ipv6["data"]["target_value"] == "2001:db8::1" and ipv6["data"]["port"] == 5432


# -- users, keys and isolation ------------------------------------------------------------------
def test_users_never_see_each_other(api: Api, alice: str, alice_reader: str, bob: str) -> None:
    status, _, created = api.call(
        "POST",
        "/devices/create",
        bob,
        {"target_type": "domain", "target_value": "bob.example.hu", "service_type": "imap"},
    )
    bobs = created["data"]
    status, _, monitor = api.call("POST", "/blacklist-monitors/create", bob, SEED_IP_MONITOR)
    assert status == 201  # alice has the same monitor: duplicates are per user
    assert bobs["id"] not in [d["id"] for d in listing(api, alice)]
    assert all(d["user_id"] != bobs["user_id"] for d in listing(api, alice_reader))
    expect_error(
        api.call("DELETE", f"/devices/delete?id={bobs['id']}", alice), 404, "device_not_found"
    )
    expect_error(
        api.call("DELETE", f"/blacklist-monitors/delete?id={monitor['data']['id']}", alice),
        404,
        "blacklist_monitor_not_found",
    )
    expect_error(
        api.call("GET", f"/devices/history?id={bobs['id']}", alice), 404, "device_not_found"
    )
    expect_error(
        api.call("POST", f"/devices/check-now?id={bobs['id']}", alice), 404, "device_not_found"
    )
    assert bobs["id"] in [d["id"] for d in listing(api, bob)]
    # alice's two keys see the same devices: they belong to one user
    assert listing(api, alice) == listing(api, alice_reader)


def test_admin_acts_across_users_and_names_the_owner(api: Api, alice: str) -> None:
    alice_id = api.call("GET", "/me", alice)[2]["data"]["user_id"]
    assert api.call("GET", "/me", ADMIN_TOKEN)[2]["data"] == {
        "user_id": None,
        "key_id": None,
        "scopes": ["read", "write"],
    }
    expect_error(
        api.call("POST", "/devices/create", ADMIN_TOKEN, SEED_SSH | {"port": 2222}),
        400,
        "missing_field",
    )
    expect_error(
        api.call("POST", "/devices/create", ADMIN_TOKEN, SEED_SSH | {"port": 2222, "user_id": 999}),
        400,
        "invalid_field",
    )
    status, _, made = api.call(
        "POST", "/devices/create", ADMIN_TOKEN, SEED_SSH | {"port": 2222, "user_id": alice_id}
    )
    assert status == 201 and made["data"]["user_id"] == alice_id
    assert made["data"]["id"] in [d["id"] for d in listing(api, alice)]
    users = {d["user_id"] for d in listing(api, ADMIN_TOKEN)}
    assert len(users) >= 2
    status, _, _ = api.call("DELETE", f"/devices/delete?id={made['data']['id']}", ADMIN_TOKEN)
    assert status == 200


# -- IP allow-lists and X-Forwarded-For ---------------------------------------------------------
def test_ip_allow_list(api: Api, hub: HubProcess) -> None:
    local = issue(api, user="gina", scopes="read", allow_ips="127.0.0.1/32,::1")
    elsewhere = issue(api, user="gina", scopes="read", allow_ips="10.20.0.0/16")
    assert api.call("GET", "/me", local["key"])[0] == 200
    message = expect_error(api.call("GET", "/me", elsewhere["key"]), 403, "ip_not_allowed")
    assert "127.0.0.1" in message
    # from 127.0.0.2, a trusted proxy in this hub's config: X-Forwarded-For is the client
    via_proxy = {"X-Forwarded-For": "10.20.3.4"}
    assert api.call("GET", "/me", elsewhere["key"], headers=via_proxy, source="127.0.0.2")[0] == 200
    expect_error(
        api.call("GET", "/me", local["key"], headers=via_proxy, source="127.0.0.2"),
        403,
        "ip_not_allowed",
    )
    # a chain: the right-most address that is not a trusted proxy counts
    chain = {"X-Forwarded-For": "127.0.0.1, 10.20.9.9, 127.0.0.2"}
    assert api.call("GET", "/me", elsewhere["key"], headers=chain, source="127.0.0.2")[0] == 200
    garbage = {"X-Forwarded-For": "not-an-address"}
    expect_error(
        api.call("GET", "/me", elsewhere["key"], headers=garbage, source="127.0.0.2"),
        403,
        "ip_not_allowed",
    )
    # from 127.0.0.1, not a trusted proxy: the header is ignored, the peer address counts
    expect_error(api.call("GET", "/me", elsewhere["key"], headers=via_proxy), 403, "ip_not_allowed")
    assert api.call("GET", "/me", local["key"], headers=via_proxy)[0] == 200


def test_ip_allow_list_over_graphql_and_grpc(
    api: Api, hub: HubProcess, stub: monitorozas_pb2_grpc.MonitorozasStub
) -> None:
    elsewhere = issue(api, user="gina", scopes="read", allow_ips="10.20.0.0/16")
    result = api.graphql("{ monitorozas { me { userId } } }", elsewhere["key"])
    assert result["errors"][0]["extensions"]["reason"] == "ip_not_allowed"
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with pytest.raises(grpc.RpcError) as caught:
        stub.Me(pb.MeRequest(), metadata=md(elsewhere["key"]))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ("hub-reason", "ip_not_allowed") in caught.value.trailing_metadata()


# -- the caller's address over IPv6 (hub.peer) -----------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:127.0.0.1:50051", "127.0.0.1"),
        ("ipv6:[::1]:50051", "::1"),
        ("ipv6:%5B::1%5D:50051", "::1"),
        ("ipv6:%5Bfe80::1%25eth0%5D:50051", "fe80::1"),
        ("ipv6:[::ffff:10.0.0.1]:50051", "10.0.0.1"),
        ("unix:/run/hub.sock", None),
        ("unix-abstract:hub", None),
        ("", None),
    ],
)
def test_grpc_peer_strings(peer: str, address: str | None) -> None:
    from hub.peer import parse_grpc_peer

    parsed = parse_grpc_peer(peer)
    assert (parsed.compressed if parsed else None) == address


@pytest.fixture(scope="module")
def ipv6_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    process = HubProcess(
        tmp_path_factory.mktemp("monitorozas-ipv6"),
        env=QUIET,
        args=["--http", "[::1]:0", "--grpc", "[::1]:0"],
    ).start()
    yield process
    process.stop()


def test_ip_allow_list_over_ipv6_on_every_protocol(ipv6_hub: HubProcess) -> None:
    """Was PERMISSION_DENIED over gRPC ("requests from unknown"): gRPC spells the peer
    ``ipv6:%5B::1%5D:port``. REST, GraphQL and gRPC read the caller's address one way."""
    assert ipv6_hub.http.startswith("[::1]:") and ipv6_hub.grpc.startswith("[::1]:")
    api = Api(ipv6_hub.http)
    local = issue(api, user="six", scopes="read", allow_ips="::1")
    elsewhere = issue(api, user="six", scopes="read", allow_ips="127.0.0.1")
    assert api.call("GET", "/me", local["key"])[0] == 200
    assert api.graphql("{ monitorozas { me { keyId } } }", local["key"])["data"] == {
        "monitorozas": {"me": {"keyId": local["key_id"]}}
    }
    message = expect_error(api.call("GET", "/me", elsewhere["key"]), 403, "ip_not_allowed")
    assert message == "requests from ::1 are not allowed"
    with grpc.insecure_channel(ipv6_hub.grpc) as channel:
        stub = monitorozas_pb2_grpc.MonitorozasStub(channel)
        assert stub.Me(pb.MeRequest(), metadata=md(local["key"])).key_id == local["key_id"]
        with pytest.raises(grpc.RpcError) as caught:
            stub.Me(pb.MeRequest(), metadata=md(elsewhere["key"]))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == "requests from ::1 are not allowed"


# -- REST, GraphQL and gRPC: the same data, the same errors -------------------------------------
DEVICE_FIELDS = """id userId targetType targetValue serviceType scheme port hostHeader
proxyEnabled originHost originScheme originPort checkPublicHttp checkPublicHttps checkPublicTls
checkOriginHttp checkOriginTls expectStatus location isEnabled lastStatus lastCheckAt
lastResponseMs lastError tlsExpiresAt createdAt updatedAt"""
FLAGS = (
    "proxy_enabled",
    "check_public_http",
    "check_public_https",
    "check_public_tls",
    "check_origin_http",
    "check_origin_tls",
    "is_enabled",
)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def as_graphql(rest: dict[str, Any]) -> dict[str, Any]:
    return {camel(k): (bool(v) if k in FLAGS else v) for k, v in rest.items()}


def as_grpc(rest: dict[str, Any], cls: Any) -> Any:
    return cls(**{k: (bool(v) if k in FLAGS else v) for k, v in rest.items() if v is not None})


def test_same_devices_over_rest_graphql_and_grpc(
    api: Api, bob: str, stub: monitorozas_pb2_grpc.MonitorozasStub
) -> None:
    rest = listing(api, bob)
    result = api.graphql(
        f"{{ monitorozas {{ devices {{ totalCount nodes {{ {DEVICE_FIELDS} }} }} }} }}", bob
    )
    assert result["data"]["monitorozas"]["devices"]["totalCount"] == len(rest)
    assert result["data"]["monitorozas"]["devices"]["nodes"] == [as_graphql(d) for d in rest]
    answer = stub.ListDevices(pb.ListRequest(), metadata=md(bob))
    assert answer.total_count == len(rest)
    assert list(answer.devices) == [as_grpc(d, pb.Device) for d in rest]
    me = stub.Me(pb.MeRequest(), metadata=md(bob))
    assert (me.user_id, list(me.scopes)) == (rest[0]["user_id"], ["read", "write"])


def test_create_and_delete_over_graphql_and_grpc(
    api: Api, bob: str, stub: monitorozas_pb2_grpc.MonitorozasStub
) -> None:
    made = api.graphql(
        "mutation($input: MonitorozasDeviceInput!) { monitorozasCreateDevice(input: $input)"
        f" {{ {DEVICE_FIELDS} }} }}",
        bob,
        {
            "input": {
                "targetType": "ip",
                "targetValue": "192.0.2.10",
                "serviceType": "web",
                "scheme": "http",
                "checkPublicTls": True,
                "location": "GraphQL",
            }
        },
    )["data"]["monitorozasCreateDevice"]
    via_grpc = stub.CreateDevice(
        pb.DeviceInput(
            target_type="ip",
            target_value="192.0.2.11",
            service_type="web",
            scheme="http",
            check_public_tls=True,
            location="gRPC",
        ),
        metadata=md(bob),
    )
    rest = {d["id"]: d for d in listing(api, bob)}
    assert made == as_graphql(rest[made["id"]])
    assert via_grpc == as_grpc(rest[via_grpc.id], pb.Device)
    assert made["checkPublicHttp"] is False and via_grpc.check_public_tls is True
    deleted = api.graphql(
        "mutation($id: Int!) { monitorozasDeleteDevice(id: $id) { id deleted } }",
        bob,
        {"id": made["id"]},
    )
    assert deleted["data"]["monitorozasDeleteDevice"] == {"id": made["id"], "deleted": True}
    gone = stub.DeleteDevice(pb.IdRequest(id=via_grpc.id), metadata=md(bob))
    assert (gone.id, gone.deleted) == (via_grpc.id, True)
    ids = [d["id"] for d in listing(api, bob)]
    assert made["id"] not in ids and via_grpc.id not in ids
    # blacklist monitors
    monitor = api.graphql(
        'mutation { monitorozasCreateBlacklistMonitor(input: {targetType: "domain",'
        ' targetValue: "Levél.Example.hu"}) { id targetValue isEnabled lastStatus listedOn } }',
        bob,
    )["data"]["monitorozasCreateBlacklistMonitor"]
    assert monitor["targetValue"] == "xn--levl-dpa.example.hu" and monitor["isEnabled"] is True
    listed = stub.ListBlacklistMonitors(pb.ListRequest(), metadata=md(bob))
    assert monitor["id"] in [m.id for m in listed.blacklist_monitors]
    gql_list = api.graphql(
        "{ monitorozas { blacklistMonitors { nodes { id targetValue } } } }", bob
    )["data"]["monitorozas"]["blacklistMonitors"]["nodes"]
    assert (
        [m["id"] for m in gql_list]
        == [m.id for m in listed.blacklist_monitors]
        == [m["id"] for m in listing(api, bob, "blacklist-monitors")]
    )
    stub.DeleteBlacklistMonitor(pb.IdRequest(id=monitor["id"]), metadata=md(bob))


@pytest.mark.parametrize(
    ("rest_call", "graphql", "grpc_call", "status", "code"),
    [
        (
            ("GET", "/devices", None, None),
            "{ monitorozas { devices { totalCount } } }",
            ("ListDevices", pb.ListRequest()),
            401,
            "missing_api_key",
        ),
        (
            ("GET", "/devices", "bad", None),
            "{ monitorozas { devices { totalCount } } }",
            ("ListDevices", pb.ListRequest()),
            401,
            "invalid_api_key",
        ),
        (
            ("POST", "/devices/create", "reader", SEED_WEB),
            'mutation { monitorozasCreateDevice(input: {targetType: "domain", targetValue: "a.hu",'
            ' serviceType: "web"}) { id } }',
            (
                "CreateDevice",
                pb.DeviceInput(target_type="domain", target_value="a.hu", service_type="web"),
            ),
            403,
            "insufficient_scope",
        ),
        (
            ("DELETE", "/devices/delete?id=987654", "alice", None),
            "mutation { monitorozasDeleteDevice(id: 987654) { id } }",
            ("DeleteDevice", pb.IdRequest(id=987654)),
            404,
            "device_not_found",
        ),
        (
            ("DELETE", "/blacklist-monitors/delete?id=987654", "alice", None),
            "mutation { monitorozasDeleteBlacklistMonitor(id: 987654) { id } }",
            ("DeleteBlacklistMonitor", pb.IdRequest(id=987654)),
            404,
            "blacklist_monitor_not_found",
        ),
        (
            ("DELETE", "/devices/delete?id=0", "alice", None),
            "mutation { monitorozasDeleteDevice(id: 0) { id } }",
            ("DeleteDevice", pb.IdRequest(id=0)),
            400,
            "invalid_id",
        ),
        (
            (
                "POST",
                "/devices/create",
                "alice",
                {"target_type": "ip", "target_value": "1.2.3.4", "service_type": "web", "port": 0},
            ),
            'mutation { monitorozasCreateDevice(input: {targetType: "ip", targetValue: "1.2.3.4",'
            ' serviceType: "web", port: 0}) { id } }',
            (
                "CreateDevice",
                pb.DeviceInput(
                    target_type="ip", target_value="1.2.3.4", service_type="web", port=0
                ),
            ),
            400,
            "invalid_field",
        ),
        (
            ("POST", "/devices/create", "alice", {"target_type": "ip", "service_type": "web"}),
            "mutation { monitorozasCreateDevice(input: "
            '{targetType: "ip", serviceType: "web"}) { id } }',
            ("CreateDevice", pb.DeviceInput(target_type="ip", service_type="web")),
            400,
            "missing_field",
        ),
        (
            ("POST", "/blacklist-monitors/create", "alice", SEED_DOMAIN_MONITOR),
            'mutation { monitorozasCreateBlacklistMonitor(input: {targetType: "domain",'
            ' targetValue: "smtp1.pelda.hu"}) { id } }',
            (
                "CreateBlacklistMonitor",
                pb.BlacklistMonitorInput(target_type="domain", target_value="smtp1.pelda.hu"),
            ),
            409,
            "duplicate_blacklist_monitor",
        ),
    ],
)
def test_same_errors_over_rest_graphql_and_grpc(
    api: Api,
    alice: str,
    alice_reader: str,
    stub: monitorozas_pb2_grpc.MonitorozasStub,
    rest_call: tuple[str, str, str | None, Any],
    graphql: str,
    grpc_call: tuple[str, Any],
    status: int,
    code: str,
) -> None:
    keys = {"alice": alice, "reader": alice_reader, "bad": "bad", None: None}
    api.call("POST", "/blacklist-monitors/create", alice, SEED_DOMAIN_MONITOR)  # for the 409
    method, path, who, body = rest_call
    key = keys[who]
    expect_error(api.call(method, path, key, body), status, code)
    result = api.graphql(graphql, key)
    extensions = result["errors"][0]["extensions"]
    assert (extensions["status"], extensions["reason"], extensions["plugin"]) == (
        status,
        code,
        "monitorozas",
    )
    name, request = grpc_call
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, name)(request, metadata=md(key) if key else ())
    trailers = dict(caught.value.trailing_metadata())
    assert (trailers["hub-status"], trailers["hub-reason"]) == (str(status), code)


def test_device_with_history_over_graphql_and_grpc(
    api: Api, bob: str, stub: monitorozas_pb2_grpc.MonitorozasStub
) -> None:
    ident = listing(api, bob)[0]["id"]
    result = api.graphql(
        "query($id: Int!) { monitorozas { device(id: $id) { id history { status } } } }",
        bob,
        {"id": ident},
    )
    assert result["data"]["monitorozas"]["device"] == {"id": ident, "history": []}
    assert list(stub.GetDeviceHistory(pb.HistoryRequest(id=ident), metadata=md(bob)).results) == []
    assert api.call("GET", f"/devices/history?id={ident}", bob)[2]["data"] == []


def test_graphql_pages_devices(api: Api, bob: str) -> None:
    everything = [d["id"] for d in listing(api, bob)]
    page = api.graphql(
        "{ monitorozas { devices(first: 1) { totalCount pageInfo"
        " { hasNextPage endCursor } nodes { id } } } }",
        bob,
    )
    first = page["data"]["monitorozas"]["devices"]
    assert first["nodes"] == [{"id": everything[0]}] and first["totalCount"] == len(everything)
    rest = api.graphql(
        "query($after: String) { monitorozas { devices(after: $after) { nodes { id } } } }",
        bob,
        {"after": first["pageInfo"]["endCursor"]},
    )
    assert [n["id"] for n in rest["data"]["monitorozas"]["devices"]["nodes"]] == everything[1:]
    bad = api.graphql("{ monitorozas { devices(first: -1) { totalCount } } }", bob)
    assert bad["errors"][0]["extensions"]["reason"] == "invalid_field"


@pytest.mark.parametrize(
    "field,path",
    [("devices", "/devices"), ("blacklistMonitors", "/blacklist-monitors")],
)
def test_graphql_cursors_seek_by_id(api: Api, field: str, path: str) -> None:
    """Was: offset cursors, so deleting a row before the cursor made the next page skip one.
    Both lists are ordered by id, a unique key: a cursor holds the last id and the next page
    seeks past it, whatever was deleted or created meanwhile."""
    from hub.paging import Seek, decode_cursor

    key = issue(api, user=f"seeker-{field}", scopes="read,write")["key"]
    for i in range(4):
        body: dict[str, Any] = {"target_type": "ip", "target_value": f"203.0.113.{i + 1}"}
        if field == "devices":
            body["service_type"] = "ssh"
        assert api.call("POST", f"{path}/create", key, body)[0] == 201
    everything = [row["id"] for row in api.call("GET", path, key)[2]["data"]]
    query = (
        "query($first: Int, $after: String) { monitorozas {"
        f" {field}(first: $first, after: $after)"
        " { totalCount pageInfo { hasNextPage endCursor } nodes { id } } } }"
    )
    first = api.graphql(query, key, {"first": 2})["data"]["monitorozas"][field]
    assert [n["id"] for n in first["nodes"]] == everything[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    cursor = first["pageInfo"]["endCursor"]
    assert decode_cursor(cursor) == Seek(("id",), (everything[1],))
    assert api.call("DELETE", f"{path}/delete?id={everything[0]}", key)[0] == 200
    rest = api.graphql(query, key, {"after": cursor})["data"]["monitorozas"][field]
    assert [n["id"] for n in rest["nodes"]] == everything[2:]
    assert rest["totalCount"] == 3 and rest["pageInfo"]["hasNextPage"] is False


def test_graphql_checks_the_key_once_per_request(tmp_path: Any) -> None:
    """One request asking for several monitorozas fields is one caller: one rate-limit hit."""
    process = HubProcess(tmp_path / "data", env={**QUIET, "HUB_MONITOROZAS_RATE_LIMIT": "3"})
    process.start()
    try:
        api = Api(process.http)
        key = issue(api, user="thrifty", scopes="read")["key"]
        result = api.graphql(
            "{ monitorozas { me { userId } devices { totalCount }"
            " blacklistMonitors { totalCount } } }",
            key,
        )
        assert "errors" not in result, result
        assert [api.call("GET", "/me", key)[0] for _ in range(3)] == [200, 200, 429]
    finally:
        process.stop()


def test_the_same_paging_bounds_over_rest_graphql_and_grpc(
    api: Api, stub: monitorozas_pb2_grpc.MonitorozasStub
) -> None:
    """Was: gRPC took ``offset: -5`` and ``limit: 5000`` and sent every row without a limit.
    Every protocol: offset >= 0, limit 0-1000, 100 when none is sent (REST, as the seed,
    sends the whole list unless it is asked for a page)."""
    key = issue(api, user="pager", scopes="read,write")["key"]
    for i in range(101):
        body = {"target_type": "ip", "target_value": f"198.51.100.{i + 1}", "service_type": "ssh"}
        assert api.call("POST", "/devices/create", key, body)[0] == 201
    everything = [d["id"] for d in listing(api, key)]
    assert len(everything) == 101
    # gRPC
    default = stub.ListDevices(pb.ListRequest(), metadata=md(key))
    assert ([d.id for d in default.devices], default.total_count) == (everything[:100], 101)
    tail = stub.ListDevices(pb.ListRequest(offset=100, limit=1000), metadata=md(key))
    assert [d.id for d in tail.devices] == everything[100:]
    for name, request in [
        ("ListDevices", pb.ListRequest(offset=-5)),
        ("ListDevices", pb.ListRequest(limit=5000)),
        ("ListDevices", pb.ListRequest(limit=-1)),
        ("ListBlacklistMonitors", pb.ListRequest(offset=-1)),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, name)(request, metadata=md(key))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert ("hub-reason", "invalid_field") in caught.value.trailing_metadata()
    # GraphQL
    nodes = api.graphql("{ monitorozas { devices { nodes { id } } } }", key)
    assert len(nodes["data"]["monitorozas"]["devices"]["nodes"]) == 100
    for query in (
        "{ monitorozas { devices(first: 5000) { totalCount } } }",
        "{ monitorozas { blacklistMonitors(first: 1001) { totalCount } } }",
    ):
        error = api.graphql(query, key)["errors"][0]
        assert error["extensions"]["reason"] == "invalid_field"
        assert error["message"] == "first: must be between 0 and 1000"
    # REST
    status, _, body = api.call("GET", "/devices?offset=100&limit=10", key)
    assert status == 200 and [d["id"] for d in body["data"]] == everything[100:]
    assert api.call("GET", "/devices?limit=0", key)[2]["data"] == []
    assert len(api.call("GET", "/devices?offset=1", key)[2]["data"]) == 100
    for query, named in [
        ("offset=-5", "offset"),
        ("limit=5000", "limit"),
        ("limit=abc", "limit"),
        ("offset=1.5", "offset"),
        ("offset=%2B5", "offset"),
        ("limit=1_0", "limit"),
        ("limit=%205", "limit"),
        ("offset=" + "9" * 30, "offset"),
    ]:  # the host's one integer grammar
        message = expect_error(api.call("GET", f"/devices?{query}", key), 400, "invalid_field")
        assert message.startswith(f"{named}: "), message
    expect_error(api.call("GET", "/blacklist-monitors?offset=-1", key), 400, "invalid_field")


# -- the rate limit and the 500s (hubs of their own) --------------------------------------------
@pytest.fixture
def own_hub(tmp_path: Any) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", env=QUIET).start()
    yield process
    process.stop()


def test_default_rate_limit_is_120_per_minute_per_key(own_hub: HubProcess) -> None:
    api = Api(own_hub.http)
    one = issue(api, user="busy", scopes="read")["key"]
    two = issue(api, user="busy", scopes="read")["key"]
    for _ in range(120):
        assert api.call("GET", "/me", one)[0] == 200
    status, headers, body = api.call("GET", "/devices", one)
    assert (status, body["error"]) == (429, "rate_limit_exceeded")
    assert int(headers["Retry-After"]) >= 1
    assert api.call("GET", "/me", two)[0] == 200  # per key, not per user
    result = api.graphql("{ monitorozas { me { userId } } }", one)
    assert result["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert result["errors"][0]["extensions"]["retryAfter"] >= 1


def test_configured_rate_limit(tmp_path: Any) -> None:
    process = HubProcess(
        tmp_path / "data",
        env={**QUIET, "HUB_MONITOROZAS_RATE_LIMIT": "3", "HUB_MONITOROZAS_RATE_WINDOW": "30"},
    ).start()
    try:
        api = Api(process.http)
        key = issue(api, user="slow", scopes="read,write")["key"]
        assert [api.call("GET", "/me", key)[0] for _ in range(3)] == [200, 200, 200]
        status, headers, _ = api.call("POST", "/devices/create", key, SEED_SSH)
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 30  # the window's end
        assert api.call("GET", "/devices", ADMIN_TOKEN)[2]["data"] == []  # nothing was created
        with grpc.insecure_channel(process.grpc) as channel, pytest.raises(grpc.RpcError) as caught:
            monitorozas_pb2_grpc.MonitorozasStub(channel).Me(pb.MeRequest(), metadata=md(key))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "retry-after" in dict(caught.value.trailing_metadata())
    finally:
        process.stop()


def test_storage_failures_are_the_seeds_500s(own_hub: HubProcess) -> None:
    api = Api(own_hub.http)
    key = issue(api, user="unlucky", scopes="read,write")["key"]
    assert api.call("POST", "/devices/create", key, SEED_SSH)[0] == 201
    url = own_hub.env.get("HUB_DATABASE_URL", "")
    database = Engine(own_hub.data_dir, url).open("monitorozas")
    with database.write():
        database.execute("ALTER TABLE devices RENAME COLUMN location TO place")
    message = expect_error(api.call("POST", "/devices/create", key, SEED_WEB), 500, "server_error")
    assert "place" not in message and "sqlite" not in message.lower()
    assert "postgres" not in message.lower()
    assert len(listing(api, key)) == 1  # what is stored is still served
    with database.write():
        database.execute("DROP TABLE blacklist_monitors")
    database.close()
    expect_error(api.call("GET", "/blacklist-monitors", key), 500, "missing_table")
    result = api.graphql("{ monitorozas { blacklistMonitors { totalCount } } }", key)
    assert result["errors"][0]["extensions"]["reason"] == "missing_table"
    assert json.dumps(result).count("Traceback") == 0


# -- settings and the scheduler, in process -----------------------------------------------------
def test_a_bad_setting_stops_the_hub_naming_the_key(tmp_path: Any) -> None:
    process = HubProcess(tmp_path / "data", env={"HUB_MONITOROZAS_RESOLVER": "dns.example"})
    with pytest.raises(RuntimeError, match=r"plugins\.monitorozas\.resolver"):
        process.start()
    process = HubProcess(tmp_path / "data", env={"HUB_MONITOROZAS_TRUSTED_PROXIES": "10.0.0.0/33"})
    with pytest.raises(RuntimeError, match=r"plugins\.monitorozas\.trusted_proxies\[0\]"):
        process.start()


async def test_first_checks_are_spread_over_the_interval(tmp_path: Any) -> None:
    from hub_monitorozas.service import MonitorozasService

    from hub.app import Hub
    from hub.caller import AUTHORIZATION, Caller, Callers, Presented
    from hub.config import Settings
    from hub.peer import Peer, parse_address

    hub = Hub(
        Settings(data_dir=str(tmp_path), admin_token="t"),
        env={"HUB_PLUGINS": "monitorozas", "HUB_MONITOROZAS_INTERVAL": "60"},
    )
    service = hub.service(MonitorozasService)
    key = hub.credentials.issue("monitorozas", {"user": "spread", "scopes": "read,write"})["key"]
    caller = Caller(
        hub.service(Callers).policy("monitorozas"),
        "rest",
        [Presented(AUTHORIZATION, f"Bearer {key}")],
        Peer(parse_address("127.0.0.1")),
    )
    for i in range(30):
        service.devices.create(
            caller, {"target_type": "ip", "target_value": f"192.0.2.{i + 1}", "service_type": "ssh"}
        )
    created_at = time.time()
    due = sorted(
        r[0] - created_at for r in service.database.execute("SELECT next_check_at FROM devices")
    )
    assert due[0] > -1 and due[-1] < 60
    gaps = [b - a for a, b in itertools.pairwise(due)]
    assert max(gaps) < 60 / 30 * 3  # no burst, no long hole: roughly even
    assert service.pending() == 0 and await service.run_due() == 0  # nothing due yet
    service.database.execute("UPDATE devices SET next_check_at = 0 WHERE id <= 5")
    assert service.pending() == 5
    hub.close()
