"""The aiohttp side: plugin REST surfaces, the hub's own endpoints, one error path."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub import openapi, openapi_ui, requestid
from hub.app import Hub
from hub.caller import CALLER_KEY, Callers
from hub.credentials import ArrivedRequest
from hub.errors import HubError, StartupError
from hub.http import statuspage
from hub.http.body import MAX_BODY_KEY, PLUGIN_KEY, too_large
from hub.http.protocol import HubRequestHandler
from hub.metrics import HubMetrics
from hub.registrations import ErrorRenderer, default_error_renderer
from hub.upstream.freshness import rest_headers
from hub.upstream.writes import WritePending

log = logging.getLogger("hub.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Any  # aiohttp's middleware protocol; its own alias is not public
HUB_KEY = web.AppKey("hub", Hub)


def _as_hub_error(exc: web.HTTPException) -> HubError:
    reasons = {404: "Not found", 405: "Method not allowed", 413: "Request entity too large"}
    message = reasons.get(exc.status, exc.reason)
    return HubError(exc.status, message, reason=exc.reason.lower().replace(" ", "_"))


def _first_segment(path: str) -> str:
    """``era`` for ``/era/...``; nothing for a target that is not a path (``*``)."""
    return path.split("/", 2)[1] if path.startswith("/") else ""


def _refuse_unroutable(request: web.Request) -> None:
    """CONNECT (the hub is no proxy) and a target that is not a path (``OPTIONS *``): 405, with
    an empty ``Allow``, as no method is served on such a target."""
    if request.method == "CONNECT" or not request.path.startswith("/"):
        raise web.HTTPMethodNotAllowed(request.method, allowed_methods=())


def _arrival(request: web.Request) -> contextlib.AbstractContextManager[None]:
    """The request's arrival stamp for credential checks (see ``hub.credentials.Arrivals``) when
    the hub's own connection handler counted its bytes, and it is not a websocket's upgrade."""
    protocol = request.protocol
    if not isinstance(protocol, HubRequestHandler) or hdrs.UPGRADE in request.headers:
        return contextlib.nullcontext()
    stamp = protocol.arrived
    return contextlib.nullcontext() if stamp is None else ArrivedRequest(stamp)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def error_middleware(
    surfaces: dict[str, tuple[ErrorRenderer, int]],
    default_limit: int,
    metrics: HubMetrics,
    callers: Callers,
    fixed_plugin: str | None = None,
) -> Middleware:
    """Find the plugin that owns the path, put its :class:`~hub.caller.Caller` on the request
    (``caller_of(request)``), enforce its body limit, render every failure in its documented
    error shape, and never let a traceback reach the client."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The request's id on every line logged while it is served, on its answer, and on
        its access line (the route's template, never the path: a path may carry a token)."""
        incoming = request.headers.get(requestid.HEADER)
        operation = f"{request.method} {_route(request)}"
        with (
            requestid.serving(incoming, "rest", operation, "hub", request.headers) as served,
            _arrival(request),
        ):
            try:
                response = await answer(request, handler)
            except web.HTTPException as exc:  # a redirect, raised on to aiohttp
                exc.headers[requestid.HEADER] = served.id
                requestid.log_access(served, exc.status)
                raise
            served.plugin = request.get(PLUGIN_KEY, served.plugin)
            if not response.prepared:  # a websocket's head went out with the upgrade
                response.headers[requestid.HEADER] = served.id
            requestid.log_access(served, response.status)
        return response

    async def answer(request: web.Request, handler: Handler) -> web.StreamResponse:
        plugin = fixed_plugin or _first_segment(request.path)
        render, limit = surfaces.get(plugin, (default_error_renderer, default_limit))
        if plugin not in surfaces:
            plugin = "hub"
        request[PLUGIN_KEY] = plugin
        request[MAX_BODY_KEY] = limit
        started = time.perf_counter()
        try:
            request[CALLER_KEY] = callers.of_request(plugin, request)
            await request[CALLER_KEY].check_logins()
            _refuse_unroutable(request)
            if (
                plugin != "hub"
                and request.content_length is not None
                and request.content_length > limit
            ):
                raise too_large(limit)  # host endpoints (GraphQL) answer in their own shape
            response = await handler(request)
        except WritePending as exc:  # not a failure: every plugin answers it alike
            response = _pending(exc)
        except HubError as exc:
            exc.plugin = exc.plugin or plugin
            response = render(exc)
            if exc.retry_after is not None:  # every plugin's 429, whatever its renderer
                response.headers["Retry-After"] = str(exc.retry_after)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            error = _as_hub_error(exc)
            error.plugin = plugin
            response = render(error)
            if exc.status == 405 and "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception:  # the route's template, not the path: a path may carry a token
            log.exception("unhandled error on %s %s", request.method, _route(request))
            response = render(HubError(500, "internal error", plugin=plugin, reason="internal"))
        caller = request.get(CALLER_KEY)
        if caller is not None and caller.upstream:
            response.headers.update(rest_headers(caller))
        metrics.observe_request(
            plugin, request.method, response.status, time.perf_counter() - started
        )
        return response

    return middleware


WRITES = "/hub/upstream/writes/"


def _pending(exc: WritePending) -> web.Response:
    """202 Accepted: the write is kept and reaches the vendor once; ``Location`` is where its
    status (and, once it has one, the vendor's answer) can be read."""
    location = WRITES + exc.write_id
    body = {"status": "pending", "write_id": exc.write_id, "message": exc.message}
    response = _json({**body, "location": location}, 202)
    response.headers["Location"] = location
    return response


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def hub_routes(hub: Hub, metrics: HubMetrics) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        if hub.worker is None:
            return _json({"status": "ok"})
        return _json({"status": "ok", "worker": hub.worker, "pid": os.getpid()})

    async def readyz(request: web.Request) -> web.Response:
        """Anyone gets the status code and what ``{ hub { health } }`` shows them; the probes'
        details (paths, error texts) are null unless the request carries the admin token."""
        from hub.builtin import HubService

        report = await hub.service(HubService).health(request[CALLER_KEY])
        plugins = {p["plugin"]: p["status"] for p in report["plugins"]}
        return _json(
            {"status": report["status"], "plugins": plugins, "probes": report["probes"]},
            200 if report["status"] == "ready" else 503,
        )

    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def upstream_write(request: web.Request) -> web.Response:
        """A write's state, for the credential that made it or the admin."""
        from hub.builtin import HubService

        caller = request[CALLER_KEY]
        state = hub.service(HubService).upstream_write(caller, request.match_info["id"])
        return _json(state)

    return [
        web.get(WRITES + "{id}", upstream_write),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", prometheus),
        *statuspage.routes(),  # the operators' status page at /
    ]


def own_listener(plugin: str, hub: Hub) -> str | None:
    listen = hub.settings.plugins.get(plugin, {}).get("listen")
    return str(listen) if listen else None


def name_worker(app: web.Application, worker: int | None) -> None:
    """In a multi-worker hub every answer says which worker gave it (``Hub-Worker``), the
    websocket upgrade and streamed answers included: set as the headers go out."""
    if worker is None:
        return
    value = str(worker)

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Hub-Worker"] = value

    app.on_response_prepare.append(stamp)


def build_apps(
    hub: Hub, graphql_routes: list[web.RouteDef]
) -> tuple[web.Application, dict[str, web.Application]]:
    """The main application, plus one application per plugin served on a listener of its own."""
    metrics = hub.metrics
    callers = hub.service(Callers)
    limit = hub.settings.max_body
    surfaces: dict[str, tuple[ErrorRenderer, int]] = {
        name: (api.render_error, api.max_body or limit) for name, api in hub.rest.items()
    }
    metrics.count_methods(
        route.method
        for api in hub.rest.values()
        for route in api.routes
        if isinstance(route, web.RouteDef)
    )
    biggest = max([limit, *(lim for _, lim in surfaces.values())])
    main = web.Application(
        middlewares=[error_middleware(surfaces, limit, metrics, callers)],
        client_max_size=biggest,
    )
    main[HUB_KEY] = hub
    name_worker(main, hub.worker)
    own_routes = [
        *hub_routes(hub, metrics),
        *graphql_routes,
        openapi.index_route(lambda: _openapi_index(hub)),
        *openapi_ui.routes(lambda: _openapi_index(hub)),
    ]
    _refuse_shadowing(hub, own_routes)
    main.add_routes(own_routes)
    separate: dict[str, web.Application] = {}
    for name, api in hub.rest.items():
        if own_listener(name, hub):
            app = web.Application(
                middlewares=[error_middleware(surfaces, limit, metrics, callers, name)],
                client_max_size=biggest,
            )
            app[HUB_KEY] = hub
            name_worker(app, hub.worker)
            app.add_routes(api.routes)
            app.add_routes(openapi.plugin_routes(hub, name, api, ""))
            separate[name] = app
        else:
            sub = web.Application(client_max_size=biggest)
            sub[HUB_KEY] = hub
            sub.add_routes(api.routes)
            sub.add_routes(openapi.plugin_routes(hub, name, api, f"/{name}"))
            main.add_subapp(f"/{name}", sub)
    return main, separate


def _refuse_shadowing(hub: Hub, own_routes: list[web.RouteDef]) -> None:
    """A plugin named as the first segment of one of the hub's own paths (``openapi``,
    ``graphql``, ``static``) would take part of it over, or have its error shape and body limit
    applied to it (the main listener reads whose a path is from its first segment, whatever
    listener the plugin serves on): the start stops, naming both."""
    taken: dict[str, str] = {}
    for route in own_routes:
        taken.setdefault(_first_segment(route.path), route.path)
    for name in hub.rest:
        if name in taken:
            raise StartupError(
                f"plugin {name}: its name is taken by the hub's own {taken[name]};"
                " a plugin with a REST surface needs another name"
            )


def _openapi_index(hub: Hub) -> list[dict[str, str]]:
    """Where each plugin's document is: under ``/<plugin>``, or at the root of its own
    listener (an absolute URL, once it listens)."""
    entries = []
    for name in hub.rest:
        own = hub.listening.get(f"http:{name}")
        if own_listener(name, hub) and own is not None:
            host, port = own[0], own[1]
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{port}/openapi.json"
        else:
            url = f"/{name}/openapi.json"
        entries.append({"plugin": name, "url": url})
    return entries
