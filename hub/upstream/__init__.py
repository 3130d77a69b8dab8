"""Upstream mode: a plugin fronting its vendor's real deployment. The host owns the machinery
(client, budget, cache with stale windows, coalescing, poller, history, change events,
freshness); a plugin describes its vendor (:class:`Vendor`) and reads through
``hub.upstream(plugin, vendor).read(caller, path, query)``."""

from hub.upstream.cache import Change, Entry, Target
from hub.upstream.client import Reply, VendorAuth
from hub.upstream.settings import Rate, UpstreamSettings, check_mode, parse_rate
from hub.upstream.source import Upstream
from hub.upstream.vendor import (
    REASONS,
    REFUSALS,
    Reading,
    Split,
    Vendor,
    json_if_it_says_so,
    json_only,
    refusal_reason,
)
from hub.upstream.writes import Reconciler, Write, WritePending, WriteState

__all__ = [
    "REASONS",
    "REFUSALS",
    "Change",
    "Entry",
    "Rate",
    "Reading",
    "Reconciler",
    "Reply",
    "Split",
    "Target",
    "Upstream",
    "UpstreamSettings",
    "Vendor",
    "VendorAuth",
    "Write",
    "WritePending",
    "WriteState",
    "check_mode",
    "json_if_it_says_so",
    "json_only",
    "parse_rate",
    "refusal_reason",
]
