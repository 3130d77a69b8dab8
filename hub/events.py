"""In-process publish/subscribe for GraphQL subscriptions, so every plugin streams events the
same way: bounded per subscriber, ended (not buffered without bound) when a subscriber lags,
and every stream closed at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

BACKLOG = 100  # events a subscriber may fall behind by before its stream is ended
_END = object()


class EventBus:
    def __init__(self) -> None:
        self._topics: dict[str, set[asyncio.Queue[Any]]] = {}

    def publish(self, topic: str, event: Any) -> None:
        """Hand ``event`` to every current subscriber of ``topic``; never blocks."""
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
        return self._stream(topic, queue)

    async def _stream(self, topic: str, queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
        try:
            while (event := await queue.get()) is not _END:
                yield event
        finally:
            self._discard(topic, queue)

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def _discard(self, topic: str, queue: asyncio.Queue[Any]) -> None:
        queues = self._topics.get(topic)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._topics[topic]

    def _end(self, topic: str, queue: asyncio.Queue[Any]) -> None:
        self._discard(topic, queue)
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(_END)

    def close(self) -> None:
        """End every stream (at shutdown, so websockets can close)."""
        for topic, queues in list(self._topics.items()):
            for queue in list(queues):
                self._end(topic, queue)
