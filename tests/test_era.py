"""The ``era`` plugin against a real hub: REST (seed + spec), GraphQL and gRPC, and that the three
protocols give the same data and the same errors."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from hub_era.v1 import era_pb2, era_pb2_grpc

from hub.credentials import sha256
from hub.storage import Engine
from tests.hubproc import ADMIN_TOKEN, HubProcess

BASE = "/era/rest/v1/service/integration_points"
TOKENS = "/era/rest/v1/service/integration_tokens"
CT = "application/json; charset=utf-8"
SEED_ORDER = [
    "id",
    "code",
    "type",
    "token_local",
    "token_remote",
    "token_remote2",
    "url",
    "recv_svcscriptcode",
    "recv_svcscriptcode_ws",
    "send_svcscriptcode",
    "send_svcscriptcode_ws",
    "opts",
    "ext",
]
OPTS_ORDER = ["title", "comment", "allow_files_api", "issync"]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NO_TOKEN = object()
GQL_POINT = """
fragment P on EraIntegrationPoint {
  id code type tokenLocal tokenRemote tokenRemote2 url recvSvcscriptcode recvSvcscriptcodeWs
  sendSvcscriptcode sendSvcscriptcodeWs opts { title comment allowFilesApi issync } ext { ct lwt }
}
"""
CREATE_P = (
    GQL_POINT
    + "mutation($in: EraIntegrationPointInput!) { eraCreateIntegrationPoint(input: $in) { ...P } }"
)
UPDATE_P = (
    GQL_POINT + "mutation($id: ID!, $in: EraIntegrationPointInput!) {"
    " eraUpdateIntegrationPoint(id: $id, input: $in) { ...P } }"
)


def uid() -> str:
    return uuid.uuid4().hex[:12]


def snake(value: Any) -> Any:
    """GraphQL's camelCase keys back to the REST names (tokenRemote2 -> token_remote2)."""
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


def from_grpc(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def stamp_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass
class Reply:
    status: int
    headers: Any
    text: str
    body: Any = None


@dataclass
class GqlError:
    message: str
    extensions: dict[str, Any]


@dataclass
class RpcError:
    code: grpc.StatusCode
    details: str
    trailers: dict[str, str] = field(default_factory=dict)


class Era:
    """One test's clients: an HTTP session, a gRPC channel, the era token."""

    def __init__(
        self, hub: HubProcess, session: aiohttp.ClientSession, channel: grpc.aio.Channel, token: str
    ) -> None:
        self.hub = hub
        self.session = session
        self.token = token
        self.stub = era_pb2_grpc.EraStub(channel)

    def _auth(self, token: Any) -> dict[str, str]:
        token = self.token if token is None else token
        return {} if token is NO_TOKEN else {"Authorization": f"Bearer {token}"}

    # -- REST ------------------------------------------------------------------------------
    async def rest(
        self,
        method: str,
        path: str = "",
        *,
        body: Any = NO_TOKEN,
        raw: Any = None,
        params: dict[str, str] | None = None,
        token: Any = None,
        headers: dict[str, str] | None = None,
        base: str = BASE,
    ) -> Reply:
        hdrs = {**self._auth(token), **(headers or {})}
        data = raw
        if body is not NO_TOKEN:
            data = json.dumps(body)
            hdrs.setdefault("Content-Type", CT)
        async with self.session.request(
            method, base + path, data=data, params=params, headers=hdrs
        ) as r:
            text = await r.text()
            reply = Reply(r.status, r.headers, text)
        assert reply.status != 500, reply.text
        if reply.status == 204:
            assert text == ""
        else:
            assert reply.headers["Content-Type"] == CT, (reply.status, reply.headers, text)
            reply.body = json.loads(text)
        return reply

    async def create(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("code", "c-" + uid())
        fields.setdefault("type", "t-" + uid())
        reply = await self.rest("POST", body=fields)
        assert reply.status == 200, reply.text
        return reply.body  # type: ignore[no-any-return]

    async def get(self, ident: str) -> dict[str, Any]:
        reply = await self.rest("GET", "/" + ident)
        assert reply.status == 200, reply.text
        return reply.body  # type: ignore[no-any-return]

    async def list(self, **params: Any) -> list[dict[str, Any]]:
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        reply = await self.rest("GET", params=query)
        assert reply.status == 200, reply.text
        assert isinstance(reply.body, list)
        return reply.body

    # -- GraphQL ---------------------------------------------------------------------------
    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: Any = None
    ) -> dict[str, Any]:
        async with self.session.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self._auth(token),
        ) as r:
            assert r.status == 200, await r.text()
            return await r.json()  # type: ignore[no-any-return]

    async def gql_data(
        self, query: str, variables: dict[str, Any] | None = None, token: Any = None
    ) -> Any:
        result = await self.gql(query, variables, token)
        assert "errors" not in result, result
        return snake(result["data"])

    async def gql_error(
        self, query: str, variables: dict[str, Any] | None = None, token: Any = None
    ) -> GqlError:
        result = await self.gql(query, variables, token)
        assert len(result.get("errors", [])) == 1, result
        error = result["errors"][0]
        return GqlError(error["message"], error["extensions"])

    # -- gRPC ------------------------------------------------------------------------------
    def metadata(self, token: Any = None) -> tuple[tuple[str, str], ...]:
        token = self.token if token is None else token
        return () if token is NO_TOKEN else (("authorization", f"Bearer {token}"),)

    async def rpc(self, method: str, request: Any, token: Any = None) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.metadata(token), timeout=10)

    async def rpc_error(self, method: str, request: Any, token: Any = None) -> RpcError:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await self.rpc(method, request, token)
        exc = info.value
        trailers = {k: v for k, v in (exc.trailing_metadata() or ())}
        return RpcError(exc.code(), exc.details() or "", trailers)


def expect_error(reply: Reply, status: int, *fragments: str) -> str:
    """The era error shape: exactly ``error_code`` (1000 + status) and ``error_message``."""
    assert reply.status == status, (reply.status, reply.text)
    assert reply.headers["Content-Type"] == CT
    assert list(reply.body) == ["error_code", "error_message"], reply.body
    assert reply.body["error_code"] == 1000 + status
    message = reply.body["error_message"]
    assert isinstance(message, str) and message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def era_token(hub_process: HubProcess) -> str:
    return str(hub_process.creds("era")["token"])


@pytest.fixture
async def era(hub_process: HubProcess, era_token: str) -> AsyncIterator[Era]:
    async with (
        aiohttp.ClientSession(base_url=hub_process.url) as session,
        grpc.aio.insecure_channel(hub_process.grpc) as channel,
    ):
        yield Era(hub_process, session, channel, era_token)


