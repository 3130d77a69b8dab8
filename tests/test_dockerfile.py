"""The Dockerfile keeps its promises: slim base, non-root user, /data as a volume, both ports
exposed, a HEALTHCHECK on /readyz that works with no curl, the postgres extra installed (so
HUB_DATABASE_URL works in a container); the image is built where a docker daemon answers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.testing import HubProcess

ROOT = Path(__file__).resolve().parent.parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def last(name: str) -> str:
    found = [args for instruction, args in instructions() if instruction == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def healthcheck_command() -> list[str]:
    args = last("HEALTHCHECK")
    assert " CMD " in f" {args}", args
    command = json.loads(args.split("CMD", 1)[1])
    assert command[0] == "python", "slim images have no curl: the check must use python"
    return command


def test_the_image_promises() -> None:
    runtime_base = [args for name, args in instructions() if name == "FROM"][-1]
    assert runtime_base.split()[0] == "python:3.11-slim"
    user = last("USER")
    assert user not in {"root", "0"} and not user.startswith(("root:", "0:"))
    assert json.loads(last("VOLUME")) == ["/data"]
    assert set(last("EXPOSE").split()) == {"8080", "50051"}
    env = " ".join(args for name, args in instructions() if name == "ENV")
    assert "HUB_HTTP=0.0.0.0:8080" in env.split() and "HUB_GRPC=0.0.0.0:50051" in env.split()
    assert json.loads(last("CMD")) == ["hub", "serve", "--data-dir", "/data"]
    installs = [args for name, args in instructions() if name == "RUN" and "pip install" in args]
    assert any('".[postgres]" ./plugins/hub-*' in args for args in installs), installs
    assert "/readyz" in " ".join(healthcheck_command())


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "hub-data", ".git", "**/__pycache__", "**/node_modules"} <= ignored


def run_healthcheck(http: str) -> int:
    command = [sys.executable, *healthcheck_command()[1:]]
    env = {**os.environ, "HUB_HTTP": http}
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def test_the_healthcheck_passes_on_a_ready_hub_and_fails_without_one(
    hub_process: HubProcess,
) -> None:
    assert run_healthcheck(hub_process.http) == 0
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"0.0.0.0:{free.getsockname()[1]}"
    assert run_healthcheck(closed) != 0


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.timeout(1800)
@pytest.mark.skipif(not docker_answers(), reason="docker not available: image not built")
def test_the_image_builds_and_reports_healthy() -> None:
    tag = "hub:test-dockerfile"
    subprocess.run(["docker", "build", "--quiet", "--tag", tag, str(ROOT)], check=True)
    inspect = subprocess.run(
        ["docker", "image", "inspect", tag, "--format", "{{json .Config}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(inspect.stdout)
    assert config["User"] == last("USER")
    assert set(config["Volumes"]) == {"/data"}
    assert set(config["ExposedPorts"]) == {"8080/tcp", "50051/tcp"}
    subprocess.run(["docker", "run", "--rm", tag, "python", "-c", "import psycopg"], check=True)
    run = ["docker", "run", "--rm", "--detach", "--publish", "127.0.0.1::8080", tag]
    container = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    try:
        port = (
            subprocess.run(
                ["docker", "port", container, "8080/tcp"],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.split(":")[-1]
            .strip()
        )
        probe = [sys.executable, "-c", healthcheck_command()[2]]
        for _ in range(60):
            env = {**os.environ, "HUB_HTTP": f"127.0.0.1:{port}"}
            if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
                break
            time.sleep(1)
        else:
            pytest.fail("the container never became ready on /readyz")
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True)
