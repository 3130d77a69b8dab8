"""What the event broker of a multi-worker hub adds to a subscription's latency.

Run ``python bench/bus_latency.py`` (``--events``, ``--interval``; the defaults take about 10 s).
The broker (:class:`hub.bus.Broker`) runs in this process, as in the supervisor; two worker
processes, started by spawn as the hub starts its workers, connect event buses to it:

- the *publisher* publishes ``--events`` events (a frozen dataclass, as plugins publish), one
  every ``--interval`` ms, each stamped with ``time.monotonic_ns()`` (one clock for every
  process on Linux), and subscribes to them itself;
- the *listener* subscribes in a process of its own.

It prints p50/p99/max of publish → subscriber for: the listener (another worker), the
publisher's own subscriber (its events come back through the broker too) and, as the baseline,
one process without a broker (today's single-process hub). Then a burst: ``--events`` events
published back to back, and how long until the listener has the last one.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import eventcodec  # noqa: E402
from hub.bus import Broker  # noqa: E402
from hub.events import EventBus  # noqa: E402

TOPIC = "bench.readings"
# the processes read Stamped back only from a module they trust as a plugin's package; at
# module level, so the spawned processes, which import this file again, trust it too
eventcodec.trust(__name__)


@dataclass(frozen=True)
class Stamped:
    number: int
    sent_ns: int
    source: str = "bench"


def delays(events: list[Stamped], received_ns: list[int]) -> list[float]:
    """Milliseconds from publish to receipt."""
    return [(at - event.sent_ns) / 1e6 for event, at in zip(events, received_ns, strict=True)]


async def receive(stream: Any, count: int) -> list[float]:
    events, received = [], []
    for _ in range(count):
        event = await anext(stream)
        received.append(time.monotonic_ns())
        events.append(event)
    return delays(events, received)


async def publish_paced(bus: EventBus, count: int, interval: float) -> None:
    for number in range(count):
        bus.publish(TOPIC, Stamped(number, time.monotonic_ns()))
        await asyncio.sleep(interval)


def listener(path: str, count: int, results: Any) -> None:
    async def run() -> None:
        bus = EventBus(path)
        stream = bus.subscribe(TOPIC, backlog=count + 1)
        results.put(("paced", await receive(stream, count)))
        first = await anext(stream)  # the burst
        for _ in range(count - 1):
            last = await anext(stream)
        results.put(("burst", (first.sent_ns, time.monotonic_ns(), last.number)))
        bus.close()

    asyncio.run(run())


def publisher(path: str, count: int, interval: float, results: Any) -> None:
    async def run() -> None:
        bus = EventBus(path)
        own = bus.subscribe(TOPIC, backlog=count + 1)
        while bus.subscribers(TOPIC) < 2:  # the listener is subscribed
            await asyncio.sleep(0.01)
        sending = asyncio.create_task(publish_paced(bus, count, interval))
        results.put(("own", await receive(own, count)))
        await sending
        await asyncio.sleep(0.5)  # the listener has the paced events before the burst starts
        for number in range(count):
            bus.publish(TOPIC, Stamped(number, time.monotonic_ns()))
        for _ in range(count):
            await anext(own)
        bus.close()

    asyncio.run(run())


async def in_process(count: int, interval: float) -> list[float]:
    bus = EventBus()
    stream = bus.subscribe(TOPIC, backlog=count + 1)
    sending = asyncio.create_task(publish_paced(bus, count, interval))
    measured = await receive(stream, count)
    await sending
    return measured


def summary(name: str, milliseconds: list[float]) -> str:
    ordered = sorted(milliseconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))]
    return (
        f"{name:<34} p50 {statistics.median(ordered):7.3f} ms   p99 {p99:7.3f} ms   "
        f"max {ordered[-1]:7.3f} ms   n={len(ordered)}"
    )


async def main(count: int, interval: float) -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    with tempfile.TemporaryDirectory(prefix="hub-bus-") as directory:
        broker = Broker(Path(directory) / "bus.sock")
        await broker.start()
        processes = [
            context.Process(target=listener, args=(broker.path, count, results), daemon=True),
            context.Process(
                target=publisher, args=(broker.path, count, interval, results), daemon=True
            ),
        ]
        for process in processes:
            process.start()
        try:
            answers = dict([await asyncio.to_thread(results.get, timeout=120) for _ in range(3)])
        finally:
            for process in processes:
                await asyncio.to_thread(process.join, 30)
            await broker.stop()
    baseline = await in_process(count, interval)
    print(f"{count} events, one every {interval * 1000:g} ms")
    print(summary("another worker (through the broker)", answers["paced"]))
    print(summary("the publisher's own subscriber", answers["own"]))
    print(summary("one process, no broker (baseline)", baseline))
    first_sent, last_received, last_number = answers["burst"]
    took = (last_received - first_sent) / 1e9
    print(
        f"burst: {last_number + 1} events published back to back reached another worker in "
        f"{took * 1000:.1f} ms ({(last_number + 1) / took:,.0f} events/s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=1.0, help="ms between paced events")
    options = parser.parse_args()
    asyncio.run(main(options.events, options.interval / 1000))
