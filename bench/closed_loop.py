"""The Python loader: a closed loop of N calls in flight per target from one process and one
asyncio loop (``bench.py _load SPEC``), for gRPC, where no C load generator fits, and for the
HTTP of ``upstream_bench.py``. Every target is warmed up, then measured in alternating slices
(ABBA...), each server's CPU read from /proc around every slice."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench_processes import BENCH_SCRIPT, python_env
from cpu_usage import machine_busy, tree_cpu
from scenario_model import Scenario, grpc_call, resolve

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

    stub_class = resolve(params["stub"])
    _, request = grpc_call(params)
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

    server0, loader0, machine0 = tree_cpu(pids), time.process_time(), machine_busy()
    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = clock() - t0
    server1, loader1, machine1 = tree_cpu(pids), time.process_time(), machine_busy()
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
        [sys.executable, str(BENCH_SCRIPT), "_load", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=budget,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the loader failed:\n{done.stderr[-3000:]}")
    return [Stats(**s) for s in json.loads(done.stdout.strip().splitlines()[-1])]


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
