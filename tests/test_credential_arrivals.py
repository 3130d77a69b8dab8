"""A credential check skips the database's data version only when no client bytes arrived since
it was last read (``hub.credentials.Arrivals``). Each case here would let a stale cache through
if that were wrong: a revocation made by another process is refused on the very next request
of a keep-alive connection (no other traffic at all), over gRPC right after HTTP traffic (gRPC
bytes are not counted) and after gRPC calls that skipped the read (the database's commit
marker unchanged), and on a websocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiohttp
import grpc
import pytest
from hub_era.v1 import era_pb2, era_pb2_grpc

from hub.testing.process import HubProcess

LIST = "/era/rest/v1/service/integration_points?limit=1"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("arrivals")).start()
    yield process
    process.stop()


def issue(hub: HubProcess) -> tuple[str, str]:
    """A new era token and its credential's id."""
    listed = {c["id"] for c in json.loads(hub.cli("creds", "list", "era").stdout)}
    token = hub.creds("era")["token"]
    (ident,) = {c["id"] for c in json.loads(hub.cli("creds", "list", "era").stdout)} - listed
    return token, ident


def revoke(hub: HubProcess, ident: str) -> None:
    """Through another process: the serving hub learns of it only from the database."""
    hub.cli("creds", "revoke", "era", ident)


def listing(token: str) -> bytes:
    return f"GET {LIST} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n\r\n".encode()


async def status_of(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    (length,) = [
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def test_revoked_elsewhere_is_refused_on_the_next_request_of_a_kept_alive_connection(
    hub: HubProcess,
) -> None:
    token, ident = issue(hub)
    host, port = hub.http.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for _ in range(3):  # cached, and the data version read after these bytes arrived
            writer.write(listing(token))
            assert await status_of(reader) == 200
        revoke(hub, ident)
        writer.write(listing(token))  # the only bytes the hub reads since the revocation
        assert await status_of(reader) == 401
    finally:
        writer.close()


async def test_revoked_elsewhere_is_refused_over_grpc_right_after_http(hub: HubProcess) -> None:
    token, ident = issue(hub)
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        stub = era_pb2_grpc.EraStub(channel)
        await stub.List(era_pb2.ListRequest(limit=1), metadata=metadata)  # channel is up
        host, port = hub.http.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(listing(token))
            assert await status_of(reader) == 200  # the last bytes HTTP counts
            revoke(hub, ident)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.List(era_pb2.ListRequest(limit=1), metadata=metadata)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        finally:
            writer.close()


async def test_revoked_elsewhere_is_refused_on_the_next_of_many_grpc_calls(
    hub: HubProcess,
) -> None:
    """Between gRPC calls nothing is committed, so their checks skip the data version (the
    database's commit marker is unchanged); the revocation's commit changes it."""
    token, ident = issue(hub)
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        stub = era_pb2_grpc.EraStub(channel)
        for _ in range(5):
            await stub.List(era_pb2.ListRequest(limit=1), metadata=metadata)
        revoke(hub, ident)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.List(era_pb2.ListRequest(limit=1), metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_revoked_elsewhere_is_refused_on_an_open_graphql_websocket(
    hub: HubProcess,
) -> None:
    token, ident = issue(hub)
    query = "{ era { integrationPoints(first: 1) { totalCount } } }"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert (await ws.receive_json())["type"] == "connection_ack"

        async def run(ident_: str) -> dict[str, object]:
            await ws.send_json({"id": ident_, "type": "subscribe", "payload": {"query": query}})
            answer = await ws.receive_json()
            assert (await ws.receive_json())["type"] == "complete"
            return answer  # type: ignore[no-any-return]

        assert "errors" not in (await run("1"))["payload"]  # type: ignore[operator]
        revoke(hub, ident)
        assert "errors" in (await run("2"))["payload"]  # type: ignore[operator]
