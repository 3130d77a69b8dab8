"""rop's OpenAPI document: valid, and true of the running plugin under schemathesis (no 5xx,
every answer documented and of its documented shape). audio-upload makes the hub fetch
``audio_url``: the generated URLs name hosts that do not answer, which must be the documented
400/502/503/504, never a 500, within the short probe timeout set here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from openapi_spec_validator import validate

from tests.hubproc import HubProcess
from tests.openapi_fuzz import fuzz
from tests.rop_client import FAST

TABLE = {
    "id": "TBL_1755863365",
    "name": "Deal facts",
    "fields": [{"name": "budget", "description": "The client's budget"}],
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = Path(tmp_path_factory.mktemp("rop"))
    # a rate limit the fuzz run cannot reach, so it tests the methods (429 is declared anyway)
    env = {**FAST, "HUB_PLUGINS": "rop", "HUB_ROP_RATE_LIMIT": "100000"}
    env["HUB_ROP_PROBE_TIMEOUT"] = "0.5"
    process = HubProcess(root / "data", env=env).start()
    (root / "table.json").write_text(json.dumps(TABLE))
    process.cli("rop", "put-table", str(root / "table.json"))
    yield process
    process.stop()


def test_the_document_is_valid_openapi(hub: HubProcess) -> None:
    document = requests.get(f"{hub.url}/rop/openapi.json", timeout=10).json()
    validate(document)
    assert document["components"]["securitySchemes"] == {
        "apiKey": {"type": "apiKey", "in": "query", "name": "apiKey"}
    }
    upload = document["paths"]["/api/v1/calls/audio-upload"]["post"]
    assert set(upload["requestBody"]["content"]) == {
        "multipart/form-data",
        "application/x-www-form-urlencoded",
        "application/json",
    }
    assert document["paths"]["/receivers/{token}"]["post"]["security"] == []


def to_loopback(case: Any) -> None:
    """A generated ``audio_url`` that parses as an http(s) URL gets a loopback host and a
    closed port; the rest of it (path, query) stays as generated."""
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("audio_url"), str):
        return
    url = urlsplit(body["audio_url"])
    if url.scheme in ("http", "https") and url.netloc:
        body["audio_url"] = urlunsplit((url.scheme, "127.0.0.1:9", url.path, url.query, ""))


def test_fuzzing_finds_nothing(hub: HubProcess) -> None:
    key = hub.creds("rop")["api_key"]
    offices = {"offices": [{"office_title": "Центр", "office_id": "office_001"}]}
    seeded = requests.post(
        f"{hub.url}/rop/api/v1/settings/offices-update",
        params={"apiKey": key},
        json=offices,
        timeout=10,
    )
    assert seeded.status_code == 200
    # 502/503/504: the audio_url's host cannot be reached (declared); a generated URL's host is
    # moved to loopback (a closed port), so the hub never fetches from the public internet
    failures = fuzz(
        hub.url,
        "rop",
        {},
        params={"apiKey": key},
        max_examples=25,
        gateway_statuses=(502, 503, 504),
        prepare=to_loopback,
    )
    assert failures == []
