"""For the tests of the pages the hub serves with their own assets (GraphiQL, Swagger UI, the
status page): a plain GET, and the checks every bundled script and stylesheet must pass."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

ASSET_TYPES = {".js": "text/javascript", ".css": "text/css"}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """Status, headers and body, an HTTP error's included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def check_bundled_asset(url: str, asset: str) -> None:
    """``asset`` (a path on the hub at ``url``) is served with its type, cached for a year (its
    name changes with the bundle), more than a stub, and 304 to its own ``ETag``."""
    status, headers, body = get(url + asset)
    assert status == 200, (asset, body[:200])
    suffix = os.path.splitext(urlsplit(asset).path)[1]
    assert headers["Content-Type"] == f"{ASSET_TYPES[suffix]}; charset=utf-8", asset
    assert "max-age=31536000" in headers["Cache-Control"], asset
    assert len(body) > 500, asset
    assert get(url + asset, {"If-None-Match": headers["ETag"]})[0] == 304
