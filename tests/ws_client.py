"""The tests' graphql-transport-ws client: a websocket at a hub's ``/graphql`` whose
``connection_init`` the hub acknowledged, a subscribe, and the next message past the pings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

PROTOCOL = "graphql-transport-ws"


@contextlib.asynccontextmanager
async def acknowledged(
    url: str, payload: dict[str, str]
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A websocket to the hub at ``url`` once it acknowledged ``connection_init`` (its
    ``payload``: the credentials, as ``{"Authorization": "Bearer ..."}``)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{url}/graphql", protocols=[PROTOCOL]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": payload})
        assert (await next_message(ws))["type"] == "connection_ack"
        yield ws


async def subscribe(ws: aiohttp.ClientWebSocketResponse, query: str, ident: str = "1") -> None:
    """Starts the operation ``ident`` (the server sends no answer to a subscribe itself)."""
    await ws.send_json({"id": ident, "type": "subscribe", "payload": {"query": query}})


async def next_message(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> dict[str, Any]:
    """The next message but a ping (answered with a pong on the way)."""
    while True:
        message = await asyncio.wait_for(ws.receive_json(), timeout)
        if message["type"] == "ping":
            await ws.send_json({"type": "pong"})
            continue
        return message  # type: ignore[no-any-return]


async def first_answer(url: str, payload: dict[str, str], query: str) -> dict[str, Any]:
    """The first message after subscribing to ``query`` (``payload``: as for
    :func:`acknowledged`)."""
    async with acknowledged(url, payload) as ws:
        await subscribe(ws, query)
        return await next_message(ws)