# == REST: create and read ======================================================================
async def test_create_with_defaults_has_the_seed_shape(era: Era) -> None:
    code = "ABCDE-" + uid()
    before = datetime.now(UTC)
    reply = await era.rest("POST", body={"code": code, "type": "public"})
    assert reply.status == 200
    entity = reply.body
    assert list(entity) == SEED_ORDER  # the seed's field order, in the raw JSON text too
    assert list(json.loads(reply.text)["opts"]) == OPTS_ORDER
    assert list(entity["ext"]) == ["ct", "lwt"]
    assert entity["code"] == code and entity["type"] == "public"
    assert UUID_TEXT.match(entity["id"]) and str(uuid.UUID(entity["id"])) == entity["id"]
    assert HEX32.match(entity["token_local"])
    for name in SEED_ORDER[4:11]:
        assert entity[name] == "", name
    assert entity["opts"] == {"title": "", "comment": "", "allow_files_api": False, "issync": False}
    assert STAMP.match(entity["ext"]["ct"]) and entity["ext"]["ct"] == entity["ext"]["lwt"]
    created = stamp_time(entity["ext"]["ct"])
    assert abs((created - before).total_seconds()) < 30
    # what was returned is what is stored, byte for byte
    again = await era.rest("GET", "/" + entity["id"])
    assert again.text == reply.text


async def test_create_with_every_field(era: Era) -> None:
    fields = {
        "code": "full-" + uid(),
        "type": "telegram",
        "token_remote": "00ea293c29f9dc30",
        "token_remote2": "r2",
        "url": "http://trapper.com",
        "recv_svcscriptcode": "ws_hook",
        "recv_svcscriptcode_ws": "rws",
        "send_svcscriptcode": "send_to_web",
        "send_svcscriptcode_ws": "sws",
        "opts": {"title": "Title", "comment": "Comment", "allow_files_api": True, "issync": True},
    }
    entity = await era.create(**fields)
    for key, value in fields.items():
        assert entity[key] == value, key
    assert await era.get(entity["id"]) == entity


async def test_two_channels_get_distinct_ids_and_tokens(era: Era) -> None:
    a, b = await era.create(), await era.create()
    assert a["id"] != b["id"] and a["token_local"] != b["token_local"]


async def test_list_offset_and_limit(era: Era) -> None:
    kind = "page-" + uid()
    made = [await era.create(type=kind, code=f"{kind}-{i:03d}") for i in range(105)]
    ids = [e["id"] for e in made]
    flt = {"type": kind}
    everything = await era.list(filter=flt)
    assert [e["id"] for e in everything] == ids[:100]  # default limit 100, creation order
    assert everything[0] == made[0]
    assert [e["id"] for e in await era.list(filter=flt, offset="1", limit="2")] == ids[1:3]
    assert [e["id"] for e in await era.list(filter=flt, offset="100")] == ids[100:]
    assert [e["id"] for e in await era.list(filter=flt, limit="1000")] == ids
    assert await era.list(filter=flt, limit="0") == []
    assert await era.list(filter=flt, offset="500") == []
    seed_example = await era.list(offset="0", limit="2", filter=flt)
    assert [e["code"] for e in seed_example] == [f"{kind}-000", f"{kind}-001"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "1001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "+5"}, "limit"),
        ({"limit": "1_0"}, "limit"),
        ({"offset": " 5"}, "offset"),
        ({"limit": ""}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"offset": "100000000000000000000"}, "offset"),
        ({"filter": '{"code": 9223372036854775808}'}, "filter.code"),
        ({"filter": '{"code": 1}'}, "filter.code"),
        ({"filter": '{"opts.issync": [true, 0]}'}, "filter.opts.issync"),
        ({"flat": "maybe"}, "flat"),
        ({"mask": "nonsense"}, "nonsense"),
        ({"mask": "opts.nope"}, "opts.nope"),
        ({"mask": ","}, "mask"),
        ({"filter": "{bad"}, "filter"),
        ({"filter": "[1]"}, "filter"),
        ({"filter": "[]"}, "filter"),  # not an object, even empty: not "no filter"
        ({"filter": "0"}, "filter"),
        ({"filter": "null"}, "filter"),
        ({"order": "null"}, "order"),
        ({"filter": '"code"'}, "filter"),
        ({"filter": '{"nope": "x"}'}, "nope"),
        ({"filter": '{"opts": "x"}'}, "opts"),
        ({"filter": '{"code": {"a": 1}}'}, "code"),
        ({"filter": '{"code": null}'}, "code"),
        ({"order": "code"}, "order"),
        ({"order": '{"code": "asc"}'}, "order"),
        ({"order": '["nope"]'}, "nope"),
        ({"order": '[{"code": "sideways"}]'}, "code"),
        ({"order": '[{"code": "asc", "type": "desc"}]'}, "order"),
        ({"order": '[{"code": 1}]'}, "code"),
        ({"order": "[1]"}, "order"),
        ({"order": '["opts"]'}, "order"),
        ({"bogus": "1"}, "bogus"),
    ],
)
async def test_list_bad_query_values_are_400_naming_the_parameter(
    era: Era, params: dict[str, str], name: str
) -> None:
    expect_error(await era.rest("GET", params=params), 400, name)


async def test_mask_with_aliases_and_dotted_fields(era: Era) -> None:
    kind = "mask-" + uid()
    entity = await era.create(type=kind, opts={"title": "T", "issync": True})
    want = {
        "id": entity["id"],
        "code": entity["code"],
        "token_local": entity["token_local"],
        "opts": {"title": "T"},
    }
    for mask in (
        "id,code,tokenlocal,opts.title",
        "id,code,token_local,opts.title",
        " id , code,tokenlocal, opts.title ",
    ):
        (got,) = await era.list(filter={"type": kind}, mask=mask)
        assert got == want, mask
    (got,) = await era.list(filter={"type": kind}, mask="opts,ext.ct,tokenremote,tokenremote2")
    assert got == {
        "opts": entity["opts"],
        "ext": {"ct": entity["ext"]["ct"]},
        "token_remote": "",
        "token_remote2": "",
    }
    (got,) = await era.list(filter={"type": kind}, mask="opts.issync,opts.allow_files_api,ext.lwt")
    assert got == {
        "opts": {"issync": True, "allow_files_api": False},
        "ext": {"lwt": entity["ext"]["lwt"]},
    }


async def test_flat_turns_nested_fields_into_dotted_keys(era: Era) -> None:
    kind = "flat-" + uid()
    entity = await era.create(type=kind, opts={"comment": "hi"})
    for value in ("true", "1", "True"):
        (got,) = await era.list(filter={"type": kind}, flat=value)
        assert list(got) == [
            *SEED_ORDER[:11],
            "opts.title",
            "opts.comment",
            "opts.allow_files_api",
            "opts.issync",
            "ext.ct",
            "ext.lwt",
        ]
        assert (
            got["opts.comment"] == "hi" and got["opts.title"] == "" and got["opts.issync"] is False
        )
        assert got["ext.ct"] == entity["ext"]["ct"]
    for value in ("false", "0"):
        (got,) = await era.list(filter={"type": kind}, flat=value)
        assert got == entity
    (got,) = await era.list(filter={"type": kind}, flat="true", mask="code,opts.title")
    assert got == {"code": entity["code"], "opts.title": ""}


