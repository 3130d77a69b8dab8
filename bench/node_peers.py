"""The Node peers of ``bench.py``: GraphQL Mesh over the hub's REST and graphql-yoga over rows in
memory. Their packages are pinned by ``bench/node/package-lock.json`` and installed with
``npm ci`` into ``bench/node/node_modules`` on first use (again when the lock file is newer).

Each peer is a :class:`Command` that ``bench.py`` runs and waits for until it prints the line
its ``ready`` pattern matches (group 1: ``host:port``)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"
MODULES = NODE_DIR / "node_modules"

# Mesh names the 200 member of the list's union after the path (the lock pins the version)
MESH_ROW_TYPE = "query_rest_v1_service_integration_points_oneOf_0_items"
MESH_LIST_FIELD = "rest_v1_service_integration_points"


@dataclass
class Command:
    argv: list[str]
    cwd: Path
    ready: re.Pattern[str]
    calls_hub: bool = False  # then the hub's CPU is part of the peer's cost


def unavailable() -> str | None:
    """Why the Node peers cannot run here, or None once their packages are installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node and npm not found"
    installed = MODULES / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return None
    print("installing the Node peers: npm ci in bench/node", flush=True)
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        return "npm ci in bench/node did not finish in 15 minutes"
    if done.returncode != 0:
        return f"npm ci in bench/node failed: {(done.stderr or done.stdout).strip()[-400:]}"
    return None


def versions() -> dict[str, str | None]:
    """The installed versions of the peers' main packages."""
    out: dict[str, str | None] = {}
    for name in ("@graphql-mesh/cli", "@graphql-mesh/openapi", "graphql-yoga", "graphql"):
        manifest = MODULES / name / "package.json"
        out[name] = json.loads(manifest.read_text())["version"] if manifest.exists() else None
    return out


def yoga(data_path: Path, workdir: Path) -> Command:
    """graphql-yoga (``bench/node/yoga.mjs``) serving the rows in ``data_path``."""
    node = shutil.which("node") or "node"
    return Command(
        [node, str(NODE_DIR / "yoga.mjs"), str(data_path), "127.0.0.1"],
        NODE_DIR,
        re.compile(r"^listening on (\S+:\d+)"),
    )


def mesh(data_path: Path, workdir: Path) -> Command:
    """GraphQL Mesh, built (``mesh build``) from the hub's OpenAPI document and served with
    ``mesh start`` in one process (``fork: false``, as the hub serves in one). Each request's
    Authorization header is forwarded to the hub. ``data_path`` holds ``{"hub": URL}``."""
    hub = json.loads(data_path.read_text())["hub"]
    home = workdir / "mesh"
    home.mkdir(exist_ok=True)
    link = home / "node_modules"  # the built artifacts import Mesh's packages from here
    if not link.exists():
        link.symlink_to(MODULES, target_is_directory=True)
    config: dict[str, Any] = {
        "sources": [
            {
                "name": "Era",
                "handler": {
                    "openapi": {
                        "source": f"{hub}/era/openapi.json",
                        "endpoint": f"{hub}/era",
                        "operationHeaders": {"Authorization": "{context.headers.authorization}"},
                    }
                },
            }
        ],
        "serve": {"hostname": "127.0.0.1", "port": _free_port(), "fork": False},
    }
    (home / ".meshrc.json").write_text(json.dumps(config, indent=2))
    mesh_bin = str(MODULES / ".bin" / "mesh")
    built = subprocess.run(
        [mesh_bin, "build"], cwd=home, capture_output=True, text=True, timeout=300
    )
    if built.returncode != 0:
        raise RuntimeError(f"mesh build failed:\n{built.stdout[-2000:]}{built.stderr[-2000:]}")
    ready = re.compile(r"Serving GraphQL Mesh: http://(\S+:\d+)")
    return Command([mesh_bin, "start"], home, ready, calls_hub=True)


def _free_port() -> int:
    """A port free now (Mesh takes its port from the configuration, not from 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mesh_query(limit: int, fields: str) -> str:
    """The Mesh query that asks for the rows the hub's GraphQL query lists."""
    return f"{{ {MESH_LIST_FIELD}(limit: {limit}) {{ ... on {MESH_ROW_TYPE} {{ {fields} }} }} }}"
