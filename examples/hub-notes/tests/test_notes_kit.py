"""hub-notes tested as any plugin can be, with the plugin kit the host ships (hub.testing): an
in-process hub that loads only this plugin, a client for each protocol bound to it, and the
conformance check. From this directory: ``pip install "hub-gateway[testing]" -e .`` then
``pytest tests``."""

from __future__ import annotations

import pytest
from hub_notes.v1 import notes_pb2, notes_pb2_grpc

from hub.testing import HubClient, RunningHub, bearer, conformance

pytestmark = pytest.mark.asyncio  # needed unless pytest-asyncio runs with asyncio_mode = auto


@pytest.fixture
def hub_env() -> dict[str, str]:
    return {"HUB_PLUGINS": "notes"}


async def test_one_note_over_rest_graphql_and_grpc(
    hub_server: RunningHub, hub_client: HubClient
) -> None:
    token = hub_server.creds("notes")["token"]
    async with hub_client.rest.post(
        "/notes/api/notes", json={"title": "kit"}, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 201
        note = await response.json()
    query = "query ($id: ID!) { notes { note(id: $id) { title } } }"
    answer = await hub_client.graphql(query, {"id": note["id"]}, token)
    assert answer == {"data": {"notes": {"note": {"title": "kit"}}}}
    stub = notes_pb2_grpc.NotesStub(hub_client.grpc_channel)
    got = await stub.GetNote(notes_pb2.GetNoteRequest(id=note["id"]), metadata=bearer(token))
    assert got.title == "kit"


async def test_notes_conforms(hub_server: RunningHub) -> None:
    await conformance.check(hub_server, "notes")