async def test_filter_dotted_paths_and_any_of(era: Era) -> None:
    kind = "filter-" + uid()
    a = await era.create(type=kind, url="http://a", opts={"issync": True, "title": "x"})
    b = await era.create(type=kind, url="http://b", opts={"issync": False, "title": "x"})
    c = await era.create(type=kind, url="http://c", opts={"issync": True, "title": "y"})
    other = await era.create(type="other-" + uid(), url="http://a")

    async def ids(flt: dict[str, Any]) -> list[str]:
        return [e["id"] for e in await era.list(filter=flt)]

    assert await ids({"type": kind}) == [a["id"], b["id"], c["id"]]
    assert await ids({"type": kind, "opts.issync": True}) == [a["id"], c["id"]]
    assert await ids({"type": kind, "opts.issync": False}) == [b["id"]]
    assert await ids({"type": kind, "opts.title": "x", "opts.issync": True}) == [a["id"]]
    assert await ids({"type": kind, "url": ["http://a", "http://c"]}) == [a["id"], c["id"]]
    assert await ids({"url": "http://a", "type": [kind, other["type"]]}) == [a["id"], other["id"]]
    assert await ids({"type": kind, "url": []}) == []
    assert await ids({"type": kind, "opts.issync": "true"}) == []  # a string is not a boolean
    assert await ids({"type": kind, "opts.title": True}) == []
    assert await ids({"type": kind, "opts.issync": [True, "false"]}) == [a["id"], c["id"]]
    assert await ids({"type": kind, "tokenlocal": b["token_local"]}) == [b["id"]]
    assert await ids({"id": c["id"]}) == [c["id"]]
    assert a["id"] in await ids({"ext.ct": a["ext"]["ct"], "type": kind})
    assert await ids({"type": kind, "code": "no such code"}) == []


async def test_order_by_fields_and_directions(era: Era) -> None:
    kind = "order-" + uid()
    made = []
    for code, title in (("b", "2"), ("c", "1"), ("a", "1")):
        made.append(await era.create(type=kind, code=f"{kind}-{code}", opts={"title": title}))
        await asyncio.sleep(0.03)  # distinct ext.ct (centiseconds)

    async def codes(order: Any) -> list[str]:
        return [e["code"][-1] for e in await era.list(filter={"type": kind}, order=order)]

    assert await codes([]) == ["b", "c", "a"]  # creation order
    assert await codes(["code"]) == ["a", "b", "c"]
    assert await codes([{"code": "desc"}]) == ["c", "b", "a"]
    assert await codes([{"code": "ASC"}]) == ["a", "b", "c"]
    assert await codes([{"ext.ct": "desc"}, "code"]) == ["a", "c", "b"]
    assert await codes(["ext.ct"]) == ["b", "c", "a"]
    assert await codes(["opts.title", "code"]) == ["a", "c", "b"]
    assert await codes([{"opts.title": "desc"}, {"code": "desc"}]) == ["b", "c", "a"]
    assert await codes([{"opts.title": "asc"}, {"code": "desc"}]) == ["c", "a", "b"]
    assert [
        e["code"][-1]
        for e in await era.list(
            filter={"type": kind}, order=[{"code": "desc"}], offset="1", limit="1"
        )
    ] == ["b"]


async def test_get_by_id_with_mask_and_flat(era: Era) -> None:
    entity = await era.create(opts={"issync": True})
    path = "/" + entity["id"]
    reply = await era.rest("GET", path, params={"mask": "code,opts.issync,tokenlocal"})
    assert reply.status == 200 and reply.body == {
        "code": entity["code"],
        "opts": {"issync": True},
        "token_local": entity["token_local"],
    }
    reply = await era.rest("GET", path, params={"mask": "code,opts.issync", "flat": "1"})
    assert reply.status == 200 and reply.body == {"code": entity["code"], "opts.issync": True}
    reply = await era.rest("GET", path, params={"flat": "true"})
    assert reply.body["ext.lwt"] == entity["ext"]["lwt"] and "ext" not in reply.body
    expect_error(await era.rest("GET", path, params={"mask": "bogus"}), 400, "bogus")
    expect_error(await era.rest("GET", path, params={"flat": "2"}), 400, "flat")
    expect_error(await era.rest("GET", path, params={"limit": "1"}), 400, "limit")


async def test_get_unknown_id_is_404(era: Era) -> None:
    for ident in (str(uuid.uuid4()), "not-a-uuid"):
        reply = await era.rest("GET", "/" + ident)
        assert reply.status == 404 and reply.body == {
            "error_code": 1404,
            "error_message": "Not found",
        }


# == REST: writes ===============================================================================
async def test_patch_merges_and_updates_lwt_only(era: Era) -> None:
    entity = await era.create(url="http://trapper.com", opts={"title": "T", "comment": "C"})
    await asyncio.sleep(0.05)
    reply = await era.rest(
        "PATCH",
        "/" + entity["id"],
        body={"token_remote": "00ea293c29f9dc30", "opts": {"issync": True}},
    )
    assert reply.status == 200
    patched = reply.body
    assert list(patched) == SEED_ORDER and list(patched["opts"]) == OPTS_ORDER
    assert patched["token_remote"] == "00ea293c29f9dc30"
    assert patched["url"] == "http://trapper.com"
    assert patched["opts"] == {
        "title": "T",
        "comment": "C",
        "allow_files_api": False,
        "issync": True,
    }
    assert patched["ext"]["ct"] == entity["ext"]["ct"]
    assert STAMP.match(patched["ext"]["lwt"]) and patched["ext"]["lwt"] > entity["ext"]["lwt"]
    unchanged = {k: v for k, v in entity.items() if k not in ("token_remote", "opts", "ext")}
    assert {k: v for k, v in patched.items() if k in unchanged} == unchanged
    assert await era.get(entity["id"]) == patched
    # an empty PATCH changes nothing but the write time; a new code is fine if free
    new_code = "renamed-" + uid()
    reply = await era.rest("PATCH", "/" + entity["id"], body={"code": new_code, "opts": {}})
    assert reply.status == 200 and reply.body["code"] == new_code
    assert reply.body["opts"] == patched["opts"]
    lookup = await era.rest("LOOKUP", body={"code": new_code})
    assert lookup.body == [entity["id"]]
    expect_error(await era.rest("LOOKUP", body={"code": entity["code"]}), 404)


@pytest.mark.parametrize("forbidden", ["id", "token_local", "tokenlocal", "ext"])
async def test_server_set_fields_are_refused_and_nothing_changes(era: Era, forbidden: str) -> None:
    entity = await era.create()
    value: Any = (
        {"ct": "2019-08-28T13:34:16.42Z"}
        if forbidden == "ext"
        else "82ddc7c68623726346a78371173e2f8d"
    )
    reply = await era.rest(
        "PATCH", "/" + entity["id"], body={"url": "http://changed", forbidden: value}
    )
    expect_error(reply, 400, forbidden)
    assert await era.get(entity["id"]) == entity
    code = "forbidden-" + uid()
    expect_error(
        await era.rest("POST", body={"code": code, "type": "x", forbidden: value}), 400, forbidden
    )
    expect_error(await era.rest("LOOKUP", body={"code": code}), 404)


async def test_duplicate_code_is_409_on_post_and_patch(era: Era) -> None:
    first = await era.create()
    second = await era.create()
    reply = await era.rest("POST", body={"code": first["code"], "type": "again"})
    expect_error(reply, 409, "code", first["code"])
    assert (await era.rest("LOOKUP", body={"code": first["code"]})).body == [first["id"]]
    reply = await era.rest(
        "PATCH", "/" + second["id"], body={"code": first["code"], "url": "http://x"}
    )
    expect_error(reply, 409, "code")
    assert await era.get(second["id"]) == second
    assert await era.get(first["id"]) == first
    # PATCH keeping its own code is not a conflict
    reply = await era.rest("PATCH", "/" + first["id"], body={"code": first["code"]})
    assert reply.status == 200


