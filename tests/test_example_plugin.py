"""The example third-party plugin ``examples/hub-notes``: installed as its own distribution, then
driven through every surface of a real hub (REST, GraphQL with its subscription, gRPC found by
reflection, credentials, the probe, the job, the CLI command)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import inspect
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from hub import hookspecs
from hub.storage import Engine
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.ws_client import acknowledged, first_answer, next_message, subscribe

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hub-notes"
SERVICE = "hub.notes.v1.Notes"
CREATE_LIMIT = 40
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs) if hasattr(fn, "hub_spec"))


def _installed_from_here() -> bool:
    try:
        dist = importlib.metadata.distribution("hub-notes")
    except importlib.metadata.PackageNotFoundError:
        return False
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    return direct_url.get("url") == EXAMPLE.as_uri() and any(
        ep.group == "hub" and ep.name == "notes" for ep in dist.entry_points
    )


@pytest.fixture(scope="session")
def notes_installed() -> None:
    """``pip install -e examples/hub-notes`` unless this checkout's copy already is: offline
    (the hub is its only dependency and is installed) and in a couple of seconds."""
    if not _installed_from_here():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--editable",
                str(EXAMPLE),
            ],
            check=True,
            timeout=300,
        )
    if importlib.util.find_spec("hub_notes") is None:
        # installed after this interpreter started, so its .pth was not read: import from source
        sys.path.insert(0, str(EXAMPLE))


def _hub(data_dir: Path, **env: str) -> HubProcess:
    hub = HubProcess(data_dir, env=env)
    if "HUB_PLUGINS" not in env:
        hub.env.pop("HUB_PLUGINS", None)  # every installed plugin, whatever the caller's shell says
    return hub


@pytest.fixture(scope="module")
def hub(notes_installed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    hub = _hub(
        tmp_path_factory.mktemp("notes-hub"),
        HUB_NOTES_PURGE_INTERVAL="0.2",
        HUB_NOTES_CREATE_LIMIT=str(CREATE_LIMIT),
        HUB_NOTES_CREATE_WINDOW="600",
    ).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def writer(hub: HubProcess) -> str:
    issued = hub.creds("notes")
    assert issued["scope"] == "write"
    return str(issued["token"])


@pytest.fixture(scope="module")
def reader(hub: HubProcess) -> str:
    issued = hub.creds("notes", scope="read")
    assert issued["scope"] == "read"
    return str(issued["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def rest(
    hub: HubProcess, method: str, path: str, token: str | None = None, **kwargs: Any
) -> tuple[int, dict[str, str], Any]:
    headers = bearer(token) if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, hub.url + path, headers=headers, **kwargs) as resp,
    ):
        body = await resp.read()
        return resp.status, dict(resp.headers), json.loads(body) if body else None


async def graphql(
    hub: HubProcess, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = bearer(token) if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/graphql", json={"query": query, "variables": variables}, headers=headers
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.json()  # type: ignore[no-any-return]


async def create(hub: HubProcess, token: str, **fields: Any) -> dict[str, Any]:
    status, _, body = await rest(hub, "POST", "/notes/api/notes", token, json=fields)
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def grpc_call(hub: HubProcess, method: str, request: Any, token: str | None = None) -> Any:
    from hub_notes.v1 import notes_pb2_grpc

    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.insecure_channel(hub.grpc) as channel:
        call = getattr(notes_pb2_grpc.NotesStub(channel), method)
        return call(request, metadata=metadata, timeout=10)


# -- the plugin as the host sees it ----------------------------------------------------------
def test_hub_plugins_lists_it_with_version_and_hooks(hub: HubProcess) -> None:
    plugins = {p["name"]: p for p in json.loads(hub.cli("plugins").stdout)}
    notes = plugins["notes"]
    assert notes["version"] == importlib.metadata.version("hub-notes") == "0.1.0"
    assert notes["source"] == "entry point hub_notes.plugin"
    assert notes["hooks"] == HOOKS  # the example implements every hook there is
    assert {"hub", "era"} <= set(plugins)


def test_hub_plugins_env_hides_it(notes_installed: None, tmp_path: Path) -> None:
    only_era = _hub(tmp_path / "data", HUB_PLUGINS="era")
    assert [p["name"] for p in json.loads(only_era.cli("plugins").stdout)] == ["hub", "era"]
    assert "Notes" not in only_era.cli("schema", "export").stdout  # what schema.graphql holds
    assert "notes-count" in _hub(tmp_path / "data").cli("--help").stdout
    assert "type NotesNote " in _hub(tmp_path / "data").cli("schema", "export").stdout


async def test_hub_plugins_env_hides_it_when_serving(notes_installed: None, tmp_path: Path) -> None:
    only_era = _hub(tmp_path / "data", HUB_PLUGINS="era").start()
    try:
        status, _, body = await rest(only_era, "GET", "/notes/api/notes", ADMIN_TOKEN)
        assert status == 404 and body["error"]["status"] == 404  # the host's shape: no plugin here
        with grpc.insecure_channel(only_era.grpc) as channel:
            services = ProtoReflectionDescriptorDatabase(channel).get_services()
        assert SERVICE not in services and "hub.era.v1.Era" in services
    finally:
        only_era.stop()


def test_credentials(hub: HubProcess) -> None:
    bad = hub.cli("creds", "add", "notes", "--param", "scope=admin", check=False)
    assert bad.returncode != 0 and "scope: expected read or write" in bad.stderr
    unknown = hub.cli("creds", "add", "notes", "--param", "colour=red", check=False)
    assert unknown.returncode != 0 and "colour: unknown parameter" in unknown.stderr


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("PURGE_INTERVAL", "soon", "plugins.notes.purge_interval: expected float, got 'soon'"),
        ("PURGE_INTERVAL", "0", "plugins.notes.purge_interval: must be positive"),
    ],
)
def test_bad_settings_name_the_key(
    notes_installed: None, tmp_path: Path, key: str, value: str, message: str
) -> None:
    failed = _hub(tmp_path / "data", **{f"HUB_NOTES_{key}": value}).cli("plugins", check=False)
    assert failed.returncode != 0 and message in failed.stderr


def test_notes_count_command(hub: HubProcess, writer: str) -> None:
    before = int(hub.cli("notes-count").stdout)
    asyncio.run(create(hub, writer, title="counted"))
    assert int(hub.cli("notes-count").stdout) == before + 1


# -- REST ------------------------------------------------------------------------------------
async def test_rest_create_list_get(hub: HubProcess, writer: str, reader: str) -> None:
    status, headers, note = await rest(
        hub, "POST", "/notes/api/notes", writer, json={"title": "milk", "body": "2 litres"}
    )
    assert status == 201
    assert headers["Location"] == f"/notes/api/notes/{note['id']}"
    assert note["title"] == "milk" and note["body"] == "2 litres" and note["expires_at"] is None
    assert note["created_at"].endswith("Z")

    status, _, got = await rest(hub, "GET", f"/notes/api/notes/{note['id']}", reader)
    assert (status, got) == (200, note)
    status, _, page = await rest(hub, "GET", "/notes/api/notes?limit=1000", reader)
    assert status == 200 and note in page["notes"] and page["total"] == len(page["notes"])
    status, _, page = await rest(hub, "GET", "/notes/api/notes?limit=1&offset=0", reader)
    assert len(page["notes"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "token", "body", "status", "reason", "detail"),
    [
        ("GET", "/notes/api/notes", None, None, 401, "unauthorized", "Authorization"),
        ("GET", "/notes/api/notes", "wrong", None, 401, "unauthorized", "Authorization"),
        ("POST", "/notes/api/notes", "reader", {"title": "x"}, 403, "read_only", "scope=read"),
        ("POST", "/notes/api/notes", "writer", {"body": "x"}, 400, "bad_request", "title:"),
        (
            "POST",
            "/notes/api/notes",
            "writer",
            {"title": "x", "colour": 1},
            400,
            "bad_request",
            "colour: unknown field",
        ),
        (
            "POST",
            "/notes/api/notes",
            "writer",
            {"title": "x", "ttl_seconds": -1},
            400,
            "bad_request",
            "ttl_seconds:",
        ),
        ("POST", "/notes/api/notes", "writer", [1], 400, "bad_request", "body:"),
        ("GET", "/notes/api/notes?limit=x", "reader", None, 400, "bad_query_parameter", "limit:"),
        ("GET", "/notes/api/notes?limit=5000", "reader", None, 400, "bad_request", "limit:"),
        ("GET", "/notes/api/notes?sort=1", "reader", None, 400, "bad_query_parameter", "sort:"),
        ("GET", "/notes/api/notes/nope", "reader", None, 404, "note_not_found", "nope"),
        # the host's own errors under /notes come out in the plugin's shape too
        ("GET", "/notes/api/nothing-here", "reader", None, 404, "not_found", "Not found"),
        ("DELETE", "/notes/api/notes", "writer", None, 405, "method_not_allowed", "Method"),
    ],
)
async def test_rest_errors_are_problem_details(
    hub: HubProcess,
    writer: str,
    reader: str,
    method: str,
    path: str,
    token: str | None,
    body: Any,
    status: int,
    reason: str,
    detail: str,
) -> None:
    token = {"writer": writer, "reader": reader}.get(token or "", token)
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            hub.url + path,
            headers=bearer(token) if token else {},
            json=body if body is not None else None,
        ) as resp,
    ):
        assert resp.status == status
        assert resp.content_type == "application/problem+json"
        problem = await resp.json(content_type=None)
    assert problem["status"] == status and problem["reason"] == reason
    assert detail in problem["detail"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (
            "offset=9223372036854775808",
            "offset: expected an integer from -9223372036854775808 to"
            " 9223372036854775807, got '9223372036854775808'",
        ),
        ("offset=-9223372036854775809", "offset: expected an integer from"),
        ("limit=99999999999999999999", "limit: expected an integer from"),
        ("offset=" + "9" * 5000, "offset: expected an integer from"),  # past int()'s digit limit
        ("offset=-1", "offset: must be between 0 and 9223372036854775807"),
    ],
)
async def test_rest_integers_out_of_range_are_400(
    hub: HubProcess, reader: str, query: str, detail: str
) -> None:
    """Was a 500 (OverflowError binding 2**63 to SQLite): the host's integer parameters accept
    only what a signed 64-bit integer holds, and the paging bounds are the host's."""
    status, _, problem = await rest(hub, "GET", f"/notes/api/notes?{query}", reader)
    assert (status, problem["status"]) == (400, 400), problem
    assert problem["detail"].startswith(detail), problem


