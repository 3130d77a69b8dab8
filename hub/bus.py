"""The event bus across the workers of one hub: the supervisor runs a :class:`Broker` on a Unix
socket, and each worker's :class:`hub.events.EventBus` reaches it through a :class:`BrokerLink`.

A worker sends every event it publishes to the broker and delivers to its own subscribers only
what the broker sends back, so every worker sees every topic in the broker's one order. The
broker forwards events as the bytes it received (it never unpickles them: it runs no plugin
code); a worker unpickles only the topics it has subscribers for. Workers also report how many
subscribers they have per topic, so ``subscribers(topic)`` counts the whole hub.

A frame is a 4-byte big-endian length, then a kind byte, a 2-byte topic length, the topic in
UTF-8 and the body: an event (pickled, read back by :mod:`hub.eventcodec`), or a 4-byte count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from hub.buslink import Backoff, BusLink, tally

log = logging.getLogger("hub.bus")

EVENT = 0x45  # E: an event, worker -> broker -> every worker
COUNT = 0x43  # C: this worker's subscribers of a topic, worker -> broker
OTHERS = 0x4F  # O: the other workers' subscribers of a topic, broker -> worker

MAX_FRAME = 64 * 1024 * 1024  # a longer length prefix is a broken stream, not an event
TOPIC_LIMIT = 0xFFFF  # bytes of a topic's name: its length is 2 bytes of a frame
WRITE_LIMIT = 16 * 1024 * 1024  # bytes queued on one connection before it counts as stuck
PENDING = 1000  # events a worker keeps while it has no broker connection


class FrameError(ValueError):
    """The other side sent something that is not a frame."""


def frame(kind: int, topic: str, body: bytes) -> bytes:
    name = topic.encode()
    size = 3 + len(name) + len(body)
    return b"".join(
        (size.to_bytes(4, "big"), bytes((kind,)), len(name).to_bytes(2, "big"), name, body)
    )


def count_frame(kind: int, topic: str, count: int) -> bytes:
    return frame(kind, topic, count.to_bytes(4, "big"))


class Frames:
    """Splits a byte stream into ``(kind, topic, body, whole frame)``."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, str, bytes, bytes]]:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 4:
            size = int.from_bytes(buffer[:4], "big")
            if not 3 <= size <= MAX_FRAME:
                raise FrameError(f"a frame of {size} bytes")
            if len(buffer) < 4 + size:
                return
            whole = bytes(buffer[: 4 + size])
            del buffer[: 4 + size]
            name_end = 7 + int.from_bytes(whole[5:7], "big")
            if name_end > len(whole):
                raise FrameError("a topic longer than its frame")
            try:
                topic = whole[7:name_end].decode()
            except UnicodeDecodeError:
                raise FrameError("a topic that is not UTF-8") from None
            yield whole[4], topic, whole[name_end:], whole


def _count(body: bytes) -> int:
    if len(body) != 4:
        raise FrameError("a count that is not 4 bytes")
    return int.from_bytes(body, "big")


class _Worker(asyncio.Protocol):
    """The broker's side of one worker's connection."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.frames = Frames()
        self.counts: dict[str, int] = {}  # this worker's subscribers per topic
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances: a cast, not a check
        self.transport = cast(asyncio.Transport, transport)
        self.broker.joined(self)

    def data_received(self, data: bytes) -> None:
        events: list[bytes] = []  # forwarded together: one write per worker, not per event
        try:
            for kind, topic, body, whole in self.frames.feed(data):
                if kind == EVENT:
                    events.append(whole)
                elif kind == COUNT:
                    self.broker.counted(self, topic, _count(body))
                else:
                    raise FrameError(f"a frame of kind {kind}")
        except FrameError as exc:
            log.warning("event broker: dropped a worker's connection: it sent %s", exc)
            self.abort()
        if events:
            self.broker.forward(b"".join(events))

    def connection_lost(self, exc: Exception | None) -> None:
        self.broker.left(self)

    def send(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > WRITE_LIMIT:
            log.warning(
                "event broker: dropped a worker's connection: it is %d bytes behind",
                transport.get_write_buffer_size(),
            )
            self.abort()
            return
        transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class Broker:
    """Forwards every event any worker sends to every worker (the sender too), one order for
    all, and keeps each worker told how many subscribers the others have per topic."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._server: asyncio.AbstractServer | None = None
        self._workers: dict[_Worker, None] = {}  # in the order they joined

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Worker(self), self.path)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for worker in list(self._workers):
            worker.abort()
        await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def joined(self, worker: _Worker) -> None:
        self._workers[worker] = None
        for topic, total in self._totals().items():
            if total:
                worker.send(count_frame(OTHERS, topic, total))

    def left(self, worker: _Worker) -> None:
        self._workers.pop(worker, None)
        for topic in worker.counts:
            self._tell_others(topic)
        worker.counts.clear()

    def forward(self, events: bytes) -> None:
        for worker in list(self._workers):
            worker.send(events)

    def counted(self, worker: _Worker, topic: str, count: int) -> None:
        tally(worker.counts, topic, count)
        self._tell_others(topic, but=worker)

    def _totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for worker in self._workers:
            for topic, count in worker.counts.items():
                totals[topic] = totals.get(topic, 0) + count
        return totals

    def _tell_others(self, topic: str, but: _Worker | None = None) -> None:
        total = sum(worker.counts.get(topic, 0) for worker in self._workers)
        for worker in list(self._workers):
            if worker is not but:
                others = total - worker.counts.get(topic, 0)
                worker.send(count_frame(OTHERS, topic, others))


