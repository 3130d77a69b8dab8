"""Text with a NUL character cannot be stored (PostgreSQL's text cannot hold one, so every
engine refuses it). Each plugin refuses it as the bad input it is, a 400 in its own shape
naming the field, before anything is stored; the host's own refusal named no field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import grpc
import pytest
from hub_webim.v1 import webim_pb2 as pb
from hub_webim.v1 import webim_pb2_grpc

from tests.hubproc import ADMIN_TOKEN, HubProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NUL = "bad\x00text"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("nul")).start()
    yield process
    process.stop()


async def request(hub: HubProcess, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, hub.url + path, headers=ADMIN, **kwargs) as response,
    ):
        return response.status, await response.json()


async def test_unspot_names_a_display_name_holding_nul(hub: HubProcess) -> None:
    mutation = "mutation($i: UnspotDisplayInput!) { unspotUpsertDisplay(input: $i) { id } }"
    variables = {"i": {"name": NUL, "status": "online"}}
    _, body = await request(
        hub, "POST", "/graphql", json={"query": mutation, "variables": variables}
    )
    assert body["errors"][0]["message"] == "name: must not contain NUL (\\u0000)", body
    _, listed = await request(
        hub, "POST", "/graphql", json={"query": "{ unspot { monitoring { displays { id } } } }"}
    )
    assert listed["data"]["unspot"]["monitoring"]["displays"] == []


async def test_webim_names_an_account_domain_holding_nul(hub: HubProcess) -> None:
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        stub = webim_pb2_grpc.WebimStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UpsertAccount(
                pb.AccountInput(name="acme", domain=NUL),
                metadata=(("authorization", ADMIN["Authorization"]),),
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == "domain: must not contain NUL (\\u0000)"


async def test_rop_names_an_office_title_holding_nul(hub: HubProcess) -> None:
    office = {"office_id": "o1", "office_title": NUL, "leader_ids": [], "managers_ids": []}
    status, body = await request(
        hub,
        "POST",
        "/rop/api/v1/settings/offices-update",
        params={"apiKey": ADMIN_TOKEN},
        json={"offices": [office]},
    )
    assert status == 400, body
    assert body["message"].endswith("office_title: must not contain NUL (\\u0000)"), body
    status, offices = await request(
        hub, "POST", "/graphql", json={"query": "{ rop { offices { officeId } } }"}
    )
    assert offices["data"]["rop"]["offices"] == [], offices


async def test_notes_names_a_title_holding_nul(hub: HubProcess) -> None:
    status, body = await request(hub, "POST", "/notes/api/notes", json={"title": NUL})
    assert status == 400, body
    assert body["detail"] == "title: must not contain NUL (\\u0000)", body