async def test_delete_then_404(era: Era) -> None:
    entity = await era.create()
    path = "/" + entity["id"]
    reply = await era.rest("DELETE", path)
    assert reply.status == 204 and reply.text == ""
    for method, body in (("GET", NO_TOKEN), ("DELETE", NO_TOKEN), ("PATCH", {"url": "x"})):
        reply = await era.rest(method, path, body=body)
        assert reply.status == 404 and reply.body == {
            "error_code": 1404,
            "error_message": "Not found",
        }
    expect_error(await era.rest("LOOKUP", body=entity["token_local"]), 404)
    # the code is free again
    again = await era.create(code=entity["code"])
    assert again["id"] != entity["id"]


# == REST: LOOKUP and integration tokens ========================================================
async def test_lookup_by_string_and_by_key_field(era: Era) -> None:
    a = await era.create()
    b = await era.create(code=a["token_local"])  # a code that equals a's token_local
    assert (await era.rest("LOOKUP", body=a["id"])).body == [a["id"]]
    assert (await era.rest("LOOKUP", body=b["code"])).body == [a["id"], b["id"]]
    assert (await era.rest("LOOKUP", body=a["code"])).body == [a["id"]]
    assert (await era.rest("LOOKUP", body={"code": a["token_local"]})).body == [b["id"]]
    assert (await era.rest("LOOKUP", body={"token_local": a["token_local"]})).body == [a["id"]]
    assert (await era.rest("LOOKUP", body={"tokenlocal": b["token_local"]})).body == [b["id"]]
    assert (await era.rest("LOOKUP", body={"id": b["id"]})).body == [b["id"]]
    reply = await era.rest("LOOKUP", body=a["id"])
    assert reply.status == 200 and reply.headers["Content-Type"] == CT


async def test_lookup_failure_is_exactly_the_seed_body(era: Era) -> None:
    for key in ("82ddc7c68623726346a78371173e2f8d-" + uid(), {"code": "nope-" + uid()}):
        reply = await era.rest("LOOKUP", body=key)
        assert reply.status == 404
        assert reply.body == {"error_code": 1404, "error_message": "Lookup failed"}
        assert reply.headers["Content-Type"] == CT


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ('{"type": "public"}', "type"),
        ('{"code": 1}', "code"),
        ('{"code": "a", "id": "b"}', "body"),
        ("{}", "body"),
        ("[1]", "body"),
        ("42", "body"),
        ("null", "body"),
        ('"unterminated', "JSON"),
        ("", "body"),
    ],
)
async def test_lookup_bad_bodies_are_400(era: Era, raw: str, name: str) -> None:
    expect_error(await era.rest("LOOKUP", raw=raw, headers={"Content-Type": CT}), 400, name)


async def test_integration_tokens(era: Era) -> None:
    entity = await era.create()
    reply = await era.rest("GET", "/" + entity["token_local"], base=TOKENS)
    assert reply.status == 200
    href = f"/era/rest/v1/service/integration_points/{entity['id']}"  # under the /era mount
    assert reply.body == {
        "integration_point": {"id": entity["id"], "_links": {"self": {"href": href}}}
    }
    followed = await era.rest("GET", base=href)  # a link the client can follow as it is
    assert (followed.status, followed.body) == (200, entity)
    reply = await era.rest("GET", "/" + uuid.uuid4().hex, base=TOKENS)
    assert reply.status == 404 and reply.body == {
        "error_code": 1404,
        "error_message": "Token not found",
    }
    expect_error(
        await era.rest("GET", "/" + entity["token_local"], base=TOKENS, token=NO_TOKEN), 401
    )


# == REST: protocol errors and auth ============================================================
async def test_every_endpoint_refuses_query_parameters_it_does_not_take(era: Era) -> None:
    entity = await era.create()
    one, token = "/" + entity["id"], "/" + entity["token_local"]
    code = "q-" + uid()
    for method, path, base, body in (
        ("LOOKUP", "", BASE, entity["code"]),
        ("POST", "", BASE, {"code": code, "type": "t"}),
        ("PATCH", one, BASE, {"url": "http://example.test/"}),
        ("GET", token, TOKENS, NO_TOKEN),
        ("DELETE", one, BASE, NO_TOKEN),
    ):
        reply = await era.rest(method, path, base=base, body=body, params={"bogus": "1"})
        expect_error(reply, 400, "bogus: unknown query parameter")
    assert await era.get(entity["id"]) == entity  # the PATCH and DELETE changed nothing
    expect_error(await era.rest("LOOKUP", body=code), 404)  # the POST stored nothing
    assert (await era.rest("GET", params={"bogus": "1"})).status == 400  # as GET always did


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", BASE),
        ("DELETE", BASE),
        ("PATCH", BASE),
        ("PUT", BASE + "/x"),
        ("POST", BASE + "/x"),
        ("LOOKUP", BASE + "/x"),
        ("HEAD", BASE),
        ("PUT", TOKENS + "/x"),
    ],
)
async def test_method_not_allowed_is_1405(era: Era, method: str, path: str) -> None:
    async with era.session.request(method, path, headers=era._auth(None), data=b"{}") as r:
        assert r.status == 405
        assert "Allow" in r.headers
        if method != "HEAD":
            assert r.headers["Content-Type"] == CT
            assert await r.json(content_type=None) == {
                "error_code": 1405,
                "error_message": "Method not allowed",
            }


async def test_unknown_path_under_era_is_1404(era: Era) -> None:
    reply = await era.rest("GET", "/rest/v1/service/nothing_here", base="/era")
    expect_error(reply, 404)


