"""The processes the benchmarks start besides the hub: ``bench.py`` again (``_serve`` for a
bare baseline, ``_load`` for the Python loader) or a Node peer, each with the repository on
``PYTHONPATH``, run until it prints the address it listens on."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_SCRIPT = Path(__file__).resolve().with_name("bench.py")  # its ``_serve`` and ``_load``


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _await_listening(address: str, name: str, timeout: float = 30) -> None:
    """Some servers (Mesh) announce their address a moment before they accept on it."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} does not accept connections on {address}") from None
            time.sleep(0.1)


def _discard(stream: Any) -> None:
    for _ in stream:
        pass


@contextlib.contextmanager
def running_process(
    argv: list[str], ready: re.Pattern[str], name: str, cwd: Path | None = None
) -> Iterator[tuple[str, int]]:
    """Run a server until it prints the line ``ready`` matches; yields the address (group 1)
    and the pid; terminates it afterwards."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=python_env(),
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:  # skip whatever a library says before it listens
            match = ready.search(line)
            if match:
                break
            seen.append(line)
        else:
            raise RuntimeError(f"{name} did not start:\n{''.join(seen[-40:])}")
        # keep reading what it prints, so that a full pipe never blocks it
        threading.Thread(target=_discard, args=(proc.stdout,), daemon=True).start()
        _await_listening(match.group(1), name)
        yield match.group(1), proc.pid
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
