"""Defects a spec-conformance audit of ``era`` and ``monitorozas`` found, each against a real hub
on loopback: a non-web device's own answer refused as a create body, a read-only key's create
answered by its body's faults instead of its missing scope (unlike GraphQL and gRPC), and 401s
without the ``WWW-Authenticate`` challenge HTTP requires."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.monitorozas_support import Api

ERA = "/era/rest/v1/service/integration_points"
# what the hub adds to a device: everything else of an answer is a create body's field
SERVER_SET = (
    "id",
    "user_id",
    "last_status",
    "last_check_at",
    "last_response_ms",
    "last_error",
    "tls_expires_at",
    "created_at",
    "updated_at",
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(
        tmp_path_factory.mktemp("spec-audit"),
        env={"HUB_MONITOROZAS_INTERVAL": "3600", "HUB_MONITOROZAS_RATE_LIMIT": "100000"},
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(hub: HubProcess) -> Api:
    return Api(hub.http)


@pytest.fixture(scope="module")
def writer(hub: HubProcess) -> str:
    return str(hub.creds("monitorozas", user="auditor", scopes="read,write")["key"])


@pytest.fixture(scope="module")
def reader(hub: HubProcess) -> str:
    return str(hub.creds("monitorozas", user="auditor", scopes="read")["key"])


@pytest.fixture(scope="module")
def stub(hub: HubProcess) -> Iterator[monitorozas_pb2_grpc.MonitorozasStub]:
    with grpc.insecure_channel(hub.grpc) as channel:
        yield monitorozas_pb2_grpc.MonitorozasStub(channel)


def devices(api: Api, key: str) -> list[dict[str, Any]]:
    status, _, body = api.call("GET", "/devices", key)
    assert status == 200
    return body["data"]  # type: ignore[no-any-return]


def refused(answer: tuple[int, dict[str, str], Any], status: int, code: str) -> str:
    got, _, body = answer
    assert (got, body["success"], body["error"]) == (status, False, code), body
    return str(body["message"])


# -- monitorozas: a device's own answer is a valid create body --------------------------------
@pytest.mark.parametrize("service", ["ssh", "smtp", "tcp"])
def test_a_non_web_device_answer_is_taken_back_as_a_create_body(
    api: Api, writer: str, service: str
) -> None:
    """An ssh device is answered with ``expect_status: 200`` and ``proxy_enabled: 0`` (the
    spec's defaults); sending that answer back (to copy a device to another target) was a 400
    ``expect_status: only for service_type web``, though the spec makes neither field web-only
    and the check flags next to them took their 0 back already."""
    body = {"target_type": "domain", "target_value": f"{service}.copy.example.hu"}
    status, _, made = api.call(
        "POST", "/devices/create", writer, {**body, "service_type": service, "port": 2222}
    )
    assert status == 201, made
    answer = made["data"]
    assert (answer["expect_status"], answer["proxy_enabled"]) == (200, 0)
    copy = {k: v for k, v in answer.items() if k not in SERVER_SET}
    copy["target_value"] = f"{service}.copy2.example.hu"
    status, _, again = api.call("POST", "/devices/create", writer, copy)
    assert status == 201, again
    assert {k: again["data"][k] for k in copy} == copy


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"expect_status": 404}, "expect_status"), ({"proxy_enabled": 1}, "proxy_enabled")],
)
def test_web_behaviour_on_a_non_web_device_is_still_refused(
    api: Api, writer: str, extra: dict[str, Any], field: str
) -> None:
    """Only the value a non-web device is answered with is accepted: one that asks for a web
    check's behaviour is a 400 naming the field, and nothing is stored."""
    before = devices(api, writer)
    body = {"target_type": "domain", "target_value": "ssh.web.example.hu", "service_type": "ssh"}
    message = refused(
        api.call("POST", "/devices/create", writer, {**body, **extra}), 400, "invalid_field"
    )
    assert message.startswith(f"{field}:") and "web" in message, message
    assert devices(api, writer) == before


def test_grpc_takes_a_non_web_device_with_its_defaults_sent(
    stub: monitorozas_pb2_grpc.MonitorozasStub, writer: str
) -> None:
    """The same rule over gRPC, whose optional fields send the defaults explicitly."""
    made = stub.CreateDevice(
        pb.DeviceInput(
            target_type="domain",
            target_value="grpc.ssh.example.hu",
            service_type="ssh",
            expect_status=200,
            proxy_enabled=False,
        ),
        metadata=(("authorization", f"Bearer {writer}"),),
    )
    assert (made.port, made.expect_status, made.proxy_enabled) == (22, 200, False)


# -- monitorozas: the scope before the body -----------------------------------------------------
@pytest.mark.parametrize("what", ["devices", "blacklist-monitors"])
@pytest.mark.parametrize("raw", [b"{not json", b""])
def test_a_read_only_key_create_is_403_whatever_its_body(
    api: Api, reader: str, what: str, raw: bytes
) -> None:
    """A read-only key's create got the body's fault (400 ``invalid_json``) and, once the body
    was fixed, a 403: the key can never create, and GraphQL and gRPC say so first."""
    answer = api.call("POST", f"/{what}/create", reader, raw=raw)
    assert "write" in refused(answer, 403, "insufficient_scope")


def test_graphql_refuses_a_read_only_create_alike(api: Api, reader: str) -> None:
    result = api.graphql(
        'mutation { monitorozasCreateDevice(input: {targetType: "domain"}) { id } }', reader
    )
    extensions = result["errors"][0]["extensions"]
    assert (extensions["code"], extensions["reason"]) == ("FORBIDDEN", "insufficient_scope")


# -- both: a 401 carries its challenge ------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "challenge"),
    [
        (None, 'Bearer realm="monitorozas"'),
        ("not-a-key", 'Bearer realm="monitorozas", error="invalid_token"'),
    ],
)
def test_a_monitorozas_401_names_the_bearer_scheme(
    api: Api, key: str | None, challenge: str
) -> None:
    """RFC 9110: a 401 MUST carry ``WWW-Authenticate``; RFC 6750 tells a wrong bearer token
    (``invalid_token``) from a missing one. The body stays the seed's."""
    status, headers, body = api.call("GET", "/me", key)
    assert status == 401 and body["success"] is False
    assert headers["WWW-Authenticate"] == challenge


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_an_era_401_names_the_bearer_scheme(hub: HubProcess, headers: dict[str, str]) -> None:
    answer = requests.get(f"http://{hub.http}{ERA}", headers=headers, timeout=30)
    assert answer.status_code == 401 and answer.json()["error_code"] == 1401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="era"'


def test_other_errors_carry_no_challenge(hub: HubProcess, api: Api) -> None:
    """Only a 401 asks for credentials: a 404 of a known caller does not."""
    answer = requests.get(
        f"http://{hub.http}{ERA}/nope",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 404 and "WWW-Authenticate" not in answer.headers
    status, headers, _ = api.call("DELETE", "/devices/delete?id=999999", ADMIN_TOKEN)
    assert status == 404 and "WWW-Authenticate" not in headers
