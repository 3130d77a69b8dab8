"""What the event bus's two links do alike, whatever carries their bytes: a worker's connection
to the supervisor's broker (:mod:`hub.bus`) and a process's connections to PostgreSQL
(:mod:`hub.pgbus`). Each pickles what it publishes (:mod:`hub.eventcodec`), keeps a bounded
queue of events while it cannot send them, unpickles only the topics this process has
subscribers for, and retries a lost connection 50 ms doubling to 1 s apart, logging one
warning when attempts start failing and one line when one succeeds again."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Collection, Mapping
from typing import Any, Generic, TypeVar

from hub import eventcodec

log = logging.getLogger("hub.bus")

FIRST_RETRY, LAST_RETRY = 0.05, 1.0  # seconds between reconnection attempts, doubling

Waiting = TypeVar("Waiting")  # what a link queues while it cannot send


class BusLink(ABC, Generic[Waiting]):
    """The transport-free half of a link, for :class:`hub.events.EventBus`.

    ``topics`` is the bus's live map of local subscribers per topic (what to unpickle, what to
    report); ``deliver`` hands an event to them; ``pending``: how many events may wait while
    the link is down (later ones are dropped, with a warning, then a count)."""

    far_end = ""  # what events wait for, in the log: "the broker", "PostgreSQL"

    def __init__(
        self,
        topics: Mapping[str, Collection[Any]],
        deliver: Callable[[str, Any], None],
        pending: int,
    ) -> None:
        self._topics = topics
        self._deliver = deliver
        self._pending: deque[Waiting] = deque()
        self._pending_limit = pending
        self._dropped = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    def publish(self, topic: str, event: Any) -> None:
        if self._closed:
            return
        try:
            body = eventcodec.encode(event)
            refused = self._refused(topic, body)
        except Exception as exc:
            refused = f"it cannot be pickled: {exc}"
        if refused is not None:
            log.error(
                "event bus: an event of %.100s cannot reach the other processes (%s): "
                "only this process's subscribers get it",
                topic,
                refused,
            )
            self._deliver(topic, event)
            return
        self._publish(topic, body)

    def received(self, topic: str, body: bytes) -> None:
        """An event from the other end: unpickled only if someone here subscribes to it."""
        if topic not in self._topics:
            return
        try:
            event = eventcodec.decode(body)
        except Exception as exc:
            log.warning("event bus: dropped an event of %s: %s", topic, exc)
            return
        self._deliver(topic, event)

    def close(self) -> None:
        """Stop the link's tasks and forget what waits."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        self._pending.clear()

    def _refused(self, topic: str, body: bytes | None) -> str | None:
        """Why an event (``body``), or a count of subscribers (``None``), of ``topic`` cannot
        cross to the other processes (a topic or event past what the link carries); None if
        it can. Refused, it stays in this process rather than breaking the link for all."""
        return None

    @abstractmethod
    def _publish(self, topic: str, body: bytes) -> None:
        """Send a pickled event to the other end (or queue it with :meth:`_wait`)."""

    @abstractmethod
    def _run(self, loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[None]]:
        """Start the tasks that keep the link connected."""

    def _start(self) -> None:
        """Run the link's tasks from the first moment an event loop is there to run them on."""
        if self._tasks or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._tasks = self._run(loop)

    def _wait(self, item: Waiting) -> None:
        """Queue ``item`` until the link is back, unless ``pending`` items wait already."""
        if len(self._pending) < self._pending_limit:
            self._pending.append(item)
        else:
            self._drop("%d already wait for %s", self._pending_limit, self.far_end)

    def _drop(self, why: str, *args: Any) -> None:
        if not self._dropped:
            log.warning("event bus: dropping events: " + why, *args)
        self._dropped += 1

    def _flowing(self) -> None:
        """Events go out again: say how many were dropped while they did not."""
        if self._dropped:
            log.warning("event bus: %d events were dropped", self._dropped)
            self._dropped = 0


def tally(counts: dict[str, int], topic: str, count: int) -> None:
    """Record ``count`` subscribers of ``topic``; a topic with none is forgotten."""
    if count:
        counts[topic] = count
    else:
        counts.pop(topic, None)


class Backoff:
    """Paces a link's reconnection attempts and keeps them to two log lines: one warning when
    they start failing, one line when one succeeds again."""

    def __init__(self) -> None:
        self.delay, self.failing = FIRST_RETRY, False

    def lost(self, warning: str | None, *args: Any) -> None:
        """What worked fails: say so (``None``: it is said already), unless it failed already."""
        if not self.failing and warning is not None:
            log.warning(warning, *args)
        self.failing = True

    async def failed(self, warning: str | None, *args: Any) -> None:
        """An attempt failed: say so if it is the first, then wait, twice as long as last time."""
        self.lost(warning, *args)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, LAST_RETRY)

    def succeeded(self, info: str, *args: Any) -> None:
        if self.failing:
            log.info(info, *args)
        self.delay, self.failing = FIRST_RETRY, False
