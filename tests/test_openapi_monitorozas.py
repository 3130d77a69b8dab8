"""monitorozas's OpenAPI document: it validates, and schemathesis's generated requests (valid and
invalid) against a seeded hub get no 5xx and only documented answers of the documented shape."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests
from openapi_spec_validator import validate

from hub.testing.process import HubProcess
from tests.monitorozas_support import Api, issue
from tests.openapi_fuzz import fuzz

OPERATIONS = [
    "GET /api/v1/me",
    "GET /api/v1/devices",
    "POST /api/v1/devices/create",
    "DELETE /api/v1/devices/delete",
    "POST /api/v1/devices/check-now",
    "GET /api/v1/devices/history",
    "GET /api/v1/blacklist-monitors",
    "POST /api/v1/blacklist-monitors/create",
    "DELETE /api/v1/blacklist-monitors/delete",
]
CHECK_NOW = "POST /api/v1/devices/check-now"


def closed_port() -> int:
    """A loopback port nothing listens on: the seeded devices' checks fail at once, locally."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    env = {
        "HUB_PLUGINS": "monitorozas",
        "HUB_MONITOROZAS_RATE_LIMIT": "1000000",  # the fuzz run sends far more than 120/min
        # nothing the fuzz run creates is checked by the scheduler during the run, and DNSBL
        # look-ups go to a closed loopback port, never to a public resolver
        "HUB_MONITOROZAS_INTERVAL": "86400",
        "HUB_MONITOROZAS_BLACKLIST_INTERVAL": "86400",
        "HUB_MONITOROZAS_RESOLVER": "127.0.0.1",
        "HUB_MONITOROZAS_RESOLVER_PORT": str(closed_port()),
        "HUB_MONITOROZAS_TIMEOUT": "1",
    }
    process = HubProcess(tmp_path_factory.mktemp("openapi-monitorozas"), env=env).start()
    yield process
    process.stop()


def seed(api: Api, key: str, port: int, count: int) -> None:
    """Devices on a closed loopback port and blacklist monitors, enough that deletes remain."""
    for i in range(count):
        device = {"target_type": "ip", "target_value": f"127.0.0.{i + 2}", "service_type": "tcp"}
        assert api.call("POST", "/devices/create", key, {**device, "port": port})[0] == 201
        monitor = {"target_type": "ip", "target_value": f"192.0.2.{i + 1}"}
        assert api.call("POST", "/blacklist-monitors/create", key, monitor)[0] == 201


def test_the_document_validates_and_names_every_operation(hub: HubProcess) -> None:
    document = requests.get(f"http://{hub.http}/monitorozas/openapi.json", timeout=10).json()
    validate(document)
    named = [f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item]
    assert sorted(named) == sorted(OPERATIONS)
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }


def test_fuzzing_finds_no_5xx_and_only_documented_answers(hub: HubProcess) -> None:
    api = Api(hub.http)
    port = closed_port()
    writer = issue(api, user="fuzz", scopes="read,write")["key"]
    seed(api, writer, port, 20)
    base = f"http://{hub.http}"
    # check-now checks a device at once: run it with a key whose user owns only the seeded
    # loopback devices, so no device the fuzz run created (any host name) is ever checked
    checker = issue(api, user="checker", scopes="read,write")["key"]
    seed(api, checker, port, 3)
    only_check_now = [name for name in OPERATIONS if name != CHECK_NOW]
    failures = fuzz(
        base,
        "monitorozas",
        {"Authorization": f"Bearer {checker}"},
        max_examples=15,
        skip=only_check_now,
    )
    failures += fuzz(
        base,
        "monitorozas",
        {"Authorization": f"Bearer {writer}"},
        max_examples=20,
        skip=[CHECK_NOW],  # run above with a key of its own
    )
    assert failures == []
