"""Real local servers for the ``rop`` tests, each on its own loop in a thread so a module-scoped
hub and every test can share them: an audio file server (ranged answers, a text file, a file
past the size cap, a hanging server, a gated slow body) and a webhook receiver whose answers
are scripted per path (fail, time out, 429 with Retry-After, recover) and which verifies every
signature it gets."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.rop_audio import mp3_bytes, ogg_opus_bytes, wav_bytes


class ThreadedServer:
    """An aiohttp app on 127.0.0.1, served by a loop in a daemon thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.runner: web.AppRunner | None = None
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.runner = web.AppRunner(self.app, shutdown_timeout=0.1)
            await self.runner.setup()
            await web.SockSite(self.runner, self.sock).start()

        self.loop.run_until_complete(start())
        started.set()
        self.loop.run_forever()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        async def stop() -> None:
            if self.runner is not None:
                await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


# -- audio ----------------------------------------------------------------------------------
class AudioServer(ThreadedServer):
    def __init__(self, big_bytes: int) -> None:
        self.files: dict[str, tuple[bytes, str]] = {
            "/call.mp3": (mp3_bytes(3.0), "audio/mpeg"),
            "/call.wav": (wav_bytes(2.5), "audio/wav"),
            "/call.ogg": (ogg_opus_bytes(4.25), "audio/ogg"),
            "/notes.txt": (b"Plain text, not a recording.\n" * 20, "text/plain"),
            "/disguised.mp3": (b"<html><body>not found</body></html>", "audio/mpeg"),
            "/long.wav": (wav_bytes(2701, rate=50), "audio/wav"),
            "/big.wav": (wav_bytes(big_bytes / 8000 + 1), "audio/wav"),
            "/gated.wav": (wav_bytes(2.0), "audio/wav"),
        }
        self.gate = threading.Event()
        self.gate.set()
        self.requests: list[tuple[str, str | None]] = []
        self.authorizations: list[str | None] = []  # each request's Authorization, in order
        app = web.Application()
        app.router.add_get("/hang.mp3", self.hang)
        app.router.add_get("/big-chunked.wav", self.chunked)
        app.router.add_get("/{name}", self.serve)
        super().__init__(app)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, request.headers.get("Range")))
        self.authorizations.append(request.headers.get("Authorization"))
        if request.path not in self.files:
            raise web.HTTPNotFound()
        data, kind = self.files[request.path]
        ranged = request.headers.get("Range", "")
        if ranged.startswith("bytes=") and request.path != "/call.ogg":  # ogg: ignores Range
            first, _, last = ranged[6:].partition("-")
            part = data[int(first) : int(last) + 1]
            span = f"bytes {first}-{int(first) + len(part) - 1}/{len(data)}"
            return web.Response(
                status=206, body=part, content_type=kind, headers={"Content-Range": span}
            )
        if request.path == "/gated.wav":
            return await self._gated(request, data, kind)
        return web.Response(body=data, content_type=kind)

    async def _gated(self, request: web.Request, data: bytes, kind: str) -> web.StreamResponse:
        """Sends the first half, then waits for the gate: a download in flight."""
        response = web.StreamResponse(headers={"Content-Type": kind})
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        while not self.gate.is_set():
            await asyncio.sleep(0.05)
        await response.write(data[len(data) // 2 :])
        await response.write_eof()
        return response

    async def hang(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, request.headers.get("Range")))
        await asyncio.sleep(3600)
        return web.Response()

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        """A WAV with no Content-Length that never ends: only the byte count can stop it."""
        response = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(wav_bytes(1.0)[:44])
        if request.headers.get("Range"):
            return response
        for _ in range(10_000):
            await response.write(b"\x80" * 16384)
        return response


# -- webhooks -------------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int | None  # None: the receiver timed out on purpose
    signature_ok: bool


class WebhookReceiver(ThreadedServer):
    """``script(path, [answers])``: each request to ``path`` takes the next answer (the last
    one repeats): an HTTP status, ``"429:N"`` (Retry-After N), ``"hang"`` (never answers in
    time) or ``"hold"`` (waits until :meth:`release`)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets  # path -> endpoint secret
        self.scripts: dict[str, list[str]] = {}
        self.received: list[Received] = []
        self.released = threading.Event()
        self.lock = threading.Lock()
        app = web.Application()
        app.router.add_post("/{name}", self.handle)
        super().__init__(app)

    def script(self, path: str, answers: list[str]) -> None:
        with self.lock:
            self.scripts[path] = list(answers)

    def release(self) -> None:
        self.released.set()

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        secret = self.secrets.get(request.path, "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        signature_ok = hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected)
        with self.lock:
            script = self.scripts.get(request.path, ["200"])
            answer = script.pop(0) if len(script) > 1 else script[0]
        record = Received(
            request.path, dict(request.headers), body, time.time(), None, signature_ok
        )
        with self.lock:
            self.received.append(record)
        if answer == "hang":
            await asyncio.sleep(30)
            return web.Response(status=200)
        if answer == "hold":
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            answer = "200"
        status, _, retry_after = answer.partition(":")
        record.answered = int(status)
        headers = {"Retry-After": retry_after} if retry_after else None
        return web.Response(status=int(status), headers=headers, text="ok")


def wait_for(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up waiting after {timeout}s; last value: {value!r}")
