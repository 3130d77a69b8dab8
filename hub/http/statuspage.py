"""The operators' status page at ``/``: one HTML file, its script and stylesheet, served by the
hub from ``hub/static/`` (installed with the package; :mod:`hub.http.assets`). What it shows
comes from the admin's ``hub { status }`` and ``hubStatus`` (:mod:`hub.status`), so the page
itself holds nothing secret."""

from __future__ import annotations

import functools
from pathlib import Path

from aiohttp import web

from hub.http.assets import Assets, policy
from hub.http.assets import page as hub_page

ASSETS = Assets(Path(__file__).resolve().parents[1] / "static", "/static/status", "status page")
POLICY = policy(inline_styles=False)


@functools.cache
def _page() -> bytes:
    """status.html with its script and stylesheet named by their content's hash."""
    html = (ASSETS.directory / "status.html").read_text()
    return (
        html.replace("{{status.css}}", ASSETS.url("status.css"))
        .replace("{{status.js}}", ASSETS.url("status.js"))
        .encode()
    )


async def page(request: web.Request) -> web.Response:
    return hub_page(_page(), POLICY)


def routes() -> list[web.RouteDef]:
    """``/`` and its assets; a broken install (a file missing) fails here, at start-up."""
    _page()
    return [web.get("/", page), ASSETS.route()]
