"""The hub's own browser pages (GraphiQL, Swagger UI, the status page) and the files they load,
served from directories installed with the package: no page needs an outside host. One
:class:`Assets` per directory: each file read once, typed by its suffix, named in pages with a
hash of its content (``?v=``) so that browsers keep it for a year and never run a stale one; a
page carries a Content-Security-Policy that keeps the browser on the hub's own origin."""

from __future__ import annotations

import functools
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
IMMUTABLE = "public, max-age=31536000, immutable"


def policy(*, inline_styles: bool = True, connect: Sequence[str] = ()) -> str:
    """A same-origin Content-Security-Policy; ``inline_styles`` for UIs that set them (GraphiQL,
    Swagger UI, whose stylesheets also embed fonts and icons as data: URLs); ``connect``: other
    origins the page may fetch from."""
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    origins = " ".join(["'self'", *connect])
    return (
        f"default-src 'self'; script-src 'self'; style-src {styles}; "
        "img-src 'self' data:; font-src 'self' data:; "
        f"connect-src {origins}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _files(directory: Path) -> frozenset[str]:
    """The names of the files a directory holds (none when it is missing: a broken install,
    which :meth:`Assets.url` reports at start-up); hidden ones are not served."""
    if not directory.is_dir():
        return frozenset()
    return frozenset(p.name for p in directory.iterdir() if p.is_file() and p.name[0] != ".")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


class Assets:
    """The files of ``directory``, served at ``<prefix>/<name>``."""

    def __init__(self, directory: Path, prefix: str, what: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self.what = what  # names the page in the error of a broken install
        # the names are listed once: a requested name is looked up, never made into a path
        # (one too long for the file system was a 500) nor cached (every name a client
        # made up was kept for the life of the process)
        self.names = _files(directory)
        self._read = functools.cache(self._load)

    def get(self, name: str) -> Asset | None:
        return self._read(name) if name in self.names else None

    def _load(self, name: str) -> Asset:
        """A file of the directory; LICENSE, NOTICE and VERSIONS files are plain text."""
        path = self.directory / name
        body = path.read_bytes()
        content_type = TYPES.get(path.suffix, "text/plain")
        return Asset(body, content_type, hashlib.sha256(body).hexdigest()[:16])

    def url(self, name: str) -> str:
        """``<prefix>/<name>?v=<hash>``, HTML-escaped; a file missing from the install stops the
        start-up, naming it, rather than serve a blank page."""
        asset = self.get(name)
        if asset is None:
            raise RuntimeError(
                f"{self.what} file missing from the installed hub: {self.directory / name}"
            )
        return html.escape(f"{self.prefix}/{name}?v={asset.etag}")

    def tags(self, stylesheets: Sequence[str], scripts: Sequence[str]) -> tuple[str, str]:
        """The ``<link>`` and ``<script>`` tags of a page."""
        links = "".join(f'<link rel="stylesheet" href="{self.url(n)}">' for n in stylesheets)
        tags = "".join(f'<script src="{self.url(n)}"></script>' for n in scripts)
        return links, tags

    async def serve(self, request: web.Request) -> web.Response:
        """One file; 304 when the browser already holds this version."""
        found = self.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        headers = {
            "Cache-Control": IMMUTABLE,
            "ETag": f'"{found.etag}"',
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=found.body, content_type=found.content_type, charset="utf-8", headers=headers
        )

    def route(self) -> web.RouteDef:
        return web.get(self.prefix + "/{name}", self.serve, allow_head=False)


def page(body: bytes, content_security_policy: str) -> web.Response:
    """A page of the hub: revalidated on every load, under its policy."""
    return web.Response(
        body=body,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": content_security_policy,
            "X-Content-Type-Options": "nosniff",
        },
    )
