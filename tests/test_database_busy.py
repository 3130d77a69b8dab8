"""A write that waits past the busy timeout for another writer (another process mid-transaction:
``hub db copy``, a second hub, an operator's sqlite3 shell) is answered 503 with
``Retry-After`` in the plugin's error shape over REST, GraphQL and gRPC, with one warning line
and no traceback; the hub goes on, and the next write after the other writer is done lands."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from hub_era.v1 import era_pb2, era_pb2_grpc

from hub.storage import Engine
from tests.hubproc import HubProcess

POINTS = "/era/rest/v1/service/integration_points"
CREATE = "mutation($i: EraIntegrationPointInput!) { eraCreateIntegrationPoint(input: $i) { id } }"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", {"HUB_PLUGINS": "era"}).start()
    yield process
    process.stop()


class HeldWriter:
    """era's writer's lock, taken by another connection (as another process's transaction
    would hold it) until :meth:`release`."""

    def __init__(self, hub: HubProcess) -> None:
        self.database = Engine(hub.data_dir, hub.env.get("HUB_DATABASE_URL", "")).open("era")
        self.holding, self.released = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)
        self.thread.start()
        assert self.holding.wait(10)

    def _hold(self) -> None:
        with self.database.write():
            self.holding.set()
            self.released.wait(60)

    def release(self) -> None:
        self.released.set()
        self.thread.join()
        self.database.close()


async def test_a_write_blocked_past_the_busy_timeout_is_a_503_everywhere(hub: HubProcess) -> None:
    token = hub.creds("era")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    held = HeldWriter(hub)
    try:
        async with aiohttp.ClientSession(hub.url) as session:
            body = {"code": "busy", "type": "webhook"}
            async with session.post(POINTS, json=body, headers=auth) as response:
                rest: Any = (response.status, response.headers.get("Retry-After"))
                rest_body = await response.json()
            variables = {"i": {"code": "busy2", "type": "webhook"}}
            query = {"query": CREATE, "variables": variables}
            async with session.post("/graphql", json=query, headers=auth) as response:
                errors = (await response.json())["errors"]
        async with grpc.aio.insecure_channel(hub.grpc) as channel:
            stub = era_pb2_grpc.EraStub(channel)
            point = era_pb2.IntegrationPointInput(code="busy3", type="webhook")
            request = era_pb2.CreateRequest(integration_point=point)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Create(request, metadata=(("authorization", f"Bearer {token}"),))
    finally:
        held.release()

    assert rest == (503, "1"), rest_body
    assert rest_body["error_code"] == 1503, rest_body  # era's shape
    assert errors[0]["extensions"]["status"] == 503, errors
    assert errors[0]["extensions"]["reason"] == "database_busy", errors
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    trailers = dict(refused.value.trailing_metadata() or ())
    assert trailers.get("hub-status") == "503", trailers

    async with aiohttp.ClientSession(hub.url) as session:  # the writer gone, writes land
        body = {"code": "after", "type": "webhook"}
        async with session.post(POINTS, json=body, headers=auth) as response:
            assert response.status == 200, await response.text()
        async with session.get(POINTS, headers=auth) as response:
            codes = [p["code"] for p in await response.json()]
    assert codes == ["after"]  # nothing refused was stored
    log = "".join(hub.output)
    assert "Traceback" not in log and "internal error" not in log, log
    assert log.count("busy") >= 3, log  # one line per refused write
