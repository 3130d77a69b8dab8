"""``log_format = "json"`` on a real hub: every line one JSON object, a request id taken from
``X-Request-Id`` / ``x-request-id`` (when sane) or made, echoed back and on every line of its
request, one access line per REST, GraphQL and gRPC request, tracebacks inside the object, and
no secret anywhere in the log."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from hub_rop.v1 import rop_pb2 as rop_pb
from hub_rop.v1 import rop_pb2_grpc
from hub_unspot.v1 import unspot_pb2 as pb
from hub_unspot.v1 import unspot_pb2_grpc

from tests.hubproc import ADMIN_TOKEN, LISTENING, HubProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MONITORING = "/unspot/api/external/v1/monitoring"
GET_MONITORING = "/hub.unspot.v1.Unspot/GetMonitoring"
NEW_ID = re.compile(r"^[0-9a-f]{32}$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# A single-file plugin that logs while it serves: inline, from a task it starts, and a crash.
CHATTY = """
import asyncio
import logging

import strawberry
from aiohttp import web

from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, RestApi

log = logging.getLogger(__name__)


@hookimpl
def register_rest(hub, register):
    async def item(request):
        log.info("looking up an item")
        await asyncio.create_task(later())
        return web.json_response({"item": request.match_info["item"]})

    async def later():
        log.warning("from a task of the request")

    async def boom(request):
        raise RuntimeError("boom\\nsecond line")

    register(RestApi(routes=[web.get("/items/{item}", item), web.get("/boom", boom)]))


@strawberry.type(name="ChattyQuery")
class Query:
    @strawberry.field
    def echo(self, text: str) -> str:
        log.info("echoing")
        return text


@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=Query))
"""


def json_hub(tmp_path: Path, **env: str) -> HubProcess:
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "chatty.py").write_text(CHATTY)
    settings = {
        "HUB_PLUGINS": "unspot,rop,chatty",
        "HUB_PLUGINS_DIR": str(plugins),
        "HUB_LOG_FORMAT": "json",
        "HUB_LOG_LEVEL": "INFO",
        **env,
    }
    return HubProcess(tmp_path / "data", env=settings)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = json_hub(tmp_path_factory.mktemp("json-logs")).start()
    yield process
    process.stop()


def log_lines(hub: HubProcess) -> list[dict[str, Any]]:
    """Every line the hub wrote, parsed: stdout's listening lines aside (HubProcess merges
    stdout into the same output), each one must be a JSON object."""
    lines = []
    for raw in list(hub.output):
        if LISTENING.match(raw.strip()):
            continue
        line = json.loads(raw)
        assert isinstance(line, dict), raw
        lines.append(line)
    return lines


def lines_of(hub: HubProcess, request_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The lines of one request, once at least ``count`` of them (the access line last) are
    written: the hub writes its access line as the answer goes out."""
    deadline = time.monotonic() + 10
    while True:
        found = [line for line in log_lines(hub) if line.get("request_id") == request_id]
        if len(found) >= count and found[-1]["logger"] == "hub.access":
            return found
        assert time.monotonic() < deadline, f"no access line for {request_id}: {found}"
        time.sleep(0.05)


def access_line(hub: HubProcess, request_id: str) -> dict[str, Any]:
    (line,) = [x for x in lines_of(hub, request_id) if x["logger"] == "hub.access"]
    return line


async def get(
    hub: HubProcess, path: str, headers: dict[str, str] | None = None
) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.url + path, headers=headers) as r,
    ):
        await r.read()
        return r


async def test_rest_request_id_is_taken_echoed_and_on_the_access_line(hub: HubProcess) -> None:
    response = await get(hub, MONITORING + "/displays", {**ADMIN, "X-Request-Id": "client-42"})
    assert response.headers["X-Request-Id"] == "client-42"
    line = access_line(hub, "client-42")
    assert line == {
        "time": line["time"],
        "level": "INFO",
        "logger": "hub.access",
        "message": f"GET {MONITORING}/displays {response.status} {line['duration_ms']}ms",
        "plugin": "unspot",
        "request_id": "client-42",
        "protocol": "rest",
        "operation": f"GET {MONITORING}/displays",
        "status": response.status,
        "duration_ms": line["duration_ms"],
    }
    assert ISO_UTC.match(line["time"])
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


