"""openapi/<plugin>.json are the built-in plugins' OpenAPI documents as the code makes them
(`make openapi`), each valid OpenAPI 3.1, and what a running hub serves: its /openapi index lists
exactly these and each listed document is the file but for ``servers``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from openapi_spec_validator import validate

from hub.openapi import built_in_documents, document_text
from hub.testing.inprocess import running_hub
from tests.test_schema_file import built_in_plugins

ROOT = Path(__file__).resolve().parent.parent
FILES = ROOT / "openapi"


def committed() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(FILES.glob("*.json"))}


def test_committed_documents_are_current() -> None:
    documents = built_in_documents(built_in_plugins())
    assert sorted(path.stem for path in FILES.glob("*.json")) == sorted(documents), (
        "openapi/ lists other plugins than the code has: run `make openapi`"
    )
    for name, doc in documents.items():
        assert (FILES / f"{name}.json").read_text() == document_text(doc), (
            f"openapi/{name}.json is stale: run `make openapi`"
        )


def test_every_document_validates() -> None:
    documents = committed()
    assert set(documents) == {"era", "monitorozas", "rop", "unspot", "webim"}
    for name, doc in documents.items():
        validate(doc)  # raises, naming the offending part, on an invalid document
        assert doc["openapi"].startswith("3.1"), name
        assert doc["paths"], name


def without_servers(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "servers"}


async def test_the_running_hub_serves_the_files(tmp_path: Path) -> None:
    files = committed()
    env = {"HUB_PLUGINS": ",".join(built_in_plugins())}
    async with running_hub(tmp_path, env) as running, aiohttp.ClientSession() as http:
        async with http.get(f"{running.url}/openapi") as answer:
            assert answer.status == 200
            index = await answer.json()
        listed = {entry["plugin"]: entry["url"] for entry in index["documents"]}
        assert set(listed) == set(files)
        for name, url in listed.items():
            assert url == f"/{name}/openapi.json"
            async with http.get(running.url + url) as answer:
                assert answer.status == 200, name
                assert answer.content_type == "application/json"
                served = await answer.json()
            assert served["servers"] == [{"url": f"/{name}"}]
            assert without_servers(served) == without_servers(files[name]), name
