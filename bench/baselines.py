"""The other side of a row: a bare Python server in a process of its own (``bench.py _serve
KIND``, the servers in ``era_baselines.py`` and ``monitorozas_bench.py``), a Node peer
(``node_peers.py``), or the hub itself when a row compares two of the hub's own protocols."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import node_peers
from bench_processes import BENCH_SCRIPT, running_process
from hub_handle import HubHandle
from scenario_model import Baseline, resolve

# "module:coroutine" of each baseline server, the module next to this script. The coroutine
# gets (data, host, options), serves on a free port of host and returns "host:port".
BASELINE_SERVERS: dict[str, str] = {
    "era-rest": "era_baselines:serve_rest",
    "era-graphql": "era_baselines:serve_graphql",
    "era-grpc": "era_baselines:serve_grpc",
    "era-create": "era_baselines:serve_create",
    "monitorozas-rest": "monitorozas_bench:serve_rest",
}

# Node peers: a function of (data path, work dir) that returns the node_peers.Command to run
NODE_PEERS: dict[str, Callable[[Path, Path], node_peers.Command]] = {
    "mesh": node_peers.mesh,
    "yoga": node_peers.yoga,
}


def serve_main(kind: str, data_path: str, options: dict[str, Any]) -> None:
    """A baseline's process: serve, print ``listening on HOST:PORT``, run until terminated."""
    data = json.loads(Path(data_path).read_text())

    async def run() -> None:
        address = await resolve(BASELINE_SERVERS[kind])(data, "127.0.0.1", options)
        print(f"listening on {address}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@contextlib.contextmanager
def running_baseline(
    baseline: Baseline, hub: HubHandle, workdir: Path, index: int, options: dict[str, Any]
) -> Iterator[tuple[str, list[int]]]:
    """The other side of a row; yields its address and the pids whose CPU is its cost."""
    hub_pid = hub.process.proc.pid
    if baseline.server == "hub":
        yield hub.url.removeprefix("http://"), [hub_pid]
        return
    data_path = workdir / f"baseline-{index}.json"
    data_path.write_text(json.dumps(baseline.data, ensure_ascii=False))
    if baseline.server in NODE_PEERS:
        command = NODE_PEERS[baseline.server](data_path, workdir)
        with running_process(command.argv, command.ready, baseline.label, command.cwd) as (
            address,
            pid,
        ):
            # a peer that calls the hub costs the hub's CPU too
            yield address, [pid, hub_pid] if command.calls_hub else [pid]
        return
    argv = [sys.executable, str(BENCH_SCRIPT), "_serve", baseline.server, "--data", str(data_path)]
    argv += ["--options", json.dumps({**options, "workdir": str(workdir)})]
    ready = re.compile(r"^listening on (\S+)")
    with running_process(argv, ready, f"baseline {baseline.server}") as (address, pid):
        yield address, [pid]
