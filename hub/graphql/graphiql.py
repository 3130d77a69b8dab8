"""GraphiQL at ``GET /graphql`` for a browser, with every script and stylesheet served by the hub
itself from ``/graphql/static/``: the page works where no outside host can be reached.

The assets are the npm registry's builds of graphiql, react and react-dom, vendored in
``hub/graphql/static/`` by ``.ci/graphiql-assets.sh`` and installed with the package
(:mod:`hub.http.assets` serves them)."""

from __future__ import annotations

import functools
import html
from pathlib import Path

from aiohttp import web

from hub.http.assets import Assets, policy
from hub.http.assets import page as hub_page

ASSETS = Assets(Path(__file__).resolve().parent / "static", "/graphql/static", "GraphiQL")
POLICY = policy()  # GraphiQL sets inline styles; its stylesheet embeds fonts and icons
STYLESHEETS = ("graphiql.min.css",)
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql-start.js",
)


@functools.cache
def _page(endpoint: str) -> bytes:
    links, scripts = ASSETS.tags(STYLESHEETS, SCRIPTS)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>hub GraphiQL</title>" + links + "</head>"
        f'<body style="margin:0" data-endpoint="{html.escape(endpoint)}">'
        '<div id="graphiql" style="height:100vh">Loading GraphiQL…</div>'
        + scripts
        + "</body></html>"
    ).encode()


def page(request: web.Request) -> web.Response:
    """The GraphiQL page for ``request`` (a browser's GET of the GraphQL endpoint)."""
    return hub_page(_page(request.path), POLICY)


def routes() -> list[web.RouteDef]:
    """The asset route; a missing asset stops the start-up rather than give a blank page."""
    _page("/graphql")
    return [ASSETS.route()]