@pytest.mark.parametrize(
    "incoming", [None, "x" * 129, "has space", "tab\there", "ünïcode", ""], ids=repr
)
async def test_a_missing_or_insane_request_id_is_replaced(
    hub: HubProcess, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"X-Request-Id": incoming}
    response = await get(hub, "/healthz", headers)
    made = response.headers["X-Request-Id"]
    assert NEW_ID.match(made) and made != incoming
    line = access_line(hub, made)
    assert (line["plugin"], line["operation"], line["status"]) == ("hub", "GET /healthz", 200)


async def test_every_line_of_a_request_carries_its_id_tasks_included(hub: HubProcess) -> None:
    response = await get(hub, "/chatty/items/7", {"X-Request-Id": "r" * 128})
    assert response.status == 200 and response.headers["X-Request-Id"] == "r" * 128
    lines = lines_of(hub, "r" * 128, count=3)
    assert [(x["message"], x["plugin"]) for x in lines[:2]] == [
        ("looking up an item", "chatty"),
        ("from a task of the request", "chatty"),
    ]
    assert {(x["protocol"], x["operation"]) for x in lines} == {
        ("rest", "GET /chatty/items/{item}")
    }
    assert "7" not in lines[-1]["message"].split()  # the template, never the path


async def test_a_crash_is_one_line_with_its_traceback_inside(hub: HubProcess) -> None:
    response = await get(hub, "/chatty/boom", {"X-Request-Id": "crash-1"})
    assert response.status == 500
    crash, access = lines_of(hub, "crash-1", count=2)
    assert crash["level"] == "ERROR" and crash["logger"] == "hub.http"
    assert crash["message"] == "unhandled error on GET /chatty/boom"
    assert "Traceback" in crash["exception"]
    assert "RuntimeError: boom\nsecond line" in crash["exception"]
    assert access["status"] == 500


async def graphql(hub: HubProcess, body: dict[str, Any], headers: dict[str, str]) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(hub.url + "/graphql", json=body, headers=headers) as r,
    ):
        return r.headers.get("X-Request-Id"), await r.json()


async def test_graphql_lines_name_the_operation(hub: HubProcess) -> None:
    named = {"query": 'query Echo { chatty { echo(text: "hi") } }', "operationName": "Echo"}
    echoed, result = await graphql(hub, named, {"X-Request-Id": "gql-1"})
    assert echoed == "gql-1" and result == {"data": {"chatty": {"echo": "hi"}}}
    echo, access = lines_of(hub, "gql-1", count=2)
    assert (echo["message"], echo["plugin"]) == ("echoing", "chatty")
    for line in (echo, access):
        assert (line["protocol"], line["operation"]) == ("graphql", "Echo")
    assert (access["plugin"], access["status"]) == ("hub", 200)

    made, _ = await graphql(hub, {"query": '{ chatty { echo(text: "x") } }'}, {})
    assert NEW_ID.match(made)
    assert access_line(hub, made)["operation"] == "query"
    made, _ = await graphql(hub, {"query": "{"}, {})  # never parsed: the route's template
    line = access_line(hub, made)
    assert (line["protocol"], line["operation"]) == ("graphql", "POST /graphql")


def grpc_monitoring(hub: HubProcess, metadata: list[tuple[str, str]]) -> Any:
    with grpc.insecure_channel(hub.grpc) as channel:
        call = unspot_pb2_grpc.UnspotStub(channel).GetMonitoring
        try:
            _, rpc = call.with_call(pb.GetMonitoringRequest(), metadata=metadata, timeout=10)
        except grpc.RpcError as exc:
            rpc = exc
        return rpc.code(), dict(rpc.trailing_metadata())


def test_grpc_request_id_in_metadata_and_on_the_access_line(hub: HubProcess) -> None:
    """In the trailers: sent with the answer or the error in one batch, not before it."""
    admin = ("authorization", f"Bearer {ADMIN_TOKEN}")
    code, metadata = grpc_monitoring(hub, [admin, ("x-request-id", "grpc-1")])
    assert code == grpc.StatusCode.OK and metadata["x-request-id"] == "grpc-1"
    line = access_line(hub, "grpc-1")
    assert (line["protocol"], line["operation"], line["plugin"], line["status"]) == (
        "grpc",
        GET_MONITORING,
        "unspot",
        "OK",
    )

    code, metadata = grpc_monitoring(hub, [("authorization", "Bearer nope")])
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert metadata["hub-status"] == "401"  # the error's own trailers beside the id
    assert access_line(hub, metadata["x-request-id"])["status"] == "UNAUTHENTICATED"

    code, metadata = grpc_monitoring(hub, [admin, ("x-request-id", "bad id")])
    assert NEW_ID.match(metadata["x-request-id"])


