"""What a second hub on one PostgreSQL buys, and what PostgreSQL costs against SQLite.

Run ``python bench/scale_bench.py`` (``--help`` for the options; the defaults take about two
minutes, ``--quick`` about a minute for a smoke run). It needs ``wrk`` (Debian package ``wrk``)
and PostgreSQL's server binaries (Debian's ``postgresql``), which it runs itself. One run:

1. starts a throwaway PostgreSQL (:class:`hub.testing.postgres.TemporaryPostgres`: ``initdb`` in
   a temporary directory, a free loopback port, ``fsync`` and ``synchronous_commit`` off, as a
   test server is run) and three set-ups of real hubs, each ``hub serve`` in a process of its
   own with a data directory of its own:

   - ``SQLite``: one hub, its state in its data directory (the default);
   - ``PG x1``: one hub on PostgreSQL database ``bench1``;
   - ``PG x2``: two hubs on PostgreSQL database ``bench2``, sharing all their state;

2. seeds each set-up as ``bench.py`` does (an ``era`` token and 20 realistic integration
   points, over REST) and checks every hub answers the list with those 20;
3. loads each set-up with ``wrk`` (one thread, ``--connections`` keep-alive connections; on
   ``PG x2`` two ``wrk`` at once, one per hub, with half the connections each, as a load
   balancer would spread them), in two scenarios:

   - ``REST list``: ``GET`` the era list of 20 (reads: the credential look-up and one query);
   - ``REST create``: ``POST`` a new integration point with a code of its own per request
     (a write: a transaction under the schema's writer lock on PostgreSQL, ``BEGIN
     IMMEDIATE`` on SQLite);

   in rounds: each round loads every (scenario, set-up) pair for one slice, the set-ups' order
   rotating from round to round, so whatever else runs on the machine slows all alike. Only
   one set-up is loaded at a time. Any non-2xx answer or socket error counts as an error;
4. prints req/s and the worst p99 per pair, then the ratios measured in this run:
   ``PG x2 / PG x1`` and ``PG x1 / SQLite`` per scenario (printed, never asserted);
   ``--json PATH`` writes all of it.

Reading the figures: everything shares the machine's cores: the hubs, PostgreSQL's backends
(one per hub connection in use) and the loader. On a machine of two cores a second hub can add
at most what the first left idle, and PostgreSQL's backends take their share of the same
cores; on separate machines (hubs, database, clients) the second hub adds a whole machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from era_suite import ERA_LIMIT, ERA_PATH, era_seed  # noqa: E402

from hub.testing.postgres import TemporaryPostgres  # noqa: E402
from tests.hubproc import HubProcess  # noqa: E402

SETUPS = ("SQLite", "PG x1", "PG x2")
SCENARIOS = ("REST list", "REST create")
# a create's body: the code is filled in per request by wrk's Lua (``%s``)
CREATE_BODY = json.dumps(
    {
        "code": "%s",
        "type": "webshop",
        "url": "https://webshop.bud.example.hu/era/api/v2/callback",
        "recv_svcscriptcode": "ERA_RECV_WEBSHOP_ORDER",
        "opts": {"title": "Budapest webshop", "comment": "terheléses próba", "issync": True},
    },
    ensure_ascii=False,
)
WRK_SCRIPT = """\
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
local template = {body}
local counter = 0
if template ~= nil then
  request = function()
    counter = counter + 1
    return wrk.format(nil, nil, nil, string.format(template, "{prefix}" .. counter))
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status, latency:percentile(50),
    latency:percentile(99)))
