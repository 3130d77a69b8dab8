"""Throughput and latency of the hub against bare baselines that serve the same answers.

Run ``python bench/bench.py`` (``--help`` for the options; the defaults take about two
minutes). One run:

1. starts a real hub in a subprocess on a temporary data dir, issues an ``era`` token and
   creates 20 integration points with realistic fields over REST;
2. hands the data the hub lists to bare baselines, each started in a subprocess of its own
   (``bench.py _serve KIND``; the servers are in ``era_baselines.py``);
3. asks hub and baseline the scenario's request once and stops unless they answer alike: the
   same JSON bytes for REST, the same JSON document for GraphQL (stock strawberry spaces its
   JSON differently), the same serialized message for gRPC;
4. loads hub and baseline of each scenario from one separate loader process
   (``bench.py _load``): N concurrent workers on one asyncio loop, with an
   ``aiohttp.ClientSession`` (keep-alive) for HTTP or a ``grpc.aio`` stub on one channel for
   gRPC, the same client code and the same request for both sides. After ``--warmup`` seconds
   per side, ``--duration`` seconds per side are measured in slices of about ``--slice``
   seconds that alternate between hub and baseline (ABBA order). Other work on the machine then
   slows both sides alike instead of whichever happened to run at the time;
5. prints one row per scenario (req/s, p50 and p99 latency of hub and baseline, the
   hub/baseline throughput ratio and the design target, which is printed, never asserted), then
   CPU figures; ``--json PATH`` writes all of it machine-readably.

The baselines, and the choice that keeps them honest:

* REST, bare aiohttp: the handler encodes the body per request from an in-memory list of 20
  dicts with ``orjson.dumps``, the encoder the hub itself uses (its output is byte-identical
  to the hub's). A bare service has to produce the list per request just as the hub does (the
  hub reads SQLite and joins stored JSON texts), so encoding per request is the fair floor;
  answering with bytes encoded once at start would measure nothing but aiohttp. The standard
  library's ``json.dumps`` was considered and rejected as the default: for this 13 kB list it
  costs ~275 us of CPU per answer against ~15 us for orjson, about two thirds of the bare
  app's whole cost per request, so the ratio would mostly measure the choice of encoder.
  ``--rest-baseline json`` (stdlib, ``ensure_ascii=False``: same bytes) and
  ``--rest-baseline bytes`` (encoded once) measure against those instead. The baseline checks
  no credentials and keeps no metrics; the hub does both, which is part of what the ratio
  shows.
* GraphQL, stock strawberry: a schema of the same types and shape (``era`` ->
  ``integrationPoints(first:)`` -> Relay connection of ``EraIntegrationPoint`` with ``opts``
  and ``ext``), resolvers that build the objects from in-memory dicts per request, served by
  strawberry's stock ``strawberry.aiohttp.views.GraphQLView`` with default settings.
* gRPC, bare grpc.aio: a servicer on the hub's generated ``hub.era.v1.Era`` stubs whose
  ``List`` builds the ``ListResponse`` from in-memory dicts per call; no interceptors, health
  or reflection.

Reading the figures: loader and servers share the cores, and the loader is Python too. When a
side's server CPU is well under one core while the loader's is near one, the loader is the
limit and that side's req/s is a lower bound. "other" is CPU that neither the server nor the
loader used (other processes on the machine); the per-slice ratio range shows how much that
moved the result. Server CPU per request is the figure least disturbed by either.

Adding scenarios: a plugin appends a :class:`Suite` to :data:`SUITES` (a ``setup`` function
that seeds the running hub and returns :class:`Scenario` objects) and, when its baseline is a
new kind of server, an entry in :data:`BASELINE_SERVERS` (a coroutine in a module next to this
script). Requests are :class:`Request` objects (``http`` or ``grpc`` with JSON parameters) so
that the loader process can rebuild them; a new kind of request is a client in
:data:`CLIENTS`.
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
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()


# ---------------------------------------------------------------------------------------------
# What a scenario is
# ---------------------------------------------------------------------------------------------


@dataclass
class Request:
    """One request as the loader process rebuilds it: ``kind`` picks a client in
    :data:`CLIENTS`; ``params`` is JSON and leaves out the server's address."""

    kind: str  # "http" | "grpc"
    params: dict[str, Any]