async def test_auth_is_required_everywhere(era: Era, hub_process: HubProcess) -> None:
    entity = await era.create()
    # a credential of another plugin, stored the way the hub stores one (hashed)
    other = "other-plugin-secret-" + uid()
    database = Engine(hub_process.data_dir, hub_process.env.get("HUB_DATABASE_URL", "")).open("hub")
    try:
        with database.write():
            database.execute(
                "INSERT INTO credentials (id, plugin, login, secret_hash, attrs, created_at)"
                " VALUES (?, 'webim', NULL, ?, '{}', ?)",
                (str(uuid.uuid4()), sha256(other), time.time()),
            )
    finally:
        database.close()
    calls = [
        ("GET", "", NO_TOKEN),
        ("POST", "", {"code": "auth-" + uid(), "type": "x"}),
        ("GET", "/" + entity["id"], NO_TOKEN),
        ("PATCH", "/" + entity["id"], {"url": "x"}),
        ("DELETE", "/" + entity["id"], NO_TOKEN),
        ("LOOKUP", "", entity["code"]),
    ]
    bad_headers = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {other}"},
        {"Authorization": era.token},
        {"Authorization": f"Basic {era.token}"},
        {"Authorization": "Bearer "},
    ]
    for method, path, body in calls:
        for headers in bad_headers:
            reply = await era.rest(method, path, body=body, token=NO_TOKEN, headers=headers)
            expect_error(reply, 401)
    assert await era.get(entity["id"]) == entity
    # the admin token works everywhere, and the era token is accepted as "bearer" too
    reply = await era.rest("GET", "/" + entity["id"], token=ADMIN_TOKEN)
    assert reply.status == 200 and reply.body == entity
    reply = await era.rest(
        "GET", "/" + entity["id"], token=NO_TOKEN, headers={"Authorization": f"bearer {era.token}"}
    )
    assert reply.status == 200
    # GraphQL and gRPC refuse the same
    for token in (NO_TOKEN, "wrong", other):
        error = await era.gql_error(
            "query($id: ID!) { era { integrationPoint(id: $id) { id } } }",
            {"id": entity["id"]},
            token,
        )
        assert error.extensions == {
            "code": "UNAUTHENTICATED",
            "plugin": "era",
            "status": 401,
            "reason": 1401,
        }
        rpc = await era.rpc_error("Get", era_pb2.GetRequest(id=entity["id"]), token)
        assert rpc.code == grpc.StatusCode.UNAUTHENTICATED
    data = await era.gql_data(
        "query($id: ID!) { era { integrationPoint(id: $id) { id } } }",
        {"id": entity["id"]},
        ADMIN_TOKEN,
    )
    assert data["era"]["integration_point"]["id"] == entity["id"]
    assert (await era.rpc("Get", era_pb2.GetRequest(id=entity["id"]), ADMIN_TOKEN)).id == entity[
        "id"
    ]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"{bad json", "JSON"),
        (b"", "body"),
        (b"\xff\xfe", "JSON"),
        (b"[]", "body"),
        (b'"a string"', "body"),
        (b'{"type": "x"}', "code"),
        (b'{"code": "", "type": "x"}', "code"),
        (b'{"code": "   ", "type": "x"}', "code"),
        (b'{"code": "k"}', "type"),
        (b'{"code": 1, "type": "x"}', "code"),
        (b'{"code": null, "type": "x"}', "code"),
        (b'{"code": "k", "type": ["x"]}', "type"),
        (b'{"code": "k", "type": "x", "url": 5}', "url"),
        (b'{"code": "k", "type": "x", "unknown_field": 1}', "unknown_field"),
        (b'{"code": "k", "type": "x", "opts": []}', "opts"),
        (b'{"code": "k", "type": "x", "opts": null}', "opts"),
        (b'{"code": "k", "type": "x", "opts": {"issync": "yes"}}', "opts.issync"),
        (b'{"code": "k", "type": "x", "opts": {"issync": 1}}', "opts.issync"),
        (b'{"code": "k", "type": "x", "opts": {"title": false}}', "opts.title"),
        (b'{"code": "k", "type": "x", "opts": {"color": "red"}}', "opts.color"),
        (b'{"code": "' + b"k" * 300 + b'", "type": "x"}', "code"),
        (b'{"code": "k", "type": "x", "url": "' + b"u" * 5000 + b'"}', "url"),
        (b'{"code": "k", "type": "x", "tokenremote": "a"}', "tokenremote"),
    ],
)
async def test_bad_create_bodies_are_400_and_store_nothing(era: Era, raw: bytes, name: str) -> None:
    before = (await era.rpc("List", era_pb2.ListRequest(limit=0))).total_count
    expect_error(await era.rest("POST", raw=raw, headers={"Content-Type": CT}), 400, name)
    assert (await era.rpc("List", era_pb2.ListRequest(limit=0))).total_count == before


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"code": ""}, "code"),
        ({"type": ""}, "type"),
        ({"code": None}, "code"),
        ({"opts": {"allow_files_api": "true"}}, "opts.allow_files_api"),
        ({"opts": {"extra": True}}, "opts.extra"),
        ({"url": "ok", "whatever": 1}, "whatever"),
        ([{"url": "x"}], "body"),
    ],
)
async def test_bad_patch_bodies_are_400_and_change_nothing(era: Era, body: Any, name: str) -> None:
    entity = await era.create()
    expect_error(await era.rest("PATCH", "/" + entity["id"], body=body), 400, name)
    assert await era.get(entity["id"]) == entity


