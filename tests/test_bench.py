"""Smoke test of bench/bench.py: a very short run completes and reports every scenario.

No performance assertion: the figures of a one-second run on a shared machine mean nothing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("REST list", "GraphQL list", "gRPC Era/List")
ROW = r"^{name}.*?\s(\d+\.\d+)x\s+>=\d"


def test_bench_short_run_prints_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench.py"),
            "--duration",
            "1",
            "--warmup",
            "0.3",
            "--slice",
            "1",
            "--concurrency",
            "4",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in SCENARIOS:
        row = re.search(ROW.format(name=re.escape(name)), done.stdout, re.MULTILINE)
        assert row, f"no row with a ratio for {name!r}:\n{done.stdout}"
        assert float(row.group(1)) > 0
    report = json.loads(out.read_text())
    assert [s["name"].split(" 20")[0] for s in report["scenarios"]] == [
        "REST list",
        "GraphQL list",
        "gRPC Era/List",
        "REST list",
    ]
    assert "monitorozas" in report["scenarios"][-1]["name"]
    for scenario in report["scenarios"]:
        assert isinstance(scenario["ratio"], float)
        assert scenario["hub"]["requests"] > 0 and scenario["baseline_stats"]["requests"] > 0


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
        row = re.search(ROW.format(name=re.escape(name)), done.stdout, re.MULTILINE)
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
