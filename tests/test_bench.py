"""Smoke test of bench/bench.py: a very short run completes and reports every scenario.

No performance assertion: the figures of a one-second run on a shared machine mean nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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