async def test_rest_the_largest_offset_is_an_empty_page(hub: HubProcess, reader: str) -> None:
    status, _, page = await rest(hub, "GET", "/notes/api/notes?offset=9223372036854775807", reader)
    assert status == 200 and page["notes"] == [] and page["total"] >= 0


async def test_rest_malformed_json(hub: HubProcess, writer: str) -> None:
    status, _, problem = await rest(hub, "POST", "/notes/api/notes", writer, data=b"{nope")
    assert status == 400 and problem["reason"] == "bad_json"


async def test_rest_body_limit(hub: HubProcess, writer: str) -> None:
    status, _, problem = await rest(
        hub, "POST", "/notes/api/notes", writer, data=b"x" * (2 * 1024 * 1024)
    )
    assert status == 413 and problem["title"] == "Request Entity Too Large"


# -- GraphQL ---------------------------------------------------------------------------------
CREATE_X = 'mutation { notesCreateNote(input: {title: "x"}) { id } }'
PAGE = """query Page($first: Int, $after: String) {
  notes { notes(first: $first, after: $after) {
    edges { cursor node { id title } } pageInfo { hasNextPage endCursor } totalCount } }
}"""


async def test_graphql_query_mutation_and_paging(hub: HubProcess, writer: str, reader: str) -> None:
    created = await graphql(
        hub,
        "mutation($input: NotesNoteInput!) {"
        " notesCreateNote(input: $input) { id title body expiresAt } }",
        writer,
        input={"title": "via graphql", "body": "b", "ttlSeconds": 3600},
    )
    note = created["data"]["notesCreateNote"]
    assert note["title"] == "via graphql" and note["expiresAt"].endswith("Z")
    status, _, same = await rest(hub, "GET", f"/notes/api/notes/{note['id']}", reader)
    assert status == 200 and same["body"] == "b" and same["expires_at"] == note["expiresAt"]

    one = await graphql(
        hub, "query($id: ID!) { notes { note(id: $id) { id title } } }", reader, id=note["id"]
    )
    assert one["data"]["notes"]["note"] == {"id": note["id"], "title": "via graphql"}

    first = (await graphql(hub, PAGE, reader, first=1))["data"]["notes"]["notes"]
    assert first["totalCount"] >= 2 and first["pageInfo"]["hasNextPage"]
    second = await graphql(hub, PAGE, reader, first=1, after=first["pageInfo"]["endCursor"])
    nodes = second["data"]["notes"]["notes"]["edges"]
    assert len(nodes) == 1 and nodes[0]["node"]["id"] != first["edges"][0]["node"]["id"]


