"""GraphiQL at ``GET /graphql`` for a browser, with every script and stylesheet served by the hub
itself from ``/graphql/static/``: the page works where no outside host can be reached.

The assets are the npm registry's builds of graphiql, react and react-dom, vendored in
``hub/graphql/static/`` by ``.ci/graphiql-assets.sh`` and installed with the package. Asset URLs
carry a hash of their content, so browsers may keep them for a year and still never run a stale
one after an upgrade."""

from __future__ import annotations

import functools
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/graphql/static"
_TYPES = {".js": "text/javascript", ".css": "text/css"}
_IMMUTABLE = "public, max-age=31536000, immutable"
# the page's own rules, so the browser itself refuses anything from another host; GraphiQL sets
# inline styles and its stylesheet embeds its fonts and icons as data: URLs
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STYLESHEETS = ("graphiql.min.css",)
_SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql-start.js",
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@functools.cache
def _asset(name: str) -> Asset | None:
    """A file of the static directory, read once; LICENSE files and VERSIONS are plain text."""
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or not path.is_file():
        return None
    body = path.read_bytes()
    content_type = _TYPES.get(path.suffix, "text/plain")
    return Asset(body, content_type, hashlib.sha256(body).hexdigest()[:16])


def _url(name: str) -> str:
    asset = _asset(name)
    if asset is None:  # a broken install; say which file, rather than serve a blank page
        raise RuntimeError(f"GraphiQL asset missing from the installed hub: {STATIC_DIR / name}")
    return html.escape(f"{STATIC_PATH}/{name}?v={asset.etag}")


@functools.cache
def _page(endpoint: str) -> bytes:
    links = "".join(f'<link rel="stylesheet" href="{_url(n)}">' for n in _STYLESHEETS)
    scripts = "".join(f'<script src="{_url(n)}"></script>' for n in _SCRIPTS)
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
    return web.Response(
        body=_page(request.path),
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": _POLICY,
            "X-Content-Type-Options": "nosniff",
        },
    )


async def asset(request: web.Request) -> web.Response:
    """One file under ``/graphql/static/``; 304 when the browser already holds this version."""
    found = _asset(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    headers = {
        "Cache-Control": _IMMUTABLE,
        "ETag": f'"{found.etag}"',
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=found.body, content_type=found.content_type, charset="utf-8", headers=headers
    )


def routes() -> list[web.RouteDef]:
    """The asset route; a missing asset stops the start-up rather than give a blank page."""
    _page("/graphql")
    return [web.get(STATIC_PATH + "/{name}", asset)]
