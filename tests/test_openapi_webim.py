"""webim's OpenAPI document: it validates, names Basic and the operator cookie as its schemes, and
schemathesis's generated requests (valid and invalid) against a seeded hub get no 5xx and only
documented answers of the documented shape and media type."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from hub.testing.process import HubProcess
from tests.openapi_fuzz import fuzz
from tests.webim_client import graphql, service_login

SEED = """
mutation {
  a: webimUpsertAccount(input: {name: "wmtest107", domain: "wmtest107.webim.ru"}) { name }
  b: webimSetAccountCounters(name: "wmtest107", counters: {sessionsCnt: 13, chatsCnt: 1}) { name }
  c: webimUpsertAccount(input: {name: "blocked1", blocked: true,
     notBelongsToTornadoInstance: true}) { name }
  d: webimSetStoreObjects(account: "wmtest107", collector: "collected_to_store",
     objects: {VisitSession: 3, Chat: 5}) { className }
  e: webimSetChannelErrors(channel: "telegram", errorCnt: 1) { channel }
  f: webimUpsertEnvironment(input: {host: "s1", env: "eta", ip: "31.41.158.42"}) { env }
  g: webimRecordLongPolling(tries: 2) { n }
}
"""
OPERATIONS = {
    "/metrics",
    "/l/o/pingservice",
    "/l/a/monitor",
    "/l/a/monitor/connect-to-db",
    "/l/a/monitor/timer-stats",
    "/l/a/monitor/accounts-stat",
    "/l/a/monitor/zabbix/tornado",
    "/l/a/monitor/zabbix/channels",
    "/l/a/monitor/collected-to-store-objects",
    "/l/a/monitor/set-log-level",
    "/l/a/object-stats",
    "/l/i/instance-id",
    "/l/i/account-state",
    "/webim/service/monitor/get-tornado-ports.php",
    "/webim/service/monitor/get-all-env-list.php",
    "/webim/service/info.php",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    env = {"HUB_PLUGINS": "webim", "HUB_WEBIM_STORAGER_INTERVAL": "0.2"}
    process = HubProcess(tmp_path_factory.mktemp("openapi-webim"), env=env).start()
    seeded = asyncio.run(graphql(process, SEED))
    assert "errors" not in seeded, seeded
    yield process
    process.stop()


def test_the_document_validates_and_names_every_operation(hub: HubProcess) -> None:
    document = requests.get(f"{hub.url}/webim/openapi.json", timeout=10).json()
    validate(document)
    assert set(document["paths"]) == OPERATIONS
    assert all(list(item) == ["get"] for item in document["paths"].values())
    assert document["components"]["securitySchemes"] == {
        "basic": {"type": "http", "scheme": "basic"},
        "WEBIM_AUTH_TOKEN": {"type": "apiKey", "in": "cookie", "name": "WEBIM_AUTH_TOKEN"},
    }
    ping = document["paths"]["/l/o/pingservice"]["get"]
    assert ping["security"] == [{"WEBIM_AUTH_TOKEN": []}]
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(metrics["content"]) == ["text/plain"]


def test_fuzzing_finds_no_5xx_and_only_documented_answers(hub: HubProcess) -> None:
    operator = hub.creds("webim", kind="operator")["auth_token"]
    headers = {
        "Authorization": service_login(hub, "fuzz"),
        "Cookie": f"WEBIM_AUTH_TOKEN={operator}",
    }
    assert fuzz(hub.url, "webim", headers, max_examples=20) == []


def test_on_its_own_listener_the_document_is_at_the_root(tmp_path: Path) -> None:
    """Zabbix's listener: the same operations at the seed's own paths, fuzzed there too."""
    env = {"HUB_PLUGINS": "webim", "HUB_WEBIM_LISTEN": "127.0.0.1:0"}
    process = HubProcess(tmp_path / "data", env=env).start()
    try:
        root = f"http://{process.listeners['webim']}"
        document = requests.get(f"{root}/openapi.json", timeout=10).json()
        validate(document)
        assert set(document["paths"]) == OPERATIONS
        assert document["servers"] == [{"url": "/"}]
        headers = {"Authorization": service_login(process, "zabbix")}
        assert fuzz(root, "", headers, max_examples=5) == []
    finally:
        process.stop()
