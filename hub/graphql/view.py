"""GraphQL over HTTP, following the graphql-over-http spec (``application/graphql-response+json``
included), with parsed and validated documents cached (:mod:`hub.graphql.documents`) so a
repeated query only executes. Websockets (graphql-transport-ws) are served by strawberry's own
aiohttp view; GraphiQL, with its assets, by :mod:`hub.graphql.graphiql`."""

from __future__ import annotations

import inspect
import logging
import weakref
from typing import Any

import orjson
import strawberry
from aiohttp import web
from graphql import GraphQLError, OperationType, get_operation_ast
from strawberry.aiohttp.views import GraphQLView as StrawberryView

from hub import requestid
from hub.config import GraphQLLimits
from hub.errors import HubError
from hub.graphql import graphiql
from hub.graphql.context import HubContext
from hub.graphql.documents import AMBIGUOUS
from hub.graphql.fast import PlainSubtreeExecutor
from hub.graphql.faults import is_internal, log_internal
from hub.graphql.limits import INTERNAL, request_error_extensions
from hub.graphql.persisted import (
    PersistedQueries,
    PersistedQueryError,
    names_a_document,
    requested_hash,
)
from hub.graphql.schema import HubSchema
from hub.graphql.ws import HubTransportWSHandler
from hub.http.body import MAX_BODY_KEY, read_body
from hub.upstream.freshness import graphql_extension

