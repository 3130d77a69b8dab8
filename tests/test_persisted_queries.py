"""Persisted queries on /graphql: Apollo's automatic persisted queries over GET, POST and
websockets, trusted documents (``[graphql] persisted_only``) registered with
``hub persisted add``, and the store shared by every hub of a data directory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.config import GraphQLLimits
from hub.graphql.persisted import PersistedQueries
from hub.storage import SQLiteDatabase as Database
from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.namespaces import database_env
from hub.testing.process import ADMIN_TOKEN

PLUGINS = {"HUB_PLUGINS": "unspot"}
TRUSTED = {**PLUGINS, "HUB_GRAPHQL_PERSISTED_ONLY": "true"}
QUERY = "query Plugins { hub { plugins { name } } }"
OTHER = "query Health { hub { health { plugin } } }"
JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha(text)}}


async def post(
    hub: RunningHub, payload: dict[str, Any], accept: str = JSON
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{hub.url}/graphql", json=payload, headers={**HEADERS, "Accept": accept}
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def get(hub: RunningHub, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    query = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{hub.url}/graphql", params=query, headers={**HEADERS, "Accept": JSON}
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def over_websocket(hub: RunningHub, payload: dict[str, Any]) -> dict[str, Any]:
    """The first answer to a graphql-transport-ws ``subscribe`` with ``payload``."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": HEADERS})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        return await ws.receive_json(timeout=10)  # type: ignore[no-any-return]


def plugin_names(body: dict[str, Any]) -> set[str]:
    return {plugin["name"] for plugin in body["data"]["hub"]["plugins"]}


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


def persisted_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # none of the caller's hub settings; the database the kit's hubs on data_dir use
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(database_env(data_dir, None))
    env.update(PLUGINS, HUB_ADMIN_TOKEN=ADMIN_TOKEN)
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "persisted", *args, "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("accept", "not_found_status"), [(JSON, 200), (GRAPHQL_RESPONSE, 404)])
async def test_apq_round_trip_over_post(tmp_path: Path, accept: str, not_found_status: int) -> None:
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        status, body = await post(hub, {"extensions": apq(QUERY)}, accept)
        assert status == not_found_status, body
        assert body == {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {
                        "code": "PERSISTED_QUERY_NOT_FOUND",
                        "plugin": "hub",
                        "status": 404,
                        "reason": "persisted_query_not_found",
                    },
                }
            ]
        }
        status, body = await post(hub, {"query": QUERY, "extensions": apq(QUERY)}, accept)
        assert status == 200, body
        assert "unspot" in plugin_names(body)
        status, body = await post(hub, {"extensions": apq(QUERY)}, accept)
        assert status == 200, body
        assert "unspot" in plugin_names(body)


async def test_apq_round_trip_over_get(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        status, body = await get(hub, {"extensions": apq(QUERY)})
        assert (status, codes(body)) == (200, ["PERSISTED_QUERY_NOT_FOUND"]), body
        status, body = await get(hub, {"query": QUERY, "extensions": apq(QUERY)})
        assert status == 200 and "unspot" in plugin_names(body), body
        status, body = await get(hub, {"extensions": apq(QUERY)})
        assert status == 200 and "unspot" in plugin_names(body), body
        # the graphql-over-http persisted documents appendix names the same document
        status, body = await get(hub, {"documentId": f"sha256:{sha(QUERY)}"})
        assert status == 200 and "unspot" in plugin_names(body), body


async def test_apq_refuses_what_cannot_be_persisted(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        status, body = await post(hub, {"query": OTHER, "extensions": apq(QUERY)})
        assert status == 400, body
        assert body["errors"][0]["message"] == "provided sha does not match query"
        status, body = await post(hub, {"query": QUERY, "extensions": apq(QUERY, version=2)})
        assert status == 400 and "version" in body["errors"][0]["message"], body
        status, body = await post(hub, {"extensions": {"persistedQuery": {"version": 1}}})
        assert status == 400 and "sha256Hash" in body["errors"][0]["message"], body
        # a document that does not validate runs into its errors and is not kept
        broken = "{ hub { nothing } }"
        status, body = await post(hub, {"query": broken, "extensions": apq(broken)})
        assert status == 200 and body["errors"] and "data" not in body, body
        status, body = await post(hub, {"extensions": apq(broken)})
        assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], body
        status, body = await post(hub, {"documentId": 5})
        assert status == 400 and "documentId" in body["errors"][0]["message"], body
        # neither a query nor a persisted document is still a bad request
        status, body = await post(hub, {"extensions": {}})
        assert status == 400 and "query" in body["errors"][0]["message"], body


async def test_apq_over_websockets(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        answer = await over_websocket(hub, {"extensions": apq(QUERY)})
        assert answer["type"] == "error", answer
        assert answer["payload"][0]["message"] == "PersistedQueryNotFound"
        answer = await over_websocket(hub, {"query": QUERY, "extensions": apq(QUERY)})
        assert answer["type"] == "next" and "unspot" in plugin_names(answer["payload"]), answer
        answer = await over_websocket(hub, {"extensions": apq(QUERY)})
        assert answer["type"] == "next" and "unspot" in plugin_names(answer["payload"]), answer
        answer = await over_websocket(hub, {"documentId": f"sha256:{sha(QUERY)}"})
        assert answer["type"] == "next", answer


async def test_registrations_are_shared_by_the_hubs_of_a_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_hub(data, PLUGINS) as first, running_hub(data, PLUGINS) as second:
        status, body = await post(second, {"extensions": apq(QUERY)})
        assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], body
        status, body = await post(first, {"query": QUERY, "extensions": apq(QUERY)})
        assert status == 200, body
        status, body = await post(second, {"extensions": apq(QUERY)})
        assert status == 200 and "unspot" in plugin_names(body), body
        removed = persisted_cli(data, "remove", sha(QUERY))
        assert removed.returncode == 0, removed.stderr
        status, body = await post(first, {"extensions": apq(QUERY)})
        assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], body


