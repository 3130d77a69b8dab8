"""REST, GraphQL and gRPC clients bound to one hub's addresses, in-process or a subprocess."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp
import grpc


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying ``token`` as REST's ``Authorization: Bearer`` header does."""
    return (("authorization", f"Bearer {token}"),)


class HubClient:
    """``async with HubClient(hub.url, hub.grpc) as client``: ``client.rest`` is an aiohttp
    session whose relative URLs start at the hub (``/notes/api/notes``), ``client.graphql(...)``
    posts to ``/graphql``, ``client.grpc_channel`` is a ``grpc.aio`` channel (use it with the
    plugin's generated stubs and :func:`bearer`)."""

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
