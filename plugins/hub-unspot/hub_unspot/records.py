"""What :class:`~hub_unspot.service.UnspotService` returns: typed records that each adapter
renders through ``hub.records`` (REST camelCases them, GraphQL and gRPC take them field by
field). Instants are written as the seed writes them: ``2026-02-04T11:41:39+00:00``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.records import ISO_OFFSET, spec


@dataclass(frozen=True)
class Display:
    id: str
    name: str
    status: str  # online | offline


@dataclass(frozen=True)
class Calendar:
    id: str
    name: str
    status: str  # online | offline


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    status: str  # online | failed | disabled


Entity = Display | Calendar | Webhook


@dataclass(frozen=True)
class CalendarCounts:
    total: int
    online: int
    offline: int


@dataclass(frozen=True)
class WebhookCounts:
    total: int
    online: int
    failed: int
    disabled: int


Counts = CalendarCounts | WebhookCounts


@dataclass(frozen=True)
class UserSync:
    """``last_sync_date`` is None while user sync is disabled or has never run."""

    last_sync_date: datetime | None = field(metadata=spec(instant=ISO_OFFSET))


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int


@dataclass(frozen=True)
class System:
    redis: str  # online | offline | not_configured
    database: str  # online | offline
    filesystem: str  # online | offline
    queue: tuple[QueueDepth, ...]


OMITTED = spec(omit_none=True)


@dataclass(frozen=True)
class Monitoring:
    """The categories asked for, in REST's body order; one not asked for is None (REST leaves
    its key out, gRPC leaves it unset)."""

    displays: tuple[Display, ...] | None = field(default=None, metadata=OMITTED)
    calendars: CalendarCounts | None = field(default=None, metadata=OMITTED)
    webhooks: WebhookCounts | None = field(default=None, metadata=OMITTED)
    user_sync: UserSync | None = field(default=None, metadata=OMITTED)
    system: System | None = field(default=None, metadata=OMITTED)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str


@dataclass(frozen=True)
class IssuedToken:
    """Shown once; it replaces the user's previous token."""

    user_id: str
    role: str
    token: str


DISPLAY_TOPIC = "unspot.display_status"  # the event bus topic of DisplayStatusChange


@dataclass(frozen=True)
class DisplayStatusChange:
    """A display that appeared (``previous_status`` None) or whose status changed."""

    id: str
    name: str
    status: str
    previous_status: str | None
