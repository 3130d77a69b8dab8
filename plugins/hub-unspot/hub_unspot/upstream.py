"""``mode = "upstream"``: the monitoring categories read from a real UnSpot deployment through
the host's upstream machinery, within UnSpot's documented limit (one request per 30 s per token
per category, the full ``/monitoring`` request a category of its own). The vendor's answers are
read into the same records local mode builds, so every protocol renders them as it always does;
a display status that changes upstream is the same event a local change is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from hub.api import HubApi
from hub.caller import Caller
from hub.events import EventBus
from hub.records import parse_iso8601
from hub.upstream import (
    Change,
    Reading,
    Split,
    Target,
    Upstream,
    Vendor,
    VendorAuth,
    json_only,
)
from hub_unspot.errors import not_found
from hub_unspot.monitoring import CATEGORIES
from hub_unspot.records import (
    DISPLAY_TOPIC,
    CalendarCounts,
    Display,
    DisplayStatusChange,
    Monitoring,
    QueueDepth,
    System,
    UserSync,
    WebhookCounts,
)
from hub_unspot.settings import PLUGIN, UnspotSettings

BASE = "/api/external/v1/monitoring"
BODY_KEYS = {  # REST category -> its key in the vendor's body
    "displays": "displays",
    "calendars": "calendars",
    "webhooks": "webhooks",
    "user-sync": "userSync",
    "system": "system",
}
DISPLAYS = f"{BASE}/displays"


def category_of(target: Target) -> str:
    """The vendor's rate-limit category: the full request is ``monitoring``."""
    return target.path.rsplit("/", 1)[-1] if target.path != BASE else "monitoring"


def parts_of(whole: bytes) -> dict[str, bytes]:
    """The full answer cut into each category's own answer, as the vendor would give it."""
    body = orjson.loads(whole)["body"]
    return {
        f"{BASE}/{name}": orjson.dumps({"message": "OK", "body": {key: body[key]}})
        for name, key in BODY_KEYS.items()
        if key in body
    }


class UpstreamMonitor:
    """The categories as the vendor reports them; ``read`` answers what ``Monitor.read``
    answers in local mode."""

    def __init__(self, hub: HubApi, settings: UnspotSettings) -> None:
        self.events: EventBus = hub.events
        token = settings.upstream.token
        vendor = Vendor(
            settings=settings.upstream,
            auth=VendorAuth(headers={"Authorization": f"Bearer {token}"} if token else {}),
            category=category_of,
            splits=[Split(BASE, frozenset(f"{BASE}/{c}" for c in BODY_KEYS), parts_of)],
            on_change=self._changed,
            watched=self._watched,
            unreadable=json_only,  # UnSpot answers JSON only: an HTML page is a proxy's
        )
        self.upstream: Upstream = hub.upstream(PLUGIN, vendor)

    async def read(self, caller: Caller, requested: Sequence[str] | None) -> Monitoring:
        """The full request (``requested`` empty) reads the vendor's full answer, which has
        ``system`` only where the vendor is on-premise; categories read one path each."""
        if not requested:
            reading = await self.upstream.read(caller, BASE)
            return self.upstream.decoded(reading, _monitoring, None)
        for name in requested:
            if name not in CATEGORIES:
                raise not_found()
        values: dict[str, Any] = {}
        for name in (c for c in CATEGORIES if c in requested):
            reading = await self.upstream.read(caller, f"{BASE}/{name}")
            monitoring = self.upstream.decoded(reading, _monitoring, (name,))
            values[CATEGORIES[name]] = getattr(monitoring, CATEGORIES[name])
        return Monitoring(**values)

    # -- change events -------------------------------------------------------------------
    def _watched(self) -> list[Target]:
        """Display statuses are polled while someone subscribes to their changes."""
        return [Target.of(DISPLAYS)] if self.events.subscribers(DISPLAY_TOPIC) else []

    def _changed(self, change: Change) -> None:
        """A display that appears or whose status changes upstream is an event, as a local
        change is; the first answer ever seen is the baseline, not a burst of events."""
        if change.target.path != DISPLAYS or change.before is None:
            return
        earlier, now = _displays_in(change.before), _displays_in(change.after)
        if earlier is None or now is None:  # an answer without displays tells no change
            return
        before = {d.id: d for d in earlier}
        for display in now:
            previous = before.get(display.id)
            if previous is None or previous.status != display.status:
                status = previous.status if previous is not None else None
                self.events.publish(
                    DISPLAY_TOPIC,
                    DisplayStatusChange(display.id, display.name, display.status, status),
                )


def _monitoring(reading: Reading, names: Sequence[str] | None) -> Monitoring:
    """The categories ``names`` (all the answer holds: None) of a vendor answer; its refusal
    (401 "only on-premise", a bad vendor token) passed on as the vendor's."""
    document = reading.json()
    message = document.get("message") if isinstance(document, dict) else None
    if not reading.ok:
        raise reading.refused(str(message or f"upstream answered {reading.status}"))
    body = document.get("body") if isinstance(document, dict) else None
    if not isinstance(body, dict):
        raise reading.bad_answer("no body object")
    values: dict[str, Any] = {}
    for name in names or [c for c in CATEGORIES if BODY_KEYS[c] in body]:
        if BODY_KEYS[name] not in body:
            raise reading.bad_answer(f"body has no {BODY_KEYS[name]}")
        try:
            values[CATEGORIES[name]] = READERS[name](body[BODY_KEYS[name]])
        except (KeyError, TypeError, ValueError) as exc:
            raise reading.bad_answer(f"{BODY_KEYS[name]}: {exc}") from None
    return Monitoring(**values)


def _displays_in(answer: bytes) -> tuple[Display, ...] | None:
    """The displays an answer lists; ``None`` for one that lists none readably (against it,
    the next good answer's every display would look new)."""
    try:
        return _displays(orjson.loads(answer)["body"]["displays"])
    except (KeyError, TypeError, ValueError):
        return None


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string")
    return value


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{name}: expected a count")
    return value


def _displays(value: Any) -> tuple[Display, ...]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return tuple(
        Display(_text(d["id"], "id"), _text(d["name"], "name"), _text(d["status"], "status"))
        for d in value
    )


def _calendars(value: Any) -> CalendarCounts:
    return CalendarCounts(**{k: _count(value[k], k) for k in ("total", "online", "offline")})


def _webhooks(value: Any) -> WebhookCounts:
    keys = ("total", "online", "failed", "disabled")
    return WebhookCounts(**{k: _count(value[k], k) for k in keys})


def _user_sync(value: Any) -> UserSync:
    last = value["lastSyncDate"]
    return UserSync(last_sync_date=None if last is None else parse_iso8601(_text(last, "date")))


def _system(value: Any) -> System:
    queue = tuple(
        QueueDepth(_text(q["name"], "name"), _count(q["messages"], "messages"))
        for q in value["queue"]
    )
    states = {k: _text(value[k], k) for k in ("redis", "database", "filesystem")}
    return System(queue=queue, **states)


READERS = {
    "displays": _displays,
    "calendars": _calendars,
    "webhooks": _webhooks,
    "user-sync": _user_sync,
    "system": _system,
}
