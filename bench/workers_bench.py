"""What a second worker buys: ``hub serve --workers 1`` against ``--workers 2`` on the same load.

Run ``python bench/workers_bench.py`` (``--help`` for the options; the defaults take about 95 s,
``--quick`` about 15 s for a smoke run). It needs ``wrk`` and ``h2load``
(Debian packages ``wrk`` and ``nghttp2-client``). One run:

1. starts two real hubs in subprocesses, ``hub serve --workers 1`` (one process, as by default)
   and ``hub serve --workers 2`` (a supervisor and two workers sharing the ports), each on a
   data directory of its own, and seeds each as ``bench.py`` does: an ``era`` token and 20
   integration points with realistic fields, created over REST;
2. asks both hubs each request once and stops unless both answer it, 20 items, with answers of
   the same size (the seeded remote tokens are random, of a fixed length);
3. warms every (protocol, hub) pair up, then measures REST (``GET`` the list of 20), GraphQL (the
   same list as ``bench.py``'s query) and gRPC (``Era/List`` of 20) in rounds: each round loads
   each protocol for one slice per hub, the hubs' order alternating from round to round (ABBA),
   so that whatever else runs on the machine slows both alike. Only one hub is loaded at a time;
4. prints req/s, p50/p99 latency, CPU in cores (server = the hub's whole process tree, loader,
   other processes) and server CPU per request for each protocol and hub, then the
   2-worker/1-worker ratio per protocol against the design target (>= 1.6x on two cores,
   printed, never asserted); ``--json PATH`` writes all of it;
5. stops the hubs and, when ``bus_latency.py`` is next to this script, runs it: the latency the
   cross-worker event bus adds to a subscription.

The load generators, and why: both are C programs on one thread (``-t 1``), each request costing
them a small fraction of what it costs the hub, so that as much of the two cores as possible is
left to the hub; a Python client (aiohttp, grpc.aio) spends about as much CPU per request as the
server it loads, and would take most of a core for itself.

* HTTP (REST and GraphQL): ``wrk`` with one thread and ``--connections`` keep-alive
  connections. A Lua ``done`` hook prints its totals and its whole latency histogram, so that
  slices merge into exact percentiles. Non-2xx answers and socket errors count as errors, and
  so do answers of another size: every right answer is as long as the one checked before the
  run (headers included), so the bytes wrk read must be the requests times that size; a
  GraphQL error, a 200 with a short body, shows up there.
* gRPC: ``h2load`` (nghttp2's HTTP/2 load generator) with one thread, ``--connections``
  connections and one stream each, sending the framed ``ListRequest`` as a gRPC client does
  (``POST``, ``content-type: application/grpc``, ``te: trailers``, the token in
  ``authorization``). It writes one line per request (status and latency). It does not read
  trailers, so the ``grpc-status`` of each call is not seen; instead the bytes of response data
  it received must equal the successful requests times the size of the framed answer (a refused
  call is a trailers-only response with no data), and a shortfall counts as errors.
  ghz is not packaged for Debian, PyPI or npm; a grpc.aio closed loop in several processes was
  the alternative considered, and rejected for its CPU cost.

Reading the figures: the machine has two cores and the loader runs on them too. With one worker
the hub can use about one core (gRPC's own threads a little more), so the loader and other
processes fit beside it. With two workers the hub could use both, but the loader's share (and
anything else running) comes out of them: the ratio measured here is bounded by about
(2 - loader - other) / (what one worker used). Server CPU per request shows whether a second
worker costs anything per request (ideally the same); the projection "on two free cores" is two
cores over the one worker's cores (at least one), times the one-worker/two-worker CPU per
request: the ratio the hub would reach with a loader on a machine of its own. ``other`` is CPU
that neither the hub under load nor the loader used: other processes on the machine, including
the idle hub. Other processes cost the one-worker hub nothing (they take the core it leaves) and
the two-worker hub their whole share, so the ratio is also printed over the quiet rounds only
(other processes under ``QUIET`` cores in both slices), with how many rounds that is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from answers import fetch
from bench_processes import ROOT
from bench_report import environment, fmt
from cpu_usage import cpu_by_pid, machine_busy
from era_suite import ERA_LIMIT, era_setup
from hub_handle import HubHandle, stopped_at_exit
from scenario_model import Request, grpc_call

sys.path.insert(0, str(ROOT))

from tests.hubproc import ADMIN_TOKEN, HubProcess

PROTOCOLS = ("REST", "GraphQL", "gRPC")
WORKERS = (1, 2)
TARGET = 1.6  # design target for 2-worker/1-worker req/s on two cores: printed, never asserted
QUIET = 0.15  # cores of other processes under which a round counts as quiet
TOOLS = {"wrk": "wrk", "h2load": "nghttp2-client"}  # command: Debian package

WRK_SCRIPT = """\
wrk.method = {method}
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  local parts = {{}}
  for i = 1, #latency do
    local value, count = latency(i)
    parts[#parts + 1] = string.format("%d:%d", value, count)
  end
  io.write(string.format("WRK %d %d %d %d %d %s\\n", summary.requests, summary.duration,
    summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status, table.concat(parts, ",")))
end
"""


# ---------------------------------------------------------------------------------------------
# One protocol's load on one hub
# ---------------------------------------------------------------------------------------------


def lua_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal (no escapes inside)."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


@dataclass
class Load:
    """How the loader sends one scenario's request to one hub: ``command`` lacks the duration
    (``-d``/``-D`` seconds, appended per slice). ``answer`` is the size of every right answer as
    the tool counts it: the whole HTTP answer for wrk, the framed message for h2load."""

    tool: str
    command: list[str]
    answer: int
    log: Path | None = None


def http_load(protocol: str, request: Request, url: str, workdir: Path, conns: int) -> Load:
    p = request.params
    headers = "\n".join(
        f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in p["headers"].items()
    )
    script = workdir / f"{protocol}-{url.rsplit(':', 1)[1]}.lua"
    script.write_text(
        WRK_SCRIPT.format(
            method=lua_string(p["method"]),
            body=lua_string(p["body"]) if p.get("body") is not None else "nil",
            headers=headers,
        )
    )
    command = ["wrk", "-t1", f"-c{conns}", "--timeout", "10s", "-s", str(script), url + p["path"]]
    return Load("wrk", command, http_answer_size(url, p))


def http_answer_size(url: str, params: dict[str, Any]) -> int:
    """The bytes of one whole answer (status line, headers, body) to the request wrk sends:
    wrk counts what it reads, so every right answer adds exactly this many."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    body = (params.get("body") or "").encode()
    head = [f"{params['method']} {params['path']} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{name}: {value}" for name, value in params["headers"].items()]
    if body:
        head.append(f"Content-Length: {len(body)}")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall("\r\n".join([*head, "", ""]).encode() + body)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        headers, _, rest = received.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", headers)
        if length is None:
            raise SystemExit(f"{url}{params['path']}: the answer has no Content-Length")
        while len(rest) < int(length.group(1)):
            rest += sock.recv(65536)
    return len(headers) + 4 + int(length.group(1))


def grpc_load(request: Request, address: str, answer: int, workdir: Path, conns: int) -> Load:
    p = request.params
    path, message = grpc_call(p)
    body = message.SerializeToString()
    frame = workdir / f"grpc-{address.rsplit(':', 1)[1]}.bin"
    frame.write_bytes(b"\0" + struct.pack(">I", len(body)) + body)
    headers = [("content-type", "application/grpc"), ("te", "trailers"), *p.get("metadata", ())]
    log = frame.with_suffix(".log")
    command = ["h2load", "-t1", f"-c{conns}", "-m1", "-d", str(frame), f"--log-file={log}"]
    command += [x for name, value in headers for x in ("-H", f"{name}: {value}")]
    return Load("h2load", [*command, f"http://{address}{path}"], answer + 5, log)


@dataclass
class Measured:
    """What one hub did under one protocol, over all its measured slices."""

    requests: int = 0
    errors: int = 0
    first_error: str | None = None
    seconds: float = 0.0  # as the loader measured them
    wall: float = 0.0  # the loader's whole runs
    server_cpu: float = 0.0
    loader_cpu: float = 0.0
    machine_cpu: float = 0.0
    by_process: dict[str, float] = field(default_factory=dict)  # CPU s per pid, "main" = root
    latency_us: Counter[int] = field(default_factory=Counter)  # microseconds -> requests
    slice_rps: list[float] = field(default_factory=list)
    slice_other: list[float] = field(default_factory=list)  # cores of other processes

    def percentile_ms(self, q: float) -> float:
        total = sum(self.latency_us.values())
        if not total:
            return float("nan")
        rank, seen = q * total, 0
        for value in sorted(self.latency_us):
            seen += self.latency_us[value]
            if seen >= rank:
                return value / 1000
        return max(self.latency_us) / 1000

    def summary(self) -> dict[str, Any]:
        secs, wall = self.seconds or float("nan"), self.wall or float("nan")
        other = max(0.0, self.machine_cpu - self.server_cpu - self.loader_cpu)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "first_error": self.first_error,
            "seconds": round(self.seconds, 3),
            "rps": self.requests / secs,
            "p50_ms": self.percentile_ms(0.50),
            "p99_ms": self.percentile_ms(0.99),
            "server_cores": self.server_cpu / wall,
            "loader_cores": self.loader_cpu / wall,
            "other_cores": other / wall,
            "server_us_per_req": self.server_cpu / self.requests * 1e6 if self.requests else None,
            "process_cores": {k: v / wall for k, v in sorted(self.by_process.items())},
            "slice_rps": self.slice_rps,
            "slice_other_cores": self.slice_other,
        }


