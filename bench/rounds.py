"""Rounds: each row's two sides loaded one slice each per round, the order alternating (AB,
BA, ...), so that other work on the shared machine slows both alike; HTTP with wrk, gRPC with
the Python loader; medians over rounds."""

from __future__ import annotations

import argparse
import statistics
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import wrk_load
from closed_loop import run_loader
from cpu_usage import machine_busy, tree_cpu
from scenario_model import Scenario


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
    scripts: list[Path], sides: list[tuple[str, list[int]]], args: argparse.Namespace
) -> list[Side]:
    """Warm both sides up, then the rounds, with wrk (``scripts``: each side's Lua); the errors
    wrk saw are kept per kind."""
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
            lambda: tree_cpu(pids),
            machine_busy,
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
    """Both sides of a row over all rounds: HTTP with wrk, gRPC with the Python loader."""
    if scenario.hub_request.kind != "http":
        return _loader_slices(scenario, sides, args)
    scripts = []
    for n, request in enumerate((scenario.hub_request, scenario.baseline.request)):
        path = workdir / f"scenario-{index}-{n}.lua"
        path.write_text(wrk_load.lua_script(request.params))
        scripts.append(path)
    return _wrk_slices(scripts, sides, args)