@dataclass
class Baseline:
    """A bare server, started as ``bench.py _serve <server>`` with ``data`` (JSON)."""

    label: str  # shown in the table, e.g. "bare aiohttp"
    server: str  # a key of BASELINE_SERVERS
    data: Any
    request: Request


@dataclass
class Scenario:
    name: str
    hub_request: Request
    baseline: Baseline
    target: float  # design target for hub/baseline req/s: printed, never asserted
    compare: str = "bytes"  # how the two answers must agree: "bytes" | "json"


@dataclass
class HubHandle:
    """The running hub, as a suite's ``setup`` sees it."""

    url: str  # http://host:port
    grpc: str  # host:port
    admin_token: str
    process: Any  # tests.hubproc.HubProcess

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

ERA_LIMIT = 20
ERA_PATH = "/era/rest/v1/service/integration_points"
ERA_GRAPHQL_QUERY = (
    "{ era { integrationPoints(first: " + str(ERA_LIMIT) + ") { edges { node {"
    " id code type tokenLocal tokenRemote tokenRemote2 url"
    " recvSvcscriptcode recvSvcscriptcodeWs sendSvcscriptcode sendSvcscriptcodeWs"
    " opts { title comment allowFilesApi issync } ext { ct lwt } } } totalCount } } }"
)
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


def era_setup(hub: HubHandle) -> list[Scenario]:
    token = hub.creds("era")["token"]
    for i in range(ERA_LIMIT):
        hub.http("POST", ERA_PATH, era_seed(i), token)
    list_path = f"{ERA_PATH}?limit={ERA_LIMIT}"
    points = hub.http("GET", list_path, token=token)
    if len(points) != ERA_LIMIT:
        raise RuntimeError(f"expected {ERA_LIMIT} integration points, the hub lists {len(points)}")
    auth = {"Authorization": f"Bearer {token}"}
    rest = Request("http", {"method": "GET", "path": list_path, "headers": auth})
    graphql = Request(
        "http",
        {
            "method": "POST",
            "path": "/graphql",
            "body": json.dumps({"query": ERA_GRAPHQL_QUERY}),
            "headers": {**auth, "Content-Type": "application/json"},
        },
    )
    grpc_list = Request(
        "grpc",
        {
            "stub": "hub_era.v1.era_pb2_grpc:EraStub",
            "method": "List",
            "request": "hub_era.v1.era_pb2:ListRequest",
            "fields": {"limit": ERA_LIMIT},
            "metadata": [["authorization", f"Bearer {token}"]],
        },
    )
    return [
        Scenario(
            "REST list 20 era channels",
            rest,
            Baseline("bare aiohttp", "era-rest", points, rest),
            target=0.6,
        ),
        Scenario(
            "GraphQL list 20 era channels",
            graphql,
            Baseline("stock strawberry", "era-graphql", points, graphql),
            target=4.0,
            compare="json",
        ),
        Scenario(
            "gRPC Era/List 20 channels",
            grpc_list,
            Baseline("bare grpc.aio", "era-grpc", points, grpc_list),
            target=0.6,
        ),
    ]


SUITES: list[Suite] = [
    Suite("era", era_setup),
    Suite("monitorozas", importlib.import_module("monitorozas_bench").setup),
]

# "module:coroutine" of each baseline server, the module next to this script. The coroutine
# gets (data, host, options), serves on a free port of host and returns "host:port".
BASELINE_SERVERS: dict[str, str] = {
    "era-rest": "era_baselines:serve_rest",
    "era-graphql": "era_baselines:serve_graphql",
    "era-grpc": "era_baselines:serve_grpc",
    "monitorozas-rest": "monitorozas_bench:serve_rest",
}


