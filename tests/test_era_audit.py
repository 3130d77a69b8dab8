"""Defects an audit of ``era`` found, each against a real hub: NUL characters (which PostgreSQL
text cannot hold) are refused in every stored string and find nothing when they are searched
for, the same on both engines and the three protocols; the OpenAPI document's limits are the
ones the list enforces."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import requests
from hub_era.v1 import era_pb2

from tests.test_era import BASE, TOKENS, Era, era, era_token, expect_error, uid

__all__ = ["era", "era_token"]  # the fixtures this module uses, from test_era

NUL = "\u0000"
POINT_Q = "query($id: ID!) { era { integrationPoint(id: $id) { id } } }"
CREATE_Q = (
    "mutation($in: EraIntegrationPointInput!) { eraCreateIntegrationPoint(input: $in) { id } }"
)


async def _count(era: Era) -> int:
    return int((await era.rpc("List", era_pb2.ListRequest(limit=0))).total_count)


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"code": "a" + NUL}, "code"),
        ({"type": NUL + "x"}, "type"),
        ({"url": "http://x.example/" + NUL}, "url"),
        ({"token_remote2": NUL}, "token_remote2"),
        ({"opts": {"title": "t" + NUL}}, "opts.title"),
        ({"opts": {"comment": NUL}}, "opts.comment"),
    ],
)
async def test_a_nul_in_a_stored_string_is_400_naming_the_field(
    era: Era, fields: dict[str, Any], name: str
) -> None:
    """PostgreSQL text cannot hold NUL: there a NUL ``code`` was a 400 that named no field and
    a NUL ``url`` was stored and then broke every filter and order on it for every client. One
    rule on both engines: refused, naming the field, nothing stored or changed."""
    before = await _count(era)
    body = {"code": "nul-" + uid(), "type": "x", **fields}
    expect_error(await era.rest("POST", body=body), 400, name, "NUL")
    assert await _count(era) == before
    entity = await era.create()
    patch = {k: v for k, v in fields.items() if k != "code"} or {"code": fields["code"]}
    expect_error(await era.rest("PATCH", "/" + entity["id"], body=patch), 400, name, "NUL")
    assert await era.get(entity["id"]) == entity
    # GraphQL and gRPC refuse it the same way
    camel = {"token_remote2": "tokenRemote2"}
    gql_in = {camel.get(k, k): v for k, v in body.items()}
    error = await era.gql_error(CREATE_Q, {"in": gql_in})
    assert error.extensions["code"] == "BAD_REQUEST" and name in error.message
    message = era_pb2.IntegrationPointInput(
        **{k: v for k, v in body.items() if k != "opts"},
        opts=era_pb2.OptsInput(**body.get("opts", {})),
    )
    rpc = await era.rpc_error("Create", era_pb2.CreateRequest(integration_point=message))
    assert rpc.code == grpc.StatusCode.INVALID_ARGUMENT and name in rpc.details
    assert await _count(era) == before + 1  # only the channel made for the PATCH


async def test_other_control_characters_are_kept(era: Era) -> None:
    odd = "a\u0001\u001f\u007fb"
    entity = await era.create(url=odd, opts={"title": odd})
    assert (entity["url"], entity["opts"]["title"]) == (odd, odd)
    found = await era.list(filter={"url": odd, "opts.title": [odd]}, order=["url"])
    assert [e["id"] for e in found] == [entity["id"]]


async def test_a_nul_in_what_is_searched_for_finds_nothing(era: Era) -> None:
    """No channel holds a NUL, so a key, id, token or filter value with one matches nothing:
    the documented not-found answers (PostgreSQL answered 400 "a value cannot be stored")."""
    entity = await era.create()
    ident = "/" + entity["id"] + "%00"
    for method, body in (("GET", None), ("PATCH", {"url": "x"}), ("DELETE", None)):
        reply = await era.rest(method, ident, **({"body": body} if body else {}))
        assert expect_error(reply, 404) == "Not found", method
    for key in (entity["code"] + NUL, {"code": NUL}, {"tokenlocal": entity["token_local"] + NUL}):
        assert expect_error(await era.rest("LOOKUP", body=key), 404) == "Lookup failed", key
    reply = await era.rest("GET", "/" + entity["token_local"] + "%00", base=TOKENS)
    assert expect_error(reply, 404) == "Token not found"
    assert await era.list(filter={"code": entity["code"] + NUL}) == []
    found = await era.list(filter={"code": [NUL, entity["code"]], "url": ["", "a" + NUL]})
    assert [e["id"] for e in found] == [entity["id"]]
    assert await era.get(entity["id"]) == entity
    # GraphQL and gRPC: the same not-found
    error = await era.gql_error(POINT_Q, {"id": entity["id"] + NUL})
    assert (error.message, error.extensions["code"]) == ("Not found", "NOT_FOUND")
    error = await era.gql_error(
        'query($k: String!) { era { lookup(key: $k, field: "code") } }', {"k": NUL}
    )
    assert (error.message, error.extensions["code"]) == ("Lookup failed", "NOT_FOUND")
    data = await era.gql_data(
        "query($f: JSON) { era { integrationPoints(filter: $f) { totalCount } } }",
        {"f": {"code": [entity["code"], NUL]}},
    )
    assert data["era"]["integration_points"]["total_count"] == 1
    rpc = await era.rpc_error("Get", era_pb2.GetRequest(id=entity["id"] + NUL))
    assert (rpc.code, rpc.details) == (grpc.StatusCode.NOT_FOUND, "Not found")
    rpc = await era.rpc_error("Delete", era_pb2.DeleteRequest(id=NUL))
    assert rpc.code == grpc.StatusCode.NOT_FOUND


def test_the_openapi_document_states_the_list_limits(era: Era) -> None:
    """``limit=0`` is a valid (empty) page and ``offset`` has the hub's bound: the document said
    ``limit`` starts at 1 and ``offset`` has no end."""
    document = requests.get(f"{era.hub.url}/era/openapi.json", timeout=30).json()
    params = {
        p["name"]: p["schema"]
        for p in document["paths"][BASE.removeprefix("/era")]["get"]["parameters"]
    }
    assert params["limit"] == {"type": "integer", "minimum": 0, "maximum": 1000}
    assert params["offset"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    auth = {"Authorization": f"Bearer {era.token}"}
    url = f"{era.hub.url}{BASE}"
    assert requests.get(url, params={"limit": "0"}, headers=auth, timeout=30).json() == []
    too_far = requests.get(url, params={"offset": str(2**63)}, headers=auth, timeout=30)
    assert too_far.status_code == 400 and "offset" in too_far.json()["error_message"]
