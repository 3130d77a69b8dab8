"""What ``bench.py`` prints and writes: the table of medians (one line a row, the skipped rows
with their reason), each row's bytes, per-round ratios and cores, and ``--json``'s report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import node_peers
import wrk_load
from rounds import Row, Side
from scenario_model import Scenario


def fmt(value: float | None, spec: str) -> str:
    """A figure, or "-" where there is none (None, NaN)."""
    return "-" if value is None or value != value else format(value, spec)


def target_text(scenario: Scenario) -> str:
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
            f"{r.scenario.name:<{w}}  {fmt(h.median('rps'), '8.0f')} "
            f"{fmt(h.median('cpu_us'), '7.0f')} {fmt(h.median('p50_ms'), '7.2f')} "
            f"{fmt(h.median('p99_ms'), '7.2f')}  {fmt(b.median('rps'), '8.0f')} "
            f"{fmt(b.median('cpu_us'), '7.0f')} {fmt(b.median('p50_ms'), '7.2f')} "
            f"{fmt(b.median('p99_ms'), '7.2f')}  {fmt(r.ratio, '6.2f')}x{flag}"
            f"{'cpu' if r.scenario.metric == 'cpu' else 'rps':<3} {target_text(r.scenario):>7}"
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
                f"    {label:<17} server {fmt(s.server_cores, '4.2f')}"
                f"  loader {fmt(s.loader_cores, '4.2f')}  other {fmt(s.other_cores, '4.2f')}"
            )
            if s.errors:
                kinds = ", ".join(f"{k} {v}" for k, v in s.error_kinds.items())
                first = f"; first: {s.first_error}" if s.first_error else ""
                print(f"    ! {label}: {s.errors} failed requests ({kinds}){first}")


def side_json(side: Side) -> dict[str, Any]:
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


def environment(tools: dict[str, list[str]]) -> dict[str, Any]:
    """Python, the platform, the CPUs, and the first line each tool prints for its version
    (None for a tool that is not installed)."""

    def first_line(command: list[str]) -> str | None:
        if not shutil.which(command[0]):
            return None
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return (done.stdout or done.stderr).strip().split("\n", 1)[0]

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        **{name: first_line(command) for name, command in tools.items()},
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
            **environment({"wrk": [wrk_load.wrk_path() or "wrk", "-v"]}),
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
                "target": target_text(r.scenario),
                "ratio": r.ratio,
                "met": r.met,
                "round_ratios": r.round_ratios,
                "cpu_equivalent": r.cpu_equivalent,
                "response_bytes": r.response_bytes,
                "hub": side_json(r.hub),
                "baseline_side": side_json(r.baseline),
            }
            for r in rows
        ],
        "skipped": [{"name": name, "reason": reason} for name, reason in skipped],
    }
    Path(path).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