def _import(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def serve_main(kind: str, data_path: str, options: dict[str, Any]) -> None:
    """A baseline's process: serve, print ``listening on HOST:PORT``, run until terminated."""
    data = json.loads(Path(data_path).read_text())
    sys.path.insert(0, str(SCRIPT.parent))

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


def _process_cpu(pid: int | None) -> float | None:
    """utime + stime of a process, all threads, in seconds; None without /proc."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


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
    )


def _delta(total: float | None, before: float | None, after: float | None) -> float | None:
    return None if total is None or before is None or after is None else total + after - before


async def run_slice(
    call: Call, concurrency: int, seconds: float, meter: Meter | None, pid: int | None
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

    server0, loader0, machine0 = _process_cpu(pid), time.process_time(), _machine_busy()
    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = clock() - t0
    server1, loader1, machine1 = _process_cpu(pid), time.process_time(), _machine_busy()
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
            await run_slice(call, concurrency, spec["warmup"], None, None)
        meters = [Meter() for _ in targets]
        order = list(range(len(targets)))
        for _ in range(slices):
            for i in order:
                await run_slice(calls[i], concurrency, length, meters[i], targets[i].get("pid"))
            order.reverse()
    return [_stats(m) for m in meters]


def load_main(spec_json: str) -> None:
    stats = asyncio.run(load(json.loads(spec_json)))
    print(json.dumps([asdict(s) for s in stats]), flush=True)


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


@dataclass
class Result:
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
def running_hub(data_dir: Path) -> Iterator[HubHandle]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.hubproc import ADMIN_TOKEN, HubProcess

    process = HubProcess(data_dir).start()
    try:
        yield HubHandle(process.url, process.grpc, ADMIN_TOKEN, process)
    finally:
        output = process.output
        code = process.stop()
        if code not in (0, None):
            tail = "".join(output[-20:])
            print(f"warning: the hub exited with {code}:\n{tail}", file=sys.stderr)


@contextlib.contextmanager
def running_baseline(
    baseline: Baseline, workdir: Path, index: int, options: dict[str, Any]
) -> Iterator[tuple[str, int]]:
    """Start a baseline server; yields its address and pid."""
    data_path = workdir / f"baseline-{index}.json"
    data_path.write_text(json.dumps(baseline.data, ensure_ascii=False))
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "_serve",
            baseline.server,
            "--data",
            str(data_path),
            "--options",
            json.dumps(options),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_python_env(),
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:  # skip whatever a library warns about before it listens
            if line.startswith("listening on "):
                break
            seen.append(line)
        else:
            raise RuntimeError(f"baseline {baseline.server} did not start:\n{''.join(seen)}")
        yield line.strip().removeprefix("listening on "), proc.pid
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def fetch(request: Request, address: str) -> bytes:
    """The raw answer to ``request``: the body for HTTP, the serialized message for gRPC."""
    p = request.params
    if request.kind == "http":
        import aiohttp

        body = p["body"].encode() if p.get("body") is not None else None
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


def verify(scenario: Scenario, hub_address: str, base_address: str) -> int:
    """Both sides answer alike, or stop: returns the size of the hub's answer."""
    hub_body = asyncio.run(fetch(scenario.hub_request, hub_address))
    base_body = asyncio.run(fetch(scenario.baseline.request, base_address))
    same = hub_body == base_body
    if not same and scenario.compare == "json":
        same = json.loads(hub_body) == json.loads(base_body)
    if not same:
        raise SystemExit(
            f"{scenario.name}: the baseline does not answer like the hub\n"
            f"  hub:      {hub_body[:400]!r}\n  baseline: {base_body[:400]!r}"
        )
    return len(hub_body)


def run_loader(targets: list[dict[str, Any]], args: argparse.Namespace) -> list[Stats]:
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


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    w = max(8, *(len(r.scenario.name) for r in results))
    head = (
        f"{'scenario':<{w}}  {'hub rps':>8} {'p50 ms':>7} {'p99 ms':>7}   "
        f"{'base rps':>8} {'p50 ms':>7} {'p99 ms':>7}   {'hub/base':>8} {'target':>7}  baseline"
    )
    print()
    print(
        f"concurrency {args.concurrency}, warm-up {args.warmup:g}s and {args.duration:g}s"
        f" measured per side, in alternating slices of about {args.slice:g}s;"
        f" REST baseline encodes with: {args.rest_baseline}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        h, b = r.hub, r.baseline
        target = f">={r.scenario.target:g}x"
        print(
            f"{r.scenario.name:<{w}}  {_f(h.rps, '8.0f')} {_f(h.p50_ms, '7.2f')} "
            f"{_f(h.p99_ms, '7.2f')}   {_f(b.rps, '8.0f')} {_f(b.p50_ms, '7.2f')} "
            f"{_f(b.p99_ms, '7.2f')}   {_f(r.ratio, '7.2f')}x {target:>7}"
            f"  {r.scenario.baseline.label}"
        )
    print()
    print("CPU while measured, in cores (1.00 = one core busy): server, loader, other processes")
    for r in results:
        ratios = r.slice_ratios
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if ratios else "-"
        print(
            f"  {r.scenario.name}: {r.response_bytes} bytes per answer; hub/base req/s per"
            f" slice {spread}, by server CPU per request {_f(r.cpu_ratio, '.2f')}x"
        )
        for label, s in (("hub", r.hub), (r.scenario.baseline.label, r.baseline)):
            print(
                f"    {label:<17} server {_f(s.server_cpu, '4.2f')}"
                f"  loader {_f(s.loader_cpu, '4.2f')}  other {_f(s.other_cpu, '4.2f')}"
                f"   server {_f(s.server_cpu_us_per_req, '5.0f')} us/req"
            )
            if s.errors:
                print(f"    ! {s.errors} failed requests, first: {s.first_error}")


def write_json(path: str, results: list[Result], args: argparse.Namespace, seconds: float) -> None:
    import importlib.metadata

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    out = {
        "config": {
            "concurrency": args.concurrency,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "slice_s": args.slice,
            "rest_baseline": args.rest_baseline,
        },
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
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
        },
        "total_seconds": round(seconds, 1),
        "scenarios": [
            {
                "name": r.scenario.name,
                "baseline": r.scenario.baseline.label,
                "target_ratio": r.scenario.target,
                "ratio": r.ratio if r.ratio == r.ratio else None,
                "slice_ratios": r.slice_ratios,
                "cpu_ratio": r.cpu_ratio,
                "response_bytes": r.response_bytes,
                "hub": asdict(r.hub),
                "baseline_stats": asdict(r.baseline),
            }
            for r in results
        ],
    }
    Path(path).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


def bench_main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    options = {"rest_baseline": args.rest_baseline}
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        hub = stack.enter_context(running_hub(workdir / "hub-data"))
        hub_pid = hub.process.proc.pid
        scenarios = [s for suite in SUITES for s in suite.setup(hub)]
        if args.only:
            wanted = [o.lower() for o in args.only]
            scenarios = [s for s in scenarios if any(o in s.name.lower() for o in wanted)]
        if not scenarios:
            raise SystemExit("no scenario matches --only")
        for i, scenario in enumerate(scenarios):
            base_address, base_pid = stack.enter_context(
                running_baseline(scenario.baseline, workdir, i, options)
            )
            hub_address = (
                hub.grpc if scenario.hub_request.kind == "grpc" else hub.url[len("http://") :]
            )
            size = verify(scenario, hub_address, base_address)
            print(
                f"{scenario.name}: hub and {scenario.baseline.label} answer alike ({size} bytes);"
                " measuring",
                flush=True,
            )
            hub_stats, base_stats = run_loader(
                [
                    {
                        "address": hub_address,
                        "pid": hub_pid,
                        "request": asdict(scenario.hub_request),
                    },
                    {
                        "address": base_address,
                        "pid": base_pid,
                        "request": asdict(scenario.baseline.request),
                    },
                ],
                args,
            )
            results.append(Result(scenario, size, hub_stats, base_stats))
    seconds = time.monotonic() - started
    print_table(results, args)
    print(f"\n{seconds:.0f}s in all")
    if args.json:
        write_json(args.json, results, args, seconds)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Hub vs bare baselines: req/s, p50, p99 (see the module docstring)."
    )
    add = parser.add_argument
    add("--duration", type=float, default=15.0, help="measured seconds per side (15)")
    add("--warmup", type=float, default=2.0, help="warm-up seconds per side (2)")
    add("--slice", type=float, default=2.5, help="length of the alternating slices (2.5)")
    add("--concurrency", "-c", type=int, default=16, help="concurrent workers (16)")
    add(
        "--only",
        action="append",
        metavar="TEXT",
        help="only scenarios whose name contains TEXT (repeatable)",
    )
    add(
        "--rest-baseline",
        choices=("orjson", "json", "bytes"),
        default="orjson",
        help="bare aiohttp encodes per request with orjson (default) or stdlib json, or once",
    )
    add("--json", metavar="PATH", help="also write the results to PATH as JSON")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.slice <= 0 or args.concurrency < 1:
        parser.error("--duration, --slice and --concurrency must be positive, --warmup >= 0")
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
