"""ERA's create as the write path builds it: the stored channel in its canonical form whatever the
body's order, and the first bad field named by the same rules however many are bad (what
validation checks first), with nothing stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hub_era.v1 import era_pb2

from tests.test_era import CT, OPTS_ORDER, SEED_ORDER, Era, era, era_token, expect_error, uid

__all__ = ["era", "era_token"]  # the fixtures this module uses, from test_era


async def test_partial_body_in_any_order_is_stored_canonical(era: Era) -> None:
    code = "partial-" + uid()
    body = {
        "opts": {"issync": True, "title": "Győr"},
        "url": "https://x.example.hu/cb",
        "type": "telegram",
        "send_svcscriptcode_ws": "SWS",
        "code": code,
    }
    reply = await era.rest("POST", body=body)
    assert reply.status == 200, reply.text
    sent = json.loads(reply.text)
    assert list(sent) == SEED_ORDER and list(sent["opts"]) == OPTS_ORDER
    opts = {"title": "Győr", "comment": "", "allow_files_api": False, "issync": True}
    assert sent["opts"] == opts
    assert (sent["code"], sent["type"], sent["url"]) == (code, "telegram", body["url"])
    assert sent["send_svcscriptcode_ws"] == "SWS"
    for name in ("token_remote", "token_remote2", "recv_svcscriptcode", "recv_svcscriptcode_ws"):
        assert sent[name] == "", name
    assert (await era.rest("GET", "/" + sent["id"])).text == reply.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # the body's keys in its order: the first server-set or unknown one
        ({"nope": 1, "id": "x", "code": "k", "type": "x"}, "nope: unknown field"),
        (
            {"id": "x", "nope": 1, "code": "k", "type": "x"},
            "id: field is set by the server and cannot be changed",
        ),
        (
            {"code": 5, "tokenlocal": "x", "type": "x"},
            "tokenlocal: field is set by the server and cannot be changed",
        ),
        # then the strings in the seed's order, whatever the body's
        ({"url": 6, "code": 5, "type": "x"}, "code: expected a string"),
        ({"url": 6, "type": ["x"], "code": "k"}, "type: expected a string"),
        ({"code": "k" * 256, "url": 6, "type": "x"}, "code: longer than 255 characters"),
        ({"url": "u" * 2049, "code": "k"}, "url: longer than 2048 characters"),
        # then code and type present, then opts
        ({"type": "x", "url": 5}, "url: expected a string"),
        ({"type": " ", "opts": {"title": 1}}, "code: required, must be a non-empty string"),
        ({"code": "k", "opts": {"title": 1}}, "type: required, must be a non-empty string"),
        ({"code": "k", "type": "x", "opts": {"title": 1}}, "opts.title: expected a string"),
    ],
)
async def test_the_first_bad_field_is_named_and_nothing_is_stored(
    era: Era, body: dict[str, Any], message: str
) -> None:
    before = (await era.rpc("List", era_pb2.ListRequest(limit=0))).total_count
    reply = await era.rest("POST", raw=json.dumps(body), headers={"Content-Type": CT})
    assert expect_error(reply, 400) == message
    assert (await era.rpc("List", era_pb2.ListRequest(limit=0))).total_count == before
