"""OpenTelemetry traces (hub.tracing, the otel extra) with the SDK's in-memory exporter and
hubs in the test's own process: a span per REST, GraphQL and gRPC request naming plugin and
operation; the client's ``traceparent`` as its parent; ``traceparent`` passed on to an upstream
vendor (a hub in front of a hub: one trace through both) and on rop's webhooks; and with tracing
off, no span machinery at all."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from aiohttp import web
from hub_era.v1 import era_pb2, era_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hub import tracing
from hub.config import ConfigError, load_settings
from hub.testing.inprocess import RunningHub, running_hub
from tests.hubproc import HubProcess
from tests.rop_client import FAST, WEBHOOK_SECRET, analysed_call, connected
from tests.rop_servers import AudioServer, ThreadedServer, WebhookReceiver

POINTS = "/era/rest/v1/service/integration_points"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)
    provider.shutdown()


def server_spans(exporter: InMemorySpanExporter, plugin: str) -> list[ReadableSpan]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.kind.name == "SERVER" and (s.attributes or {}).get("hub.plugin") == plugin
    ]


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


@pytest.fixture
async def era(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, str]]:
    async with running_hub(tmp_path / "era", {"HUB_PLUGINS": "era"}) as hub:
        yield hub, str(hub.creds("era")["token"])


async def test_rest_graphql_and_grpc_requests_each_make_a_span(
    spans: InMemorySpanExporter, era: tuple[RunningHub, str]
) -> None:
    hub, token = era
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(hub.url + POINTS, headers=auth) as r:
            assert r.status == 200
        query = "query Points { era { integrationPoints(first: 1) { totalCount } } }"
        async with session.post(hub.url + "/graphql", json={"query": query}, headers=auth) as r:
            assert r.status == 200, await r.text()
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        stub = era_pb2_grpc.EraStub(channel)
        await stub.List(era_pb2.ListRequest(), metadata=(("authorization", f"Bearer {token}"),))

    by_protocol = {(s.attributes or {})["hub.protocol"]: s for s in server_spans(spans, "era")}
    rest = by_protocol["rest"]
    assert rest.name == f"GET {POINTS}"
    assert rest.attributes is not None
    assert rest.attributes["hub.operation"] == f"GET {POINTS}"
    assert rest.attributes["http.response.status_code"] == 200
    assert rest.attributes["hub.status"] == "200"
    assert rest.parent is None  # no traceparent: a trace of its own

    graphql = [s for s in spans.get_finished_spans() if s.name == "graphql Points"]
    assert len(graphql) == 1
    assert graphql[0].attributes is not None
    assert graphql[0].attributes["hub.operation"] == "Points"
    assert graphql[0].attributes["hub.protocol"] == "graphql"

    call = by_protocol["grpc"]
    assert call.attributes is not None
    assert call.attributes["hub.operation"].endswith("/List")
    assert call.attributes["hub.status"] == "OK"
    assert call.status.is_ok


async def test_a_clients_traceparent_is_the_parent(
    spans: InMemorySpanExporter, era: tuple[RunningHub, str]
) -> None:
    hub, token = era
    headers = {"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT}
    headers["tracestate"] = "vendor=opaque"
    async with aiohttp.ClientSession() as session, session.get(hub.url + POINTS, headers=headers):
        pass
    metadata = (("authorization", f"Bearer {token}"), ("traceparent", TRACEPARENT))
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        await era_pb2_grpc.EraStub(channel).List(era_pb2.ListRequest(), metadata=metadata)
    made = server_spans(spans, "era")
    assert {(s.attributes or {})["hub.protocol"] for s in made} == {"rest", "grpc"}
    for span in made:
        assert hex_trace(span) == TRACE_ID
        assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_ID
        assert span.parent.is_remote
    rest = next(s for s in made if (s.attributes or {})["hub.protocol"] == "rest")
    assert rest.context is not None
    assert rest.context.trace_state.get("vendor") == "opaque"


async def test_traceparent_goes_on_to_the_upstream_vendor(
    tmp_path: Path, spans: InMemorySpanExporter, era: tuple[RunningHub, str]
) -> None:
    vendor, vendor_token = era
    env = {
        "HUB_PLUGINS": "era",
        "HUB_ERA_MODE": "upstream",
        "HUB_ERA_UPSTREAM_URL": vendor.url + "/era",
        "HUB_ERA_UPSTREAM_TOKEN": vendor_token,
    }
    async with running_hub(tmp_path / "front", env) as front:
        headers = {"Authorization": f"Bearer {front.creds('era')['token']}"}
        headers["traceparent"] = TRACEPARENT
        async with (
            aiohttp.ClientSession() as session,
            session.get(front.url + POINTS, headers=headers) as r,
        ):
            assert r.status == 200, await r.text()
    finished = spans.get_finished_spans()
    upstream = [s for s in finished if s.name.startswith("upstream GET ")]
    assert upstream, [s.name for s in finished]
    assert all(s.kind.name == "CLIENT" and hex_trace(s) == TRACE_ID for s in upstream)
    # the vendor hub's own request span: in the same trace, a child of the front's upstream call
    served = [s for s in server_spans(spans, "era") if s.parent is not None and s.parent.is_remote]
    at_vendor = [s for s in served if s.parent and s.parent.span_id != int(PARENT_ID, 16)]
    assert at_vendor
    upstream_ids = {s.context.span_id for s in upstream if s.context}
    for span in at_vendor:
        assert hex_trace(span) == TRACE_ID
        assert span.parent is not None and span.parent.span_id in upstream_ids


async def test_rop_webhooks_carry_traceparent(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    audio = AudioServer(200_000)
    receiver = WebhookReceiver({"/traced": WEBHOOK_SECRET})
    try:
        env = {**FAST, "HUB_PLUGINS": "rop"}
        async with running_hub(tmp_path / "rop", env) as hub, connected(hub) as rop:
            await analysed_call(rop, audio, receiver.url("/traced"))
            deadline = time.monotonic() + 20
            while not receiver.at("/traced") and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        (received,) = receiver.at("/traced")
    finally:
        audio.stop()
        receiver.stop()
    traceparent = received.headers["traceparent"]
    webhook = [s for s in spans.get_finished_spans() if s.name == "webhook POST"]
    assert len(webhook) == 1
    context = webhook[0].context
    assert context is not None
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )
    assert webhook[0].attributes is not None
    assert webhook[0].attributes["http.response.status_code"] == 200


async def test_without_tracing_no_span_machinery_runs(tmp_path: Path) -> None:
    assert tracing.provider() is None
    async with running_hub(tmp_path / "era", {"HUB_PLUGINS": "era"}) as hub:
        headers = {"traceparent": TRACEPARENT}
        async with (
            aiohttp.ClientSession() as session,
            session.get(hub.url + "/healthz", headers=headers) as r,
        ):
            assert r.status == 200
            assert "traceparent" not in r.headers
    assert tracing.provider() is None
    assert tracing.outgoing_headers() == {}
    with tracing.outgoing("upstream GET /x") as call:
        assert call.headers == {} and call.span is None


class Collector(ThreadedServer):
    """An OTLP/HTTP collector on loopback: the spans of every ``POST /v1/traces``."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        app = web.Application()
        app.router.add_post("/v1/traces", self.receive)
        super().__init__(app)

    async def receive(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest.FromString(await request.read())
        for resource in export.resource_spans:
            for scope in resource.scope_spans:
                self.spans.extend(scope.spans)
        return web.Response(content_type="application/x-protobuf")


def era_get(hub: HubProcess, headers: dict[str, str]) -> None:
    token = hub.creds("era")["token"]

    async def get() -> None:
        auth = {"Authorization": f"Bearer {token}", **headers}
        async with aiohttp.ClientSession() as session, session.get(hub.url + POINTS, headers=auth):
            pass

    asyncio.run(get())


def test_otlp_exports_to_the_collector_the_standard_variables_name(tmp_path: Path) -> None:
    collector = Collector()
    env = {
        "HUB_PLUGINS": "era",
        "HUB_TRACING": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url(""),
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    hub = HubProcess(tmp_path / "data", env=env).start()
    try:
        era_get(hub, {"traceparent": TRACEPARENT})
        deadline = time.monotonic() + 20
        while not collector.spans and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hub.stop()
        collector.stop()
    (span,) = collector.spans
    assert span.name == f"GET {POINTS}"
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == PARENT_ID
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["hub.plugin"].string_value == "era"


def test_console_prints_one_json_line_a_span(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_PLUGINS": "era", "HUB_TRACING": "console"})
    hub.start()
    try:
        era_get(hub, {})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any('"name"' in o for o in hub.output):
            time.sleep(0.05)
    finally:
        hub.stop()
    (line,) = [o for o in hub.output if o.startswith("{") and '"span_id"' in o]
    span = orjson.loads(line)
    assert span["name"] == f"GET {POINTS}"
    assert span["attributes"]["hub.plugin"] == "era"


def test_a_bad_tracing_setting_names_the_key() -> None:
    with pytest.raises(ConfigError, match="tracing: expected one of off, otlp, console"):
        load_settings(env={"HUB_TRACING": "jaeger"})
    settings = load_settings(env={"HUB_TRACING": "console"})
    assert settings.tracing == "console"


def test_a_missing_extra_stops_the_start_naming_the_key_and_the_extra(tmp_path: Path) -> None:
    """``hub serve`` in a Python where OpenTelemetry cannot be imported, as without the extra."""
    hidden = (
        "import sys; sys.modules['opentelemetry'] = None; sys.argv[0] = 'hub';"
        " from hub.cli import main; main()"
    )
    env = {**os.environ, "HUB_TRACING": "otlp", "HUB_DATA_DIR": str(tmp_path / "data")}
    failed = subprocess.run(
        [sys.executable, "-c", hidden, "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines() == [
        "Error: bad config: tracing = 'otlp' needs the otel extra: pip install 'hub-gateway[otel]'"
    ]
    assert not (tmp_path / "data").exists()
