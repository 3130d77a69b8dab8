"""The hub against bare baselines and peers that serve the same answers, every figure of a row
measured in the same run.

Run ``python bench/bench.py`` (``--help`` for the options; the defaults take about eight
minutes, ``--no-node`` leaves out the Node peers). One run:

1. starts a real hub in a subprocess on a temporary data dir, issues an ``era`` token and
   creates ``--rows`` (1,000) integration points with realistic fields over REST (and 20
   ``monitorozas`` devices);
2. starts each scenario's other side in a subprocess of its own: a bare Python server
   (``bench.py _serve KIND``, the servers are in ``era_baselines.py`` and
   ``monitorozas_bench.py``) handed the rows the hub lists, a Node peer (``node_peers.py``:
   GraphQL Mesh over the hub's REST, or graphql-yoga over the rows in memory), or the hub
   itself when a row compares two of the hub's own protocols;
3. asks both sides the scenario's request once and stops unless they answer alike: the same
   JSON bytes for REST, the same JSON document for GraphQL, the same serialized message for
   gRPC, the same rows (snake_case, instants compared as instants) when the hub's GraphQL
   is compared with REST or with Mesh (which exposes REST's shapes), the same channel but for
   the server-made id, token and times for a create;
4. loads both sides in ``--rounds`` (4) rounds: a round is one slice of ``--slice`` (3)
   seconds on each side, and the order alternates (AB, BA, AB, ...), so that other work on
   the shared machine slows both sides alike. After ``--warmup`` seconds per side, HTTP is
   loaded with wrk (one thread, ``--concurrency`` (16) keep-alive connections, a Lua script
   for method, headers and body; a create's body gets a fresh ``code`` per request; wrk's
   non-2xx answers and socket errors are counted and printed, and only 2xx answers count as
   served), gRPC with a closed loop of ``--grpc-concurrency`` (32) calls in flight on one
   grpc.aio channel from one Python process (``bench.py _load``);
5. reads each side's server CPU from /proc/<pid>/stat before and after every slice (the
   processes and their children: Node's too, and for Mesh also the hub that serves Mesh's
   REST calls) and prints, per row, the median over rounds of req/s, server CPU per request,
   p50 and p99 latency (wrk's, or the loader's), the median of the per-round ratios, and the
   issue's target, which is printed, never asserted. Rows whose target is "<=" compare
   server CPU per request (the hub's GraphQL against the hub's REST for the same rows); the
   others compare req/s, and show beside it the ratio their CPU per request gives ("by
   CPU": the req/s ratio if each side had a core, which other load on the machine disturbs
   least). ``--json PATH`` writes all of it, per round, machine-readably.

The baselines, and the choices that keep them honest:

* REST list, bare aiohttp: the handler encodes the body per request from an in-memory list
  of dicts with ``orjson.dumps``, the encoder the hub itself uses (byte-identical output). A
  bare service has to produce the list per request just as the hub does, so encoding per
  request is the fair floor; answering bytes encoded once at start would measure nothing but
  aiohttp (``--rest-baseline bytes`` does that; ``json`` encodes with the standard library,
  which for the 20-row list costs ~275 us against ~15 us for orjson). The baseline checks no
  credentials and keeps no metrics; the hub does both, which is part of what the ratio shows.
* REST create, bare aiohttp + SQLite: the handler parses the same JSON body, fills in what the
  hub fills in (id, local token, defaults, times) and inserts one row into a SQLite database
  in WAL mode with ``synchronous = NORMAL`` (the hub's settings), one commit per request. It
  checks no fields; the hub validates every one.
* GraphQL, stock strawberry: the same types and shape served by strawberry's stock aiohttp
  view. graphql-yoga (Node, default settings, one process): the same schema shape and
  answer (the same JSON document), rows held in memory.
* GraphQL Mesh: ``@graphql-mesh/cli`` with an ``openapi`` source on the hub's own OpenAPI
  document (``/era/openapi.json``), the caller's Authorization header forwarded, built with
  ``mesh build`` and served by ``mesh start`` in one process (``fork: false``). Its query
  asks the list field Mesh generates for the same fields as the hub's query.
* gRPC, bare grpc.aio: a servicer on the hub's generated ``hub.era.v1.Era`` stubs whose
  ``List`` builds the ``ListResponse`` from in-memory dicts per call; no interceptors.

Reading the figures: wrk, the servers and the gRPC loader share the machine's cores. Server
CPU per request is the figure least disturbed by that; the per-round ratios show how much the
rest moved the result. "other" is CPU that neither the servers nor the loader used.

Adding scenarios: a plugin appends a :class:`Suite` to :data:`SUITES` (a ``setup`` function
that seeds the running hub and returns :class:`Scenario` objects) and, when its baseline is a
new kind of server, an entry in :data:`BASELINE_SERVERS` (a coroutine in a module next to this
script) or :data:`NODE_PEERS`. Requests are :class:`Request` objects (``http`` or ``grpc``
with JSON parameters) so that wrk's script or the loader process can be made from them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
sys.path.insert(0, str(SCRIPT.parent))

import node_peers  # noqa: E402
import wrk_load  # noqa: E402

# ---------------------------------------------------------------------------------------------
# What a scenario is
# ---------------------------------------------------------------------------------------------


@dataclass
class Request:
    """One request as wrk's script or the loader process rebuilds it: ``kind`` picks a client
    (``http``: wrk, or :data:`CLIENTS`); ``params`` is JSON and leaves out the server's
    address. An HTTP body may hold the text ``params["unique"]``, replaced per request by a
    value no other request of the run gets."""

    kind: str  # "http" | "grpc"
    params: dict[str, Any]


@dataclass
class Baseline:
    """The other side of a row: a bare server started as ``bench.py _serve <server>`` with
    ``data`` (JSON), a Node peer (``server`` a key of :data:`NODE_PEERS`), or ``"hub"``: the
    hub itself answering ``request``."""

    label: str  # shown in the table, e.g. "bare aiohttp"
    server: str  # a key of BASELINE_SERVERS or NODE_PEERS, or "hub"
    data: Any
    request: Request


@dataclass
class Scenario:
    name: str
    hub_request: Request
    baseline: Baseline
    target: float  # design target: printed, never asserted
    compare: str = "bytes"  # how the two answers must agree: a key of COMPARERS
    # "rps": hub/baseline req/s, at least target; "cpu": hub/baseline server CPU per request,
    # at most target
    metric: str = "rps"


@dataclass
class HubHandle:
    """The running hub, as a suite's ``setup`` sees it."""

    url: str  # http://host:port
    grpc: str  # host:port
    admin_token: str
    process: Any  # tests.hubproc.HubProcess
    options: dict[str, Any] = field(default_factory=dict)  # e.g. {"rows": 1000}

    def creds(self, plugin: str, **params: str) -> dict[str, Any]:
        return self.process.creds(plugin, **params)  # type: ignore[no-any-return]

    def http(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None


@dataclass
class Suite:
    """A plugin's scenarios: ``setup`` seeds the running hub and returns them."""

    name: str
    setup: Callable[[HubHandle], list[Scenario]]


# ---------------------------------------------------------------------------------------------
# The era suite
# ---------------------------------------------------------------------------------------------

ERA_LIMIT = 20  # the short page
ERA_ROWS = 1000  # the channels bench.py seeds, and the long page
ERA_PATH = "/era/rest/v1/service/integration_points"
ERA_FIELDS = (
    "id code type tokenLocal tokenRemote tokenRemote2 url"
    " recvSvcscriptcode recvSvcscriptcodeWs sendSvcscriptcode sendSvcscriptcodeWs"
    " opts { title comment allowFilesApi issync } ext { ct lwt }"
)
ERA_GRAPHQL_QUERY = (
    "{ era { integrationPoints(first: "
    + str(ERA_LIMIT)
    + ") { edges { node { "
    + ERA_FIELDS
    + " } } totalCount } } }"
)
UNIQUE = "@@bench-unique@@"
ERA_SITES = [
    ("BUD", "Budapest"),
    ("DEB", "Debrecen"),
    ("SZE", "Szeged"),
    ("PEC", "Pécs"),
    ("GYO", "Győr"),
    ("NYI", "Nyíregyháza"),
    ("KEC", "Kecskemét"),
    ("SZF", "Székesfehérvár"),
    ("SZO", "Szombathely"),
    ("SZL", "Szolnok"),
]
ERA_TYPES = ["webshop", "pos", "erp", "crm"]


def era_seed(i: int) -> dict[str, Any]:
    """A realistic channel: codes, remote tokens, callback URLs, script codes, accents."""
    site, city = ERA_SITES[i % len(ERA_SITES)]
    kind = ERA_TYPES[i % len(ERA_TYPES)]
    n = i + 1
    return {
        "code": f"{site}-{kind.upper()}-{n:03d}",
        "type": kind,
        "token_remote": os.urandom(16).hex(),
        "token_remote2": os.urandom(8).hex() if i % 3 == 0 else "",
        "url": f"https://{kind}{n:02d}.{site.lower()}.example.hu/era/api/v2/callback",
        "recv_svcscriptcode": f"ERA_RECV_{kind.upper()}_ORDER",
        "recv_svcscriptcode_ws": f"ERA_RECV_{kind.upper()}_ORDER_WS" if i % 2 else "",
        "send_svcscriptcode": f"ERA_SEND_{kind.upper()}_STATUS",
        "send_svcscriptcode_ws": f"ERA_SEND_{kind.upper()}_STATUS_WS" if i % 2 else "",
        "opts": {
            "title": f"{city} {kind} #{n}",
            "comment": f"Éles csatorna ({city}): rendelések és státuszok szinkronizálása",
            "allow_files_api": i % 4 == 0,
            "issync": i % 2 == 1,
        },
    }


def era_seeded(hub: HubHandle, count: int) -> tuple[str, list[dict[str, Any]]]:
    """An era token and ``count`` channels created over REST, as the hub lists them."""
    token = hub.creds("era")["token"]
    for i in range(count):
        hub.http("POST", ERA_PATH, era_seed(i), token)
    points = hub.http("GET", f"{ERA_PATH}?limit={count}", token=token)
    if len(points) != count:
        raise RuntimeError(f"expected {count} integration points, the hub lists {len(points)}")
    return token, points


def era_rest(token: str, limit: int) -> Request:
    auth = {"Authorization": f"Bearer {token}"}
    return Request("http", {"method": "GET", "path": f"{ERA_PATH}?limit={limit}", "headers": auth})


def graphql_request(token: str, query: str) -> Request:
    return Request(
        "http",
        {
            "method": "POST",
            "path": "/graphql",
            "body": json.dumps({"query": query}),
            "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        },
    )


def era_graphql(token: str, limit: int) -> Request:
    return graphql_request(
        token, ERA_GRAPHQL_QUERY.replace(f"first: {ERA_LIMIT}", f"first: {limit}")
    )


def era_grpc(token: str, limit: int) -> Request:
    return Request(
        "grpc",
        {
            "stub": "hub_era.v1.era_pb2_grpc:EraStub",
            "method": "List",
            "request": "hub_era.v1.era_pb2:ListRequest",
            "fields": {"limit": limit},
            "metadata": [["authorization", f"Bearer {token}"]],
        },
    )


def era_create(token: str) -> Request:
    """POST of a realistic channel whose code is new on every request."""
    body = {**era_seed(7), "code": f"NEW-{UNIQUE}"}
    return Request(
        "http",
        {
            "method": "POST",
            "path": ERA_PATH,
            "body": json.dumps(body, ensure_ascii=False),
            "unique": UNIQUE,
            "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        },
    )


def era_setup(hub: HubHandle) -> list[Scenario]:
    """20 channels and their REST, GraphQL and gRPC lists against the bare Python baselines
    (the set ``workers_bench.py`` loads, in that order)."""
    token, points = era_seeded(hub, ERA_LIMIT)
    return [
        Scenario(
            f"REST list {ERA_LIMIT} era channels",
            era_rest(token, ERA_LIMIT),
            Baseline("bare aiohttp", "era-rest", points, era_rest(token, ERA_LIMIT)),
            target=0.6,
        ),
        Scenario(
            f"GraphQL list {ERA_LIMIT} era channels",
            era_graphql(token, ERA_LIMIT),
            Baseline("stock strawberry", "era-graphql", points, era_graphql(token, ERA_LIMIT)),
            target=4.0,
            compare="json",
        ),
        Scenario(
            f"gRPC Era/List {ERA_LIMIT} channels",
            era_grpc(token, ERA_LIMIT),
            Baseline("bare grpc.aio", "era-grpc", points, era_grpc(token, ERA_LIMIT)),
            target=0.9,
        ),
    ]


def era_table_setup(hub: HubHandle) -> list[Scenario]:
    """The rows of the performance table over ``rows`` channels (1,000 by default): the
    hub's GraphQL against its REST, REST and gRPC against bare servers, GraphQL against stock
    strawberry, Mesh and yoga, and last (it adds channels) REST create."""
    rows = hub.options.get("rows", ERA_ROWS)
    short = min(ERA_LIMIT, rows)
    token, points = era_seeded(hub, rows)
    gql, rest = (lambda n: era_graphql(token, n)), (lambda n: era_rest(token, n))
    mesh = {"hub": hub.url}
    create = era_create(token)

    def mesh_request(limit: int) -> Request:
        """The same fields in REST's names, which Mesh keeps."""
        fields = re.sub(r"\w+", lambda m: _snake(m.group()), ERA_FIELDS)
        return graphql_request(token, node_peers.mesh_query(limit, fields))

    return [
        *(
            Scenario(
                f"GraphQL/REST CPU per request, {n} era channels",
                gql(n),
                Baseline("the hub's REST", "hub", None, rest(n)),
                target=2.0,
                compare="rows",
                metric="cpu",
            )
            for n in (rows, short)
        ),
        *(
            Scenario(
                f"REST list {n} era channels",
                rest(n),
                Baseline("bare aiohttp", "era-rest", points, rest(n)),
                target=0.6 if n == short else 0.5,
            )
            for n in (short, rows)
        ),
        Scenario(
            f"gRPC Era/List {short} channels",
            era_grpc(token, short),
            Baseline("bare grpc.aio", "era-grpc", points, era_grpc(token, short)),
            target=0.9,
        ),
        Scenario(
            f"GraphQL list {short} era channels",
            gql(short),
            Baseline("stock strawberry", "era-graphql", points, gql(short)),
            target=4.0,
            compare="json",
        ),
        *(
            Scenario(
                f"GraphQL {n} era channels vs Mesh",
                gql(n),
                Baseline("GraphQL Mesh", "mesh", mesh, mesh_request(n)),
                target=5.0,
                compare="rows",
            )
            for n in (short, rows)
        ),
        Scenario(
            f"GraphQL {short} era channels vs yoga",
            gql(short),
            Baseline("graphql-yoga", "yoga", points, gql(short)),
            target=1.0,
            compare="json",
        ),
        Scenario(
            "REST create era channel",
            create,
            Baseline("aiohttp + SQLite", "era-create", None, create),
            target=0.8,
            compare="created",
        ),
    ]


SUITES: list[Suite] = [
    Suite("era", era_table_setup),
    Suite("monitorozas", importlib.import_module("monitorozas_bench").setup),
]

# "module:coroutine" of each baseline server, the module next to this script. The coroutine
# gets (data, host, options), serves on a free port of host and returns "host:port".
BASELINE_SERVERS: dict[str, str] = {
    "era-rest": "era_baselines:serve_rest",
    "era-graphql": "era_baselines:serve_graphql",
    "era-grpc": "era_baselines:serve_grpc",
    "era-create": "era_baselines:serve_create",
    "monitorozas-rest": "monitorozas_bench:serve_rest",
}

# Node peers: a function of (data path, work dir) that returns the node_peers.Command to run
NODE_PEERS: dict[str, Callable[[Path, Path], node_peers.Command]] = {
    "mesh": node_peers.mesh,
    "yoga": node_peers.yoga,
}


def _import(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def serve_main(kind: str, data_path: str, options: dict[str, Any]) -> None:
    """A baseline's process: serve, print ``listening on HOST:PORT``, run until terminated."""
    data = json.loads(Path(data_path).read_text())

    async def run() -> None:
        address = await _import(BASELINE_SERVERS[kind])(data, "127.0.0.1", options)
        print(f"listening on {address}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


# ---------------------------------------------------------------------------------------------
# The loader (``bench.py _load SPEC``): one process, one asyncio loop, N workers per target
# ---------------------------------------------------------------------------------------------

Call = Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def http_client(
    address: str, params: dict[str, Any], concurrency: int
) -> AsyncIterator[Call]:
    import aiohttp

    url = f"http://{address}{params['path']}"
    method = params["method"]
    headers = params.get("headers") or {}
    body = params["body"].encode() if params.get("body") is not None else None
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def call() -> None:
            async with session.request(method, url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}")

        yield call


@contextlib.asynccontextmanager
async def grpc_client(
    address: str, params: dict[str, Any], concurrency: int
) -> AsyncIterator[Call]:
    import grpc

    stub_class = _import(params["stub"])
    request = _import(params["request"])(**params.get("fields", {}))
    metadata = tuple(tuple(m) for m in params.get("metadata", ()))
    async with grpc.aio.insecure_channel(address) as channel:
        method = getattr(stub_class(channel), params["method"])

        async def call() -> None:
            await method(request, metadata=metadata)

        yield call


Client = Callable[[str, dict[str, Any], int], contextlib.AbstractAsyncContextManager[Call]]
CLIENTS: dict[str, Client] = {
    "http": http_client,
    "grpc": grpc_client,
}

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree_cpu(pids: list[int]) -> float | None:
    """utime + stime of the processes ``pids`` and their descendants, all threads, in seconds;
    None without /proc or without pids."""
    if not pids:
        return None
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone since the listing
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        spent[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    if not any(pid in spent for pid in pids):
        return None
    wanted = set(pids)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in wanted} - wanted
        wanted |= more
        grew = bool(more)
    return sum(spent.get(pid, 0.0) for pid in wanted)


def _machine_busy() -> float | None:
    """CPU seconds the whole machine spent busy (all cores); None without /proc."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    jiffies = [int(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / CLOCK_TICKS


@dataclass
class Meter:
    """What one target did over all its measured slices."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    seconds: float = 0.0
    server_cpu: float | None = 0.0
    loader_cpu: float = 0.0
    machine_cpu: float | None = 0.0
    slice_rps: list[float] = field(default_factory=list)
    slices: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Stats:
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu: float | None  # cores the server process used while measured (1.0 = one core)
    loader_cpu: float  # cores the loader used
    other_cpu: float | None  # cores used by anything else on the machine
    server_cpu_us_per_req: float | None
    slice_rps: list[float]
    first_error: str | None = None
    # per measured slice: requests, errors, seconds, server_cpu (CPU seconds), p50_ms, p99_ms
    slices: list[dict[str, Any]] = field(default_factory=list)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))]


def _stats(meter: Meter) -> Stats:
    lat = sorted(meter.latencies)
    n, secs = len(lat), meter.seconds or float("nan")
    server = meter.server_cpu
    other = None
    if server is not None and meter.machine_cpu is not None:
        other = max(0.0, meter.machine_cpu - server - meter.loader_cpu) / secs
    return Stats(
        requests=n,
        errors=meter.errors,
        seconds=meter.seconds,
        rps=n / secs,
        p50_ms=_percentile(lat, 0.50) * 1000,
        p99_ms=_percentile(lat, 0.99) * 1000,
        server_cpu=server / secs if server is not None else None,
        loader_cpu=meter.loader_cpu / secs,
        other_cpu=other,
        server_cpu_us_per_req=server / n * 1e6 if server is not None and n else None,
        slice_rps=meter.slice_rps,
        first_error=meter.first_error,
        slices=meter.slices,
    )


def _delta(total: float | None, before: float | None, after: float | None) -> float | None:
    return None if total is None or before is None or after is None else total + after - before


async def run_slice(
    call: Call, concurrency: int, seconds: float, meter: Meter | None, pids: list[int]
) -> None:
    """``concurrency`` workers send requests back to back for ``seconds``; a request in flight
    at the end still counts, and the slice's time runs until it is answered."""
    clock = time.perf_counter
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    deadline = clock() + seconds

    async def worker() -> None:
        nonlocal errors, first_error
        while clock() < deadline:
            started = clock()
            try:
                await call()
            except Exception as exc:
                errors += 1
                first_error = first_error or repr(exc)[:300]
                continue
            latencies.append(clock() - started)

    server0, loader0, machine0 = _tree_cpu(pids), time.process_time(), _machine_busy()
    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = clock() - t0
    server1, loader1, machine1 = _tree_cpu(pids), time.process_time(), _machine_busy()
    if meter is None:
        return
    meter.latencies.extend(latencies)
    meter.errors += errors
    meter.first_error = meter.first_error or first_error
    meter.seconds += elapsed
    meter.loader_cpu += loader1 - loader0
    meter.slice_rps.append(len(latencies) / elapsed)
    meter.server_cpu = _delta(meter.server_cpu, server0, server1)
    meter.machine_cpu = _delta(meter.machine_cpu, machine0, machine1)
    lat = sorted(latencies)
    meter.slices.append(
        {
            "requests": len(lat),
            "errors": errors,
            "seconds": elapsed,
            "server_cpu": None if server0 is None or server1 is None else server1 - server0,
            "p50_ms": _percentile(lat, 0.50) * 1000,
            "p99_ms": _percentile(lat, 0.99) * 1000,
        }
    )


async def load(spec: dict[str, Any]) -> list[Stats]:
    """Warm every target up, then measure them in alternating slices (ABBA...)."""
    targets = spec["targets"]
    concurrency = spec["concurrency"]
    slices = max(1, math.ceil(spec["duration"] / spec["slice"] - 1e-9))
    length = spec["duration"] / slices
    async with contextlib.AsyncExitStack() as stack:
        calls = []
        for target in targets:
            client = CLIENTS[target["request"]["kind"]]
            calls.append(
                await stack.enter_async_context(
                    client(target["address"], target["request"]["params"], concurrency)
                )
            )
        for call in calls:
            await call()  # connect, and fail before any clock starts
            await run_slice(call, concurrency, spec["warmup"], None, [])
        meters = [Meter() for _ in targets]
        order = list(range(len(targets)))
        for _ in range(slices):
            for i in order:
                await run_slice(calls[i], concurrency, length, meters[i], _pids(targets[i]))
            order.reverse()
    return [_stats(m) for m in meters]


def _pids(target: dict[str, Any]) -> list[int]:
    """A target's server processes: ``pids``, or the one ``pid``."""
    if target.get("pids"):
        return list(target["pids"])
    return [target["pid"]] if target.get("pid") is not None else []


def load_main(spec_json: str) -> None:
    stats = asyncio.run(load(json.loads(spec_json)))
    print(json.dumps([asdict(s) for s in stats]), flush=True)


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One scenario measured by :func:`run_loader` (as ``upstream_bench.py`` uses it)."""

    scenario: Scenario
    response_bytes: int
    hub: Stats
    baseline: Stats

    @property
    def ratio(self) -> float:
        return self.hub.rps / self.baseline.rps if self.baseline.rps else float("nan")

    @property
    def cpu_ratio(self) -> float | None:
        """Baseline over hub server CPU per request: the ratio if each side had a core."""
        hub, base = self.hub.server_cpu_us_per_req, self.baseline.server_cpu_us_per_req
        return base / hub if hub and base else None

    @property
    def slice_ratios(self) -> list[float]:
        pairs = zip(self.hub.slice_rps, self.baseline.slice_rps, strict=False)
        return [h / b for h, b in pairs if b]


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@contextlib.contextmanager
def running_hub(data_dir: Path, options: dict[str, Any] | None = None) -> Iterator[HubHandle]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.hubproc import ADMIN_TOKEN, HubProcess

    process = HubProcess(data_dir).start()
    try:
        yield HubHandle(process.url, process.grpc, ADMIN_TOKEN, process, options or {})
    finally:
        output = process.output
        code = process.stop()
        if code not in (0, None):
            tail = "".join(output[-20:])
            print(f"warning: the hub exited with {code}:\n{tail}", file=sys.stderr)


def _await_listening(address: str, name: str, timeout: float = 30) -> None:
    """Some servers (Mesh) announce their address a moment before they accept on it."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} does not accept connections on {address}") from None
            time.sleep(0.1)


def _discard(stream: Any) -> None:
    for _ in stream:
        pass


@contextlib.contextmanager
def running_process(
    argv: list[str], ready: re.Pattern[str], name: str, cwd: Path | None = None
) -> Iterator[tuple[str, int]]:
    """Run a server until it prints the line ``ready`` matches; yields the address (group 1)
    and the pid; terminates it afterwards."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_python_env(),
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:  # skip whatever a library says before it listens
            match = ready.search(line)
            if match:
                break
            seen.append(line)
        else:
            raise RuntimeError(f"{name} did not start:\n{''.join(seen[-40:])}")
        # keep reading what it prints, so that a full pipe never blocks it
        threading.Thread(target=_discard, args=(proc.stdout,), daemon=True).start()
        _await_listening(match.group(1), name)
        yield match.group(1), proc.pid
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_baseline(
    baseline: Baseline, hub: HubHandle, workdir: Path, index: int, options: dict[str, Any]
) -> Iterator[tuple[str, list[int]]]:
    """The other side of a row; yields its address and the pids whose CPU is its cost."""
    hub_pid = hub.process.proc.pid
    if baseline.server == "hub":
        yield hub.url.removeprefix("http://"), [hub_pid]
        return
    data_path = workdir / f"baseline-{index}.json"
    data_path.write_text(json.dumps(baseline.data, ensure_ascii=False))
    if baseline.server in NODE_PEERS:
        command = NODE_PEERS[baseline.server](data_path, workdir)
        with running_process(command.argv, command.ready, baseline.label, command.cwd) as (
            address,
            pid,
        ):
            # a peer that calls the hub costs the hub's CPU too
            yield address, [pid, hub_pid] if command.calls_hub else [pid]
        return
    argv = [sys.executable, str(SCRIPT), "_serve", baseline.server, "--data", str(data_path)]
    argv += ["--options", json.dumps({**options, "workdir": str(workdir)})]
    ready = re.compile(r"^listening on (\S+)")
    with running_process(argv, ready, f"baseline {baseline.server}") as (address, pid):
        yield address, [pid]


def _body(params: dict[str, Any], unique: str) -> bytes | None:
    body = params.get("body")
    if body is None:
        return None
    return (body.replace(params["unique"], unique) if params.get("unique") else body).encode()


async def fetch(request: Request, address: str, unique: str = "") -> bytes:
    """The raw answer to ``request``: the body for HTTP, the serialized message for gRPC.
    ``unique`` replaces the request's placeholder for a value no other request gets."""
    p = request.params
    if request.kind == "http":
        import aiohttp

        body = _body(p, unique or uuid.uuid4().hex)
        url = f"http://{address}{p['path']}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(p["method"], url, headers=p.get("headers") or {}, data=body) as resp,
        ):
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{url}: HTTP {resp.status}: {raw[:300]!r}")
            return raw
    if request.kind == "grpc":
        import grpc

        message = _import(p["request"])(**p.get("fields", {}))
        stub_name = p["stub"].rpartition(":")[2].removesuffix("Stub")
        path = f"/{message.DESCRIPTOR.file.package}.{stub_name}/{p['method']}"
        metadata = tuple(tuple(m) for m in p.get("metadata", ()))
        async with grpc.aio.insecure_channel(address) as channel:
            answer = await channel.unary_unary(path)(message.SerializeToString(), metadata=metadata)
            return answer  # type: ignore[no-any-return]
    raise ValueError(f"unknown request kind {request.kind!r}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _rows(raw: bytes) -> list[dict[str, Any]]:
    """The channels of an answer, in REST's field names with instants parsed: from a REST
    list, the hub's GraphQL connection or Mesh's list field."""
    doc = json.loads(raw)
    if isinstance(doc, dict):
        data = doc.get("data") or {}
        if "era" in data:
            doc = [edge["node"] for edge in data["era"]["integrationPoints"]["edges"]]
        else:
            doc = data.get(node_peers.MESH_LIST_FIELD)
    if not isinstance(doc, list):
        raise ValueError(f"no list of channels in {raw[:300]!r}")

    def row(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {_snake(k): row(v) for k, v in value.items()}
        for key in ("ct", "lwt"):
            if isinstance(out.get(key), str):
                out[key] = datetime.fromisoformat(out[key])
        return out

    return [row(item) for item in doc]


def _created(raw: bytes) -> dict[str, Any]:
    """A created channel but for what its server makes: id, local token and the times."""
    doc = json.loads(raw)
    return {k: v for k, v in doc.items() if k not in ("id", "token_local", "ext")} | {
        "ext": sorted(doc["ext"])
    }


COMPARERS: dict[str, Callable[[bytes, bytes], bool]] = {
    "bytes": lambda hub, base: hub == base,
    "json": lambda hub, base: json.loads(hub) == json.loads(base),
    "rows": lambda hub, base: _rows(hub) == _rows(base),
    "created": lambda hub, base: _created(hub) == _created(base),
}


def verify(scenario: Scenario, hub_address: str, base_address: str) -> int:
    """Both sides answer alike, or stop: returns the size of the hub's answer."""
    unique = f"verify-{uuid.uuid4().hex}"
    hub_body = asyncio.run(fetch(scenario.hub_request, hub_address, unique))
    base_body = asyncio.run(fetch(scenario.baseline.request, base_address, unique))
    try:
        same = hub_body == base_body or COMPARERS[scenario.compare](hub_body, base_body)
    except (ValueError, KeyError, TypeError) as exc:
        same = False
        print(f"{scenario.name}: comparing failed: {exc!r}", file=sys.stderr)
    if not same:
        raise SystemExit(
            f"{scenario.name}: the {scenario.baseline.label} does not answer like the hub\n"
            f"  hub:      {hub_body[:400]!r}\n  baseline: {base_body[:400]!r}"
        )
    return len(hub_body)


def run_loader(targets: list[dict[str, Any]], args: argparse.Namespace) -> list[Stats]:
    """Load the targets from one ``bench.py _load`` process (``args``: ``concurrency``,
    ``warmup``, ``duration``, ``slice``)."""
    spec = {
        "targets": targets,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "duration": args.duration,
        "slice": args.slice,
    }
    budget = len(targets) * (args.warmup + args.duration) * 3 + 60
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "_load", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=_python_env(),
        timeout=budget,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the loader failed:\n{done.stderr[-3000:]}")
    return [Stats(**s) for s in json.loads(done.stdout.strip().splitlines()[-1])]


# ---------------------------------------------------------------------------------------------
# Rounds: one slice per side, the order alternating; medians over rounds
# ---------------------------------------------------------------------------------------------


@dataclass
class Slice:
    """One side's slice of one round."""

    served: int  # 2xx answers (HTTP) or answered calls (gRPC)
    errors: int  # non-2xx answers, socket errors, failed calls
    seconds: float
    server_cpu: float | None  # CPU seconds of the side's server processes
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.served / self.seconds if self.seconds else float("nan")

    @property
    def cpu_us(self) -> float | None:
        if self.server_cpu is None or not self.served:
            return None
        return self.server_cpu / self.served * 1e6


@dataclass
class Side:
    slices: list[Slice]
    error_kinds: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    loader_cores: float | None = None
    other_cores: float | None = None

    def median(self, name: str) -> float | None:
        values = [getattr(s, name) for s in self.slices]
        values = [v for v in values if v is not None and v == v]
        return statistics.median(values) if values else None

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.slices)

    @property
    def server_cores(self) -> float | None:
        cpu = [s.server_cpu for s in self.slices]
        seconds = sum(s.seconds for s in self.slices)
        return None if None in cpu or not seconds else sum(cpu) / seconds  # type: ignore[arg-type]


@dataclass
class Row:
    scenario: Scenario
    response_bytes: int
    hub: Side
    baseline: Side

    @property
    def round_ratios(self) -> list[float]:
        """hub/baseline per round: req/s, or server CPU per request for a "cpu" row."""
        out = []
        for h, b in zip(self.hub.slices, self.baseline.slices, strict=True):
            if self.scenario.metric == "cpu":
                if h.cpu_us and b.cpu_us:
                    out.append(h.cpu_us / b.cpu_us)
            elif b.rps:
                out.append(h.rps / b.rps)
        return out

    @property
    def ratio(self) -> float | None:
        ratios = self.round_ratios
        return statistics.median(ratios) if ratios else None

    @property
    def cpu_equivalent(self) -> float | None:
        """For a req/s row, baseline over hub server CPU per request (median over rounds): the
        req/s ratio if each side had a core of its own, which other load disturbs least."""
        if self.scenario.metric == "cpu":
            return None
        pairs = zip(self.hub.slices, self.baseline.slices, strict=True)
        ratios = [b.cpu_us / h.cpu_us for h, b in pairs if h.cpu_us and b.cpu_us]
        return statistics.median(ratios) if ratios else None

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        if ratio is None:
            return None
        if self.scenario.metric == "cpu":
            return ratio <= self.scenario.target
        return ratio >= self.scenario.target


def _wrk_slices(
    scenario: Scenario,
    sides: list[tuple[str, list[int]]],
    workdir: Path,
    index: int,
    args: argparse.Namespace,
) -> list[Side]:
    """Warm both sides up, then the rounds, with wrk; the errors wrk saw are kept per kind."""
    scripts = []
    for n, request in enumerate((scenario.hub_request, scenario.baseline.request)):
        path = workdir / f"scenario-{index}-{n}.lua"
        path.write_text(wrk_load.lua_script(request.params))
        scripts.append(path)
    results: list[Side] = [Side([]), Side([])]
    loader = [0.0, 0.0]
    other: list[float | None] = [0.0, 0.0]
    run_id = uuid.uuid4().hex[:8]

    def one(n: int, seconds: int, label: str) -> wrk_load.WrkSlice:
        address, pids = sides[n]
        return wrk_load.run_wrk(
            f"http://{address}",
            scripts[n],
            seconds,
            args.concurrency,
            lambda: _tree_cpu(pids),
            _machine_busy,
            f"{run_id}{label}",
        )

    if args.warmup > 0:
        for n in (0, 1):
            one(n, max(1, round(args.warmup)), f"w{n}")
    for r in range(args.rounds):
        for n in (0, 1) if r % 2 == 0 else (1, 0):
            got = one(n, max(1, round(args.slice)), f"r{r}s{n}")
            side = results[n]
            side.slices.append(
                Slice(got.ok, got.errors, got.seconds, got.server_cpu, got.p50_ms, got.p99_ms)
            )
            kinds = {"non-2xx": got.non_2xx, **got.socket_errors}
            for kind, count in kinds.items():
                if count:
                    side.error_kinds[kind] = side.error_kinds.get(kind, 0) + count
            loader[n] += got.loader_cpu
            spent = other[n]
            if spent is not None and got.machine_cpu is not None and got.server_cpu is not None:
                other[n] = spent + max(0.0, got.machine_cpu - got.server_cpu - got.loader_cpu)
            else:
                other[n] = None
    for n, side in enumerate(results):
        seconds = sum(s.seconds for s in side.slices)
        side.loader_cores = loader[n] / seconds if seconds else None
        spent = other[n]
        side.other_cores = spent / seconds if seconds and spent is not None else None
    return results


def _loader_slices(
    scenario: Scenario, sides: list[tuple[str, list[int]]], args: argparse.Namespace
) -> list[Side]:
    """The rounds from the Python loader (gRPC): one slice per side and round."""
    loader_args = argparse.Namespace(
        concurrency=args.grpc_concurrency,
        warmup=args.warmup,
        duration=args.rounds * args.slice,
        slice=args.slice,
    )
    targets = [
        {"address": address, "pids": pids, "request": asdict(request)}
        for (address, pids), request in zip(
            sides, (scenario.hub_request, scenario.baseline.request), strict=True
        )
    ]
    out = []
    for stats in run_loader(targets, loader_args):
        slices = [
            Slice(
                s["requests"], s["errors"], s["seconds"], s["server_cpu"], s["p50_ms"], s["p99_ms"]
            )
            for s in stats.slices
        ]
        kinds = {"failed calls": stats.errors} if stats.errors else {}
        out.append(Side(slices, kinds, stats.first_error, stats.loader_cpu, stats.other_cpu))
    return out


def measure(
    scenario: Scenario,
    sides: list[tuple[str, list[int]]],
    workdir: Path,
    index: int,
    args: argparse.Namespace,
) -> list[Side]:
    if scenario.hub_request.kind == "http":
        return _wrk_slices(scenario, sides, workdir, index, args)
    return _loader_slices(scenario, sides, args)


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def _target(scenario: Scenario) -> str:
    return f"{'<=' if scenario.metric == 'cpu' else '>='}{scenario.target:g}x"


def print_table(rows: list[Row], skipped: list[tuple[str, str]], args: argparse.Namespace) -> None:
    names = [r.scenario.name for r in rows] + [name for name, _ in skipped]
    w = max(8, *(len(n) for n in names))
    head = (
        f"{'scenario':<{w}}  {'hub rps':>8} {'us/req':>7} {'p50 ms':>7} {'p99 ms':>7}  "
        f"{'base rps':>8} {'us/req':>7} {'p50 ms':>7} {'p99 ms':>7}  {'ratio':>7} {'of':<3} "
        f"{'target':>7} {'met':>3} {'by CPU':>7}  baseline"
    )
    print()
    print(
        f"medians of {args.rounds} rounds; a round is one {args.slice:g}s slice per side, the"
        f" order alternating; wrk -c{args.concurrency} for HTTP, {args.grpc_concurrency} gRPC"
        f" calls in flight; us/req is server CPU per request; REST baseline encodes with:"
        f" {args.rest_baseline}"
    )
    print(
        'ratio: hub/baseline, of req/s ("rps") or of server CPU per request ("cpu");'
        ' "by CPU": a req/s row\'s ratio from CPU per request instead'
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        h, b = r.hub, r.baseline
        flag = "!" if h.errors or b.errors else " "
        met = {True: "yes", False: "no", None: "-"}[r.met]
        by_cpu = "-" if r.cpu_equivalent is None else f"{r.cpu_equivalent:.2f}x"
        print(
            f"{r.scenario.name:<{w}}  {_f(h.median('rps'), '8.0f')} "
            f"{_f(h.median('cpu_us'), '7.0f')} {_f(h.median('p50_ms'), '7.2f')} "
            f"{_f(h.median('p99_ms'), '7.2f')}  {_f(b.median('rps'), '8.0f')} "
            f"{_f(b.median('cpu_us'), '7.0f')} {_f(b.median('p50_ms'), '7.2f')} "
            f"{_f(b.median('p99_ms'), '7.2f')}  {_f(r.ratio, '6.2f')}x{flag}"
            f"{'cpu' if r.scenario.metric == 'cpu' else 'rps':<3} {_target(r.scenario):>7}"
            f" {met:>3} {by_cpu:>7}  {r.scenario.baseline.label}"
        )
    for name, reason in skipped:
        print(f"{name:<{w}}  skipped: {reason}")
    print()
    print("Per row: bytes per answer, hub/baseline per round, and cores while measured")
    print("(1.00 = one core busy: server processes, load generator, everything else)")
    for r in rows:
        ratios = " ".join(f"{x:.2f}" for x in r.round_ratios) or "-"
        print(f"  {r.scenario.name}: {r.response_bytes} bytes; per round {ratios}")
        for label, s in (("hub", r.hub), (r.scenario.baseline.label, r.baseline)):
            print(
                f"    {label:<17} server {_f(s.server_cores, '4.2f')}"
                f"  loader {_f(s.loader_cores, '4.2f')}  other {_f(s.other_cores, '4.2f')}"
            )
            if s.errors:
                kinds = ", ".join(f"{k} {v}" for k, v in s.error_kinds.items())
                first = f"; first: {s.first_error}" if s.first_error else ""
                print(f"    ! {label}: {s.errors} failed requests ({kinds}){first}")


def _side_json(side: Side) -> dict[str, Any]:
    return {
        "rps": side.median("rps"),
        "cpu_us_per_request": side.median("cpu_us"),
        "p50_ms": side.median("p50_ms"),
        "p99_ms": side.median("p99_ms"),
        "errors": side.errors,
        "error_kinds": side.error_kinds,
        "first_error": side.first_error,
        "server_cores": side.server_cores,
        "loader_cores": side.loader_cores,
        "other_cores": side.other_cores,
        "rounds": [asdict(s) | {"rps": s.rps, "cpu_us": s.cpu_us} for s in side.slices],
    }


def write_json(
    path: str,
    rows: list[Row],
    skipped: list[tuple[str, str]],
    args: argparse.Namespace,
    seconds: float,
) -> None:
    import importlib.metadata

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    wrk = wrk_load.wrk_path()
    out = {
        "config": {
            "rows": args.rows,
            "rounds": args.rounds,
            "slice_s": args.slice,
            "warmup_s": args.warmup,
            "http_connections": args.concurrency,
            "grpc_in_flight": args.grpc_concurrency,
            "rest_baseline": args.rest_baseline,
        },
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "wrk": wrk
            and subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("\n")[0],
            **{
                d: version(d)
                for d in (
                    "aiohttp",
                    "grpcio",
                    "protobuf",
                    "strawberry-graphql",
                    "graphql-core",
                    "orjson",
                )
            },
            "node": node_peers.versions(),
        },
        "total_seconds": round(seconds, 1),
        "scenarios": [
            {
                "name": r.scenario.name,
                "baseline": r.scenario.baseline.label,
                "metric": r.scenario.metric,
                "target": _target(r.scenario),
                "ratio": r.ratio,
                "met": r.met,
                "round_ratios": r.round_ratios,
                "cpu_equivalent": r.cpu_equivalent,
                "response_bytes": r.response_bytes,
                "hub": _side_json(r.hub),
                "baseline_side": _side_json(r.baseline),
            }
            for r in rows
        ],
        "skipped": [{"name": name, "reason": reason} for name, reason in skipped],
    }
    Path(path).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


def _node_reason(args: argparse.Namespace) -> str | None:
    return "--no-node" if args.no_node else node_peers.unavailable()


def bench_main(args: argparse.Namespace) -> int:
    if wrk_load.wrk_path() is None:
        raise SystemExit("bench.py loads HTTP with wrk: install it (Debian package wrk)")
    started = time.monotonic()
    options = {"rest_baseline": args.rest_baseline}
    rows: list[Row] = []
    skipped: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        workdir = Path(tmp)
        with running_hub(workdir / "hub-data", {"rows": args.rows}) as hub:
            scenarios = [s for suite in SUITES for s in suite.setup(hub)]
            if args.only:
                wanted = [o.lower() for o in args.only]
                scenarios = [s for s in scenarios if any(o in s.name.lower() for o in wanted)]
            if not scenarios:
                raise SystemExit("no scenario matches --only")
            if any(s.baseline.server in NODE_PEERS for s in scenarios):
                reason = _node_reason(args)
                if reason:
                    print(f"note: the Node peers' rows are skipped: {reason}", flush=True)
                    skipped = [
                        (s.name, reason) for s in scenarios if s.baseline.server in NODE_PEERS
                    ]
                    scenarios = [s for s in scenarios if s.baseline.server not in NODE_PEERS]
            hub_pid = hub.process.proc.pid
            for i, scenario in enumerate(scenarios):
                grpc = scenario.hub_request.kind == "grpc"
                hub_address = hub.grpc if grpc else hub.url.removeprefix("http://")
                with running_baseline(scenario.baseline, hub, workdir, i, options) as base:
                    size = verify(scenario, hub_address, base[0])
                    print(
                        f"{scenario.name}: hub and {scenario.baseline.label} answer alike"
                        f" ({size} bytes); measuring",
                        flush=True,
                    )
                    sides = [(hub_address, [hub_pid]), base]
                    hub_side, base_side = measure(scenario, sides, workdir, i, args)
                rows.append(Row(scenario, size, hub_side, base_side))
    seconds = time.monotonic() - started
    print_table(rows, skipped, args)
    print(f"\n{seconds:.0f}s in all")
    if args.json:
        write_json(args.json, rows, skipped, args, seconds)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The hub against bare baselines and peers (see the module docstring)."
    )
    add = parser.add_argument
    add("--rounds", type=int, default=4, help="rounds per row; figures are their medians (4)")
    add("--slice", type=int, default=3, help="seconds per side and round (3)")
    add("--warmup", type=float, default=1.0, help="warm-up seconds per side, 0 for none (1)")
    add("--concurrency", "-c", type=int, default=16, help="wrk's connections (16)")
    add("--grpc-concurrency", type=int, default=32, help="gRPC calls in flight (32)")
    add("--rows", type=int, default=ERA_ROWS, help=f"era channels seeded ({ERA_ROWS})")
    add(
        "--only",
        action="append",
        metavar="TEXT",
        help="only scenarios whose name contains TEXT (repeatable)",
    )
    add("--no-node", action="store_true", help="skip the Node peers (Mesh, yoga)")
    add(
        "--rest-baseline",
        choices=("orjson", "json", "bytes"),
        default="orjson",
        help="bare aiohttp encodes per request with orjson (default) or stdlib json, or once",
    )
    add("--json", metavar="PATH", help="also write the results to PATH as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.slice < 1 or args.warmup < 0 or args.rows < ERA_LIMIT:
        parser.error(f"--rounds and --slice must be >= 1, --warmup >= 0, --rows >= {ERA_LIMIT}")
    if args.concurrency < 1 or args.grpc_concurrency < 1:
        parser.error("--concurrency and --grpc-concurrency must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve"]:
        sub = argparse.ArgumentParser(prog="bench.py _serve")
        sub.add_argument("kind", choices=sorted(BASELINE_SERVERS))
        sub.add_argument("--data", required=True)
        sub.add_argument("--options", default="{}")
        a = sub.parse_args(argv[1:])
        serve_main(a.kind, a.data, json.loads(a.options))
        return 0
    if argv[:1] == ["_load"]:
        load_main(argv[1])
        return 0
    return bench_main(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
