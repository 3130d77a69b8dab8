"""Defects an adversarial audit of monitorozas found, each pinned by a real hub on loopback:
addresses that are not targets (a zone index), IPv4-mapped addresses looked up as IPv6, and
settings that broke every check with a traceback instead of stopping the hub at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc

from tests.hubproc import HubProcess
from tests.monitorozas_fixtures import api_fixture, checking_hub_fixture, targets_fixture
from tests.monitorozas_support import Api, Targets, issue, wait_for

targets = targets_fixture()
hub = checking_hub_fixture("audit-hub", HUB_MONITOROZAS_RATE_LIMIT="100000")
api = api_fixture()
DEADLINE = 6.0  # two 1 s intervals, the 1.5 s timeout, slack


@pytest.fixture(scope="module")
def key(hub: HubProcess) -> str:
    return str(hub.creds("monitorozas", user="auditor", scopes="read,write")["key"])


def listed(api: Api, key: str, what: str) -> list[dict[str, Any]]:
    status, _, body = api.call("GET", f"/{what}", key)
    assert status == 200
    return body["data"]  # type: ignore[no-any-return]


ZONED = ["fe80::1%eth0", "::1%a\r\nX-Injected: yes", "::1%\u00e9"]
WEB = {"target_type": "domain", "target_value": "zoned.example.hu", "service_type": "web"}


@pytest.mark.parametrize("address", ZONED)
@pytest.mark.parametrize(
    ("what", "body", "field"),
    [
        ("devices", {"target_type": "ip", "service_type": "web"}, "target_value"),
        ("devices", {**WEB, "proxy_enabled": 1, "check_origin_http": 1}, "origin_host"),
        ("blacklist-monitors", {"target_type": "ip"}, "target_value"),
    ],
)
def test_an_address_with_a_zone_index_is_not_a_target(
    api: Api, key: str, address: str, what: str, body: dict[str, Any], field: str
) -> None:
    """A zone index names an interface of the hub's own machine: it was stored verbatim (CR/LF
    and all, sent on in the checks' Host header), and a monitor's DNSBL look-up of it raised
    and logged a traceback every round."""
    before = listed(api, key, what)
    status, _, answer = api.call("POST", f"/{what}/create", key, {**body, field: address})
    assert (status, answer["error"]) == (400, "invalid_field"), answer
    assert answer["message"].startswith(f"{field}:") and "zone" in answer["message"]
    assert listed(api, key, what) == before


def test_a_zone_index_is_refused_over_grpc_too(hub: HubProcess, key: str) -> None:
    with grpc.insecure_channel(hub.grpc) as channel:
        stub = monitorozas_pb2_grpc.MonitorozasStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.CreateBlacklistMonitor(
                pb.BlacklistMonitorInput(target_type="ip", target_value="fe80::1%eth0"),
                metadata=(("authorization", f"Bearer {key}"),),
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(refused.value.trailing_metadata() or ())["hub-reason"] == "invalid_field"


def test_an_ipv4_mapped_monitor_is_looked_up_as_its_ipv4_address(
    api: Api, key: str, targets: Targets
) -> None:
    """``::ffff:127.0.0.2`` is the IPv4 host 127.0.0.2, which bl.test lists; it was looked up
    as 32 IPv6 nibbles under the IPv4 zones and reported clean."""
    status, _, answer = api.call(
        "POST",
        "/blacklist-monitors/create",
        key,
        {"target_type": "ip", "target_value": "::ffff:127.0.0.2"},
    )
    assert status == 201, answer
    assert answer["data"]["target_value"] == "127.0.0.2"
    ident = answer["data"]["id"]

    def looked_up() -> Any:
        found = next(m for m in listed(api, key, "blacklist-monitors") if m["id"] == ident)
        return found["last_status"] != "unknown" and found

    found = wait_for(looked_up, DEADLINE, "the mapped address was never looked up")
    assert (found["last_status"], found["listed_on"]) == ("listed", ["bl.test"])
    assert "2.0.0.127.bl.test" in targets.dns_queries
    status, _, answer = api.call(
        "POST",
        "/blacklist-monitors/create",
        key,
        {"target_type": "ip", "target_value": "127.0.0.2"},
    )
    assert (status, answer["error"]) == (409, "duplicate_blacklist_monitor")


def test_an_ipv4_mapped_device_is_its_ipv4_address(api: Api, key: str) -> None:
    body = {"target_type": "ip", "service_type": "ssh", "port": 2222}
    status, _, answer = api.call(
        "POST", "/devices/create", key, {**body, "target_value": "::ffff:192.0.2.7"}
    )
    assert status == 201 and answer["data"]["target_value"] == "192.0.2.7", answer
    status, _, answer = api.call(
        "POST", "/devices/create", key, {**body, "target_value": "192.0.2.7"}
    )
    assert (status, answer["error"]) == (409, "duplicate_device")


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"HUB_MONITOROZAS_CA_FILE": "/nonexistent/ca.pem"}, r"plugins\.monitorozas\.ca_file"),
        ({"HUB_MONITOROZAS_CA_FILE": "NOT-A-PEM"}, r"plugins\.monitorozas\.ca_file"),
        ({"HUB_MONITOROZAS_USER_AGENT": "hub-monitoroz\u00e1s/1.0"}, r"monitorozas\.user_agent"),
        ({"HUB_MONITOROZAS_USER_AGENT": "a\r\nX-Injected: yes"}, r"monitorozas\.user_agent"),
    ],
)
def test_a_setting_every_check_would_fail_on_stops_the_hub(
    tmp_path: Path, env: dict[str, str], complaint: str
) -> None:
    """A missing or unreadable trust store, or a User-Agent that is not printable ASCII, made
    every check of every device fail with a traceback in the log ("check failed:
    FileNotFoundError", "UnicodeEncodeError"); a bad setting stops the hub, naming the key."""
    if env.get("HUB_MONITOROZAS_CA_FILE") == "NOT-A-PEM":
        garbage = tmp_path / "garbage.pem"
        garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        env = {"HUB_MONITOROZAS_CA_FILE": str(garbage)}
    process = HubProcess(tmp_path / "data", env=env)
    try:
        with pytest.raises(RuntimeError, match=complaint):
            process.start()
    finally:
        process.stop()  # a hub that started after all


def test_nul_in_free_text_is_the_same_400_on_every_engine(api: Api, key: str) -> None:
    """A NUL in ``location`` was stored on SQLite, and on PostgreSQL (whose text cannot hold
    one) refused as the host's ``unstorable_value``, which is not the plugin's code and names
    no field; other control characters are a note's own business."""
    body = {"target_type": "ip", "target_value": "192.0.2.8", "service_type": "ssh"}
    before = listed(api, key, "devices")
    status, _, answer = api.call("POST", "/devices/create", key, {**body, "location": "a\u0000b"})
    assert (status, answer["error"]) == (400, "invalid_field"), answer
    assert answer["message"].startswith("location:")
    assert listed(api, key, "devices") == before
    status, _, answer = api.call("POST", "/devices/create", key, {**body, "location": "a\tb\u0007"})
    assert status == 201 and answer["data"]["location"] == "a\tb\u0007", answer
    with pytest.raises(ValueError, match=r"^user:"):
        issue(api, user="nul\u0000name", scopes="read")