async def test_huge_body_is_413(era: Era) -> None:
    before = (await era.rpc("List", era_pb2.ListRequest(limit=0))).total_count
    huge = json.dumps(
        {"code": "huge-" + uid(), "type": "x", "url": "u" * (1024 * 1024 + 10)}
    ).encode()
    expect_error(await era.rest("POST", raw=huge, headers={"Content-Type": CT}), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for i in range(0, len(huge), 64 * 1024):
            yield huge[i : i + 64 * 1024]

    expect_error(await era.rest("POST", raw=chunks(), headers={"Content-Type": CT}), 413)
    entity = await era.create()
    expect_error(
        await era.rest("PATCH", "/" + entity["id"], raw=huge, headers={"Content-Type": CT}), 413
    )
    expect_error(await era.rest("LOOKUP", raw=huge, headers={"Content-Type": CT}), 413)
    assert await era.get(entity["id"]) == entity
    assert (await era.rpc("List", era_pb2.ListRequest(limit=0))).total_count == before + 1
    # just under the limit is read (and refused for its content, not its size)
    near = json.dumps(
        {"code": "near-" + uid(), "type": "x", "url": "u" * (1024 * 1024 - 100)}
    ).encode()
    expect_error(await era.rest("POST", raw=near, headers={"Content-Type": CT}), 400, "url")


# == the HTTP connection =========================================================================
async def test_keep_alive_connection_switches_parsers_for_lookup(
    hub_process: HubProcess, era_token: str
) -> None:
    created: list[Any] = []
    reused: list[Any] = []
    trace = aiohttp.TraceConfig()

    async def on_create(*args: Any) -> None:
        created.append(args)

    async def on_reuse(*args: Any) -> None:
        reused.append(args)

    trace.on_connection_create_end.append(on_create)
    trace.on_connection_reuseconn.append(on_reuse)
    connector = aiohttp.TCPConnector(limit=1)
    headers = {"Authorization": f"Bearer {era_token}", "Content-Type": CT}
    async with aiohttp.ClientSession(
        base_url=hub_process.url, connector=connector, trace_configs=[trace]
    ) as session:

        async def call(method: str, path: str = "", body: Any = None) -> tuple[int, Any]:
            data = None if body is None else json.dumps(body)
            async with session.request(method, BASE + path, data=data, headers=headers) as r:
                text = await r.text()
                return r.status, json.loads(text) if text else None

        status, entity = await call("POST", body={"code": "ka-" + uid(), "type": "keepalive"})
        assert status == 200
        assert await call("GET", "/" + entity["id"]) == (200, entity)
        assert await call("LOOKUP", body=entity["code"]) == (200, [entity["id"]])
        assert await call("GET", "/" + entity["id"]) == (200, entity)
        assert await call("LOOKUP", body={"code": "missing-" + uid()}) == (
            404,
            {"error_code": 1404, "error_message": "Lookup failed"},
        )
        status, patched = await call("PATCH", "/" + entity["id"], {"url": "http://after-lookup"})
        assert status == 200 and patched["url"] == "http://after-lookup"
        assert await call("LOOKUP", body={"tokenlocal": entity["token_local"]}) == (
            200,
            [entity["id"]],
        )
        status, page = await call("GET", "?filter=" + json.dumps({"code": entity["code"]}))
        assert status == 200 and page == [patched]
        assert await call("DELETE", "/" + entity["id"]) == (204, None)
    assert len(created) == 1, "every request should have used the one kept-alive connection"
    assert len(reused) == 8


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """Read ``count`` HTTP/1.1 responses (Content-Length framed) from a socket."""
    buffer = b""
    responses: list[tuple[int, bytes]] = []
    while len(responses) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode()
            length = int(re.search(r"(?im)^content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            if len(buffer) >= head_end + 4 + length:
                status = int(head.split(" ", 2)[1])
                responses.append((status, buffer[head_end + 4 : head_end + 4 + length]))
                buffer = buffer[head_end + 4 + length :]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(responses)} responses"
        buffer += chunk
    return responses


def _request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {CT}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def test_pipelined_get_lookup_get_on_one_connection(
    hub_process: HubProcess, era: Era
) -> None:
    entity = await era.create()
    host, port = hub_process.http.rsplit(":", 1)

    def exchange() -> list[tuple[int, bytes]]:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            get = _request("GET", f"{BASE}/{entity['id']}", era.token)
            lookup = _request("LOOKUP", BASE, era.token, json.dumps(entity["code"]).encode())
            # one write holding all three requests, then a second round in separate writes
            sock.sendall(get + lookup + get)
            first = _read_responses(sock, 3)
            for request in (lookup, get):
                sock.sendall(request)
                first += _read_responses(sock, 1)
            return first

    responses = await asyncio.to_thread(exchange)
    assert [status for status, _ in responses] == [200, 200, 200, 200, 200]
    assert json.loads(responses[0][1]) == entity
    assert json.loads(responses[1][1]) == [entity["id"]]
    assert json.loads(responses[2][1]) == entity
    assert json.loads(responses[3][1]) == [entity["id"]]
    assert json.loads(responses[4][1]) == entity


async def test_lookup_after_a_body_the_server_never_read(hub_process: HubProcess, era: Era) -> None:
    """An early answer (405 here) leaves the rest of a big body in flight; the LOOKUP behind it
    on the same connection is read from where that body ends."""
    entity = await era.create()
    host, port = hub_process.http.rsplit(":", 1)
    body = json.dumps({"url": "u" * 300_000}).encode()
    head = (
        f"POST {BASE}/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {era.token}\r\n"
        f"Content-Type: {CT}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    lookup = _request("LOOKUP", BASE, era.token, json.dumps(entity["code"]).encode())
    get = _request("GET", f"{BASE}/{entity['id']}", era.token)

    def exchange() -> list[tuple[int, bytes]]:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head + body[:-500])
            answers = _read_responses(sock, 1)  # answered before the body is complete
            sock.sendall(body[-500:] + lookup + get)  # the body's tail and two requests, one write
            return answers + _read_responses(sock, 2)

    responses = await asyncio.to_thread(exchange)
    assert [status for status, _ in responses] == [405, 200, 200], responses
    assert json.loads(responses[0][1])["error_code"] == 1405
    assert json.loads(responses[1][1]) == [entity["id"]]
    assert json.loads(responses[2][1]) == entity


# == GraphQL and gRPC: the same operations ======================================================
async def test_graphql_lists_show_each_write_on_the_next_read(era: Era) -> None:
    """GraphQL keeps each listed row's rendering by its stored bytes: a write through any
    protocol is in the very next list, whatever it selects."""
    made = await era.create(opts={"title": "before"})
    by_code = json.dumps({"code": made["code"]})
    query = (
        GQL_POINT + "query($f: JSON) { era { integrationPoints(filter: $f) {"
        " edges { node { ...P } } nodes { code t: opts { title } } } } }"
    )

    async def listed() -> Any:
        found = (await era.gql_data(query, {"f": json.loads(by_code)}))["era"]
        (edge,) = found["integration_points"]["edges"]
        (node,) = found["integration_points"]["nodes"]
        assert node == {"code": edge["node"]["code"], "t": {"title": edge["node"]["opts"]["title"]}}
        return edge["node"]

    for _ in range(3):  # rendered, then kept
        assert await listed() == made
    reply = await era.rest("PATCH", "/" + made["id"], body={"opts": {"title": "after"}})
    assert reply.status == 200, reply.text
    assert await listed() == await era.get(made["id"]) != made
    await era.rpc(
        "Update",
        era_pb2.UpdateRequest(
            id=made["id"], integration_point=era_pb2.IntegrationPointInput(url="http://x.example")
        ),
    )
    assert (await listed())["url"] == "http://x.example"


async def test_graphql_crud(era: Era) -> None:
    code = "gql-" + uid()
    data = await era.gql_data(
        CREATE_P,
        {
            "in": {
                "code": code,
                "type": "public",
                "url": "http://trapper.com",
                "opts": {"title": "T"},
            }
        },
    )
    created = data["era_create_integration_point"]
    rest = await era.get(created["id"])
    assert created == rest
    assert rest["opts"] == {"title": "T", "comment": "", "allow_files_api": False, "issync": False}
    await asyncio.sleep(0.03)
    data = await era.gql_data(
        UPDATE_P,
        {"id": created["id"], "in": {"tokenRemote": "00ea293c29f9dc30", "opts": {"issync": True}}},
    )
    updated = data["era_update_integration_point"]
    assert updated == await era.get(created["id"])
    assert updated["token_remote"] == "00ea293c29f9dc30"
    assert updated["opts"] == {
        "title": "T",
        "comment": "",
        "allow_files_api": False,
        "issync": True,
    }
    assert (
        updated["ext"]["ct"] == created["ext"]["ct"]
        and updated["ext"]["lwt"] > created["ext"]["lwt"]
    )
    data = await era.gql_data(
        'query($k: String!) { era { a: lookup(key: $k) b: lookup(key: $k, field: "code") } }',
        {"k": code},
    )
    assert data["era"] == {"a": [created["id"]], "b": [created["id"]]}
    data = await era.gql_data(
        "mutation($id: ID!) { eraDeleteIntegrationPoint(id: $id) }", {"id": created["id"]}
    )
    assert data == {"era_delete_integration_point": created["id"]}
    assert (await era.rest("GET", "/" + created["id"])).status == 404


async def test_grpc_crud(era: Era) -> None:
    code = "grpc-" + uid()
    created = from_grpc(
        await era.rpc(
            "Create",
            era_pb2.CreateRequest(
                integration_point=era_pb2.IntegrationPointInput(
                    code=code,
                    type="public",
                    url="http://trapper.com",
                    opts=era_pb2.OptsInput(allow_files_api=True),
                )
            ),
        )
    )
    assert set(created) == set(SEED_ORDER)
    assert created == await era.get(created["id"])
    assert created["opts"] == {"title": "", "comment": "", "allow_files_api": True, "issync": False}
    await asyncio.sleep(0.03)
    updated = from_grpc(
        await era.rpc(
            "Update",
            era_pb2.UpdateRequest(
                id=created["id"],
                integration_point=era_pb2.IntegrationPointInput(
                    url="", opts=era_pb2.OptsInput(title="New")
                ),
            ),
        )
    )
    assert updated == await era.get(created["id"])
    assert updated["url"] == ""  # an explicitly set empty string is a change
    assert updated["opts"] == {
        "title": "New",
        "comment": "",
        "allow_files_api": True,
        "issync": False,
    }
    assert updated["code"] == code and updated["ext"]["lwt"] > created["ext"]["lwt"]
    assert list(
        (await era.rpc("Lookup", era_pb2.LookupRequest(key=created["token_local"]))).ids
    ) == [created["id"]]
    assert list((await era.rpc("Lookup", era_pb2.LookupRequest(key=code, field="code"))).ids) == [
        created["id"]
    ]
    await era.rpc("Delete", era_pb2.DeleteRequest(id=created["id"]))
    assert (await era.rest("GET", "/" + created["id"])).status == 404


async def test_the_three_protocols_give_the_same_entity(era: Era) -> None:
    entity = await era.create(
        type="same",
        url="http://trapper.com",
        recv_svcscriptcode="ws_hook",
        send_svcscriptcode="send_to_web",
        token_remote2="t2",
        opts={"comment": "c", "issync": True},
    )
    data = await era.gql_data(
        GQL_POINT + "query($id: ID!) { era { integrationPoint(id: $id) { ...P } } }",
        {"id": entity["id"]},
    )
    assert data["era"]["integration_point"] == entity
    assert from_grpc(await era.rpc("Get", era_pb2.GetRequest(id=entity["id"]))) == entity
    # and what GraphQL and gRPC create has the same defaults as REST's
    gql = (
        await era.gql_data(
            CREATE_P,
            {"in": {"code": "d-" + uid(), "type": "t"}},
        )
    )["era_create_integration_point"]
    rpc = from_grpc(
        await era.rpc(
            "Create",
            era_pb2.CreateRequest(
                integration_point=era_pb2.IntegrationPointInput(code="d-" + uid(), type="t")
            ),
        )
    )
    rest = await era.create(type="t")
    for made in (gql, rpc):
        assert (
            HEX32.match(made["token_local"])
            and UUID_TEXT.match(made["id"])
            and STAMP.match(made["ext"]["ct"])
        )
        strip = {k: v for k, v in made.items() if k not in ("id", "code", "token_local", "ext")}
        assert strip == {
            k: v for k, v in rest.items() if k not in ("id", "code", "token_local", "ext")
        }


async def test_the_three_protocols_list_the_same(era: Era) -> None:
    kind = "list3-" + uid()
    for i in range(7):
        await era.create(
            type=kind, code=f"{kind}-{i}", opts={"issync": i % 2 == 0, "title": str(i % 3)}
        )
    flt = {"type": kind, "opts.issync": True, "opts.title": ["0", "1"]}
    order_rest = [{"opts.title": "desc"}, "code"]
    rest_all = await era.list(filter=flt, order=order_rest)
    assert [e["code"][-1] for e in rest_all] == ["4", "0", "6"]
    rest_page = await era.list(filter=flt, order=order_rest, offset="1", limit="2")
    assert rest_page == rest_all[1:3]

    query = (
        GQL_POINT
        + """
    query($f: JSON, $o: [EraOrderInput!], $first: Int, $after: String) {
      era { integrationPoints(filter: $f, order: $o, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { cursor node { ...P } } nodes { id }
      } }
    }"""
    )
    order_gql = [{"field": "opts.title", "direction": "DESC"}, {"field": "code"}]
    conn = (await era.gql_data(query, {"f": flt, "o": order_gql}))["era"]["integration_points"]
    assert [e["node"] for e in conn["edges"]] == rest_all
    assert conn["total_count"] == 3 and conn["page_info"]["has_next_page"] is False
    assert [n["id"] for n in conn["nodes"]] == [e["id"] for e in rest_all]
    first_cursor = conn["edges"][0]["cursor"]
    page = (
        await era.gql_data(query, {"f": flt, "o": order_gql, "first": 2, "after": first_cursor})
    )["era"]["integration_points"]
    assert [e["node"] for e in page["edges"]] == rest_page
    assert (
        page["page_info"]["has_previous_page"] is True
        and page["page_info"]["has_next_page"] is False
    )

    request = era_pb2.ListRequest(
        order=[era_pb2.Order(field="opts.title", desc=True), era_pb2.Order(field="code")]
    )
    request.filter.update(flt)
    response = await era.rpc("List", request)
    assert [
        from_grpc(m) for m in response.integration_points
    ] == rest_all and response.total_count == 3
    request.offset, request.limit = 1, 2
    response = await era.rpc("List", request)
    assert [
        from_grpc(m) for m in response.integration_points
    ] == rest_page and response.total_count == 3


@dataclass
class Case:
    """One failure, asked of all three protocols."""

    name: str
    status: int
    message: str | None  # the exact message, when all three must agree on it
    rest: Any
    gql: Any
    rpc: Any


def _cases(era: Era, entity: dict[str, Any], other: dict[str, Any]) -> list[Case]:
    missing = str(uuid.uuid4())
    dup = f"code: an integration point with code {other['code']!r} already exists"
    get_q = "query($id: ID!) { era { integrationPoint(id: $id) { id } } }"
    list_q = (
        "query($f: JSON, $o: [EraOrderInput!], $first: Int) {"
        " era { integrationPoints(filter: $f, order: $o, first: $first) { totalCount } } }"
    )
    create_q = (
        "mutation($in: EraIntegrationPointInput!) { eraCreateIntegrationPoint(input: $in) { id } }"
    )
    update_q = (
        "mutation($id: ID!, $in: EraIntegrationPointInput!) {"
        " eraUpdateIntegrationPoint(id: $id, input: $in) { id } }"
    )
    delete_q = "mutation($id: ID!) { eraDeleteIntegrationPoint(id: $id) }"
    lookup_q = "query($k: String!, $f: String) { era { lookup(key: $k, field: $f) } }"
    Input = era_pb2.IntegrationPointInput
    return [
        Case(
            "no token",
            401,
            None,
            lambda: era.rest("GET", token=NO_TOKEN),
            lambda: era.gql_error(list_q, {}, NO_TOKEN),
            lambda: era.rpc_error("List", era_pb2.ListRequest(), NO_TOKEN),
        ),
        Case(
            "wrong token",
            401,
            None,
            lambda: era.rest("GET", "/" + entity["id"], token="wrong"),
            lambda: era.gql_error(get_q, {"id": entity["id"]}, "wrong"),
            lambda: era.rpc_error("Get", era_pb2.GetRequest(id=entity["id"]), "wrong"),
        ),
        Case(
            "unknown id",
            404,
            "Not found",
            lambda: era.rest("GET", "/" + missing),
            lambda: era.gql_error(get_q, {"id": missing}),
            lambda: era.rpc_error("Get", era_pb2.GetRequest(id=missing)),
        ),
        Case(
            "update unknown id",
            404,
            "Not found",
            lambda: era.rest("PATCH", "/" + missing, body={"url": "x"}),
            lambda: era.gql_error(update_q, {"id": missing, "in": {"url": "x"}}),
            lambda: era.rpc_error(
                "Update", era_pb2.UpdateRequest(id=missing, integration_point=Input(url="x"))
            ),
        ),
        Case(
            "delete unknown id",
            404,
            "Not found",
            lambda: era.rest("DELETE", "/" + missing),
            lambda: era.gql_error(delete_q, {"id": missing}),
            lambda: era.rpc_error("Delete", era_pb2.DeleteRequest(id=missing)),
        ),
        Case(
            "lookup failed",
            404,
            "Lookup failed",
            lambda: era.rest("LOOKUP", body=missing),
            lambda: era.gql_error(lookup_q, {"k": missing}),
            lambda: era.rpc_error("Lookup", era_pb2.LookupRequest(key=missing)),
        ),
        Case(
            "lookup by code failed",
            404,
            "Lookup failed",
            lambda: era.rest("LOOKUP", body={"code": missing}),
            lambda: era.gql_error(lookup_q, {"k": missing, "f": "code"}),
            lambda: era.rpc_error("Lookup", era_pb2.LookupRequest(key=missing, field="code")),
        ),
        Case(
            "lookup on a non-key field",
            400,
            None,
            lambda: era.rest("LOOKUP", body={"type": "x"}),
            lambda: era.gql_error(lookup_q, {"k": "x", "f": "type"}),
            lambda: era.rpc_error("Lookup", era_pb2.LookupRequest(key="x", field="type")),
        ),
        Case(
            "duplicate code on create",
            409,
            dup,
            lambda: era.rest("POST", body={"code": other["code"], "type": "x"}),
            lambda: era.gql_error(create_q, {"in": {"code": other["code"], "type": "x"}}),
            lambda: era.rpc_error(
                "Create",
                era_pb2.CreateRequest(integration_point=Input(code=other["code"], type="x")),
            ),
        ),
        Case(
            "duplicate code on update",
            409,
            dup,
            lambda: era.rest("PATCH", "/" + entity["id"], body={"code": other["code"]}),
            lambda: era.gql_error(update_q, {"id": entity["id"], "in": {"code": other["code"]}}),
            lambda: era.rpc_error(
                "Update",
                era_pb2.UpdateRequest(id=entity["id"], integration_point=Input(code=other["code"])),
            ),
        ),
        Case(
            "missing type",
            400,
            "type: required, must be a non-empty string",
            lambda: era.rest("POST", body={"code": "x-" + uid()}),
            lambda: era.gql_error(create_q, {"in": {"code": "x-" + uid()}}),
            lambda: era.rpc_error(
                "Create", era_pb2.CreateRequest(integration_point=Input(code="x-" + uid()))
            ),
        ),
        Case(
            "empty code on update",
            400,
            "code: required, must be a non-empty string",
            lambda: era.rest("PATCH", "/" + entity["id"], body={"code": ""}),
            lambda: era.gql_error(update_q, {"id": entity["id"], "in": {"code": ""}}),
            lambda: era.rpc_error(
                "Update", era_pb2.UpdateRequest(id=entity["id"], integration_point=Input(code=""))
            ),
        ),
        Case(
            "code too long",
            400,
            "code: longer than 255 characters",
            lambda: era.rest("POST", body={"code": "k" * 256, "type": "x"}),
            lambda: era.gql_error(create_q, {"in": {"code": "k" * 256, "type": "x"}}),
            lambda: era.rpc_error(
                "Create", era_pb2.CreateRequest(integration_point=Input(code="k" * 256, type="x"))
            ),
        ),
        Case(
            "unknown filter field",
            400,
            "filter: unknown field 'nope'",
            lambda: era.rest("GET", params={"filter": '{"nope": "x"}'}),
            lambda: era.gql_error(list_q, {"f": {"nope": "x"}}),
            lambda: era.rpc_error("List", _list_request(filter={"nope": "x"})),
        ),
        Case(
            "unknown order field",
            400,
            "order: unknown field 'nope'",
            lambda: era.rest("GET", params={"order": '["nope"]'}),
            lambda: era.gql_error(list_q, {"o": [{"field": "nope"}]}),
            lambda: era.rpc_error("List", _list_request(order=[era_pb2.Order(field="nope")])),
        ),
        Case(
            "page too big",
            400,
            None,
            lambda: era.rest("GET", params={"limit": "1001"}),
            lambda: era.gql_error(list_q, {"first": 1001}),
            lambda: era.rpc_error("List", era_pb2.ListRequest(limit=1001)),
        ),
        Case(
            "negative page",
            400,
            None,
            lambda: era.rest("GET", params={"limit": "-1"}),
            lambda: era.gql_error(list_q, {"first": -1}),
            lambda: era.rpc_error("List", era_pb2.ListRequest(limit=-1)),
        ),
    ]


def _list_request(
    filter: dict[str, Any] | None = None, order: list[Any] | None = None
) -> era_pb2.ListRequest:
    request = era_pb2.ListRequest(order=order or [])
    if filter is not None:
        request.filter.CopyFrom(struct_pb2.Struct())
        request.filter.update(filter)
    return request


GRPC_FOR = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
}
GQL_FOR = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 409: "CONFLICT"}


