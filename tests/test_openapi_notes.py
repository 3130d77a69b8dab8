"""hub-notes' OpenAPI document, the plugin authors' model: valid, and true of the running
plugin under schemathesis (no 5xx, every answer documented and of its documented shape)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from tests.hubproc import HubProcess
from tests.openapi_fuzz import fuzz


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    # a create limit the fuzz run cannot reach, so 201s keep coming (429 is declared anyway)
    env = {"HUB_PLUGINS": "notes", "HUB_NOTES_CREATE_LIMIT": "100000"}
    process = HubProcess(Path(tmp_path_factory.mktemp("notes")) / "data", env=env).start()
    yield process
    process.stop()


def test_the_document_is_valid_openapi(hub: HubProcess) -> None:
    document = requests.get(f"{hub.url}/notes/openapi.json", timeout=10).json()
    validate(document)
    assert set(document["paths"]) == {"/api/notes", "/api/notes/{id}"}
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    created = document["paths"]["/api/notes"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Note"}


def test_fuzzing_finds_nothing(hub: HubProcess) -> None:
    token = hub.creds("notes")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = requests.post(
        f"{hub.url}/notes/api/notes", json={"title": "seed"}, headers=headers, timeout=10
    )
    assert created.status_code == 201
    assert fuzz(hub.url, "notes", headers, max_examples=25) == []
