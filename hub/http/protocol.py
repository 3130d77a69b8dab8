"""The connection side of the hub's HTTP listeners, below the application: one request grammar
(:class:`StrictRequestParser`), malformed requests answered in the listener's error shape with
one short log line, a deadline on request heads, a connection closed after a request body
stalled, a cap on open connections, and a drain on shutdown that ends at a deadline."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web, web_server
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.web_protocol import MAX_MSG_QUEUE_SIZE, RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from hub.config import Settings
from hub.credentials import ARRIVALS
from hub.errors import HubError
from hub.http.parser import StrictRequestParser
from hub.metrics import HubMetrics
from hub.registrations import ErrorRenderer

log = logging.getLogger("hub.http")

CANCEL_GRACE = 0.5  # seconds a request cancelled at the shutdown deadline gets to unwind


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float  # read by hub.http.body, which waits for the bytes
    keepalive_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        """Each is checked to be positive when the settings are loaded."""
        return cls(
            settings.http_header_timeout,
            settings.http_body_timeout,
            settings.http_keepalive_timeout,
            settings.http_max_connections,
        )


@dataclass(frozen=True)
class Listener:
    """What a connection needs to know about the listener that accepted it."""

    name: str  # "http", or "http:<plugin>" for a plugin on a listener of its own
    render: ErrorRenderer
    plugin: str | None  # whose error shape ``render`` draws
    limits: ConnectionLimits
    metrics: HubMetrics

    def error(self, status: int, message: str, reason: str) -> web.Response:
        return self.render(HubError(status, message, reason=reason, plugin=self.plugin))


def _malformed(exc: BaseException | None) -> str:
    """Why a request could not be parsed, in words that quote nothing the client sent (the raw
    line may carry a credential)."""
    if isinstance(exc, LineTooLong):
        return "the request line or a header field is longer than 8190 bytes"
    if isinstance(exc, BadHttpMethod):
        return "the request method is not an HTTP token"
    if isinstance(exc, BadStatusLine):
        return "the request line is not METHOD TARGET HTTP/VERSION"
    if isinstance(exc, InvalidURLError):
        return "the request target is malformed"
    if isinstance(exc, InvalidHeader):
        return "a header field is malformed"
    return "the request is malformed"


class HubRequestHandler(RequestHandler):
    """aiohttp's connection handler with the hub's parser, error shape and deadlines."""

    def __init__(self, manager: HubServer, *, loop: asyncio.AbstractEventLoop, **kwargs: Any):
        super().__init__(manager, loop=loop, **kwargs)
        self.listener = manager.listener
        self._parser: StrictRequestParser | None = StrictRequestParser(
            self,
            loop,
            self._read_bufsize,
            max_line_size=self.max_line_size,
            max_field_size=self.max_field_size,
            max_headers=self.max_headers,
            payload_exception=RequestPayloadError,
            max_msg_queue_size=MAX_MSG_QUEUE_SIZE,
        )
        self._head_timer: asyncio.TimerHandle | None = None
        self._heads_seen = 0
        self.arrived: int | None = None  # ARRIVALS.count at this connection's latest read

    # -- the header timeout: from the connection's start, or a request head's first byte ---------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        ARRIVALS.count += 1  # before the parser sees them: see hub.credentials.Arrivals
        self.arrived = ARRIVALS.count
        super().data_received(data)
        parser = self._parser
        if parser is None:
            return
        if parser.heads_parsed != self._heads_seen:  # a head completed: its timer is done
            self._heads_seen = parser.heads_parsed
            self._disarm_head_timer()
        if parser.reading_head and self._head_timer is None:
            self._arm_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def resume_reading(self, resume_parser: bool = True) -> None:
        """Only when reading was paused. aiohttp's body reader calls this whenever its buffer
        runs low, which is every read of a small body; unpaused, aiohttp would feed the parser
        an empty read (counted here as an arrival, so later credential checks would read the
        data version again) and poke the transport, on every POST."""
        if self._reading_paused:
            super().resume_reading(resume_parser)

    def _arm_head_timer(self) -> None:
        self._head_timer = self._loop.call_later(
            self.listener.limits.header_timeout, self._head_timed_out
        )

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        """No complete request head in time (a slowloris, or a client that connected and sent
        nothing): close without an answer, as there is no request to answer."""
        self._head_timer = None
        self.listener.metrics.header_timeouts.labels(self.listener.name).inc()
        self.force_close()

    # -- the body timeout: hub.http.body waits, the connection ends after the answer ----------
    def body_stalled(self, request: BaseRequest) -> None:
        """No bytes of ``request``'s body came for ``body_timeout``: one line, and the answer
        (a 408) closes the connection, as the rest of the body may still come."""
        log.info(
            "request body stalled on %s from %s: no bytes for %gs",
            self.listener.name,
            request.remote,
            self.listener.limits.body_timeout,
        )
        self.listener.metrics.body_timeouts.labels(self.listener.name).inc()
        # this connection's answer, only: every other request finishes as aiohttp finishes it
        self.finish_response = self._finish_and_close  # type: ignore[method-assign]

    async def _finish_and_close(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        resp.force_close()  # Connection: close
        answer = await super().finish_response(request, resp, start_time)
        self.force_close()  # at once: aiohttp would read on for the rest of the body
        return answer

    # -- errors before the application runs -----------------------------------------------------
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Replaces aiohttp's: its log line carries a traceback quoting the raw request line or
        header (credentials included) and its answer is plain text. Here a malformed request
        costs one line naming the error class, and the answer is in the listener's shape."""
        if request.writer.output_size > 0:
            raise ConnectionError("the response has started; no error response can follow")
        if status >= 500:
            log.error("unhandled error on %s", self.listener.name, exc_info=exc)
            response = self.listener.error(status, "internal error", "internal")
        else:
            log.info(
                "malformed request on %s from %s: %s",
                self.listener.name,
                request.remote,
                type(exc).__name__ if exc is not None else status,
            )
            response = self.listener.error(status, _malformed(exc), "bad_request")
        response.force_close()
        return response

    # -- shutdown -------------------------------------------------------------------------------
    async def shutdown(self, timeout: float | None = None) -> None:
        """Let the request in flight finish within ``timeout``, then cancel it (aiohttp's own
        waits up to ``timeout`` twice). Idle keep-alive connections were closed already."""
        task = self._task_handler
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=max(timeout or 0.0, 0.0))
            if not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=CANCEL_GRACE)
        self.force_close()


