"""Clients for the webim tests: REST with Basic auth, GraphQL, gRPC stubs, curl as the seed
writes it, a parser of PHP's var_dump that checks every ``string(N)`` byte length, and the
seed's account counters."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from typing import Any

import aiohttp
import grpc
from hub_webim.v1 import webim_pb2_grpc

from tests.hubproc import ADMIN_TOKEN, HubProcess

ADMIN = f"Bearer {ADMIN_TOKEN}"
PREFIX = "/webim"
# An account row's counters in the seed's order, written out here rather than imported from
# hub_webim.storage on purpose: the tests hold the hub's answers to the seed, not to itself.
SEED_COUNTERS = (
    "sessions_cnt",
    "visible_sessions_cnt",
    "alive_sessions_cnt",
    "pages_cnt",
    "alive_pages_cnt",
    "online_operators_cnt",
    "working_operators_cnt",
    "chats_cnt",
    "offline_chats_cnt",
    "in_queue_cnt",
    "failed_to_store_objects_cnt",
    "collected_to_store_objects_cnt",
    "being_stored_now_objects_cnt",
    "being_stored_now_processed_objects_cnt",
    "failed_to_store_objects_cnt_1",
    "collected_to_store_objects_cnt_1",
    "being_stored_now_objects_cnt_1",
    "being_stored_now_processed_objects_cnt_1",
)


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def service_login(hub: HubProcess, login: str = "zabbix") -> str:
    cred = hub.creds("webim", kind="service", login=login)
    assert cred["login"] == login and len(cred["password"]) >= 16
    return basic(cred["login"], cred["password"])


async def rest(
    url: str, authorization: str | None = None, **kwargs: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = dict(kwargs.pop("headers", {}))
    if authorization:
        headers["Authorization"] = authorization
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        is_json = response.content_type == "application/json"
        return response.status, (await response.json() if is_json else text), response.headers


async def graphql(
    hub: HubProcess, query: str, authorization: str | None = ADMIN, **variables: Any
) -> dict[str, Any]:
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{hub.url}/graphql", json={"query": query, "variables": variables}, headers=headers
        ) as response,
    ):
        return await response.json()  # type: ignore[no-any-return]


def gql_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]  # type: ignore[no-any-return]


async def rpc(hub: HubProcess, method: str, request: Any, authorization: str | None = ADMIN) -> Any:
    metadata = (("authorization", authorization),) if authorization else ()
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        stub = webim_pb2_grpc.WebimStub(channel)
        return await getattr(stub, method)(request, metadata=metadata)


async def rpc_error(
    hub: HubProcess, method: str, request: Any, authorization: str | None = ADMIN
) -> tuple[grpc.StatusCode, dict[str, str]]:
    try:
        await rpc(hub, method, request, authorization)
    except grpc.aio.AioRpcError as exc:
        trailers = {k: v for k, v in (exc.trailing_metadata() or ())}
        return exc.code(), trailers
    raise AssertionError(f"{method} did not fail")


def curl(*args: str) -> tuple[int, str]:
    """Run curl as the seed's examples do; ``(status, body)``."""
    if shutil.which("curl") is None:
        import pytest

        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "--silent", "--show-error", "--write-out", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


# -- PHP var_dump ---------------------------------------------------------------------------
_KEY = re.compile(r'\["(?P<key>[^"]*)"\]=>\n')
_STRING = re.compile(r"string\((?P<n>\d+)\) \"")


def parse_var_dump(text: str) -> dict[str, Any]:
    """A flat ``array(N) {...}`` as PHP prints it. Strings are read by their declared *byte*
    length (so a wrong length, or one counted in characters, fails here) and must be followed
    by the closing quote."""
    data = text.encode("utf-8")
    header = re.match(rb"array\((\d+)\) \{\n", data)
    assert header, text[:40]
    count, pos = int(header.group(1)), header.end()
    out: dict[str, Any] = {}
    while not data.startswith(b"}\n", pos):
        assert data.startswith(b"  ", pos), data[pos : pos + 40]
        key = _KEY.match(data[pos + 2 :].decode("utf-8", "replace"))
        assert key, data[pos : pos + 40]
        pos += 2 + len(key.group(0).encode())
        assert data.startswith(b"  ", pos)
        pos += 2
        if data.startswith(b"NULL\n", pos):
            value: Any = None
            pos += 5
        else:
            string = _STRING.match(data[pos:].decode("utf-8", "replace"))
            assert string, data[pos : pos + 40]
            pos += len(string.group(0).encode())
            size = int(string.group("n"))
            value = data[pos : pos + size].decode("utf-8")
            pos += size
            assert data[pos : pos + 2] == b'"\n', f"{key.group('key')}: length {size} is wrong"
            pos += 2
        out[key.group("key")] = value
    assert pos + 2 == len(data), "trailing bytes after the array"
    assert len(out) == count, f"array({count}) holds {len(out)} keys"
    return out


async def issue(hub: HubProcess, **params: str) -> dict[str, Any]:
    """``hub creds add webim`` through its GraphQL twin (no CLI start-up per credential)."""
    body = await graphql(
        hub,
        "mutation($params: [HubParamInput!])"
        ' { hubAddCredential(plugin: "webim", params: $params) }',
        params=[{"key": k, "value": v} for k, v in params.items()],
    )
    if body.get("errors"):
        raise ValueError(body["errors"][0]["message"])
    return body["data"]["hubAddCredential"]  # type: ignore[no-any-return]
