"""graphql-transport-ws with every message checked before strawberry reads it.

strawberry indexes into messages as the protocol describes them, so ``{"type": "subscribe",
"payload": null}`` or a JSON array raises a ``TypeError`` that reaches aiohttp after the upgrade,
which then writes an HTTP 500 onto the websocket. The protocol's answer to a malformed message
is closing the socket with 4400 and a reason, which is what the hub does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from hub.errors import HubError
from hub.graphql.persisted import PersistedQueryError, names_a_document, requested_hash

if TYPE_CHECKING:
    from hub.graphql.context import HubContext
    from hub.graphql.schema import HubSchema
    from hub.graphql.view import HubStrawberryView

# (key, expected type, what to call it) for the parts of a subscribe payload strawberry reads;
# a payload naming a persisted document (extensions.persistedQuery, documentId) needs no query
_PAYLOAD = (
    ("query", str | None, "a string"),
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
    if payload.get("query") is None and not names_a_document(payload):
        return "subscribe: payload.query must be a string"
    return None


class HubTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_message(self, message: Any) -> None:
        problem = malformed(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        # strawberry closes the socket for an early or a repeated subscribe before it reads
        # the query; a persisted document it is told only when it would run
        if (
            message["type"] == "subscribe"
            and self.connection_acknowledged
            and message["id"] not in self.operations
        ):
            try:
                message["payload"]["query"] = self._persisted_text(message["payload"])
                await cast("HubContext", self.context).check_logins()
            except PersistedQueryError as exc:
                await self._refuse(message["id"], exc.formatted())
                return
            except HubError as exc:  # the store's database unavailable: 503, as over HTTP
                exc.plugin = exc.plugin or "hub"
                formatted = {"message": exc.message, "extensions": exc.extensions}
                await self._refuse(message["id"], formatted)
                return
        await super().handle_message(message)

    async def _refuse(self, operation: str, error: dict[str, Any]) -> None:
        """The subscribe's answer: one ``error`` message; the socket stays open."""
        refusal: Any = {"id": operation, "type": "error", "payload": [error]}
        await self.send_message(refusal)

    def _persisted_text(self, payload: dict[str, Any]) -> str:
        """The document to run, as over HTTP: a client's document sent with its hash is kept
        once it validates."""
        store = cast("HubStrawberryView", self.view).persisted
        text, register = store.resolve(payload.get("query"), requested_hash(payload))
        if register:
            schema = cast("HubSchema", self.schema)
            document, errors = schema.documents.get(schema._schema, text)
            if document is not None and not errors:
                store.admit(text)
        return text
