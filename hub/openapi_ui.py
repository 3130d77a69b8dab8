"""Swagger UI at ``GET /openapi/ui``: every plugin's OpenAPI document (the ``/openapi`` index, in
a dropdown), with every script and stylesheet served by the hub itself from ``/openapi/static/``,
so the page works where no outside host can be reached.

The assets are the npm registry's ``swagger-ui-dist`` build, vendored in ``hub/swagger-ui/`` by
``.ci/swagger-ui-assets.sh`` and installed with the package. Asset URLs carry a hash of their
content: browsers keep them for a year and still never run a stale one after an upgrade."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from hub.http.assets import Assets, policy
from hub.http.assets import page as hub_page

ASSETS = Assets(Path(__file__).resolve().parent / "swagger-ui", "/openapi/static", "Swagger UI")
PAGE_PATH = "/openapi/ui"
INDEX_PATH = "/openapi"
STYLESHEETS = ("swagger-ui.css",)
SCRIPTS = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui-start.js")


@functools.cache
def _page() -> bytes:
    links, scripts = ASSETS.tags(STYLESHEETS, SCRIPTS)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>hub OpenAPI</title>" + links + "</head>"
        f'<body style="margin:0" data-index="{INDEX_PATH}">'
        '<div id="swagger-ui">Loading the OpenAPI documents…</div>' + scripts + "</body></html>"
    ).encode()


def routes(entries: Callable[[], list[dict[str, str]]]) -> list[web.RouteDef]:
    """The page and its assets; ``entries`` is what the ``/openapi`` index lists (the page may
    reach the origins of documents served on plugins' own listeners, where "Try it out" also
    sends its requests). A missing asset stops the start-up rather than give a blank page."""
    _page()

    async def page(request: web.Request) -> web.Response:
        origins = sorted(
            {f"{u.scheme}://{u.netloc}" for u in map(urlsplit, (e["url"] for e in entries()))}
            - {"://"}
        )
        return hub_page(_page(), policy(connect=origins))

    return [web.get(PAGE_PATH, page, allow_head=False), ASSETS.route()]
