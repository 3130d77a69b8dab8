"""A real hub in a subprocess on loopback ports, started as a user starts it (``hub serve``), for
what only a real process shows: signals, start-up failures, the command line, several hubs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hub.testing.namespaces import database_env

ADMIN_TOKEN = "test-admin-token"
LISTENING = re.compile(r"^(?:(\w+) )?(http|grpc) listening on (.+):(\d+)$")


class HubProcess:
    """``start()`` runs ``hub serve`` on ports 0 and reads the addresses it announces (``url``,
    ``grpc``, ``listeners`` of plugins with their own); ``cli(...)`` runs any other command on
    the same data directory; ``creds(plugin, **params)`` is ``hub creds add``."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.env = {
            **os.environ,
            "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
            "HUB_LOG_LEVEL": "WARNING",
            **database_env(data_dir, env),
            **(env or {}),
        }
        self.args = args or []
        self.proc: subprocess.Popen[str] | None = None
        self.http = ""
        self.grpc = ""
        self.listeners: dict[str, str] = {}
        self.output: list[str] = []

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", "--data-dir", str(self.data_dir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def creds(self, plugin: str, **params: str) -> dict[str, Any]:
        args = [x for k, v in params.items() for x in ("--param", f"{k}={v}")]
        return json.loads(self.cli("creds", "add", plugin, *args).stdout)

    def start(self, timeout: float = 30) -> HubProcess:
        """Start ``hub serve`` (again, after :meth:`stop`: the new addresses are read)."""
        self.http, self.grpc, self.listeners, self.output = "", "", {}, []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub.cli",
                "--data-dir",
                str(self.data_dir),
                "serve",
                "--http",
                "127.0.0.1:0",
                "--grpc",
                "127.0.0.1:0",
                *self.args,
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while not (self.http and self.grpc):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("hub exited during start:\n" + "".join(self.output))
            self.output.append(line)
            match = LISTENING.match(line.strip())
            if match:
                plugin, kind, host, port = match.groups()
                host = host.strip("[]")  # an IPv6 host is printed bare or in brackets
                address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                if plugin:
                    self.listeners[plugin] = address
                elif kind == "http":
                    self.http = address
                else:
                    self.grpc = address
            if time.monotonic() > deadline:
                raise RuntimeError("hub did not start in time:\n" + "".join(self.output))
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    @property
    def url(self) -> str:
        return f"http://{self.http}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc = None