async def test_graphql_notes_page_by_keyset_so_an_expired_note_skips_nobody(
    hub: HubProcess,
) -> None:
    """Notes are listed by creation (a unique key), so a cursor seeks: a note before the
    cursor that expires between two pages neither skips nor repeats one on the next page (an
    offset cursor would skip one)."""
    token = hub.creds("notes")["token"]
    expiring = await create(hub, token, title="expires soon", ttl_seconds=1.5)
    stays = [await create(hub, token, title=f"stays {i}") for i in range(2)]
    everyone = (await graphql(hub, PAGE, token, first=1000))["data"]["notes"]["notes"]
    ids = [edge["node"]["id"] for edge in everyone["edges"]]
    upto = await graphql(hub, PAGE, token, first=ids.index(stays[0]["id"]) + 1)
    cursor = upto["data"]["notes"]["notes"]["pageInfo"]["endCursor"]
    while expiring["id"] in await live_ids(hub, token):
        await asyncio.sleep(0.1)
    after = await graphql(hub, PAGE, token, first=1, after=cursor)
    assert [e["node"]["id"] for e in after["data"]["notes"]["notes"]["edges"]] == [stays[1]["id"]]


async def live_ids(hub: HubProcess, token: str) -> list[str]:
    _, _, listing = await rest(hub, "GET", "/notes/api/notes?limit=1000", token)
    return [note["id"] for note in listing["notes"]]