async def test_the_three_protocols_give_the_same_errors(era: Era) -> None:
    entity = await era.create()
    other = await era.create()
    for case in _cases(era, entity, other):
        rest = await case.rest()
        message = expect_error(rest, case.status)
        gql = await case.gql()
        rpc = await case.rpc()
        assert gql.extensions == {
            "code": GQL_FOR[case.status],
            "plugin": "era",
            "status": case.status,
            "reason": 1000 + case.status,
        }, case.name
        assert rpc.code == GRPC_FOR[case.status], case.name
        assert rpc.trailers.get("hub-status") == str(case.status), case.name
        assert rpc.trailers.get("hub-reason") == str(1000 + case.status), case.name
        assert rpc.trailers.get("hub-plugin") == "era", case.name
        if case.message is not None:
            assert (message, gql.message, rpc.details) == (case.message,) * 3, case.name
        else:
            assert gql.message and rpc.details, case.name
    # nothing the failures touched changed
    assert await era.get(entity["id"]) == entity
    assert await era.get(other["id"]) == other


async def test_graphql_refuses_server_set_fields_in_input(era: Era) -> None:
    for name in ("id", "tokenLocal", "ext"):
        result = await era.gql(
            "mutation { eraCreateIntegrationPoint(input: "
            f'{{code: "g-{uid()}", type: "x", {name}: "v"}}) {{ id }} }}'
        )
        assert result.get("data") is None
        (error,) = result["errors"]
        assert name in error["message"]
        assert error["extensions"]["code"] == "BAD_REQUEST" and error["extensions"]["status"] == 400


async def test_graphql_bad_filter_and_cursor_are_bad_requests(era: Era) -> None:
    list_q = (
        "query($f: JSON, $a: String) {"
        " era { integrationPoints(filter: $f, after: $a) { totalCount } } }"
    )
    for variables, name in (
        ({"f": ["x"]}, "filter"),
        ({"f": []}, "filter"),
        ({"f": False}, "filter"),
        ({"f": {"code": {"x": 1}}}, "code"),
        ({"f": {"code": 2**70}}, "code"),
        ({"f": {"code": 1}}, "code"),
        ({"a": "not-a-cursor"}, "after"),
        ({"a": base64.urlsafe_b64encode(b"offset:99999999999999999999").decode()}, "after"),
    ):
        error = await era.gql_error(list_q, variables)
        assert error.extensions == {
            "code": "BAD_REQUEST",
            "plugin": "era",
            "status": 400,
            "reason": 1400,
        }, variables
        assert name in error.message
