"""The hub against bare baselines and peers that serve the same answers, every figure of a row
measured in the same run.

Run ``python bench/bench.py`` (``--help`` for the options; the defaults take about five
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
new kind of server, an entry in ``BASELINE_SERVERS`` (a coroutine in a module next to this
script) or ``NODE_PEERS`` (both in ``baselines.py``). Requests are :class:`Request` objects
(``http`` or ``grpc`` with JSON parameters) so that wrk's script or the loader process can be
made from them.

Where the parts are, next to this script: ``scenario_model.py`` (scenarios, baselines,
requests), ``hub_handle.py`` (the hub under measurement), ``era_suite.py`` (the era channels
and the table's rows), ``baselines.py`` and ``bench_processes.py`` (the other sides and their
processes), ``answers.py`` (asking both sides once and comparing), ``rounds.py`` (the
alternating slices: wrk via ``wrk_load.py``, gRPC via the Python loader in
``closed_loop.py``), ``cpu_usage.py`` (CPU from /proc) and ``bench_report.py`` (the table and
``--json``). This script is the command line; it re-exports the names other scripts import
from ``bench``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import monitorozas_bench
import node_peers
import wrk_load
from answers import COMPARERS, fetch, verify
from baselines import BASELINE_SERVERS, NODE_PEERS, running_baseline, serve_main
from bench_processes import ROOT
from bench_report import print_table, write_json
from closed_loop import Result, load_main, run_loader
from cpu_usage import CLOCK_TICKS
from era_suite import (
    ERA_GRAPHQL_QUERY,
    ERA_LIMIT,
    ERA_PATH,
    ERA_ROWS,
    UNIQUE,
    era_create,
    era_seed,
    era_setup,
    era_table_setup,
)
from hub_handle import HubHandle, running_hub
from rounds import Row, measure
from scenario_model import Baseline, Request, Scenario, Suite

# what other scripts (and the performance work's) import from ``bench``
__all__ = [
    "CLOCK_TICKS",
    "COMPARERS",
    "ERA_GRAPHQL_QUERY",
    "ERA_LIMIT",
    "ERA_PATH",
    "ROOT",
    "UNIQUE",
    "Baseline",
    "HubHandle",
    "Request",
    "Result",
    "Scenario",
    "era_create",
    "era_seed",
    "era_setup",
    "fetch",
    "run_loader",
]

SUITES: list[Suite] = [
    Suite("era", era_table_setup),
    Suite("monitorozas", monitorozas_bench.setup),
]


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