end
"""
WRK_LINE = re.compile(r"^WRK (\d+) (\d+) (\d+) (\d+) (\d+)$", re.M)


@dataclass
class Setup:
    """Hubs serving one state; ``token`` is an era token every one of them accepts."""

    name: str
    hubs: list[HubProcess]
    token: str = ""


@dataclass
class Measured:
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    p99_ms: float = 0.0  # the worst slice's p99 (of the slower hub on PG x2)
    slices: list[float] = field(default_factory=list)  # req/s of each slice

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def call(hub: HubProcess, method: str, path: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(hub.url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def seed(setup: Setup) -> None:
    """An era token and 20 channels through the first hub; every hub must list them."""
    setup.token = setup.hubs[0].creds("era")["token"]
    for i in range(ERA_LIMIT):
        call(setup.hubs[0], "POST", ERA_PATH, setup.token, era_seed(i))
    for hub in setup.hubs:
        listed = call(hub, "GET", f"{ERA_PATH}?limit={ERA_LIMIT}", setup.token)
        if len(listed) != ERA_LIMIT:
            raise SystemExit(f"{setup.name}: {hub.url} lists {len(listed)} channels, not 20")


def wrk_script(workdir: Path, scenario: str, token: str, prefix: str) -> Path:
    create = scenario == "REST create"
    body = "[[" + CREATE_BODY + "]]" if create else "nil"
    script = workdir / f"{prefix}.lua"
    script.write_text(
        WRK_SCRIPT.format(
            method="POST" if create else "GET", token=token, body=body, prefix=prefix
        ),
        encoding="utf-8",
    )
    return script


def load(
    setup: Setup, scenario: str, seconds: float, connections: int, workdir: Path, tag: str
) -> tuple[int, float, int, float]:
    """One slice: every hub of the set-up loaded at once, ``connections`` spread over them.
    (requests, seconds, errors, worst p99 in ms)."""
    path = ERA_PATH if scenario == "REST create" else f"{ERA_PATH}?limit={ERA_LIMIT}"
    each = max(1, connections // len(setup.hubs))
    runs = []
    for i, hub in enumerate(setup.hubs):
        script = wrk_script(workdir, scenario, setup.token, f"{tag}h{i}n")
        command = ["wrk", "-t1", f"-c{each}", f"-d{seconds:g}s", "--timeout", "10s"]
        command += ["-s", str(script), hub.url + path]
        runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    requests, duration, errors, p99 = 0, 0.0, 0, 0.0
    for run in runs:
        out, _ = run.communicate(timeout=seconds + 60)
        match = WRK_LINE.search(out)
        if match is None:
            raise SystemExit(f"wrk printed no totals:\n{out}")
        done, micros, failed, _, worst = (int(x) for x in match.groups())
        requests += done
        duration = max(duration, micros / 1e6)
        errors += failed
        p99 = max(p99, worst / 1000)
    return requests, duration, errors, p99


def start_setups(postgres: TemporaryPostgres, root: Path) -> list[Setup]:
    quiet = {"HUB_LOG_LEVEL": "WARNING", "HUB_DATABASE_URL": ""}
    sqlite = Setup("SQLite", [HubProcess(root / "sqlite", quiet).start()])
    one_url = postgres.create_database("bench1")
    two_url = postgres.create_database("bench2")
    pg_one = Setup("PG x1", [HubProcess(root / "pg1", {**quiet, "HUB_DATABASE_URL": one_url})])
    pg_two = Setup(
        "PG x2",
        [HubProcess(root / f"pg2-{i}", {**quiet, "HUB_DATABASE_URL": two_url}) for i in (0, 1)],
    )
    for hub in [*pg_one.hubs, *pg_two.hubs]:
        hub.start(timeout=60)
    return [sqlite, pg_one, pg_two]


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.pop("HUB_DATABASE_URL", None)  # the SQLite set-up must not inherit one
    results = {(scenario, s): Measured() for scenario in SCENARIOS for s in SETUPS}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp, TemporaryPostgres() as pg:
        root = Path(tmp)
        setups = start_setups(pg, root)
        try:
            for setup in setups:
                seed(setup)
            for scenario in SCENARIOS:  # warm-up: connections, caches, the planner
                for setup in setups:
                    load(setup, scenario, args.warmup, args.connections, root, "w")
            for round_no in range(args.rounds):
                order = setups[round_no % 3 :] + setups[: round_no % 3]
                for scenario in SCENARIOS:
                    for setup in order:
                        tag = f"r{round_no}{SETUPS.index(setup.name)}"
                        done, seconds, errors, p99 = load(
                            setup, scenario, args.slice, args.connections, root, tag
                        )
                        measured = results[(scenario, setup.name)]
                        measured.requests += done
                        measured.seconds += seconds
                        measured.errors += errors
                        measured.p99_ms = max(measured.p99_ms, p99)
                        measured.slices.append(done / seconds if seconds else 0.0)
        finally:
            for setup in setups:
                for hub in setup.hubs:
                    hub.stop()
    return {
        "seconds": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load": [round(x, 2) for x in os.getloadavg()],  # the machine's 1, 5, 15 min load
        },
        "options": vars(args),
        "results": {
            f"{scenario} / {setup}": {**asdict(m), "rate": m.rate}
            for (scenario, setup), m in results.items()
        },
        "ratios": {
            scenario: {
                "PG x2 / PG x1": ratio(results, scenario, "PG x2", "PG x1"),
                "PG x1 / SQLite": ratio(results, scenario, "PG x1", "SQLite"),
            }
            for scenario in SCENARIOS
        },
    }


def ratio(results: dict[tuple[str, str], Measured], scenario: str, top: str, bottom: str) -> float:
    under = results[(scenario, bottom)].rate
    return results[(scenario, top)].rate / under if under else 0.0


def report(summary: dict[str, Any]) -> None:
    print(f"{'scenario':<13} {'set-up':<7} {'req/s':>8} {'p99 ms':>8} {'errors':>7}  slices req/s")
    for name, m in summary["results"].items():
        scenario, setup = name.split(" / ")
        slices = " ".join(f"{rate:.0f}" for rate in m["slices"])
        print(
            f"{scenario:<13} {setup:<7} {m['rate']:>8.0f} {m['p99_ms']:>8.1f}"
            f" {m['errors']:>7}  {slices}"
        )
    print()
    for scenario, ratios in summary["ratios"].items():
        shown = ", ".join(f"{k} = {v:.2f}x" for k, v in ratios.items())
        print(f"{scenario}: {shown}")
    machine = summary["machine"]
    load = ", ".join(f"{x:g}" for x in machine["load"])
    print(f"\n{summary['seconds']} s on {machine['cpus']} CPUs (load average at the end: {load})")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--slice", type=float, default=3, help="seconds per slice (default 3)")
    parser.add_argument("--warmup", type=float, default=1, help="seconds per warm-up (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="in all (default 16)")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s slices")
    parser.add_argument("--json", metavar="PATH", help="write the figures there too")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.slice, args.warmup = 1, 2.0, 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if shutil.which("wrk") is None:
        raise SystemExit("scale_bench needs wrk (Debian package wrk)")
    summary = run(args)
    report(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(m["errors"] == 0 for m in summary["results"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
