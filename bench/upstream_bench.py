"""Reads served from the upstream cache against the same reads in local mode, for the same data.

Run ``python bench/upstream_bench.py`` (``--help`` for the options; the defaults take about 80 s,
``--quick`` a few seconds of load). One run:

1. starts hub A (``hub serve``, only ``unspot``, local mode: it is UnSpot) on a temporary data
   dir and seeds it through its admin GraphQL mutations with ``--displays`` displays (default
   200), calendars and webhooks of mixed statuses;
2. makes an owner token on A and starts hub B (``hub serve``) in upstream mode fronting A's REST
   surface with that token and UnSpot's documented budget, ``1/30s`` per category (the full
   ``/monitoring`` request a category of its own);
3. asks A and B the same GraphQL query (displays, calendar and webhook counts) and the same
   gRPC ``GetMonitoring``, each with an owner token of its own, and stops unless they answer the
   same data (the GraphQL ``data``, the serialized gRPC message). B's first read is the one
   that fills its cache from A;
4. loads A and B with ``bench.py``'s loader (one process, N workers, warm-up, then alternating
   ABBA slices, each server's CPU per request), once per protocol;
5. prints req/s, p50/p99 and server CPU per request of each side, the ratio B/A with its design
   target (>= 1.0: printed, never asserted), and what A's REST surface received while B was
   loaded (A's ``hub_http_requests_total{plugin="unspot"}``: only B calls it) against what the
   budget allows in that time; ``--json PATH`` writes all of it.

A reads SQLite per request (the displays in order, two GROUP BY counts). B reads three cache
rows (one per category) and renders the records decoded once per content of each; what both
then do (authorize the caller, build the GraphQL result or the message) is the same code. B's
answers also carry their freshness (``extensions.upstream``, gRPC trailers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from answers import fetch
from bench_processes import ROOT
from bench_report import fmt
from closed_loop import Result, run_loader
from hub_handle import stopped_at_exit
from scenario_model import Baseline, Request, Scenario, graphql_request, grpc_request

sys.path.insert(0, str(ROOT))

from hub.upstream.settings import parse_rate
from tests.hubproc import ADMIN_TOKEN, HubProcess

BUDGET = "1/30s"  # UnSpot's documented limit, per category and token
# what B may spend it on: the three categories the reads ask for, and the full request that the
# poller sends instead when two or more are due
CATEGORIES = ("displays", "calendars", "webhooks", "monitoring")
QUERY = (
    "{ unspot { monitoring { displays { id name status }"
    " calendars { total online offline } webhooks { total online failed disabled } } } }"
)
GRPC_CATEGORIES = ["displays", "calendars", "webhooks"]
BATCH = 25  # mutations per seeding document, under the hub's alias limit
SITES = ["Budapest HQ", "Debrecen", "Szeged", "Pécs", "Győr", "Kecskemét", "Szombathely"]
ROOMS = ["Tárgyaló", "Recepció", "Étkező", "Open office", "Focus room", "Aula"]


# ---------------------------------------------------------------------------------------------
# Hub A's data
# ---------------------------------------------------------------------------------------------


def display(i: int) -> dict[str, str]:
    """A meeting-room display, about one in eight offline."""
    site, room = SITES[i % len(SITES)], ROOMS[i % len(ROOMS)]
    status = "offline" if i % 8 == 3 else "online"
    return {"name": f"{site} - {room} {i // len(SITES) + 1}.{i % 40:02d}", "status": status}


def calendar(i: int) -> dict[str, str]:
    status = "offline" if i % 11 == 5 else "online"
    return {"name": f"{SITES[i % len(SITES)]} room calendar {i + 1}", "status": status}


def webhook(i: int) -> dict[str, str]:
    status = ("online", "online", "online", "failed", "disabled")[i % 5]
    return {"url": f"https://hooks{i % 4}.example.hu/unspot/events/{i + 1}", "status": status}


def graphql(url: str, document: str, token: str) -> Any:
    body = json.dumps({"query": document}).encode()
    req = urllib.request.Request(f"{url}/graphql", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def seed(url: str, displays: int) -> dict[str, int]:
    """Displays, calendars and webhooks through A's admin mutations, ``BATCH`` a document."""
    counts = {"Display": displays, "Calendar": max(1, displays // 2), "Webhook": 24}
    makers = {"Display": display, "Calendar": calendar, "Webhook": webhook}
    for kind, count in counts.items():
        for start in range(0, count, BATCH):
            fields = " ".join(
                f"m{i}: unspotUpsert{kind}(input: {{"
                + ", ".join(f"{k}: {json.dumps(v)}" for k, v in makers[kind](i).items())
                + "}) { id }"
                for i in range(start, min(count, start + BATCH))
            )
            graphql(url, f"mutation {{ {fields} }}", ADMIN_TOKEN)
    return counts


# ---------------------------------------------------------------------------------------------
# The two hubs
# ---------------------------------------------------------------------------------------------


def running(data_dir: Path, env: dict[str, str]) -> contextlib.AbstractContextManager[HubProcess]:
    process = HubProcess(data_dir, env={"HUB_PLUGINS": "unspot", **env}).start()
    return stopped_at_exit(process, "a hub")


def metric(url: str, name: str, **labels: str) -> dict[str, float]:
    """The samples of ``name`` on a hub's ``/metrics`` whose labels include ``labels``, keyed by
    their remaining labels."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name or any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            rest = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k not in labels)
            found[rest] = found.get(rest, 0.0) + sample.value
    return found


def a_received(a: HubProcess) -> int:
    """Requests A's REST surface has answered: B is its only client."""
    return int(sum(metric(a.url, "hub_http_requests_total", plugin="unspot").values()))


def allowed(seconds: float) -> int:
    """The most requests the budget lets B send in ``seconds``: a sliding log of ``limit`` per
    ``window`` per category."""
    rate = parse_rate(BUDGET, "budget")
    return len(CATEGORIES) * rate.limit * (math.floor(seconds / rate.window) + 1)


# ---------------------------------------------------------------------------------------------
# The scenarios
# ---------------------------------------------------------------------------------------------


def monitoring_graphql(token: str) -> Request:
    return graphql_request(token, QUERY)


def monitoring_grpc(token: str) -> Request:
    stub = "hub_unspot.v1.unspot_pb2_grpc:UnspotStub"
    request = "hub_unspot.v1.unspot_pb2:GetMonitoringRequest"
    return grpc_request(token, stub, "GetMonitoring", request, {"categories": GRPC_CATEGORIES})


def same_answer(scenario: Scenario, b_address: str, a_address: str) -> int:
    """B (upstream) and A (local) give the same data, or stop: returns the size of B's answer.
    GraphQL compares ``data`` (B adds ``extensions.upstream``), gRPC the message bytes."""
    b_body = asyncio.run(fetch(scenario.hub_request, b_address))
    a_body = asyncio.run(fetch(scenario.baseline.request, a_address))
    if scenario.compare == "json":
        b_doc, a_doc = json.loads(b_body), json.loads(a_body)
        if "unspot" not in b_doc.get("extensions", {}).get("upstream", {}):
            raise SystemExit(f"{scenario.name}: B's answer has no extensions.upstream.unspot")
        same = not b_doc.get("errors") and b_doc.get("data") == a_doc.get("data")
    else:
        same = b_body == a_body
    if not same:
        raise SystemExit(
            f"{scenario.name}: upstream mode does not answer like local mode\n"
            f"  upstream (B): {b_body[:400]!r}\n  local (A):    {a_body[:400]!r}"
        )
    return len(b_body)


@dataclass
class Spent:
    """What A received from B while one scenario was loaded."""

    seconds: float
    requests: int
    allowed: int


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def print_table(results: list[tuple[Result, Spent]], args: argparse.Namespace) -> None:
    w = max(len(r.scenario.name) for r, _ in results)
    head = (
        f"{'scenario':<{w}}  {'B rps':>7} {'p50 ms':>7} {'p99 ms':>7}   "
        f"{'A rps':>7} {'p50 ms':>7} {'p99 ms':>7}   {'B/A':>6} {'target':>7}"
    )
    print()
    print(
        f"B: upstream mode, reading its cache; A: local mode, reading its SQLite. Concurrency"
        f" {args.concurrency}, warm-up {args.warmup:g}s and {args.duration:g}s measured per"
        f" side, in alternating slices of about {args.slice:g}s"
    )
    print(head)
    print("-" * len(head))
    for r, _ in results:
        b, a = r.hub, r.baseline
        target = f">={r.scenario.target:g}x"
        print(
            f"{r.scenario.name:<{w}}  {fmt(b.rps, '7.0f')} {fmt(b.p50_ms, '7.2f')} "
            f"{fmt(b.p99_ms, '7.2f')}   {fmt(a.rps, '7.0f')} {fmt(a.p50_ms, '7.2f')} "
            f"{fmt(a.p99_ms, '7.2f')}   {fmt(r.ratio, '5.2f')}x {target:>7}"
        )
    print()
    print("CPU while measured, in cores (1.00 = one core busy): server, loader, other processes")
    for r, spent in results:
        ratios = r.slice_ratios
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if ratios else "-"
        print(
            f"  {r.scenario.name}: {r.response_bytes} bytes per answer from B; B/A req/s per"
            f" slice {spread}, by server CPU per request {fmt(r.cpu_ratio, '.2f')}x"
        )
        for label, s in (("B upstream", r.hub), ("A local", r.baseline)):
            print(
                f"    {label:<11} server {fmt(s.server_cpu, '4.2f')}"
                f"  loader {fmt(s.loader_cpu, '4.2f')}  other {fmt(s.other_cpu, '4.2f')}"
                f"   server {fmt(s.server_cpu_us_per_req, '5.0f')} us/req"
            )
            if s.errors:
                print(f"    ! {s.errors} failed requests, first: {s.first_error}")
        print(
            f"    A received {spent.requests} requests from B in these {spent.seconds:.0f}s"
            f" (budget {BUDGET} per category over {len(CATEGORIES)} categories allows at most"
            f" {spent.allowed})"
        )


def write_json(
    path: str, results: list[tuple[Result, Spent]], b_counts: dict[str, Any], seconds: float
) -> None:
    out = {
        "budget": BUDGET,
        "total_seconds": round(seconds, 1),
        "b_upstream_metrics": b_counts,
        "scenarios": [
            {
                "name": r.scenario.name,
                "target_ratio": r.scenario.target,
                "ratio": r.ratio if r.ratio == r.ratio else None,
                "slice_ratios": r.slice_ratios,
                "cpu_ratio": r.cpu_ratio,
                "response_bytes": r.response_bytes,
                "upstream": asdict(r.hub),
                "local": asdict(r.baseline),
                "a_received": asdict(spent),
            }
            for r, spent in results
        ],
    }
    Path(path).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    results: list[tuple[Result, Spent]] = []
    with tempfile.TemporaryDirectory(prefix="hub-upstream-bench-") as tmp:
        workdir = Path(tmp)
        with running(workdir / "a", {}) as a:
            counts = seed(a.url, args.displays)
            vendor_token = a.creds("unspot", role="owner", name="hub B")["token"]
            env = {
                "HUB_UNSPOT_MODE": "upstream",
                "HUB_UNSPOT_UPSTREAM_URL": f"{a.url}/unspot",
                "HUB_UNSPOT_UPSTREAM_TOKEN": vendor_token,
                "HUB_UNSPOT_UPSTREAM_BUDGET": BUDGET,
            }
            with running(workdir / "b", env) as b:
                a_token = a.creds("unspot", role="owner", name="bench reader")["token"]
                b_token = b.creds("unspot", role="owner", name="bench reader")["token"]
                print(
                    f"A seeded: {counts['Display']} displays, {counts['Calendar']} calendars,"
                    f" {counts['Webhook']} webhooks; B fronts A with budget {BUDGET}",
                    flush=True,
                )
                scenarios = [
                    (
                        Scenario(
                            f"GraphQL monitoring, {counts['Display']} displays + counts",
                            monitoring_graphql(b_token),
                            Baseline("local mode", "", None, monitoring_graphql(a_token)),
                            target=1.0,
                            compare="json",
                        ),
                        b.url.removeprefix("http://"),
                        a.url.removeprefix("http://"),
                    ),
                    (
                        Scenario(
                            "gRPC Unspot/GetMonitoring, the same categories",
                            monitoring_grpc(b_token),
                            Baseline("local mode", "", None, monitoring_grpc(a_token)),
                            target=1.0,
                        ),
                        b.grpc,
                        a.grpc,
                    ),
                ]
                for scenario, b_address, a_address in scenarios:
                    size = same_answer(scenario, b_address, a_address)
                    print(f"{scenario.name}: A and B answer alike ({size} bytes); measuring")
                    before, t0 = a_received(a), time.monotonic()
                    b_stats, a_stats = run_loader(
                        [
                            {
                                "address": b_address,
                                "pid": b.proc.pid if b.proc else None,
                                "request": asdict(scenario.hub_request),
                            },
                            {
                                "address": a_address,
                                "pid": a.proc.pid if a.proc else None,
                                "request": asdict(scenario.baseline.request),
                            },
                        ],
                        args,
                    )
                    seconds = time.monotonic() - t0
                    spent = Spent(seconds, a_received(a) - before, allowed(seconds))
                    results.append((Result(scenario, size, b_stats, a_stats), spent))
                b_counts = {
                    name: metric(b.url, name, source="unspot")
                    for name in ("hub_upstream_requests_total", "hub_upstream_cache_total")
                }
                a_total = a_received(a)
    seconds = time.monotonic() - started
    print_table(results, args)
    requests = b_counts["hub_upstream_requests_total"]
    cache = b_counts["hub_upstream_cache_total"]
    print(
        "\nB's /metrics over the whole run: upstream requests "
        + (", ".join(f"{k} {v:g}" for k, v in sorted(requests.items())) or "none")
        + "; cache reads "
        + ", ".join(f"{k} {v:g}" for k, v in sorted(cache.items()))
        + f"; A's REST surface answered {a_total} requests in all"
    )
    print(f"\n{seconds:.0f}s in all")
    if args.json:
        write_json(args.json, results, {**b_counts, "a_received_in_all": a_total}, seconds)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Upstream mode (cache) vs local mode: req/s, p50, p99 (see the docstring)."
    )
    add = parser.add_argument
    add("--duration", type=float, default=15.0, help="measured seconds per side (15)")
    add("--warmup", type=float, default=2.0, help="warm-up seconds per side (2)")
    add("--slice", type=float, default=2.5, help="length of the alternating slices (2.5)")
    add("--concurrency", "-c", type=int, default=16, help="concurrent workers (16)")
    add("--displays", type=int, default=200, help="displays seeded on A (200)")
    add("--quick", action="store_true", help="a smoke run: 1 s per side, 4 workers")
    add("--json", metavar="PATH", help="also write the results to PATH as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.slice, args.concurrency = 1.0, 0.3, 0.5, 4
    if args.duration <= 0 or args.warmup < 0 or args.slice <= 0 or args.concurrency < 1:
        parser.error("--duration, --slice and --concurrency must be positive, --warmup >= 0")
    if args.displays < 1:
        parser.error("--displays must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(run(parse_args(sys.argv[1:])))