async def test_graphql_errors_follow_the_table(hub: HubProcess, reader: str) -> None:
    missing = await graphql(hub, '{ notes { note(id: "nope") { id } } }', reader)
    assert missing["errors"][0]["extensions"] == {
        "code": "NOT_FOUND",
        "plugin": "notes",
        "status": 404,
        "reason": "note_not_found",
    }
    anonymous = await graphql(hub, "{ notes { notes { totalCount } } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forbidden = await graphql(hub, CREATE_X, reader)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await graphql(hub, '{ notes { notes(first: 1, after: "zzz") { totalCount } } }', reader)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def _subscribers(hub: HubProcess) -> str:
    _, _, ready = await rest(hub, "GET", "/readyz", ADMIN_TOKEN)  # details are the admin's
    (probe,) = [p for p in ready["probes"] if p["plugin"] == "notes"]
    return str(probe["detail"]).split("subscribers: ")[1]


async def test_graphql_subscription_over_websocket(
    hub: HubProcess, writer: str, reader: str
) -> None:
    async with acknowledged(hub.url, bearer(reader)) as ws:
        await subscribe(ws, "subscription { notesNoteAdded { id title body } }")
        deadline = time.monotonic() + 10
        while await _subscribers(hub) != "1":  # the server does not acknowledge a subscribe
            assert time.monotonic() < deadline, "the subscription never started"
            await asyncio.sleep(0.05)

        note = await create(hub, writer, title="pushed", body="over the websocket")
        message = await next_message(ws)
        assert message["type"] == "next" and message["id"] == "1"
        assert message["payload"]["data"]["notesNoteAdded"] == {
            "id": note["id"],
            "title": "pushed",
            "body": "over the websocket",
        }
        await ws.send_json({"id": "1", "type": "complete"})
        deadline = time.monotonic() + 10
        while await _subscribers(hub) != "0":
            assert time.monotonic() < deadline, "completing did not end the subscription"
            await asyncio.sleep(0.05)


async def test_a_subscription_ends_at_its_next_note_once_its_token_is_revoked(
    hub: HubProcess, writer: str
) -> None:
    listed = {c["id"] for c in json.loads(hub.cli("creds", "list", "notes").stdout)}
    issued = hub.creds("notes", scope="read")
    (credential_id,) = {
        c["id"] for c in json.loads(hub.cli("creds", "list", "notes").stdout)
    } - listed
    async with acknowledged(hub.url, bearer(str(issued["token"]))) as ws:
        await subscribe(ws, "subscription { notesNoteAdded { title } }")
        deadline = time.monotonic() + 10
        while await _subscribers(hub) != "1":
            assert time.monotonic() < deadline, "the subscription never started"
            await asyncio.sleep(0.05)
        await create(hub, writer, title="while valid")
        message = await next_message(ws)
        assert message["payload"]["data"]["notesNoteAdded"] == {"title": "while valid"}
        hub.cli("creds", "revoke", "notes", credential_id)
        await create(hub, writer, title="after the revocation")
        message = await next_message(ws)
        print(message)
        assert "after the revocation" not in json.dumps(message)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        deadline = time.monotonic() + 10
        while await _subscribers(hub) != "0":
            assert time.monotonic() < deadline, "the revoked subscription still runs"
            await asyncio.sleep(0.05)


async def test_graphql_subscription_needs_a_token(hub: HubProcess) -> None:
    message = await first_answer(hub.url, {}, "subscription { notesNoteAdded { id } }")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- gRPC ------------------------------------------------------------------------------------
def test_grpc_found_by_reflection(hub: HubProcess) -> None:
    with grpc.insecure_channel(hub.grpc) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert SERVICE in database.get_services()
        service = DescriptorPool(database).FindServiceByName(SERVICE)
        assert {m.name for m in service.methods} == {"CreateNote", "ListNotes", "GetNote"}
        assert service.file.name == "hub/notes/v1/notes.proto"
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=10
        )
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_grpc_calls_with_generated_stubs(hub: HubProcess, writer: str, reader: str) -> None:
    from hub_notes.v1 import notes_pb2

    request = notes_pb2.CreateNoteRequest(title="via grpc", body="g")
    note = grpc_call(hub, "CreateNote", request, writer)
    assert note.title == "via grpc" and not note.HasField("expires_at")
    assert grpc_call(hub, "GetNote", notes_pb2.GetNoteRequest(id=note.id), reader) == note
    listed = grpc_call(hub, "ListNotes", notes_pb2.ListNotesRequest(limit=1000), reader)
    assert note in listed.notes and listed.total_count == len(listed.notes)
    via_rest = asyncio.run(rest(hub, "GET", f"/notes/api/notes/{note.id}", reader))[2]
    assert via_rest == {
        "id": note.id,
        "title": "via grpc",
        "body": "g",
        "created_at": note.created_at,
        "expires_at": None,
    }


