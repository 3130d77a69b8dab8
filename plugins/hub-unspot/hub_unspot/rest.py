"""UnSpot's REST surface under ``/unspot``, a thin adapter over :class:`UnspotService`.

Bodies are JSON indented by two spaces, no trailing newline: the seed's examples byte for byte.
Every failure, the host's own 404/405/500 included, is ``{"message": ..., "errors": []}``."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Literal

import orjson
from aiohttp import web

from hub.api import HubApi
from hub.caller import caller_of
from hub.errors import HubError
from hub.openapi import operation
from hub.records import to_json
from hub.registrations import RestApi
from hub_unspot.monitoring import CATEGORIES, FULL_REQUEST
from hub_unspot.records import OMITTED, Monitoring
from hub_unspot.service import UnspotService

BASE = "/api/external/v1/monitoring"
CONTENT_TYPE = "application/json"
# the service's own errors keep their message; the host's get the status phrase ("Not Found")
OWN_REASONS = {
    "invalid_token",
    "access_denied",
    "unknown_category",
    "rate_limited",
    "not_on_premise",
    "upstream_mode",
    # upstream mode: the vendor's own refusals keep its message, failures say what failed
    "upstream_unauthorized",
    "upstream_forbidden",
    "upstream_unavailable",
    "upstream_timeout",
    "upstream_bad_answer",
    "upstream_budget",
}


def render(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_INDENT_2),
        status=status,
        content_type=CONTENT_TYPE,
    )


def render_error(exc: HubError) -> web.Response:
    if exc.reason in OWN_REASONS:
        message = exc.message
    else:
        try:
            message = HTTPStatus(exc.status).phrase
        except ValueError:
            message = "Error"
    return render({"message": message, "errors": []}, exc.status)


# -- what the OpenAPI document says of each route ------------------------------------------------
def answer(title: str, categories: Sequence[str], optional: Sequence[str] = ()) -> type:
    """The record of ``{"message": "OK", "body": {...}}`` carrying exactly these categories
    (those in ``optional`` may be left out), typed as :class:`Monitoring` types them."""
    hints = typing.get_type_hints(Monitoring)
    fields: list[Any] = []
    for category in categories:
        name = CATEGORIES[category]
        kind = typing.get_args(hints[name])[0]  # Monitoring's "X | None": left out, never null
        if category in optional:
            fields.append((name, kind, dataclasses.field(default=None, metadata=OMITTED)))
        else:
            fields.append((name, kind))
    body = dataclasses.make_dataclass(f"{title}Body", fields, frozen=True)
    return dataclasses.make_dataclass(
        f"{title}Answer", [("message", Literal["OK"]), ("body", body)], frozen=True
    )


ERRORS = (401, 403, 429, 502, 503, 504)  # 5xx: upstream mode, the vendor down or slow
RATE_LIMITED = (
    "One request per 30 seconds (the plugin's rate_window) per token per category: more is a "
    "429 whose Retry-After header says in how many seconds to try again. System monitoring "
    "outside an on-premise deployment is a 401."
)


def routes(hub: HubApi) -> list[web.RouteDef]:
    service = hub.service(UnspotService)

    def handler(category: str | None) -> Any:
        requested = [category] if category else None
        if category:
            summary = f"Monitoring: {category}"
            shape = answer(category.title().replace("-", ""), [category])
        else:
            summary = "Monitoring: every category (system only on-premise)"
            shape = answer("Full", list(CATEGORIES), optional=["system"])

        @operation(
            summary,
            responses={200: shape},
            errors=ERRORS,
            camel_case=True,
            description=RATE_LIMITED,
        )
        async def monitoring(request: web.Request) -> web.Response:
            monitoring = await service.monitoring(
                caller_of(request),
                requested,
                rate_limit_category=category or FULL_REQUEST,
            )
            return render({"message": "OK", "body": to_json(monitoring, camel_case=True)})

        return monitoring

    return [
        web.get(BASE, handler(None), allow_head=False),
        *(web.get(f"{BASE}/{c}", handler(c), allow_head=False) for c in CATEGORIES),
    ]


def rest_api(hub: HubApi) -> RestApi:
    return RestApi(routes=routes(hub), render_error=render_error)
