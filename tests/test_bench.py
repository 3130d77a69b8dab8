"""Smoke test of bench/bench.py: a very short run completes and reports the rows it ran.

No performance assertion: the figures of a one-second run on a shared machine mean nothing.
The Node peers (Mesh, yoga) are left out (``--no-node``): they need npm, and the rows that
compare with them are then listed as skipped."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
# one row of each kind: the hub against itself by CPU (rows compared), REST against a bare
# server (bytes compared), gRPC from the Python loader, a create with a fresh code per request
SCENARIOS = (
    "GraphQL/REST CPU per request, 20 era",
    "REST list 20 era",
    "gRPC Era/List",
    "REST create era",
    "vs yoga",
)
ROW = r"^{name}.*?\s(\d+\.\d+)x[ !](?:rps|cpu)\s+[<>]=\d"  # bench.py's table
UPSTREAM_ROW = r"^{name}.*?\s(\d+\.\d+)x\s+>=\d"  # upstream_bench.py's
NEEDS_WRK = pytest.mark.skipif(not shutil.which("wrk"), reason="needs wrk (Debian package wrk)")


@NEEDS_WRK
def test_bench_short_run_prints_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    only = [x for name in SCENARIOS for x in ("--only", name)]
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench.py"),
            *("--rows", "30", "--rounds", "2", "--slice", "1", "--warmup", "0", "-c", "4"),
            *("--grpc-concurrency", "4", "--no-node", "--json", str(out), *only),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in SCENARIOS[:-1]:
        row = re.search(ROW.format(name=re.escape(name)), done.stdout, re.MULTILINE)
        assert row, f"no row with a ratio for {name!r}:\n{done.stdout}"
        assert float(row.group(1)) > 0
    assert re.search(r"^GraphQL 20 era channels vs yoga\s+skipped: --no-node", done.stdout, re.M)
    report = json.loads(out.read_text())
    assert [s["name"] for s in report["scenarios"]] == [
        "GraphQL/REST CPU per request, 20 era channels",
        "REST list 20 era channels",
        "gRPC Era/List 20 channels",
        "REST create era channel",
    ]
    assert [s["name"] for s in report["skipped"]] == ["GraphQL 20 era channels vs yoga"]
    for scenario in report["scenarios"]:
        assert isinstance(scenario["ratio"], float)
        for side in (scenario["hub"], scenario["baseline_side"]):
            assert len(side["rounds"]) == 2
            assert all(r["served"] > 0 for r in side["rounds"])
            assert side["errors"] == 0, side
    assert report["scenarios"][0]["metric"] == "cpu"


class _NotFound(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@NEEDS_WRK
def test_wrk_slice_counts_non_2xx_answers_as_errors(tmp_path: Path) -> None:
    """A side that answers 404 is reported with its errors, and none of it counts as served."""
    import wrk_load

    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = tmp_path / "get.lua"
    script.write_text(wrk_load.lua_script({"method": "GET", "path": "/missing", "headers": {}}))
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        got = wrk_load.run_wrk(url, script, 1, 2, lambda: None, lambda: None)
    finally:
        server.shutdown()
        server.server_close()
    assert got.requests > 0
    assert got.non_2xx == got.requests == got.errors
    assert got.ok == 0


def test_mesh_rows_compare_with_the_hubs_graphql_rows() -> None:
    """The hub's GraphQL connection and Mesh's REST-shaped list agree when they hold the same
    channels (instants compared as instants), and disagree when a value differs."""
    import bench

    node = {"id": "1", "tokenRemote2": "x", "opts": {"allowFilesApi": True}}
    node["ext"] = {"ct": "2026-12-05T07:16:32.93Z", "lwt": "2026-12-05T07:16:33Z"}
    hub = {"data": {"era": {"integrationPoints": {"edges": [{"node": node}], "totalCount": 1}}}}
    row = {"id": "1", "token_remote2": "x", "opts": {"allow_files_api": True}}
    row["ext"] = {"ct": "2026-12-05T07:16:32.930Z", "lwt": "2026-12-05T07:16:33.000Z"}
    mesh = {"data": {"rest_v1_service_integration_points": [row]}}
    same = bench.COMPARERS["rows"]
    assert same(json.dumps(hub).encode(), json.dumps(mesh).encode())
    assert same(json.dumps(hub).encode(), json.dumps([row]).encode())
    row["token_remote2"] = "y"
    assert not same(json.dumps(hub).encode(), json.dumps(mesh).encode())


def test_upstream_bench_quick_run_compares_upstream_with_local(tmp_path: Path) -> None:
    """bench/upstream_bench.py --quick: both protocols measured on both hubs, and hub A (the
    vendor) received no more than the budget allows."""
    out = tmp_path / "upstream.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "upstream_bench.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("GraphQL monitoring", "gRPC Unspot/GetMonitoring"):
        row = re.search(UPSTREAM_ROW.format(name=re.escape(name)), done.stdout, re.MULTILINE)
        assert row, f"no row with a ratio for {name!r}:\n{done.stdout}"
    report = json.loads(out.read_text())
    assert len(report["scenarios"]) == 2
    for scenario in report["scenarios"]:
        assert isinstance(scenario["ratio"], float)
        assert scenario["upstream"]["requests"] > 0 and scenario["local"]["requests"] > 0
        assert scenario["upstream"]["errors"] == scenario["local"]["errors"] == 0
        spent = scenario["a_received"]
        assert 0 <= spent["requests"] <= spent["allowed"]


@pytest.mark.skipif(
    not (shutil.which("wrk") and shutil.which("h2load")),
    reason="bench/workers_bench.py needs wrk and h2load (Debian: wrk, nghttp2-client)",
)
def test_workers_bench_quick_run_compares_one_and_two_workers(tmp_path: Path) -> None:
    """bench/workers_bench.py --quick: every protocol measured on a 1-worker and a 2-worker hub
    without a failed request, the load served by both workers, a ratio printed per protocol."""
    out = tmp_path / "workers.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "workers_bench.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("REST", "GraphQL", "gRPC"):
        row = re.search(rf"^  {name}\s+(\d+\.\d+)x \(per round", done.stdout, re.MULTILINE)
        assert row, f"no ratio for {name}:\n{done.stdout}"
    report = json.loads(out.read_text())
    assert [p["protocol"] for p in report["protocols"]] == ["REST", "GraphQL", "gRPC"]
    busy_workers = set()
    for protocol in report["protocols"]:
        assert isinstance(protocol["ratio"], float)
        for side in ("workers_1", "workers_2"):
            assert protocol[side]["requests"] > 0, protocol
            assert protocol[side]["errors"] == 0, protocol
        cores = protocol["workers_2"]["process_cores"]
        busy_workers |= {pid for pid, used in cores.items() if pid != "main" and used > 0.02}
    assert len(busy_workers) == 2  # 24 connections over two workers: both served