def run_tool(load: Load, seconds: int) -> tuple[int, float, int, str | None, Counter[int], float]:
    """One run of the loader: (requests, duration s, errors, first error, latency histogram,
    the loader's CPU seconds)."""
    flag = "-d" if load.tool == "wrk" else "-D"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [*load.command, flag, str(seconds)], capture_output=True, text=True, timeout=seconds + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise RuntimeError(f"{load.tool} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    parse = parse_wrk if load.tool == "wrk" else parse_h2load
    return (*parse(done.stdout, load), cpu)


def parse_wrk(out: str, load: Load) -> tuple[int, float, int, str | None, Counter[int]]:
    """wrk counts a 200 with a GraphQL error as a success: the bytes it read tell them apart,
    an error being shorter than the checked answer."""
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no totals:\n{out[-2000:]}")
    requests, duration_us, read, socket_errors, status_errors, *rest = line.split()[1:]
    histogram: Counter[int] = Counter()
    for pair in rest[0].split(",") if rest else []:
        value, count = pair.split(":")
        histogram[int(value)] += int(count)
    answered, non_2xx = int(requests) - int(status_errors), int(status_errors)
    deficit = abs(int(requests) * load.answer - int(read))
    # each answer other than the checked one differs from it by less than its size
    other = 0 if non_2xx or not deficit else min(answered, -(-deficit // load.answer))
    errors = int(socket_errors) + non_2xx + other
    first = None
    if errors:
        first = f"{non_2xx} non-2xx, {socket_errors} socket errors, {other} other answers"
    return answered - other, int(duration_us) / 1e6, errors, first, histogram


def parse_h2load(out: str, load: Load) -> tuple[int, float, int, str | None, Counter[int]]:
    def numbers(prefix: str) -> list[str]:
        line = next((x for x in out.splitlines() if x.startswith(prefix)), None)
        if line is None:
            raise RuntimeError(f"h2load printed no {prefix!r} line:\n{out[-2000:]}")
        return line.split()

    finished = numbers("finished in")[2]  # "4.01s,"
    seconds = float(finished.rstrip(",").removesuffix("ms").removesuffix("s"))
    if finished.rstrip(",").endswith("ms"):
        seconds /= 1000
    counts = numbers("requests:")  # requests: N total, N started, N done, N succeeded, N failed
    succeeded, failed = int(counts[7]), int(counts[9]) + int(counts[11]) + int(counts[13])
    data = int(numbers("traffic:")[-2].strip("()"))  # ... 41.80MB (43831756) data
    answered = data // load.answer
    refused = max(0, succeeded - answered)  # a refused call has no data: trailers only
    errors = failed + refused
    first = f"{failed} failed, {refused} answered without a message" if errors else None
    histogram: Counter[int] = Counter()
    assert load.log is not None
    for row in load.log.read_text().splitlines():
        _start, status, elapsed = row.split("\t")
        if status == "200":
            histogram[int(elapsed)] += 1
    return succeeded - refused, seconds, errors, first, histogram


def measure(load: Load, seconds: int, pid: int, into: Measured) -> None:
    """One slice of load on one hub, added to ``into``. Requests per second are over the
    loader's own measured time; CPU figures over the wall time of its whole run."""
    cpu0, machine0, wall0 = cpu_by_pid([pid]), machine_busy() or 0.0, time.monotonic()
    requests, elapsed, errors, first, histogram, loader = run_tool(load, seconds)
    cpu1, machine1, wall1 = cpu_by_pid([pid]), machine_busy() or 0.0, time.monotonic()
    spent = {key: value - cpu0.get(key, 0.0) for key, value in cpu1.items()}
    server, machine, wall = sum(spent.values()), machine1 - machine0, wall1 - wall0
    into.requests += requests
    into.errors += errors
    into.first_error = into.first_error or first
    into.seconds += elapsed
    into.wall += wall
    into.server_cpu += server
    into.loader_cpu += loader
    into.machine_cpu += machine
    into.latency_us.update(histogram)
    into.slice_rps.append(requests / elapsed if elapsed else float("nan"))
    into.slice_other.append(max(0.0, machine - server - loader) / wall)
    for key, value in spent.items():
        name = "main" if key == pid else str(key)
        into.by_process[name] = into.by_process.get(name, 0.0) + value


# ---------------------------------------------------------------------------------------------
# The hubs
# ---------------------------------------------------------------------------------------------


@dataclass
class Hub:
    workers: int
    process: HubProcess
    loads: dict[str, Load]
    answer_bytes: dict[str, int]  # per protocol: the body, or the serialized message

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid


@contextlib.contextmanager
def running_hub(workers: int, workdir: Path, conns: int) -> Iterator[Hub]:
    """``hub serve --workers N`` on a data directory of its own, seeded, with every request
    answered once (20 channels) before any clock starts; stopped at exit."""
    process = HubProcess(workdir / f"data-{workers}", args=["--workers", str(workers)])
    with stopped_at_exit(process.start(timeout=90), f"the {workers}-worker hub"):
        handle = HubHandle(process.url, process.grpc, ADMIN_TOKEN, process)
        requests = dict(zip(PROTOCOLS, (s.hub_request for s in era_setup(handle)), strict=True))
        sizes = {protocol: answered(handle, protocol, r) for protocol, r in requests.items()}
        loads = {
            "REST": http_load("REST", requests["REST"], process.url, workdir, conns),
            "GraphQL": http_load("GraphQL", requests["GraphQL"], process.url, workdir, conns),
            "gRPC": grpc_load(requests["gRPC"], process.grpc, sizes["gRPC"], workdir, conns),
        }
        yield Hub(workers, process, loads, sizes)


def answered(hub: HubHandle, protocol: str, request: Request) -> int:
    """The size of the hub's answer to ``request``, which must list the 20 channels."""
    address = hub.grpc if request.kind == "grpc" else hub.url.removeprefix("http://")
    raw = asyncio.run(fetch(request, address))
    if protocol == "REST":
        count = len(json.loads(raw))
    elif protocol == "GraphQL":
        count = len(json.loads(raw)["data"]["era"]["integrationPoints"]["edges"])
    else:
        count = raw.count(b"/era/api/v2/callback")  # each channel has one callback URL
    if count != ERA_LIMIT:
        raise SystemExit(f"{protocol}: expected {ERA_LIMIT} channels, the hub sent {count}")
    return len(raw)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def run_rounds(hubs: list[Hub], args: argparse.Namespace) -> dict[tuple[str, int], Measured]:
    """Warm every pair up, then rounds of one slice per protocol and hub, ABBA."""
    if args.warmup:
        for protocol in PROTOCOLS:
            for hub in hubs:
                run_tool(hub.loads[protocol], args.warmup)
    results = {(p, hub.workers): Measured() for p in PROTOCOLS for hub in hubs}
    rounds = max(1, round(args.duration / args.slice))
    length = max(1, round(args.duration / rounds))
    for number in range(rounds):
        order = hubs if number % 2 == 0 else hubs[::-1]
        for protocol in PROTOCOLS:
            for hub in order:
                measure(hub.loads[protocol], length, hub.pid, results[protocol, hub.workers])
        print(f"round {number + 1}/{rounds} done", flush=True)
    return results


@dataclass
class Comparison:
    protocol: str
    one: dict[str, Any]
    two: dict[str, Any]

    @property
    def ratio(self) -> float:
        return self.two["rps"] / self.one["rps"] if self.one["rps"] else float("nan")

    @property
    def round_ratios(self) -> list[float]:
        pairs = zip(self.two["slice_rps"], self.one["slice_rps"], strict=False)
        return [two / one for two, one in pairs if one]

    def quiet_rounds(self) -> list[int]:
        """The rounds in which other processes used less than QUIET cores during both slices."""
        others = zip(self.one["slice_other_cores"], self.two["slice_other_cores"], strict=False)
        return [i for i, pair in enumerate(others) if max(pair) < QUIET]

    @property
    def quiet_ratio(self) -> float | None:
        """The ratio over the quiet rounds only (equal slices: the mean of their req/s)."""
        rounds = self.quiet_rounds()
        if not rounds:
            return None
        two = sum(self.two["slice_rps"][i] for i in rounds)
        one = sum(self.one["slice_rps"][i] for i in rounds)
        return two / one if one else None

    @property
    def cores(self) -> float:
        """How many times the cores one worker used the two workers got."""
        one = self.one["server_cores"]
        return self.two["server_cores"] / one if one else float("nan")

    @property
    def cpu_per_request(self) -> float | None:
        """One worker's server CPU per request over two workers': 1.0 = a second worker costs
        nothing per request."""
        one, two = self.one["server_us_per_req"], self.two["server_us_per_req"]
        return one / two if one and two else None

    @property
    def projected(self) -> float | None:
        """The ratio with both cores for the hub (the loader elsewhere)."""
        per_request = self.cpu_per_request
        return 2.0 / max(1.0, self.one["server_cores"]) * per_request if per_request else None


def hub_processes(cores: dict[str, float]) -> str:
    """ "0.98" for one process; "0.81 + 0.79, supervisor 0.01" for a supervisor's workers."""
    main = cores.get("main", 0.0)
    workers = sorted((v for k, v in cores.items() if k != "main" and v >= 0.005), reverse=True)
    if not workers:
        return f"{main:.2f}"
    return " + ".join(f"{v:.2f}" for v in workers) + f", supervisor {main:.2f}"


def print_report(comparisons: list[Comparison], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.connections} connections, one loader thread (wrk for HTTP, h2load for gRPC);"
        f" {args.warmup}s warm-up, then {args.duration:g}s per hub and protocol in alternating"
        f" slices of about {args.slice:g}s; {os.cpu_count()} CPUs shared by hub and loader"
    )
    head = (
        f"{'protocol':<8} {'workers':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}   "
        f"{'server':>6} {'loader':>6} {'other':>6}  {'us/req':>6}  hub processes (cores)"
    )
    print(head)
    print("-" * len(head))
    for c in comparisons:
        for workers, s in ((1, c.one), (2, c.two)):
            processes = hub_processes(s["process_cores"])
            print(
                f"{c.protocol:<8} {workers:>7} {fmt(s['rps'], '7.0f')} {fmt(s['p50_ms'], '7.2f')}"
                f" {fmt(s['p99_ms'], '7.2f')}   {fmt(s['server_cores'], '6.2f')}"
                f" {fmt(s['loader_cores'], '6.2f')} {fmt(s['other_cores'], '6.2f')}"
                f"  {fmt(s['server_us_per_req'], '6.0f')}  {processes}"
            )
            if s["errors"]:
                print(f"  ! {s['errors']} failed requests: {s['first_error']}")
    print()
    print(f"2 workers / 1 worker (design target >= {TARGET:g}x on two cores; never asserted):")
    for c in comparisons:
        rounds = c.round_ratios
        spread = f"{min(rounds):.2f}-{max(rounds):.2f}x" if rounds else "-"
        print(
            f"  {c.protocol:<8} {fmt(c.ratio, '.2f')}x (per round {spread}): server cores"
            f" {fmt(c.cores, '.2f')}x times CPU per request 1w/2w {fmt(c.cpu_per_request, '.2f')};"
            f" projected on two free cores {fmt(c.projected, '.2f')}x"
        )
        quiet = c.quiet_rounds()
        print(
            f"           in the {len(quiet)} of {len(rounds)} rounds when other processes used"
            f" < {QUIET:g} cores: {fmt(c.quiet_ratio, '.2f')}{'x' if c.quiet_ratio else ''}"
        )


def bus_latency(quick: bool) -> list[str] | None:
    """The cross-worker event bus's added latency, by bench/bus_latency.py when it exists."""
    script = Path(__file__).resolve().parent / "bus_latency.py"
    if not script.exists():
        print("\nevent bus latency: bench/bus_latency.py is not there; skipped")
        return None
    events = ["--events", "200"] if quick else []
    done = subprocess.run(
        [sys.executable, str(script), *events], capture_output=True, text=True, timeout=300
    )
    lines = (done.stdout + (done.stderr if done.returncode else "")).strip().splitlines()
    print("\nevent bus across workers (bench/bus_latency.py):")
    for line in lines[-12:]:
        print(f"  {line}")
    return lines


def bench_main(args: argparse.Namespace) -> int:
    missing = [
        f"{tool} (Debian: {package})" for tool, package in TOOLS.items() if not shutil.which(tool)
    ]
    if missing:
        print(f"workers_bench: needs {', '.join(missing)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="hub-workers-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        hubs = [stack.enter_context(running_hub(n, workdir, args.connections)) for n in WORKERS]
        sizes = hubs[0].answer_bytes
        if any(hub.answer_bytes != sizes for hub in hubs):
            raise SystemExit(f"the hubs' answers differ in size: {[h.answer_bytes for h in hubs]}")
        shown = ", ".join(f"{p} {n} bytes" for p, n in sizes.items())
        print(f"both hubs answer with the 20 channels ({shown}); measuring", flush=True)
        results = run_rounds(hubs, args)
    comparisons = [
        Comparison(p, results[p, 1].summary(), results[p, 2].summary()) for p in PROTOCOLS
    ]
    print_report(comparisons, args)
    bus = bus_latency(args.quick)
    seconds = time.monotonic() - started
    print(f"\n{seconds:.0f}s in all")
    if args.json:
        report = {
            "config": {k: v for k, v in vars(args).items() if k != "json"},
            "environment": environment({"wrk": ["wrk", "-v"], "h2load": ["h2load", "--version"]}),
            "target_ratio": TARGET,
            "total_seconds": round(seconds, 1),
            "answer_bytes": sizes,
            "protocols": [
                {
                    "protocol": c.protocol,
                    "ratio": c.ratio,
                    "round_ratios": c.round_ratios,
                    "server_cores_ratio": c.cores,
                    "quiet_rounds": c.quiet_rounds(),
                    "quiet_ratio": c.quiet_ratio,
                    "cpu_per_request_ratio": c.cpu_per_request,
                    "projected_ratio": c.projected,
                    "workers_1": c.one,
                    "workers_2": c.two,
                }
                for c in comparisons
            ],
            "bus_latency": bus,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="hub serve --workers 1 vs --workers 2: req/s, p50, p99, CPU (see the docstring)"
    )
    add = parser.add_argument
    add("--duration", type=float, default=12.0, help="measured seconds per hub and protocol (12)")
    add("--slice", type=float, default=2.0, help="seconds per slice, whole seconds (2)")
    add("--warmup", type=int, default=1, help="warm-up seconds per hub and protocol (1)")
    add("--connections", "-c", type=int, default=32, help="loader connections (32)")
    add("--quick", action="store_true", help="a smoke run: 1 s per side, 8 connections")
    add("--json", metavar="PATH", help="also write the results to PATH as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.slice, args.warmup, args.connections = 1.0, 1.0, 0, 8
    if args.duration < 1 or args.slice < 1 or args.warmup < 0 or args.connections < 1:
        parser.error("--duration and --slice must be at least 1, --warmup >= 0, -c >= 1")
    return args


if __name__ == "__main__":
    sys.exit(bench_main(parse_args(sys.argv[1:])))
