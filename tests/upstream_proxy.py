"""A real counting HTTP proxy on loopback that plays a vendor between an upstream-mode hub and
the hub that is its vendor: it forwards every request to ``target``, records when each one came
(so a test can check the budget from the vendor's side), and can be told to misbehave as a real
vendor does: answer 429 with ``Retry-After``, stop listening and come back on the same port,
answer slowly, send ``ETag`` validators and answer ``If-None-Match`` with 304, or answer a path
with JSON of its own (``instead``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

FORWARDED = ("Authorization", "Accept", "Content-Type")
TOO_MANY = b'{\n  "message": "Too Many Requests",\n  "errors": []\n}'


@dataclass(frozen=True)
class Hit:
    """One request the proxy received: when, what, what it answered."""

    at: float
    method: str
    path: str
    status: int
    if_none_match: str | None
    authorization: str | None = field(repr=False)  # the vendor's token: kept out of messages


class VendorProxy:
    """``async with VendorProxy(target) as proxy``: ``proxy.url`` takes the vendor's paths."""

    def __init__(self, target: str, tls: ssl.SSLContext | None = None) -> None:
        self.target = target.rstrip("/")
        self.tls = tls  # serve HTTPS with this context
        self.port = 0
        self.hits: list[Hit] = []
        self.retry_after: float | None = None  # set: answer 429 with this Retry-After
        self.throttled: str = ""  # only paths ending so are throttled ("": every path)
        self.delay = 0.0  # seconds to wait before forwarding
        self.etags = False  # send an ETag (the body's digest) and honour If-None-Match
        self.pieces = 0  # > 0: send a 200's body in this many pieces, a moment apart
        self.instead: dict[str, bytes] = {}  # path end -> a JSON 200 sent instead of the vendor's
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> VendorProxy:
        self._session = aiohttp.ClientSession()
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        if self._session is not None:
            await self._session.close()

    async def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", self.port, ssl_context=self.tls, reuse_address=True
        )
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection: the vendor is down."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def times(self, path_end: str, status: int | None = None) -> list[float]:
        """When requests whose path ends with ``path_end`` came (answered ``status``)."""
        return [
            hit.at
            for hit in self.hits
            if hit.path.endswith(path_end) and (status is None or hit.status == status)
        ]

    def paths(self) -> set[str]:
        return {hit.path for hit in self.hits}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.time()
        inm = request.headers.get("If-None-Match")
        auth = request.headers.get("Authorization")
        if self.retry_after is not None and request.path.endswith(self.throttled):
            self._record(arrived, request, 429, inm, auth)
            return web.Response(
                status=429,
                body=TOO_MANY,
                content_type="application/json",
                headers={"Retry-After": f"{self.retry_after:g}"},
            )
        if self.delay:
            await asyncio.sleep(self.delay)
        odd = next((body for end, body in self.instead.items() if request.path.endswith(end)), None)
        if odd is not None:
            self._record(arrived, request, 200, inm, auth)
            return web.Response(body=odd, content_type="application/json")
        assert self._session is not None
        headers = {k: request.headers[k] for k in FORWARDED if k in request.headers}
        async with self._session.request(
            request.method,
            self.target + request.path_qs,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            status = answer.status
            content_type = answer.headers.get("Content-Type", "application/json")
        out = {"Content-Type": content_type}
        if self.etags and status == 200:
            out["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            if inm == out["ETag"]:
                self._record(arrived, request, 304, inm, auth)
                return web.Response(status=304, headers={"ETag": out["ETag"]})
        self._record(arrived, request, status, inm, auth)
        if self.pieces and status == 200:
            return await self._in_pieces(request, body, out)
        return web.Response(status=status, body=body, headers=out)

    async def _in_pieces(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        """A slow network: the body arrives in several reads, as a large answer does."""
        response = web.StreamResponse(headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        size = -(-len(body) // self.pieces)
        with contextlib.suppress(ConnectionResetError):  # a client that stopped reading
            for start in range(0, len(body), size):
                await response.write(body[start : start + size])
                await asyncio.sleep(0.05)
            await response.write_eof()
        return response

    def _record(
        self, at: float, request: web.Request, status: int, inm: str | None, auth: str | None
    ) -> None:
        self.hits.append(Hit(at, request.method, request.path, status, inm, auth))