async def test_trusted_documents_only_run_what_the_admin_added(tmp_path: Path) -> None:
    data = tmp_path / "data"
    document = tmp_path / "operations.graphql"
    fragment = "fragment Name on HubPlugin { name }"
    plugins = "query Plugins { hub { plugins { ...Name } } }"
    document.write_text(f"{plugins}\n{OTHER}\n{fragment}\n")
    added = persisted_cli(data, "add", str(document))
    assert added.returncode == 0, added.stderr
    entry, health = json.loads(added.stdout)
    assert (entry["operation"], health["operation"]) == ("Plugins", "Health")
    assert entry["new"] and health["new"]
    listed = json.loads(persisted_cli(data, "list", "--trusted").stdout)
    texts = {e["hash"]: e["query"] for e in listed}
    assert set(texts) == {entry["hash"], health["hash"]}
    # each operation is kept with the fragments it uses, as graphql-js prints it
    text, other_text = texts[entry["hash"]], texts[health["hash"]]
    assert sha(text) == entry["hash"] and "fragment Name on HubPlugin" in text
    assert "fragment" not in other_text
    async with running_hub(data, TRUSTED) as hub:
        by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": entry["hash"]}}}
        status, body = await post(hub, by_hash)
        assert status == 200 and "unspot" in plugin_names(body), body
        status, body = await get(hub, {"documentId": f"sha256:{entry['hash']}"})
        assert status == 200 and "unspot" in plugin_names(body), body
        status, body = await post(hub, {"query": text})  # the registered text itself
        assert status == 200 and "unspot" in plugin_names(body), body
        for refused in ({"query": QUERY}, {"query": QUERY, "extensions": apq(QUERY)}):
            status, body = await post(hub, refused)
            assert (status, codes(body)) == (400, ["PERSISTED_QUERY_NOT_ALLOWED"]), body
        status, body = await get(hub, {"query": QUERY})
        assert (status, codes(body)) == (400, ["PERSISTED_QUERY_NOT_ALLOWED"]), body
        status, body = await post(hub, {"extensions": apq(QUERY)})  # APQ did not register it
        assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], body
        answer = await over_websocket(hub, by_hash)
        assert answer["type"] == "next" and "unspot" in plugin_names(answer["payload"]), answer
        answer = await over_websocket(hub, {"query": QUERY})
        assert answer["type"] == "error", answer
        assert answer["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_documents_clients_registered_are_not_trusted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_hub(data, PLUGINS) as hub:
        status, body = await post(hub, {"query": QUERY, "extensions": apq(QUERY)})
        assert status == 200, body
    async with running_hub(data, TRUSTED) as hub:
        status, body = await post(hub, {"extensions": apq(QUERY)})
        assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], body
        status, body = await post(hub, {"query": QUERY})
        assert codes(body) == ["PERSISTED_QUERY_NOT_ALLOWED"], body


def test_add_takes_manifests_and_refuses_bad_documents(tmp_path: Path) -> None:
    data = tmp_path / "data"
    codegen = tmp_path / "persisted-documents.json"
    codegen.write_text(json.dumps({sha(QUERY): QUERY}))
    apollo = tmp_path / "manifest.json"
    operations = [{"id": sha(OTHER), "body": OTHER, "name": "Health", "type": "query"}]
    apollo.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    added = persisted_cli(data, "add", str(codegen), str(apollo))
    assert added.returncode == 0, added.stderr
    assert [(e["hash"], e["operation"]) for e in json.loads(added.stdout)] == [
        (sha(QUERY), None),
        (sha(OTHER), "Health"),
    ]
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({sha(OTHER): QUERY}))
    invalid = tmp_path / "invalid.graphql"
    invalid.write_text("query Broken { hub { nothing } }")
    for path, problem in ((wrong, "not the SHA-256"), (invalid, "nothing")):
        refused = persisted_cli(data, "add", str(path))
        assert refused.returncode == 1 and problem in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    listed = json.loads(persisted_cli(data, "list").stdout)
    assert {e["hash"] for e in listed} == {sha(QUERY), sha(OTHER)}


def test_what_clients_register_is_bounded_oldest_dropped_first(tmp_path: Path) -> None:
    database = Database(tmp_path / "_graphql.db")
    store = PersistedQueries(database, GraphQLLimits(persisted_apq_bytes=700))
    documents = [f"query Q{i} {{ hub {{ plugins {{ name }} }} }}" for i in range(4)]
    trusted, _ = store.add("{ __typename }")
    for document in documents:
        store.admit(document)
    kept = {entry["hash"] for entry in store.listing()}
    # each row counts its text and 200 bytes: two of the clients' fit, the admin's always stays
    assert kept == {trusted, sha(documents[2]), sha(documents[3])}
    database.close()
