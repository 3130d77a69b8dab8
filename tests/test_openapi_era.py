"""ERA's OpenAPI document on a real hub: it validates, schemathesis finds no 5xx and no answer
the document does not describe, and ``LOOKUP`` (a method OpenAPI 3.1 has no place for, so
schemathesis does not fuzz it) is described and answers as described."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate

from hub.testing.process import HubProcess
from tests.openapi_fuzz import fuzz

BASE = "/rest/v1/service/integration_points"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("era-openapi"), {"HUB_PLUGINS": "era"}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def headers(hub: HubProcess) -> dict[str, str]:
    token = hub.creds("era")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for n in range(3):  # something to list, filter and order
        point = {"code": f"seed-{n}", "type": "telegram", "opts": {"title": f"t{n}"}}
        assert requests.post(f"{hub.url}/era{BASE}", json=point, headers=auth).status_code == 200
    return auth


@pytest.fixture(scope="module")
def document(hub: HubProcess) -> dict[str, Any]:
    return dict(requests.get(f"{hub.url}/era/openapi.json", timeout=30).json())


def test_document_validates(document: dict[str, Any]) -> None:
    validate(document)
    assert set(document["paths"]) == {
        BASE,
        BASE + "/{id}",
        "/rest/v1/service/integration_tokens/{token}",
    }
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }


def test_schemathesis_finds_nothing(hub: HubProcess, headers: dict[str, str]) -> None:
    assert fuzz(hub.url, "era", headers, max_examples=20) == []


def test_lookup_is_described_and_answers_as_described(
    hub: HubProcess, headers: dict[str, str], document: dict[str, Any]
) -> None:
    lookup = document["paths"][BASE]["x-additionalOperations"]["LOOKUP"]
    assert "LOOKUP" in lookup["summary"]
    assert {"200", "400", "401", "404"} <= set(lookup["responses"])
    body_schema = lookup["requestBody"]["content"]["application/json"]["schema"]

    def answer(body: Any, status: int) -> Any:
        reply = requests.request("LOOKUP", f"{hub.url}/era{BASE}", json=body, headers=headers)
        assert reply.status_code == status, reply.text
        described = lookup["responses"][str(status)]["content"]["application/json"]["schema"]
        resolver = {**described, "components": document["components"]}
        jsonschema.validate(reply.json(), resolver)
        return reply.json()

    for key in ("seed-1", {"code": "seed-1"}):
        jsonschema.validate(key, body_schema)  # the document takes both forms of the key
        assert len(answer(key, 200)) == 1
    assert answer({"code": "nobody"}, 404) == {"error_code": 1404, "error_message": "Lookup failed"}
    answer({"colour": "red"}, 400)
    with pytest.raises(jsonschema.ValidationError):  # and the document says it is no key
        jsonschema.validate({"colour": "red"}, body_schema)
