"""The event bus across workers: a real broker on a Unix socket, event buses connected to it
from this process and from processes of their own (started by spawn, as the hub's workers)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub import bus as bus_module
from hub import eventcodec
from hub.bus import Broker
from hub.events import EventBus

# Reading's module is trusted by the bus as a plugin's package is; at module level, so the
# workers this file spawns trust it too
eventcodec.trust(__name__)

TOPIC = "test.readings"
WAIT = 10.0  # seconds anything here may take on a busy machine


@dataclass(frozen=True)
class Reading:
    """An event as plugins publish them: a frozen dataclass of a module the workers share."""

    source: str
    number: int


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "bus.sock"


@pytest.fixture
async def broker(socket_path: Path) -> AsyncIterator[Broker]:
    broker = Broker(socket_path)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def buses(broker: Broker) -> AsyncIterator[Callable[[], EventBus]]:
    """Event buses on the broker, each with a connection of its own (as workers have)."""
    made: list[EventBus] = []

    def connect() -> EventBus:
        made.append(EventBus(broker.path))
        return made[-1]

    yield connect
    for bus in made:
        bus.close()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


async def take(stream: AsyncIterator[Any], count: int) -> list[Any]:
    async with asyncio.timeout(WAIT):
        return [await anext(stream) for _ in range(count)]


async def nothing_more(stream: AsyncIterator[Any]) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await anext(stream)


async def test_every_subscriber_on_every_worker_sees_one_order(
    buses: Callable[[], EventBus],
) -> None:
    workers = [buses() for _ in range(3)]
    streams = [worker.subscribe(TOPIC, backlog=200) for worker in workers]
    streams.append(workers[0].subscribe(TOPIC, backlog=200))
    await until(lambda: all(worker.subscribers(TOPIC) == 4 for worker in workers))

    async def publish(index: int) -> None:
        for number in range(40):
            workers[index].publish(TOPIC, Reading(f"w{index}", number))
            await asyncio.sleep(0)

    await asyncio.gather(*(publish(index) for index in range(3)))
    seen = [await take(stream, 120) for stream in streams]

    assert all(events == seen[0] for events in seen)
    for index in range(3):  # each worker's events in the order it published them, each once
        mine = [event.number for event in seen[0] if event.source == f"w{index}"]
        assert mine == list(range(40))
    sources = [event.source for event in seen[0]]
    assert sources != sorted(sources)  # the publishers really did interleave


async def test_the_publishers_own_subscriber_gets_it_once(buses: Callable[[], EventBus]) -> None:
    worker = buses()
    stream = worker.subscribe(TOPIC)
    other_topic = worker.subscribe("test.other")
    worker.publish(TOPIC, Reading("me", 1))
    worker.publish(TOPIC, {"plain": "dict"})
    worker.publish(TOPIC, "a string")

    assert await take(stream, 3) == [Reading("me", 1), {"plain": "dict"}, "a string"]
    await nothing_more(stream)
    await nothing_more(other_topic)


async def test_a_subscriber_further_behind_than_its_backlog_is_ended(
    buses: Callable[[], EventBus],
) -> None:
    publisher, lagging_worker = buses(), buses()
    keeping_up = publisher.subscribe(TOPIC)
    lagging = lagging_worker.subscribe(TOPIC, backlog=3)
    await until(lambda: publisher.subscribers(TOPIC) == 2)

    for number in range(10):
        publisher.publish(TOPIC, Reading("p", number))
    assert [event.number for event in await take(keeping_up, 10)] == list(range(10))
    await until(lambda: lagging_worker.subscribers(TOPIC) == 1)  # its own is gone

    async with asyncio.timeout(WAIT):
        got = [event.number async for event in lagging]
    assert got == [1, 2]  # what it had, less the one that made room for the end
    await until(lambda: publisher.subscribers(TOPIC) == 1)


async def test_subscribers_counts_every_worker(buses: Callable[[], EventBus]) -> None:
    first, second = buses(), buses()
    mine = [first.subscribe(TOPIC), first.subscribe(TOPIC)]
    theirs = second.subscribe(TOPIC)
    await until(lambda: first.subscribers(TOPIC) == 3 and second.subscribers(TOPIC) == 3)
    assert first.subscribers("test.other") == 0

    async def listen() -> None:  # a websocket's subscriber, waiting
        await anext(theirs)

    waiting = asyncio.create_task(listen())
    await asyncio.sleep(0.01)
    waiting.cancel()  # its client went away
    await until(lambda: first.subscribers(TOPIC) == 2)
    third = buses()
    await until(lambda: third.subscribers(TOPIC) == 2)  # told on joining
    first.close()  # ends its streams and leaves
    await until(lambda: second.subscribers(TOPIC) == 0 and third.subscribers(TOPIC) == 0)
    for stream in mine:
        assert [event async for event in stream] == []


async def test_workers_reconnect_after_the_broker_restarts(
    socket_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(socket_path)
    await broker.start()
    publisher, listener = EventBus(str(socket_path)), EventBus(str(socket_path))
    own, own_other = publisher.subscribe(TOPIC), publisher.subscribe("test.other")
    theirs = listener.subscribe(TOPIC)
    await until(lambda: publisher.subscribers(TOPIC) == 2)

    await broker.stop()
    await until(lambda: publisher.subscribers(TOPIC) == 1)  # the others are unknown now
    publisher.publish("test.other", Reading("while down", 1))  # waits for the broker
    await asyncio.sleep(0.3)  # a few failed attempts
    broker = Broker(socket_path)
    await broker.start()
    try:
        assert await take(own_other, 1) == [Reading("while down", 1)]
        await until(lambda: publisher.subscribers(TOPIC) == 2)  # both are back
        publisher.publish(TOPIC, Reading("after", 2))
        listener.publish(TOPIC, Reading("after", 3))
        assert await take(theirs, 2) == await take(own, 2)  # streams outlived the outage
    finally:
        publisher.close()
        listener.close()
        await broker.stop()
    assert "lost the broker" in caplog.text
    assert not [record for record in caplog.records if record.exc_info]


async def test_a_worker_without_its_broker_keeps_a_bounded_backlog(
    socket_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bus_module, "PENDING", 5)
    worker = EventBus(str(socket_path))  # no broker yet: the hub's supervisor is slow
    stream = worker.subscribe(TOPIC)
    for number in range(8):
        worker.publish(TOPIC, Reading("early", number))
    assert "dropping events" in caplog.text
    assert caplog.text.count("dropping events") == 1

    broker = Broker(socket_path)
    await broker.start()
    try:
        assert [event.number for event in await take(stream, 5)] == [0, 1, 2, 3, 4]
        worker.publish(TOPIC, Reading("late", 8))
        assert await take(stream, 1) == [Reading("late", 8)]
        assert "3 events were dropped" in caplog.text
    finally:
        worker.close()
        await broker.stop()


async def test_a_worker_sending_garbage_is_dropped_and_no_one_else(
    broker: Broker, buses: Callable[[], EventBus], caplog: pytest.LogCaptureFixture
) -> None:
    worker = buses()
    stream = worker.subscribe(TOPIC)
    garbage = socket.socket(socket.AF_UNIX)
    garbage.connect(broker.path)
    garbage.sendall(b"\xff\xff\xff\xffnot a frame")
    await until(lambda: "dropped a worker's connection" in caplog.text)
    garbage.close()

    worker.publish(TOPIC, Reading("still", 1))
    assert await take(stream, 1) == [Reading("still", 1)]
    assert not [record for record in caplog.records if record.exc_info]


async def test_an_event_that_cannot_be_pickled_reaches_this_worker_only(
    buses: Callable[[], EventBus], caplog: pytest.LogCaptureFixture
) -> None:
    publisher, other = buses(), buses()
    own, theirs = publisher.subscribe(TOPIC), other.subscribe(TOPIC)
    await until(lambda: publisher.subscribers(TOPIC) == 2)
    unpicklable = {"callback": lambda: None}
    with caplog.at_level(logging.ERROR, "hub.bus"):
        publisher.publish(TOPIC, unpicklable)
    assert await take(own, 1) == [unpicklable]
    assert "cannot be pickled" in caplog.text
    await nothing_more(theirs)


async def test_close_ends_every_stream_and_later_publishes_are_harmless(
    buses: Callable[[], EventBus],
) -> None:
    worker = buses()
    streams = [worker.subscribe(TOPIC), worker.subscribe("test.other")]
    worker.close()
    for stream in streams:
        async with asyncio.timeout(WAIT):
            assert [event async for event in stream] == []
    worker.publish(TOPIC, Reading("late", 1))
    assert worker.subscribers(TOPIC) == 0


async def test_without_a_broker_events_stay_in_this_process() -> None:
    worker = EventBus()
    stream = worker.subscribe(TOPIC)
    worker.publish(TOPIC, Reading("here", 1))
    assert worker.subscribers(TOPIC) == 1
    assert await anext(stream) == Reading("here", 1)  # delivered at once, no broker involved
    worker.close()
    assert [event async for event in stream] == []


# -- separate processes ------------------------------------------------------------------


def _worker_process(path: str, name: str, publish: int, expect: int, results: Any) -> None:
    """A worker: subscribes, says so, publishes ``publish`` events, reports what it saw."""

    async def run() -> list[Reading]:
        worker = EventBus(path)
        stream = worker.subscribe(TOPIC)
        results.put(("ready", name))
        async with asyncio.timeout(WAIT):
            while worker.subscribers(TOPIC) < 3:  # every worker subscribed: start publishing
                await asyncio.sleep(0.01)
            for number in range(publish):
                worker.publish(TOPIC, Reading(name, number))
                await asyncio.sleep(0)
            seen = [await anext(stream) for _ in range(expect)]
        worker.close()
        return seen

    results.put(("seen", name, asyncio.run(run())))


async def test_workers_in_processes_of_their_own_see_one_order(
    buses: Callable[[], EventBus], socket_path: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    here = buses()
    stream = here.subscribe(TOPIC)
    processes = [
        context.Process(
            target=_worker_process, args=(str(socket_path), name, 50, 100, results), daemon=True
        )
        for name in ("a", "b")
    ]
    for process in processes:
        process.start()
    try:
        seen_here = await take(stream, 100)
        answers = [await asyncio.to_thread(results.get, timeout=WAIT * 3) for _ in range(4)]
    finally:
        for process in processes:
            process.join(timeout=WAIT)
            if process.is_alive():
                process.kill()
    seen = {answer[1]: answer[2] for answer in answers if answer[0] == "seen"}
    assert seen == {"a": seen_here, "b": seen_here}
    for name in ("a", "b"):
        assert [event.number for event in seen_here if event.source == name] == list(range(50))
