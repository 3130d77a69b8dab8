"""unspot's OpenAPI document on a real hub: it validates, describes each category's body exactly,
and schemathesis finds no 5xx and no answer the document does not describe. The hub runs with a
tiny rate window so that the fuzz reaches the monitoring reads, not only the 429."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests
from hub_unspot.v1 import unspot_pb2 as pb
from openapi_spec_validator import validate

from tests.hubproc import HubProcess
from tests.openapi_fuzz import fuzz
from tests.unspot_helpers import BASE, bearer, grpc_call, new_token, unspot_hub

MONITORING = "/api/external/v1/monitoring"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = unspot_hub(tmp_path_factory.mktemp("unspot-openapi"), rate_window="0.001")
    process.env["HUB_PLUGINS"] = "unspot"
    process.start()
    grpc_call(process, "UpsertDisplay", pb.UpsertDisplayRequest(name="Lobby", status="online"))
    grpc_call(process, "UpsertCalendar", pb.UpsertCalendarRequest(name="Room", status="offline"))
    hook = pb.UpsertWebhookRequest(url="https://example.org/h", status="failed")
    grpc_call(process, "UpsertWebhook", hook)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def document(hub: HubProcess) -> dict[str, Any]:
    return dict(requests.get(f"{hub.url}/unspot/openapi.json", timeout=30).json())


def described(document: dict[str, Any], path: str, status: int) -> dict[str, Any]:
    """The schema the document gives the answer, with the components its refs point to."""
    answers = document["paths"][path]["get"]["responses"][str(status)]
    return {**answers["content"]["application/json"]["schema"], **document}


def test_document_validates(document: dict[str, Any]) -> None:
    validate(document)
    assert set(document["paths"]) == {
        MONITORING,
        *(f"{MONITORING}/{c}" for c in ("displays", "calendars", "webhooks", "user-sync")),
        f"{MONITORING}/system",
    }
    for path in document["paths"].values():
        assert {"200", "401", "403", "429"} <= set(path["get"]["responses"])
        assert "Retry-After" in path["get"]["description"]


def test_each_category_answers_exactly_as_described(
    hub: HubProcess, document: dict[str, Any]
) -> None:
    token = new_token(hub)
    for path in document["paths"]:
        time.sleep(0.01)  # past the rate window
        reply = requests.get(f"{hub.url}/unspot{path}", headers=bearer(token), timeout=30)
        assert reply.status_code == 200, reply.text
        jsonschema.validate(reply.json(), described(document, path, 200))
    schemas = document["components"]["schemas"]
    answer = described(document, f"{MONITORING}/user-sync", 200)["$ref"].rsplit("/", 1)[1]
    body = schemas[answer]["properties"]["body"]["$ref"].rsplit("/", 1)[1]
    assert schemas[body]["required"] == ["userSync"]  # exactly the category asked for
    refused = requests.get(f"{hub.url}{BASE}/displays", headers=bearer("nope"), timeout=30)
    assert refused.status_code == 401
    jsonschema.validate(refused.json(), described(document, f"{MONITORING}/displays", 401))


def test_schemathesis_finds_nothing(hub: HubProcess) -> None:
    headers = bearer(new_token(hub, role="integration_admin"))
    assert fuzz(hub.url, "unspot", headers, max_examples=15) == []