def test_a_grpc_stream_sends_its_request_id_before_its_first_message(hub: HubProcess) -> None:
    admin = ("authorization", f"Bearer {ADMIN_TOKEN}")
    with grpc.insecure_channel(hub.grpc) as channel:
        stream = rop_pb2_grpc.RopStub(channel).WatchCallAnalyzed(
            rop_pb.WatchCallAnalyzedRequest(),
            metadata=[admin, ("x-request-id", "watch-1")],
            timeout=10,
        )
        assert dict(stream.initial_metadata())["x-request-id"] == "watch-1"  # no event yet
        stream.cancel()


def test_every_grpc_call_has_its_access_line(hub: HubProcess) -> None:
    """The host's services and a call refused before its method runs included."""
    metadata = [("x-request-id", "health-1")]
    with grpc.insecure_channel(hub.grpc) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        assert check(b"", metadata=metadata, timeout=10)  # SERVING
        garbage = channel.unary_unary(GET_MONITORING)
        with pytest.raises(grpc.RpcError) as refused:
            garbage(b"\xff\xff\xff", metadata=[("x-request-id", "garbage-1")], timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    line = access_line(hub, "health-1")
    assert (line["plugin"], line["operation"], line["status"]) == (
        "hub",
        "/grpc.health.v1.Health/Check",
        "OK",
    )
    line = access_line(hub, "garbage-1")
    assert (line["plugin"], line["status"]) == ("unspot", "INVALID_ARGUMENT")


async def test_no_secret_reaches_the_log(hub: HubProcess) -> None:
    secrets = ["bearer-secret-4711", "api-key-secret-4712", "cookie-secret-4713"]
    headers = {"Authorization": f"Bearer {secrets[0]}", "Cookie": f"session={secrets[2]}"}
    await get(hub, MONITORING + "/calendars", {**headers, "X-Request-Id": "secret-1"})
    path = f"/rop/api/v1/tables/call-ready?apiKey={secrets[1]}"
    await get(hub, path, {"X-Request-Id": "secret-2"})
    async with aiohttp.ClientSession() as session:  # a route whose path carries a token
        url = f"{hub.url}/rop/receivers/{secrets[1]}"
        async with session.post(url, json={}, headers={"X-Request-Id": "secret-3"}) as r:
            await r.read()
    assert access_line(hub, "secret-3")["operation"] == "POST /rop/receivers/{token}"
    await get(hub, f"/no/such/{secrets[1]}?apiKey={secrets[1]}", {"X-Request-Id": "secret-4"})
    grpc_monitoring(hub, [("authorization", f"Bearer {secrets[0]}")])
    for request_id in ("secret-1", "secret-2", "secret-4"):
        assert access_line(hub, request_id)["status"] in (401, 404)
    output = "".join(hub.output)
    assert not [secret for secret in secrets if secret in output]


def test_text_logs_have_no_access_lines(tmp_path: Path) -> None:
    hub = json_hub(tmp_path, HUB_LOG_FORMAT="text").start()
    try:
        with urllib.request.urlopen(hub.url + "/chatty/items/1", timeout=10) as response:
            assert response.status == 200
        deadline = time.monotonic() + 10
        while not any("looking up an item" in line for line in hub.output):
            assert time.monotonic() < deadline, hub.output
            time.sleep(0.05)
    finally:
        hub.stop()
    assert not any("hub.access" in line for line in hub.output)
    assert any(" INFO [chatty] " in line for line in hub.output)


def test_a_bad_log_format_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    hub = json_hub(tmp_path, HUB_LOG_FORMAT="xml")
    failed = hub.cli("serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", check=False)
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines() == [
        "Error: bad config: log_format: expected one of text, json, got 'xml'"
    ]


async def test_each_worker_of_a_multi_worker_hub_logs_per_request(tmp_path: Path) -> None:
    hub = json_hub(tmp_path, HUB_PLUGINS="chatty")
    hub.args = ["--workers", "2"]
    hub.start()
    try:
        ids = [f"worker-{i}" for i in range(8)]
        for request_id in ids:
            response = await get(hub, "/chatty/items/1", {"X-Request-Id": request_id})
            assert response.headers["X-Request-Id"] == request_id
        for request_id in ids:
            lines = lines_of(hub, request_id, count=3)
            assert len({line["plugin"] for line in lines}) == 1
    finally:
        hub.stop()
    log_lines(hub)  # the supervisor's lines too: every one a JSON object
