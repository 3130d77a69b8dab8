"""Publish/subscribe for GraphQL subscriptions, so every plugin streams events the same way:
bounded per subscriber, ended (not buffered without bound) when a subscriber lags, and every
stream closed at shutdown. In a multi-worker hub the events of every worker go through the
supervisor's broker (:mod:`hub.bus`), so each worker's subscribers see them all, in one order; on
PostgreSQL those of every hub of the cluster go through ``NOTIFY`` (:mod:`hub.pgbus`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from hub.bus import BrokerLink

if TYPE_CHECKING:
    from hub.storage import Database

BACKLOG = 100  # events a subscriber may fall behind by before its stream is ended
_END = object()


class Link(Protocol):
    """Where a process's events go to reach the other processes, and come back from."""

    def publish(self, topic: str, event: Any) -> None: ...
    def counted(self, topic: str) -> None: ...
    def others(self, topic: str) -> int: ...
    def close(self) -> None: ...


class EventBus:
    def __init__(self, bus: str | None = None, database: Database | None = None) -> None:
        """``database``: the cluster's coordination schema on PostgreSQL (events through
        ``NOTIFY``); else ``bus``: the broker's socket in a multi-worker hub (``HUB_BUS``);
        with neither, events stay in this process."""
        self._topics: dict[str, set[asyncio.Queue[Any]]] = {}
        self._link: Link | None = None
        if database is not None:
            from hub.pgbus import PostgresLink

            self._link = PostgresLink(database, self._topics, self._deliver)
        elif bus:
            self._link = BrokerLink(bus, self._topics, self._deliver)

    @property
    def shared(self) -> bool:
        """Whether events reach every process of the hub (through the broker or PostgreSQL)."""
        return self._link is not None

    def publish(self, topic: str, event: Any) -> None:
        """Hand ``event`` to every current subscriber of ``topic`` (on every worker and hub:
        through the broker or PostgreSQL, this process's own subscribers included); never
        blocks."""
        if self._link is not None:
            self._link.publish(topic, event)
        else:
            self._deliver(topic, event)

    def _deliver(self, topic: str, event: Any) -> None:
        for queue in list(self._topics.get(topic, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._end(topic, queue)

    def subscribe(self, topic: str, backlog: int = BACKLOG) -> AsyncIterator[Any]:
        """Events of ``topic`` published from now on, until the subscriber falls ``backlog``
        behind or the hub shuts down. The subscription exists from this call on, so nothing
        published between it and the first ``anext`` is missed."""
        queue: asyncio.Queue[Any] = asyncio.Queue(backlog)
        self._topics.setdefault(topic, set()).add(queue)
        self._counted(topic)
        return self._stream(topic, queue)

    async def _stream(self, topic: str, queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
        try:
            while (event := await queue.get()) is not _END:
                yield event
        finally:
            self._discard(topic, queue)

    def subscribers(self, topic: str) -> int:
        """Subscribers of ``topic`` in the whole hub, or the whole cluster on PostgreSQL (the
        other processes' as last heard)."""
        others = self._link.others(topic) if self._link is not None else 0
        return len(self._topics.get(topic, ())) + others

    def _counted(self, topic: str) -> None:
        if self._link is not None:
            self._link.counted(topic)

    def _discard(self, topic: str, queue: asyncio.Queue[Any]) -> None:
        queues = self._topics.get(topic)
        if queues is not None and queue in queues:
            queues.discard(queue)
            if not queues:
                del self._topics[topic]
            self._counted(topic)

    def _end(self, topic: str, queue: asyncio.Queue[Any]) -> None:
        self._discard(topic, queue)
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(_END)

    def close(self) -> None:
        """End every stream (at shutdown, so websockets can close) and leave the broker or
        PostgreSQL."""
        for topic, queues in list(self._topics.items()):
            for queue in list(queues):
                self._end(topic, queue)
        if self._link is not None:
            self._link.close()