log = logging.getLogger("hub.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
BAD_HANDSHAKE = (
    "Upgrade: websocket without a valid websocket handshake (Connection: Upgrade,"
    " Sec-WebSocket-Version: 13, a Sec-WebSocket-Key of 16 bytes in base64)"
)


class RequestError(Exception):
    """The HTTP request is not a GraphQL request at all: always a 4xx, never any data."""

    def __init__(
        self,
        status: int,
        message: str,
        reason: str = "bad_request",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.headers = headers or {}


def format_error(error: GraphQLError, reason: str = "graphql_invalid") -> dict[str, Any]:
    """The spec's error shape; anything that is not a HubError or a GraphQL request error is an
    internal error whose details go to the log, not to the client. ``reason`` is given to a
    GraphQL error that carries no code of its own."""
    formatted: dict[str, Any] = error.formatted  # type: ignore[assignment]  # a fresh dict
    original = error.original_error
    if isinstance(original, HubError):
        formatted["extensions"] = original.extensions
    elif is_internal(error):
        log_internal(error)
        formatted["message"] = "internal error"
        formatted["extensions"] = dict(INTERNAL)
    elif "code" not in (formatted.get("extensions") or {}):
        formatted["extensions"] = request_error_extensions(reason)
    return formatted


def _shown(header: str) -> str:
    """A header value fit for an error message: aiohttp hands bytes that are not UTF-8 over as
    lone surrogates, which no JSON encoder takes; show them as U+FFFD, as yarl does in URLs."""
    return header.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_ACCEPTABLE = {GRAPHQL_RESPONSE: GRAPHQL_RESPONSE, JSON: JSON, "*/*": JSON, "application/*": JSON}


def _media_type(accept: str | None) -> str:
    """Pick the response type from ``Accept``; the newer GraphQL type wins a tie."""
    if not accept:
        return JSON
    best, best_q = None, 0.0
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        media = media.lower()
        candidate = _ACCEPTABLE.get(media)
        if candidate and (q > best_q or (q == best_q and candidate == GRAPHQL_RESPONSE)):
            best, best_q = candidate, q
    if best is None:
        raise RequestError(
            406,
            f"cannot answer with any of: {_shown(accept)}; use {GRAPHQL_RESPONSE} or {JSON}",
            "not_acceptable",
        )
    return best


# query (None when the request names a persisted document), variables, operationName, and the
# SHA-256 of the persisted document named
Params = tuple[str | None, dict[str, Any] | None, str | None, str | None]


GET_PARAMS = ("query", "variables", "operationName", "extensions", "documentId")


def _params_from(data: Any) -> Params:
    if not isinstance(data, dict):
        raise RequestError(400, "the request body must be a JSON object", "bad_params")
    query = data.get("query")
    if not isinstance(query, str) and not (query is None and names_a_document(data)):
        raise RequestError(400, "query: expected a string holding a GraphQL document", "bad_params")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "variables: expected a JSON object", "bad_params")
    operation = data.get("operationName")
    if operation is not None and not isinstance(operation, str):
        raise RequestError(400, "operationName: expected a string", "bad_params")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestError(400, "extensions: expected a JSON object", "bad_params")
    # "" is what a form or a client with no name to give sends: it means "no operationName"
    return query, variables, operation or None, requested_hash(data)


def _json_param(data: dict[str, Any], name: str) -> None:
    """A GET parameter that holds JSON, decoded in place (empty means absent)."""
    if name in data:
        try:
            data[name] = orjson.loads(data[name]) if data[name] else None
        except orjson.JSONDecodeError:
            raise RequestError(400, f"{name}: not valid JSON", "bad_params") from None


class HubStrawberryView(StrawberryView):
    """strawberry's view, for websockets, with the hub's context."""

    graphql_transport_ws_handler_class = HubTransportWSHandler

    def __init__(self, hub: Any, schema: strawberry.Schema, persisted: PersistedQueries) -> None:
        super().__init__(schema=schema, subscription_protocols=["graphql-transport-ws"])
        self.hub = hub
        self.persisted = persisted
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def decode_json(self, data: str | bytes) -> object:
        """A websocket message read as the HTTP view reads a body (orjson): JSON that one refuses
        the other refuses too (a lone surrogate, which ``json.loads`` passes on to be stored);
        strawberry closes the socket with 4400 for it."""
        return orjson.loads(data)

    async def create_websocket_response(
        self, request: web.Request, subprotocol: str | None
    ) -> web.WebSocketResponse:
        # strawberry's, plus a heartbeat (a peer that stops answering pings is disconnected) and
        # GraphQL's max_body for each message (aiohttp closes with 1009 past it)
        socket = web.WebSocketResponse(
            protocols=[subprotocol] if subprotocol else [],
            heartbeat=self.hub.settings.http_websocket_heartbeat,
            max_msg_size=self.hub.settings.graphql.max_body,
        )
        await socket.prepare(request)
        self.sockets.add(socket)
        return socket

    async def close_websockets(self) -> None:
        """Subscriptions never finish on their own: close them so shutdown can drain."""
        for socket in list(self.sockets):
            await socket.close(code=1001, message=b"server shutting down")

    async def get_context(self, request: web.Request, response: Any) -> HubContext:  # type: ignore[override]
        return HubContext(self.hub, request.headers.get("Authorization"), request)


class GraphQLEndpoint:
    def __init__(self, hub: Any, schema: HubSchema, limits: GraphQLLimits) -> None:
        self.hub = hub
        self.schema = schema
        self.limits = limits
        self.documents = schema.documents
        splice = hub.settings.rendered_rows_bytes > 0
        self.executor = PlainSubtreeExecutor.limited(limits.max_resolved_fields, splice)
        self.persisted = PersistedQueries.of(hub, limits)
        self.strawberry_view = HubStrawberryView(hub, schema, self.persisted)

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/graphql", self.handle), *graphiql.routes()]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        requestid.describe(protocol="graphql")
        if request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket":
            if self.strawberry_view.is_websocket_request(request):
                return await self.strawberry_view(request)
            # strawberry's view would answer it as a plain GET of its own: its GraphiQL page,
            # or the query run past the hub's view (persisted_only included)
            extensions = request_error_extensions("bad_websocket_handshake")
            return self._respond(
                {"errors": [{"message": BAD_HANDSHAKE, "extensions": extensions}]}, 400, JSON
            )
        if (
            request.method == "GET"
            and "text/html" in request.headers.get("Accept", "")
            and "query" not in request.query
        ):
            return graphiql.page(request)
        media = JSON  # what a request error is answered with until Accept is understood
        try:
            media = _media_type(request.headers.get("Accept"))
            query, variables, operation, hash = await self._read_params(request)
            text, register = self.persisted.resolve(query, hash)
            return await self._run(request, media, text, variables, operation, register)
        except PersistedQueryError as exc:
            body = {"errors": [exc.formatted()]}
            return self._respond(body, exc.http_status(media == GRAPHQL_RESPONSE), media)
        except RequestError as exc:
            extensions = request_error_extensions(exc.reason, exc.status)
            body = {"errors": [{"message": exc.message, "extensions": extensions}]}
            return self._respond(body, exc.status, media, exc.headers)
        except HubError as exc:
            exc.plugin = exc.plugin or "hub"
            body = {"errors": [{"message": exc.message, "extensions": exc.extensions}]}
            return self._respond(body, exc.status, media)

    async def _read_params(self, request: web.Request) -> Params:
        if request.method == "GET":
            data: dict[str, Any] = dict(request.query)
            if len(data) != len(request.query):  # which one counts would be anyone's guess
                for name in GET_PARAMS:
                    if len(request.query.getall(name, ())) > 1:
                        raise RequestError(400, f"{name}: given more than once", "bad_params")
            _json_param(data, "variables")
            _json_param(data, "extensions")
            return _params_from(data)
        if request.method != "POST":
            raise RequestError(
                405,
                f"{request.method} is not supported; use GET or POST",
                "method_not_allowed",
                {"Allow": "GET, POST"},
            )
        content_type = request.headers.get("Content-Type")
        if not content_type:
            raise RequestError(
                415, "Content-Type is required: use application/json", "unsupported_media_type"
            )
        if request.content_type not in (JSON, GRAPHQL_RESPONSE) or (
            request.charset and request.charset.lower() not in ("utf-8", "utf8")
        ):
            raise RequestError(
                415,
                f"unsupported Content-Type {_shown(content_type)}: use application/json",
                "unsupported_media_type",
            )
        request[MAX_BODY_KEY] = self.limits.max_body  # documents are small
        raw = await read_body(request)
        if not raw.strip():
            raise RequestError(400, "the request body is empty: expected a JSON object", "bad_json")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            message = f"the request body is not valid JSON: {exc}"
            raise RequestError(400, message, "bad_json") from None
        return _params_from(data)

    async def _run(
        self,
        request: web.Request,
        media: str,
        query: str,
        variables: dict[str, Any] | None,
        operation: str | None,
        register: bool = False,
    ) -> web.Response:
        """Run ``query``; ``register``: a client sent it with its hash (automatic persisted
        queries), to keep once it validates."""
        document, errors = self.documents.get(self.schema._schema, query)
        # graphql-response+json says "this request never executed" with a 4xx; plain JSON
        # clients of old expect 200 and look at "errors"
        failure_status = 400 if media == GRAPHQL_RESPONSE else 200
        if document is None or errors:
            return self._respond(
                {"errors": [format_error(e) for e in errors]}, failure_status, media
            )
        if register:
            self.persisted.admit(query)
        op = get_operation_ast(document, operation)
        if op is None:
            message = f"unknown operation {operation!r}" if operation else AMBIGUOUS
            extensions = request_error_extensions("bad_operation")
            return self._respond(
                {"errors": [{"message": message, "extensions": extensions}]}, failure_status, media
            )
        if request.method == "GET" and op.operation is not OperationType.QUERY:
            raise RequestError(
                405,
                f"{op.operation.value} operations need POST",
                "method_not_allowed",
                {"Allow": "POST"},
            )
        if op.operation is OperationType.SUBSCRIPTION:
            raise RequestError(
                400,
                "subscriptions are served over websockets (graphql-transport-ws)",
                "subscription_over_http",
            )
        requestid.describe(operation=op.name.value if op.name else op.operation.value)
        context = HubContext(self.hub, request.headers.get("Authorization"), request)
        await context.check_logins()
        result = self.executor.run(self.schema._schema, document, context, variables, operation)
        if inspect.isawaitable(result):
            result = await result
        body: dict[str, Any] = {}
        for error in result.errors or ():
            self.schema.attribute(error, op)
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # variables could not be coerced (the request never executed), or the execution
            # budget was spent (what was resolved is no answer)
            body["errors"] = [format_error(e, "bad_variables") for e in result.errors]
            return self._respond(body, failure_status, media)
        if result.errors:
            body["errors"] = [format_error(e) for e in result.errors]
        body["data"] = result.data
        upstream = graphql_extension(context.callers())
        if upstream is not None:
            body["extensions"] = {"upstream": upstream}
        try:
            return self._respond(body, 200, media)
        except orjson.JSONEncodeError as exc:  # a resolver's JSON scalar holding a set, say
            named = op.name.value if op.name else op.operation.value
            log.error("the answer to %s cannot be serialized: %s", named, exc)
            internal = {"message": "internal error", "extensions": dict(INTERNAL)}
            return self._respond({"errors": [internal]}, 500, media)

    @staticmethod
    def _respond(
        body: Any, status: int, media: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        content_type = {"Content-Type": f"{media}; charset=utf-8"}
        headers = {**headers, **content_type} if headers else content_type
        return web.Response(body=orjson.dumps(body), status=status, headers=headers)
