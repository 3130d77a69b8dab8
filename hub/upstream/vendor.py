"""What a plugin says about its vendor (:class:`Vendor`, :class:`Split`) and what a read gives
back (:class:`Reading`), with the reasons the host's upstream errors carry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.errors import HubError
from hub.upstream.cache import Change, Entry, Target
from hub.upstream.client import Reply, VendorAuth
from hub.upstream.settings import UpstreamSettings
from hub.upstream.writes import Reconciler

REASONS = {502: "upstream_bad_answer", 503: "upstream_unavailable", 504: "upstream_timeout"}
REFUSALS = {401: "upstream_unauthorized", 403: "upstream_forbidden", 404: "upstream_not_found"}


def refusal_reason(status: int) -> str:
    """The ``reason`` of a vendor's own refusal passed on (its status kept): it says the
    upstream refused, not the hub."""
    return REFUSALS.get(status, f"upstream_{status}")


def says_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def json_if_it_says_so(target: Target, reply: Reply) -> str | None:
    """The default ``Vendor.unreadable``: a success whose ``Content-Type`` says JSON must be
    JSON (a proxy's HTML page sent as the vendor's JSON is not an answer to keep)."""
    if not 200 <= reply.status < 300 or not reply.body or not says_json(reply.content_type):
        return None
    try:
        orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return f"{reply.content_type} that is not JSON"
    return None


def json_only(target: Target, reply: Reply) -> str | None:
    """``Vendor.unreadable`` for a vendor whose every success is JSON (UnSpot, ERA,
    Monitorozás.hu, ROP): an HTML page (a login or maintenance page of a proxy in front of
    it) is unreadable whatever its ``Content-Type``."""
    if not 200 <= reply.status < 300 or reply.status == 204:
        return None
    try:
        orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return f"{reply.content_type or 'no content type'} that is not JSON"
    return None


@dataclass(frozen=True)
class Split:
    """A vendor answer that also answers other paths (UnSpot's full ``/monitoring`` holds every
    category): ``parts`` cuts it into the answers for ``covers``. The poller sends it instead of
    two or more due paths it covers when its own category has budget."""

    path: str
    covers: frozenset[str]
    parts: Callable[[bytes], dict[str, bytes]]


@dataclass
class Vendor:
    """What a plugin tells the host about its vendor: where it is and how it is reached
    (``settings``, ``auth``), its budget categories (default: one per path), answers that hold
    others (``splits``), what to do with a change (``on_change``: turn it into the plugin's
    events), the targets to keep fresh while someone listens (``watched``), how to find a
    write that may have landed before it is sent again (``reconcilers``, by name), and which
    5xx statuses are the vendor's real answer rather than its failure (``answers``: Webim's
    connect-to-db says "database down" with a 500), cached and served as such, and why an
    answer cannot be read (``unreadable``: ``None`` when it can): an unreadable one is the
    table's 502, never cached, and what is cached is served (stale) over it."""

    settings: UpstreamSettings
    auth: VendorAuth
    category: Callable[[Target], str] = lambda target: target.path
    splits: Sequence[Split] = ()
    on_change: Callable[[Change], None] | None = None
    watched: Callable[[], Iterable[Target]] = field(default=lambda: ())
    reconcilers: Mapping[str, Reconciler] = field(default_factory=dict)
    answers: Callable[[Target, int], bool] = lambda target, status: False
    unreadable: Callable[[Target, Reply], str | None] = json_if_it_says_so


@dataclass(frozen=True)
class Reading:
    """A cached vendor answer as served to one reader: how old it is and whether it is stale."""

    entry: Entry
    age: float
    stale: bool
    plugin: str

    @property
    def status(self) -> int:
        return self.entry.status

    @property
    def body(self) -> bytes:
        return self.entry.body

    @property
    def fetched_at(self) -> float:
        return self.entry.fetched_at

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise self.bad_answer("the answer is not JSON") from None

    def bad_answer(self, what: str) -> HubError:
        """The vendor answered something the plugin cannot read: the table's 502."""
        message = f"upstream answered {self.entry.target.path} unreadably: {what}"
        return HubError(502, message, reason=REASONS[502], plugin=self.plugin)

    def refused(self, message: str, reason: str | None = None) -> HubError:
        """The vendor's own refusal (401, 403, 404, ...), passed on with its status and a
        ``reason`` saying that it was the upstream that refused."""
        reason = reason or refusal_reason(self.status)
        return HubError(self.status, message, reason=reason, plugin=self.plugin)