class Refusal(asyncio.Protocol):
    """A connection over the listener's cap: answered 503 at once and closed. The write side is
    shut first and the socket closed a moment later, so the client reads the answer instead of
    a reset caused by the request bytes it already sent."""

    LINGER = 1.0

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.closing: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not asserted to be an asyncio.Transport: uvloop's are not (an assertion failing here
        # made the loop abort the connection, and the unread request turned into a reset)
        stream = cast(asyncio.Transport, transport)
        stream.write(self.answer)
        if stream.can_write_eof():
            stream.write_eof()
        self.closing = asyncio.get_running_loop().call_later(self.LINGER, stream.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closing is not None:
            self.closing.cancel()


def _raw(response: web.Response) -> bytes:
    """``response`` as bytes on the wire, for an answer written without aiohttp's machinery."""
    body = response.body if isinstance(response.body, bytes) else b""
    head = (
        f"HTTP/1.1 {response.status} {response.reason}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class HubServer(web_server.Server):
    """aiohttp's low-level server making :class:`HubRequestHandler` connections, up to the
    listener's cap, draining to a deadline on shutdown."""

    def __init__(self, base: web_server.Server, listener: Listener, **handler_options: Any):
        super().__init__(base.request_handler, request_factory=base.request_factory)
        self.listener = listener
        self.handler_options = handler_options
        self.open = 0
        self.deadline: float | None = None  # loop time by which in-flight requests must end
        message = f"this listener has {listener.limits.max_connections} connections open"
        self.refusal = _raw(listener.error(503, message, "too_many_connections"))
        metrics = listener.metrics
        # inc/dec, not set_function: a multi-worker hub sums what every worker wrote
        self.open_gauge = metrics.connections_open.labels(listener.name)
        metrics.connections_refused.labels(listener.name)  # listed at 0 from the start
        metrics.header_timeouts.labels(listener.name)
        metrics.body_timeouts.labels(listener.name)

    def __call__(self) -> asyncio.Protocol:  # type: ignore[override]
        if self.open >= self.listener.limits.max_connections:
            self.listener.metrics.connections_refused.labels(self.listener.name).inc()
            return Refusal(self.refusal)
        self.open += 1
        self.open_gauge.inc()
        return HubRequestHandler(self, loop=self._loop, **self.handler_options)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self.open -= 1
        self.open_gauge.dec()
        super().connection_lost(handler, exc)

    async def shutdown(self, timeout: float | None = None) -> None:
        if self.deadline is not None:
            timeout = self.deadline - self._loop.time()
        await super().shutdown(timeout)


class HubRunner(web.AppRunner):
    """An AppRunner serving through :class:`HubServer`."""

    def __init__(self, app: web.Application, listener: Listener) -> None:
        super().__init__(app, handle_signals=False)
        self.listener = listener

    async def _make_server(self) -> web_server.Server:
        base = await super()._make_server()  # starts the application
        return HubServer(
            base,
            self.listener,
            access_log=None,
            keepalive_timeout=self.listener.limits.keepalive_timeout,
        )

    async def stop(self, deadline: float) -> None:
        """Close the listening sockets and idle connections at once, give requests in flight
        until ``deadline`` (loop time), then cancel them."""
        if isinstance(self.server, HubServer):
            self.server.deadline = deadline
        await self.cleanup()