class _Connection(asyncio.Protocol):
    """A worker's side of its connection to the broker."""

    def __init__(self, link: BrokerLink) -> None:
        self.link = link
        self.frames = Frames()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances: a cast, not a check
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            for kind, topic, body, _ in self.frames.feed(data):
                if kind == EVENT:
                    self.link.received(topic, body)
                elif kind == OTHERS:
                    self.link.others_counted(topic, _count(body))
                else:
                    raise FrameError(f"a frame of kind {kind}")
        except FrameError as exc:
            log.warning("event bus: dropped the broker's connection: it sent %s", exc)
            if self.transport is not None:
                self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class BrokerLink(BusLink[bytes]):
    """A worker's connection to the broker, kept up for as long as the bus lives (see
    :class:`hub.buslink.BusLink`); up to ``PENDING`` published events wait while the broker is
    unreachable."""

    far_end = "the broker"

    def __init__(
        self,
        path: str,
        topics: Mapping[str, Collection[Any]],
        deliver: Callable[[str, Any], None],
    ) -> None:
        super().__init__(topics, deliver, PENDING)
        self.path = path
        self._others: dict[str, int] = {}
        self._connection: _Connection | None = None
        self._start()

    # -- what the bus calls --------------------------------------------------------------
    def counted(self, topic: str) -> None:
        """The number of local subscribers of ``topic`` changed: tell the broker."""
        self._start()
        if not self._closed and self._live() is not None and self._refused(topic, None) is None:
            self._write(count_frame(COUNT, topic, len(self._topics.get(topic, ()))))

    def others(self, topic: str) -> int:
        """Subscribers of ``topic`` on the other workers, as the broker last said."""
        self._start()
        return self._others.get(topic, 0)

    def close(self) -> None:
        """Hand the broker what is written, then disconnect and stop reconnecting."""
        super().close()
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._others.clear()

    # -- what the connection calls -------------------------------------------------------
    def others_counted(self, topic: str, count: int) -> None:
        tally(self._others, topic, count)

    # -- the connection ------------------------------------------------------------------
    def _run(self, loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[None]]:
        return [loop.create_task(self._keep_connected(), name="hub event bus")]

    def _refused(self, topic: str, body: bytes | None) -> str | None:
        """A frame names its topic in at most 65,535 bytes, and the broker takes no frame past
        ``MAX_FRAME`` (it would drop this worker's connection)."""
        name = len(topic.encode())
        if name > TOPIC_LIMIT:
            return f"its topic is {name} bytes long, past the broker's {TOPIC_LIMIT}"
        if body is not None and 3 + name + len(body) > MAX_FRAME:
            return f"it is {len(body)} bytes pickled, past the broker's {MAX_FRAME}"
        return None

    def _live(self) -> asyncio.Transport | None:
        connection = self._connection
        if connection is None or connection.transport is None:
            return None
        return None if connection.transport.is_closing() else connection.transport

    def _publish(self, topic: str, body: bytes) -> None:
        self._start()
        transport = self._live()
        if transport is None:
            self._wait(frame(EVENT, topic, body))
        elif transport.get_write_buffer_size() > WRITE_LIMIT:
            self._drop("the broker is %d bytes behind", transport.get_write_buffer_size())
        else:
            self._write(frame(EVENT, topic, body))

    def _write(self, data: bytes) -> None:
        transport = self._live()
        assert transport is not None
        self._flowing()
        transport.write(data)

    async def _keep_connected(self) -> None:
        try:
            await self._reconnecting()
        finally:  # the loop is ending without close(): no transport left open behind it
            if self._connection is not None and self._connection.transport is not None:
                self._connection.transport.close()

    async def _reconnecting(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff()
        while not self._closed:
            try:
                _, connection = await loop.create_unix_connection(
                    lambda: _Connection(self), self.path
                )
            except OSError as exc:
                await backoff.failed(
                    "event bus: cannot reach the broker at %s (%s); retrying",
                    self.path,
                    exc.strerror or exc,
                )
                continue
            backoff.succeeded("event bus: connected to the broker at %s", self.path)
            self._connected(connection)
            await connection.lost
            self._connection = None
            self._others.clear()
            if not self._closed:
                backoff.lost("event bus: lost the broker at %s; reconnecting", self.path)

    def _connected(self, connection: _Connection) -> None:
        self._connection = connection
        for topic in list(self._topics):
            self.counted(topic)
        while self._pending and self._live() is not None:
            self._write(self._pending.popleft())