@pytest.mark.parametrize(
    ("method", "request_fields", "token", "code", "reason"),
    [
        ("GetNote", {"id": "nope"}, "reader", grpc.StatusCode.NOT_FOUND, "note_not_found"),
        ("ListNotes", {}, None, grpc.StatusCode.UNAUTHENTICATED, "unauthorized"),
        ("CreateNote", {"title": "x"}, "reader", grpc.StatusCode.PERMISSION_DENIED, "read_only"),
        ("CreateNote", {"title": ""}, "writer", grpc.StatusCode.INVALID_ARGUMENT, "bad_request"),
        ("ListNotes", {"limit": -1}, "reader", grpc.StatusCode.INVALID_ARGUMENT, "bad_request"),
    ],
)
def test_grpc_errors_follow_the_table(
    hub: HubProcess,
    writer: str,
    reader: str,
    method: str,
    request_fields: dict[str, Any],
    token: str | None,
    code: grpc.StatusCode,
    reason: str,
) -> None:
    from hub_notes.v1 import notes_pb2

    request = getattr(notes_pb2, f"{method}Request")(**request_fields)
    with pytest.raises(grpc.RpcError) as failure:
        grpc_call(hub, method, request, {"writer": writer, "reader": reader}.get(token or ""))
    error: Any = failure.value
    assert error.code() == code
    trailers = dict(error.trailing_metadata())
    assert trailers["hub-reason"] == reason and trailers["hub-plugin"] == "notes"


