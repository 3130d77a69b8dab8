"""Check throughput of the monitorozas scheduler: a real hub (``tests.hubproc.HubProcess``)
checks N devices against a loopback aiohttp HTTP target, and this prints the checks completed
per second, read from the hub's own counter ``hub_monitorozas_checks_total`` at ``/metrics``.

    python bench/monitorozas_checks.py [--devices 5000] [--seconds 20] [--concurrency 50]

Every device is due again one second after its check (``interval`` 1 s), so the hub always has
more work than it can do and the figure is its capacity, bounded by ``concurrency`` (checks in
flight) and ``scheduler_tick`` (how often the scheduler refills). Devices differ by target address
and port (the duplicate rule), so the target listens on ``--addresses`` loopback addresses times
enough ports. The rate limit is raised through the hub's config for the seeding only."""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hubproc import HubProcess  # noqa: E402

COUNTER = re.compile(r'^hub_monitorozas_checks_total\{kind="device",status="(\w+)"\} (\S+)$', re.M)


class Target:
    """An aiohttp app answering ``GET /`` with 200 on many (address, port) pairs, in a thread."""

    def __init__(self, addresses: int, pairs: int) -> None:
        self.addresses = [f"127.0.1.{i}" for i in range(1, addresses + 1)]
        self.ports = free_ports(-(-pairs // addresses))
        self.hits = 0
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        if not self._ready.wait(60):
            raise RuntimeError("the target did not start")

    def pairs(self) -> list[tuple[str, int]]:
        return [(a, p) for p in self.ports for a in self.addresses]

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        async def ok(request: web.Request) -> web.Response:
            self.hits += 1
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for address in self.addresses:
            for port in self.ports:
                await web.TCPSite(runner, address, port, backlog=1024).start()


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    holders = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        holders.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in holders:
        sock.close()
    return ports


async def seed(url: str, key: str, pairs: list[tuple[str, int]], concurrency: int = 16) -> None:
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for pair in pairs:
        queue.put_nowait(pair)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def worker() -> None:
            while not queue.empty():
                address, port = queue.get_nowait()
                body = {
                    "target_type": "ip",
                    "target_value": address,
                    "service_type": "web",
                    "scheme": "http",
                    "port": port,
                    "check_public_http": 1,
                }
                async with session.post(
                    f"{url}/monitorozas/api/v1/devices/create", json=body
                ) as resp:
                    if resp.status != 201:
                        raise RuntimeError(f"create: HTTP {resp.status}: {await resp.text()}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def checks_done(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {status: float(value) for status, value in COUNTER.findall(text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring (5)")
    parser.add_argument("--concurrency", type=int, default=50, help="checks in flight (50)")
    parser.add_argument("--tick", type=float, default=0.1, help="scheduler_tick seconds (0.1)")
    parser.add_argument("--addresses", type=int, default=100, help="loopback addresses (100)")
    args = parser.parse_args(argv)

    target = Target(args.addresses, args.devices)
    pairs = target.pairs()[: args.devices]
    env = {
        "HUB_MONITOROZAS_RATE_LIMIT": "10000000",  # seeding 5,000 devices quickly
        "HUB_MONITOROZAS_INTERVAL": "1",
        "HUB_MONITOROZAS_CONCURRENCY": str(args.concurrency),
        "HUB_MONITOROZAS_SCHEDULER_TICK": str(args.tick),
        "HUB_MONITOROZAS_TIMEOUT": "10",
        "HUB_MONITOROZAS_HISTORY_SIZE": "10",
    }
    with tempfile.TemporaryDirectory(prefix="monitorozas-checks-") as tmp:
        hub = HubProcess(Path(tmp) / "data", env=env).start()
        try:
            key = hub.creds("monitorozas", user="bench", scopes="read,write")["key"]
            started = time.monotonic()
            asyncio.run(seed(hub.url, key, pairs))
            print(
                f"seeded {len(pairs)} devices in {time.monotonic() - started:.1f}s"
                f" ({len(target.addresses)} addresses x {len(target.ports)} ports)",
                flush=True,
            )
            time.sleep(args.warmup)
            before, t0 = checks_done(hub.url), time.monotonic()
            time.sleep(args.seconds)
            after, t1 = checks_done(hub.url), time.monotonic()
        finally:
            hub.stop()
    done = {s: after.get(s, 0) - before.get(s, 0) for s in after}
    total = sum(done.values())
    print(
        f"{total / (t1 - t0):.0f} checks/s over {t1 - t0:.1f}s"
        f" ({', '.join(f'{s}: {n:.0f}' for s, n in sorted(done.items()))});"
        f" concurrency {args.concurrency}, scheduler_tick {args.tick}s,"
        f" {len(pairs)} devices due every second"
    )
    if done.get("down"):
        print("warning: some checks failed; the figure includes them", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
