"""graphql-transport-ws with every message checked before strawberry reads it.

strawberry indexes into messages as the protocol describes them, so ``{"type": "subscribe",
"payload": null}`` or a JSON array raises a ``TypeError`` that reaches aiohttp after the upgrade,
which then writes an HTTP 500 onto the websocket. The protocol's answer to a malformed message
is closing the socket with 4400 and a reason, which is what the hub does."""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

# (key, expected type, what to call it) for the parts of a subscribe payload strawberry reads
_PAYLOAD = (
    ("query", str, "a string"),
    ("variables", dict | None, "an object or null"),
    ("operationName", str | None, "a string or null"),
    ("extensions", dict | None, "an object or null"),
)


def malformed(message: Any) -> str | None:
    """Why ``message`` is not a graphql-transport-ws message, or None if it is one."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be a JSON object with a string type"
    kind = message["type"]
    if kind in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return f"{kind}: id must be a string"
    if kind != "subscribe":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "subscribe: payload must be an object"
    for key, kind_of, described in _PAYLOAD:
        if not isinstance(payload.get(key), kind_of):
            return f"subscribe: payload.{key} must be {described}"
    return None


class HubTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_message(self, message: Any) -> None:
        problem = malformed(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)
