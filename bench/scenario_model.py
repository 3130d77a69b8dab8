"""What a row of ``bench.py`` is: a :class:`Scenario` pairs the hub's :class:`Request` with a
:class:`Baseline` that answers the same; a :class:`Suite` seeds the running hub and returns its
scenarios. Requests are JSON (``http`` or ``grpc``) so that wrk's script or the loader process
can be made from them."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub_handle import HubHandle


@dataclass
class Request:
    """One request as wrk's script or the loader process rebuilds it: ``kind`` picks a client
    (``http``: wrk, or ``closed_loop.CLIENTS``); ``params`` is JSON and leaves out the server's
    address. An HTTP body may hold the text ``params["unique"]``, replaced per request by a
    value no other request of the run gets."""

    kind: str  # "http" | "grpc"
    params: dict[str, Any]


@dataclass
class Baseline:
    """The other side of a row: a bare server started as ``bench.py _serve <server>`` with
    ``data`` (JSON), a Node peer (``server`` a key of ``baselines.NODE_PEERS``), or ``"hub"``:
    the hub itself answering ``request``."""

    label: str  # shown in the table, e.g. "bare aiohttp"
    server: str  # a key of BASELINE_SERVERS or NODE_PEERS, or "hub"
    data: Any
    request: Request


@dataclass
class Scenario:
    name: str
    hub_request: Request
    baseline: Baseline
    target: float  # design target: printed, never asserted
    compare: str = "bytes"  # how the two answers must agree: a key of answers.COMPARERS
    # "rps": hub/baseline req/s, at least target; "cpu": hub/baseline server CPU per request,
    # at most target
    metric: str = "rps"


@dataclass
class Suite:
    """A plugin's scenarios: ``setup`` seeds the running hub and returns them."""

    name: str
    setup: Callable[[HubHandle], list[Scenario]]


def graphql_request(token: str, query: str) -> Request:
    """``POST /graphql`` of ``query`` with a bearer token."""
    return Request(
        "http",
        {
            "method": "POST",
            "path": "/graphql",
            "body": json.dumps({"query": query}),
            "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        },
    )


def grpc_request(
    token: str, stub: str, method: str, request: str, fields: dict[str, Any]
) -> Request:
    """A unary call with a bearer token: ``stub`` and ``request`` are ``module:name`` refs."""
    return Request(
        "grpc",
        {
            "stub": stub,
            "method": method,
            "request": request,
            "fields": fields,
            "metadata": [["authorization", f"Bearer {token}"]],
        },
    )


def resolve(ref: str) -> Any:
    """The object a ``module:name`` ref names (a gRPC stub or message, a baseline server)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def grpc_call(params: dict[str, Any]) -> tuple[str, Any]:
    """The method's path (``/package.Service/Method``) and the request message of a ``grpc``
    request's ``params``."""
    message = resolve(params["request"])(**params.get("fields", {}))
    service = params["stub"].rpartition(":")[2].removesuffix("Stub")
    return f"/{message.DESCRIPTOR.file.package}.{service}/{params['method']}", message