# -- rate limit, probe, job ------------------------------------------------------------------
async def test_create_rate_limit_on_every_protocol(hub: HubProcess) -> None:
    from hub_notes.v1 import notes_pb2

    token = hub.creds("notes")["token"]
    for i in range(CREATE_LIMIT):
        await create(hub, token, title=f"burst {i}")
    status, headers, problem = await rest(
        hub, "POST", "/notes/api/notes", token, json={"title": "x"}
    )
    assert status == 429 and problem["reason"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    limited = await graphql(hub, CREATE_X, token)
    assert limited["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert limited["errors"][0]["extensions"]["retryAfter"] >= 1
    with pytest.raises(grpc.RpcError) as failure:
        grpc_call(hub, "CreateNote", notes_pb2.CreateNoteRequest(title="x"), token)
    error: Any = failure.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(error.trailing_metadata())["retry-after"]) >= 1


async def test_health_probe(hub: HubProcess) -> None:
    status, _, ready = await rest(hub, "GET", "/readyz", ADMIN_TOKEN)
    assert status == 200 and ready["plugins"]["notes"] == "ok"
    (probe,) = [p for p in ready["probes"] if p["plugin"] == "notes"]
    assert probe["name"] == "database" and probe["status"] == "ok"
    assert probe["detail"].startswith("stored notes: ")


async def test_purge_job_deletes_expired_notes(hub: HubProcess, writer: str, reader: str) -> None:
    note = await create(hub, writer, title="fleeting", ttl_seconds=1)
    assert note["expires_at"] is not None
    assert (await rest(hub, "GET", f"/notes/api/notes/{note['id']}", reader))[0] == 200

    def stored() -> bool:
        url = hub.env.get("HUB_DATABASE_URL", "")  # notes.db, or schema notes in PostgreSQL
        with closing(Engine(hub.data_dir, url).open("notes")) as db:
            row = db.execute("SELECT 1 FROM notes WHERE id = ?", (note["id"],)).fetchone()
        return row is not None

    deadline = time.monotonic() + 15
    while stored():
        assert time.monotonic() < deadline, "the purge job never deleted the expired note"
        await asyncio.sleep(0.1)
    assert (await rest(hub, "GET", f"/notes/api/notes/{note['id']}", reader))[0] == 404
    async with aiohttp.ClientSession() as session, session.get(hub.url + "/metrics") as resp:
        metrics = await resp.text()
    assert 'hub_timer_failures_total{timer="notes.purge_expired"} 0.0' in metrics


def test_committed_stubs_match_the_proto() -> None:
    drift = subprocess.run(
        [sys.executable, "-m", "hub.cli", "protogen", "--check", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert drift.returncode == 0, drift.stdout + drift.stderr
