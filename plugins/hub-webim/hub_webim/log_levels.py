"""set-log-level and its read-back: a Webim component name means loggers of the hub (every
logger of a plugin, or one of the host's), changed at once in the process that answers and,
through the event bus, in every other process of the hub (:class:`LevelSync`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hub import logs
from hub.api import HubApi
from hub.errors import HubError, quoted
from hub_webim import system
from hub_webim.errors import bad_request
from hub_webim.records import LogLevel, LogLevelChange

log = logging.getLogger("hub_webim")

LEVEL_TOPIC = "webim.log_level"
ORDERS_BACKLOG = 1000  # orders a process may fall behind by; each is applied in microseconds


def loggers(hub: HubApi, name: str) -> tuple[str, ...]:
    """The loggers ``name`` means: every logger of a plugin (its package and
    ``hub.<plugin>``), else one logger of the hub process."""
    if not name:
        raise bad_request("name: required")
    plugin = hub.plugins.get(name)
    if plugin is not None:
        return tuple(plugin.loggers)
    logger = system.logger_name(name)
    if logger is None:
        raise bad_request(f"name: no component {quoted(name)} in this hub")
    return (logger,)


def set_level(
    hub: HubApi, name: str | None, level: str | None, told: bool = True
) -> LogLevelChange:
    """Change the level of the named component (for a plugin, every line it writes); the
    change is logged at WARNING so the log shows it (``told=False``: a process applying again
    its own change, logged when it was made)."""
    if not name:
        raise bad_request("name: required")
    if not level:
        raise bad_request("level: required")
    python_level = system.LEVELS.get(level.upper())
    if python_level is None:
        raise bad_request(f"level: expected one of {', '.join(system.LEVELS)}, got {quoted(level)}")
    names = loggers(hub, name)
    plugin = hub.plugins.get(name)
    if plugin is not None:
        logs.set_plugin_level(plugin, python_level)
    else:
        logging.getLogger(names[0]).setLevel(python_level)
    if told:
        log.warning("set-log-level: %s (%s) -> %s", name, ", ".join(names), level.upper())
    return LogLevelChange(
        result="ok", name=name, logger=names[0], loggers=names, level=level.upper()
    )


def level_of(hub: HubApi, name: str) -> LogLevel:
    """The level of ``name``'s first logger (a plugin's loggers are set together)."""
    logger = loggers(hub, name)[0]
    target = logging.getLogger(logger)
    return LogLevel(
        name=name,
        logger=logger,
        level=system.level_name(target.level) if target.level else "NOTSET",
        effective_level=system.level_name(target.getEffectiveLevel()),
    )


@dataclass(frozen=True)
class LevelOrder:
    """A set-log-level made in process ``origin`` (which has applied it already), for the
    others: ``node`` is the hub it is limited to (``current_node_only``), else ``None``."""

    name: str
    level: str
    node: str | None
    origin: str


class LevelSync:
    """Carries each set-log-level to every process of the hub: the workers of ``hub serve
    --workers N`` are one Webim node, so a level set through one of them holds in all; without
    ``current_node_only`` it also reaches every hub of a cluster on PostgreSQL (each hub being
    a node). A single-process hub has no one to tell."""

    def __init__(self, hub: HubApi) -> None:
        self.hub = hub
        self.origin = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None

    def announce(self, change: LogLevelChange, current_node_only: bool | None) -> None:
        if self.hub.events.shared:
            node = self.hub.instance_id if current_node_only else None
            order = LevelOrder(change.name, change.level, node, self.origin)
            self.hub.events.publish(LEVEL_TOPIC, order)

    def start(self) -> None:
        """Follow the other processes' orders from now on (before the hub serves)."""
        if self.hub.events.shared and self._task is None:
            orders = self.hub.events.subscribe(LEVEL_TOPIC, ORDERS_BACKLOG)
            self._task = asyncio.get_running_loop().create_task(self._follow(orders))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self, orders: AsyncIterator[LevelOrder]) -> None:
        """Until the stream ends (at shutdown). Every order is applied in the bus's order, this
        process's own too (applied at once already, and again here): two set-log-levels made
        at the same time through two workers then end at the same level in every process,
        the one the bus carried last (each applying only the other's, they swapped levels)."""
        async for order in orders:
            if order.node not in (None, self.hub.instance_id):
                continue
            try:
                set_level(self.hub, order.name, order.level, told=order.origin != self.origin)
            except HubError as exc:  # another hub of a cluster may run other plugins
                log.warning("set-log-level from another process not applied: %s", exc.message)
