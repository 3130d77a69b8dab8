"""OpenTelemetry traces, an optional extra (``pip install 'hub-gateway[otel]'``): a server span
per request (REST, GraphQL, gRPC; :mod:`hub.requestid` opens it) whose parent is the client's W3C
``traceparent``, and a client span with ``traceparent`` for each call the hub makes (upstream
vendors, webhooks). Off by default; while off, nothing of OpenTelemetry is imported and every
entry point costs one ``None`` check."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

    from hub.requestid import Served

SETTINGS = ("off", "otlp", "console")
EXTRA = "pip install 'hub-gateway[otel]'"
# what each setting imports: a configured setting without it stops the start (config.py)
NEEDS = {
    "otlp": ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http.trace_exporter"),
    "console": ("opentelemetry.sdk",),
}
# gRPC codes that are the server's failure (OpenTelemetry's semantic conventions for RPC)
GRPC_FAILURES = {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE"}
GRPC_FAILURES |= {"DATA_LOSS"}

_tracer: Tracer | None = None
_provider: TracerProvider | None = None


def missing_extra(setting: str) -> str | None:
    """Why ``setting`` cannot work here (the extra is not installed), else ``None``."""
    for module in NEEDS.get(setting, ()):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"tracing = {setting!r} needs the otel extra: {EXTRA}"
    return None


def configure(setting: str) -> None:
    """Set up this process's traces: ``otlp`` exports in batches to the collector the standard
    ``OTEL_EXPORTER_OTLP_*`` variables name; ``console`` prints each span as one JSON line on
    standard output; ``off`` leaves tracing as it is (off, unless a test installed a provider)."""
    if setting == "off":
        return
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    service = os.environ.get("OTEL_SERVICE_NAME") or "hub"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    if setting == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        exporter = ConsoleSpanExporter(
            out=sys.stdout, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    install(provider)


def install(provider: TracerProvider | None) -> None:
    """Trace with ``provider`` (``None``: stop tracing). Tests install one with the SDK's
    ``InMemorySpanExporter`` before starting hubs in-process, and ``None`` when done. The hub
    keeps its own provider rather than OpenTelemetry's global one, which can be set only once."""
    global _tracer, _provider
    _provider = provider
    _tracer = None if provider is None else provider.get_tracer("hub")


def provider() -> TracerProvider | None:
    return _provider


def _propagator() -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


@dataclass
class RequestSpan:
    """A request's span, current while the request is served."""

    span: Span
    token: Token[Context]


def request_span(
    protocol: str, operation: str, carrier: Mapping[str, str] | None
) -> RequestSpan | None:
    """A server span whose parent is the client's ``traceparent``/``tracestate`` in ``carrier``
    (HTTP headers or gRPC metadata), made current; ``None`` while tracing is off."""
    if _tracer is None:
        return None
    from opentelemetry import context, trace

    parent = _propagator().extract(carrier) if carrier is not None else None
    span = _tracer.start_span(operation, context=parent, kind=trace.SpanKind.SERVER)
    return RequestSpan(span, context.attach(trace.set_span_in_context(span)))


def end_request(request: RequestSpan, served: Served) -> None:
    """Name the span and set what was learnt while serving (GraphQL's operation, the plugin
    that answered, the status), then end it."""
    from opentelemetry import context
    from opentelemetry.trace import StatusCode

    span, status = request.span, served.status
    span.update_name(
        f"graphql {served.operation}" if served.protocol == "graphql" else served.operation
    )
    span.set_attributes(
        {
            "hub.request_id": served.id,
            "hub.protocol": served.protocol,
            "hub.plugin": served.plugin,
            "hub.operation": served.operation,
        }
    )
    if isinstance(status, int):
        span.set_attribute("http.response.status_code", status)
        failed = status >= 500
    else:
        failed = status is None or status in GRPC_FAILURES
    if status is not None:
        span.set_attribute("hub.status", str(status))
    if failed:
        span.set_status(StatusCode.ERROR, None if status is None else str(status))
    span.end()
    context.detach(request.token)


@dataclass
class Outgoing:
    """A call the hub makes: the headers that carry its trace, and its answer's status."""

    headers: Mapping[str, str] = field(default_factory=dict)
    span: Span | None = None

    def answered(self, status: int) -> None:
        if self.span is not None:
            from opentelemetry.trace import StatusCode

            self.span.set_attribute("http.response.status_code", status)
            if status >= 500:
                self.span.set_status(StatusCode.ERROR, f"HTTP {status}")


_UNTRACED = contextlib.nullcontext(Outgoing())


def outgoing(name: str, url: str | None = None) -> contextlib.AbstractContextManager[Outgoing]:
    """A client span (``upstream GET /path``, ``webhook POST``), a child of the current span,
    for one outgoing call: send ``.headers`` with it and tell ``.answered(status)``. A failure
    raised inside the block is recorded on the span. While tracing is off: no span, no
    headers."""
    if _tracer is None:
        return _UNTRACED
    return _outgoing_span(_tracer, name, url)


@contextlib.contextmanager
def _outgoing_span(tracer: Tracer, name: str, url: str | None) -> Iterator[Outgoing]:
    from opentelemetry import trace

    # never the query: it may carry a credential
    attributes = {} if url is None else {"url.full": urlsplit(url)._replace(query="").geturl()}
    with tracer.start_as_current_span(
        name, kind=trace.SpanKind.CLIENT, attributes=attributes
    ) as span:
        headers: dict[str, str] = {}
        _propagator().inject(headers)
        yield Outgoing(headers, span)


def outgoing_headers() -> dict[str, str]:
    """``{"traceparent": ...}`` (and ``tracestate``) of the current span, for a plugin that
    makes its own outgoing call without a span of its own; ``{}`` while tracing is off."""
    if _tracer is None:
        return {}
    headers: dict[str, str] = {}
    _propagator().inject(headers)
    return headers
