"""The monitoring categories, read at request time: displays, per-status counts of calendars
and webhooks, user sync, and the ``system`` probes of the deployment."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.api import HubApi
from hub.records import instant
from hub.storage import Database
from hub_unspot import probes
from hub_unspot.errors import not_found
from hub_unspot.records import (
    DISPLAY_TOPIC,
    Counts,
    Display,
    Monitoring,
    QueueDepth,
    System,
    UserSync,
)
from hub_unspot.settings import UnspotSettings
from hub_unspot.storage import CALENDARS, WEBHOOKS, Kind, first_row

# REST's category names, in the order the full request lists them, and their Monitoring fields
CATEGORIES = {
    "displays": "displays",
    "calendars": "calendars",
    "webhooks": "webhooks",
    "user-sync": "user_sync",
    "system": "system",
}
FULL_REQUEST = "monitoring"  # the rate-limit category of GET /monitoring


class Monitor:
    """Reads every category; the ``system`` probes are cached for ``system_cache`` seconds."""

    def __init__(self, hub: HubApi, settings: UnspotSettings, database: Database) -> None:
        self.hub = hub
        self.settings = settings
        self.database = database
        ttl, timeout = settings.system_cache, settings.probe_timeout
        redis = settings.redis
        self._redis = probes.CachedProbe(lambda: probes.redis_status(redis), ttl, timeout)
        self._database = probes.CachedProbe(lambda: probes.database_status(database), ttl, timeout)
        self._filesystem = probes.CachedProbe(
            lambda: asyncio.to_thread(probes.filesystem_status, hub.data_dir), ttl, timeout
        )

    def categories(self, requested: Sequence[str] | None) -> list[str]:
        """REST category names in body order; none asked for means the full request, which
        carries ``system`` only on-premise. An unknown name is a 404."""
        if not requested:
            return [c for c in CATEGORIES if c != "system" or self.settings.on_premise]
        for name in requested:
            if name not in CATEGORIES:
                raise not_found()
        return [c for c in CATEGORIES if c in requested]

    async def read(self, categories: Sequence[str]) -> Monitoring:
        return Monitoring(**{CATEGORIES[c]: await self.category(c) for c in categories})

    async def category(self, name: str) -> Any:
        if name == "displays":
            return self.displays()
        if name == "calendars":
            return self._counts(CALENDARS)
        if name == "webhooks":
            return self._counts(WEBHOOKS)
        if name == "user-sync":
            return self.user_sync()
        return await self.system()

    def displays(self) -> tuple[Display, ...]:
        rows = self.database.execute("SELECT id, name, status FROM displays ORDER BY seq")
        return tuple(Display(i, n, s) for i, n, s in rows.fetchall())

    def _counts(self, kind: Kind) -> Counts:
        assert kind.counts is not None
        rows = self.database.execute(
            f"SELECT status, count(*) FROM {kind.table} GROUP BY status"
        ).fetchall()
        by_status = dict(rows)
        counts = {s: int(by_status.get(s, 0)) for s in kind.statuses}
        return kind.counts(total=sum(counts.values()), **counts)

    def user_sync(self) -> UserSync:
        enabled, last = first_row(
            self.database, "SELECT enabled, last_sync_at FROM user_sync WHERE id = 1"
        )
        last_sync: datetime | None = instant(last) if enabled and last is not None else None
        return UserSync(last_sync_date=last_sync)

    async def system(self) -> System:
        redis, database, filesystem = await asyncio.gather(
            self._redis.status(), self._database.status(), self._filesystem.status()
        )
        queue = tuple(QueueDepth(name, n) for name, n in self.hub.queue_depths())
        return System(redis=redis, database=database, filesystem=filesystem, queue=queue)

    async def storage_health(self) -> tuple[str, str]:
        """The hub's own health probe: down while the database or data directory is; the
        detail also counts display-status subscribers."""
        database, filesystem = await asyncio.gather(
            self._database.status(), self._filesystem.status()
        )
        ok = database == filesystem == probes.ONLINE
        subscribers = self.hub.events.subscribers(DISPLAY_TOPIC)
        detail = f"database {database}, filesystem {filesystem}, subscribers: {subscribers}"
        return ("ok" if ok else "down"), detail
