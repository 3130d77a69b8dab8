"""The request a log line was written for: its id (the client's ``X-Request-Id`` / gRPC
``x-request-id`` when it is sane, else a new one), protocol and operation, held in a context
variable so that every line written while it is served (by the host, a plugin, or a task it
starts) carries them, and one access line per request when it ends."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from hub import tracing

HEADER = "X-Request-Id"
METADATA = "x-request-id"  # gRPC metadata keys are lower case
MAX_LENGTH = 128

access_log = logging.getLogger("hub.access")


@dataclass
class Served:
    """What is known of the request being served; the protocol's layer fills in what it learns
    (GraphQL knows its operation only once the document is parsed)."""

    id: str
    protocol: str  # rest, graphql, grpc
    operation: str  # route template, GraphQL operation name or type, gRPC method
    plugin: str
    started: float = field(default_factory=time.perf_counter)
    status: str | int | None = None  # set by log_access: HTTP status or gRPC code name


_current: ContextVar[Served | None] = ContextVar("hub_request", default=None)


def current() -> Served | None:
    return _current.get()


def sanitised(incoming: str | None) -> str | None:
    """The client's id if it can go into a log line and a header as is: 1 to 128 visible ASCII
    characters; anything else is replaced, not cleaned, so that a log never shows a forged line."""
    if incoming and len(incoming) <= MAX_LENGTH and all(" " < c <= "~" for c in incoming):
        return incoming
    return None


# seeded from os.urandom, and again in a forked child: ids must not repeat, and need not be secret
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def request_id(incoming: str | None) -> str:
    return sanitised(incoming) or f"{_ids.getrandbits(128):032x}"  # 32 hex digits


class Serving:
    """What :func:`serving` returns: a class rather than a generator, as it wraps every
    request."""

    __slots__ = ("_span", "_token", "carrier", "served")

    def __init__(self, served: Served, carrier: Mapping[str, str] | None) -> None:
        self.served = served
        self.carrier = carrier

    def __enter__(self) -> Served:
        self._token = _current.set(self.served)
        self._span = tracing.request_span(self.served.protocol, self.served.operation, self.carrier)
        return self.served

    def __exit__(self, *exc: object) -> None:
        try:
            if self._span is not None:
                tracing.end_request(self._span, self.served)
        finally:
            _current.reset(self._token)


def serving(
    incoming: str | None,
    protocol: str,
    operation: str,
    plugin: str,
    carrier: Mapping[str, str] | None = None,
) -> Serving:
    """The request for the lines logged inside the block, and its trace span when tracing is
    on (``carrier``: the HTTP headers or gRPC metadata that may hold ``traceparent``)."""
    return Serving(Served(request_id(incoming), protocol, operation, plugin), carrier)


def describe(protocol: str | None = None, operation: str | None = None) -> None:
    """What the protocol's own layer learns (``/graphql`` is GraphQL, its operation's name)."""
    served = _current.get()
    if served is not None:
        served.protocol = protocol or served.protocol
        served.operation = operation or served.operation


def log_access(served: Served, status: str | int) -> None:
    """The request's one access line (INFO, ``hub.access``; on only in JSON logs): its status
    and duration, under the plugin that served it."""
    served.status = status
    if not access_log.isEnabledFor(logging.INFO):
        return
    duration_ms = round((time.perf_counter() - served.started) * 1000, 3)
    access_log.info(
        "%s %s %s",
        served.operation,
        status,
        f"{duration_ms}ms",
        extra={"plugin": served.plugin, "status": status, "duration_ms": duration_ms},
    )
