"""Hubs as separate hosts on one machine, for tests/test_multi_hub.py: each in a network
namespace of its own, joined to this one by a veth pair, with an address no other host has; a
TCP relay in this namespace carries their connections to PostgreSQL (which listens on loopback
only). Needs root and iproute2's ``ip``; :func:`unavailable` says why not when they are missing."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from hub.testing import HubProcess


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's ip"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Relay:
    """Accepts on ``host`` (a free port) and relays each connection to ``target``, both ways."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server((host, 0))
        self.port = self.server.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()
            self._open.clear()


class Host:
    """Network namespace ``name``: its end of a veth pair has ``address``, this namespace's end
    ``gateway`` (a /30 between them)."""

    def __init__(self, name: str, link: str, gateway: str, address: str) -> None:
        self.name, self.gateway, self.address = name, gateway, address
        _ip("netns", "add", name)
        try:
            _ip("link", "add", f"{link}r", "type", "veth", "peer", "name", f"{link}n")
            _ip("link", "set", f"{link}n", "netns", name)
            _ip("addr", "add", f"{gateway}/30", "dev", f"{link}r")
            _ip("link", "set", f"{link}r", "up")
            inside = ["netns", "exec", name, "ip"]
            _ip(*inside, "addr", "add", f"{address}/30", "dev", f"{link}n")
            _ip(*inside, "link", "set", f"{link}n", "up")
            _ip(*inside, "link", "set", "lo", "up")
        except BaseException:
            self.remove()
            raise

    def start(self, hub: HubProcess, workdir: Path) -> HubProcess:
        """``hub serve`` run inside this namespace, listening on its address."""
        python = workdir / f"python-in-{self.name}"
        python.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {sys.executable} "$@"\n')
        python.chmod(python.stat().st_mode | stat.S_IXUSR)
        hub.args = [*hub.args, "--http", f"{self.address}:0", "--grpc", f"{self.address}:0"]
        with mock.patch.object(sys, "executable", str(python)):  # only while it starts
            return hub.start(timeout=60)

    def remove(self) -> None:
        """The namespace and, with it, both ends of its veth pair."""
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)


@contextlib.contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    """``count`` namespaces, each on its own /30 of 10.0.0.0/8 chosen from this process's id
    (so concurrent runs do not collide)."""
    tag = os.getpid() % 100_000
    block = (100 + (tag // 256) % 150, tag % 256)
    made: list[Host] = []
    try:
        for i in range(count):
            base = f"10.{block[0]}.{block[1]}"
            made.append(
                Host(f"hub{tag}h{i}", f"h{tag}x{i}", f"{base}.{4 * i + 1}", f"{base}.{4 * i + 2}")
            )
        yield made
    finally:
        for host in made:
            host.remove()
