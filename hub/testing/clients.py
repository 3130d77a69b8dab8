"""REST, GraphQL and gRPC clients bound to one hub's addresses, in-process or a subprocess."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import aiohttp
import grpc

WS_PROTOCOL = "graphql-transport-ws"
ACK_WAIT = 30.0  # seconds the hub has to acknowledge ``connection_init``


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying ``token`` as REST's ``Authorization: Bearer`` header does."""
    return (("authorization", f"Bearer {token}"),)


class HubClient:
    """``async with HubClient(hub.url, hub.grpc) as client``: ``client.rest`` is an aiohttp
    session whose relative URLs start at the hub (``/notes/api/notes``), ``client.graphql(...)``
    posts to ``/graphql``, ``client.subscription(...)`` subscribes over its websocket,
    ``client.grpc_channel`` is a ``grpc.aio`` channel (use it with the plugin's generated stubs
    and :func:`bearer`)."""

    def __init__(self, url: str, grpc_target: str) -> None:
        self.url = url
        self.grpc_target = grpc_target

    async def __aenter__(self) -> HubClient:
        self.rest = aiohttp.ClientSession(base_url=self.url)
        self.grpc_channel = grpc.aio.insecure_channel(self.grpc_target)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.grpc_channel.close()
        await self.rest.close()

    async def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The response body (``data``, ``errors``) whatever the HTTP status; ``token`` is sent
        as ``Authorization: Bearer``, ``headers`` as they are (``Basic`` for webim)."""
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})
        body = {"query": query, "variables": dict(variables or {})}
        async with self.rest.post("/graphql", json=body, headers=sent) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
        return answer

    @contextlib.asynccontextmanager
    async def subscription(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        token: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """``async with client.subscription(query, token=t) as answers: async for message in
        answers``: one operation over ``/graphql``'s websocket (graphql-transport-ws), its
        ``next``, ``error`` and ``complete`` messages as they come; the socket closes when the
        block ends. ``token`` goes into the ``connection_init`` payload as ``Authorization:
        Bearer``, ``params`` as they are (``{"Authorization": "Basic ..."}`` for webim). A socket
        the hub closes ends the answers with ``{"type": "close", "code": ..., "reason": ...}``."""
        init = {"Authorization": f"Bearer {token}"} if token else {}
        init.update(params or {})
        async with self.rest.ws_connect("/graphql", protocols=[WS_PROTOCOL]) as socket:
            await socket.send_json({"type": "connection_init", "payload": init})
            ack = await socket.receive(timeout=ACK_WAIT)
            if ack.type is not aiohttp.WSMsgType.TEXT or ack.json().get("type") != "connection_ack":
                raise ConnectionError(f"the hub did not acknowledge connection_init: {ack}")
            payload = {"query": query, "variables": dict(variables or {})}
            await socket.send_json({"id": "1", "type": "subscribe", "payload": payload})
            yield _answers(socket)


async def _answers(socket: aiohttp.ClientWebSocketResponse) -> AsyncIterator[dict[str, Any]]:
    """The operation's messages up to its ``complete`` or ``error``, pings answered."""
    while True:
        frame = await socket.receive()
        if frame.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):  # closed
            reason = frame.extra if frame.type is aiohttp.WSMsgType.CLOSE else None
            yield {"type": "close", "code": socket.close_code, "reason": reason}
            return
        message: dict[str, Any] = frame.json()
        if message.get("type") == "ping":
            await socket.send_json({"type": "pong"})
            continue
        yield message
        if message.get("type") in ("complete", "error"):
            return
