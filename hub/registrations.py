"""What a plugin hands the host through the ``register`` callbacks of its hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from hub.caller import AUTHORIZATION, Presentation
from hub.errors import HubError

ErrorRenderer = Callable[[HubError], web.Response]


def default_error_renderer(error: HubError) -> web.Response:
    body = {"error": {"status": error.status, "reason": error.reason, "message": error.message}}
    return web.json_response(body, status=error.status)


@dataclass
class RestApi:
    """A plugin's REST surface. ``render_error`` turns every failure under the plugin's prefix
    (the host's own 404/405/413/malformed-body errors included) into the system's documented
    error shape. ``max_body`` overrides the hub's request size limit for this surface.
    ``presented_in`` says where its clients present credentials (``hub.caller``: ``Header``,
    ``Query``, ``Cookie``), the first being what ``caller.credential`` reads."""

    routes: Sequence[web.AbstractRouteDef]
    render_error: ErrorRenderer = default_error_renderer
    max_body: int | None = None
    presented_in: Sequence[Presentation] = (AUTHORIZATION,)
    # the schemes an ``Authorization`` header carries, for the OpenAPI document (``basic``)
    auth_schemes: Sequence[str] = ("bearer",)


@dataclass
class GraphQLPart:
    """``query`` is a strawberry type mounted at the plugin's root field (``{ era { ... } }``);
    the fields of ``mutation`` and ``subscription`` become top-level fields, each of whose names
    must start with the plugin's name. ``types`` adds types reachable only through interfaces."""

    query: type | None = None
    mutation: type | None = None
    subscription: type | None = None
    types: Sequence[type] = ()


@dataclass
class GrpcService:
    """A servicer and the generated ``add_XServicer_to_server``; ``name`` is the full service name
    (``hub.era.v1.Era``), used for reflection and the standard health service."""

    name: str
    servicer: Any
    add_to_server: Callable[[Any, Any], None]


ProbeResult = tuple[str, str]  # (status "ok" | "degraded" | "down", detail)
Probe = Callable[[], Awaitable[ProbeResult] | ProbeResult]


@dataclass
class HealthProbe:
    name: str
    probe: Probe
    critical: bool = True  # a critical probe that is down makes /readyz fail


PanelData = dict[str, Any]  # JSON-able: numbers, strings, lists and dicts of them


@dataclass
class StatusPanel:
    """A plugin's part of the status page at ``/``: ``collect()`` (plain or async) returns a
    small JSON-able dict, shown as it is each time the page refreshes. ``plot`` names numbers
    in it by dotted path (``"check_latency_ms.p50"``): the host samples them with the hub's own
    series and plots their last hour."""

    name: str
    collect: Callable[[], Awaitable[PanelData] | PanelData]
    plot: Sequence[str] = ()


@dataclass
class PeriodicJob:
    """``job`` every ``interval`` seconds. ``scope="hub"``: in a multi-worker hub, one worker
    at a time runs it (under a lease); ``"worker"``: every worker does (its own bookkeeping)."""

    name: str
    interval: float
    job: Callable[[], Any]
    scope: Literal["hub", "worker"] = "hub"


@dataclass
class BackgroundQueue:
    """Work the hub has accepted and not finished (a webhook outbox, due checks). ``depth``
    counts it now; unspot's ``system`` category and ``/metrics`` report every queue. Its
    subclass :class:`hub.queue.WorkQueue` is a durable queue the host also runs."""

    name: str
    depth: Callable[[], int]
