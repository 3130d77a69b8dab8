"""``/webim/metrics``: Webim's state as Prometheus families, beside the hub's own metrics and
the hub process's (CPU, memory, file descriptors, GC), in the text format. In upstream mode the
fronted Webim's families take the place of the local state, labelled ``upstream``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.api import HubApi
from hub.errors import HubError
from hub_webim import accounts, channels, long_polling
from hub_webim.service import WebimService
from hub_webim.storage import ALL_COUNTERS


class WebimCollector(Collector):
    """Read at every scrape, from the same modules the endpoints' service uses."""

    def __init__(self, hub: HubApi) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        service = self.hub.service(WebimService)
        if service.upstream is not None:  # webim.db is not the system: /webim/metrics reads it
            return
        try:
            service.check_database()
            up = 1
        except HubError:
            up = 0
        yield GaugeMetricFamily(
            "webim_database_up", "1 if connect-to-db succeeds (webim.db answers a query)", value=up
        )
        try:  # a broken webim.db must not take the hub's own /metrics down with it
            yield from self._state(service)
        except HubError:
            return

    def _state(self, service: WebimService) -> Iterator[Metric]:
        every = accounts.every(service.database)
        per_counter = {
            counter: GaugeMetricFamily(
                f"webim_account_{counter}",
                f"accounts-stat {counter} of each account",
                labels=["account"],
            )
            for counter in ALL_COUNTERS
        }
        blocked = GaugeMetricFamily(
            "webim_account_blocked", "1 if the account is blocked", labels=["account"]
        )
        not_belongs = GaugeMetricFamily(
            "webim_account_not_belongs_to_tornado_instance",
            "1 if the account does not belong to this tornado instance",
            labels=["account"],
        )
        for account in every:
            for counter, family in per_counter.items():
                family.add_metric([account.name], getattr(account, counter))
            blocked.add_metric([account.name], int(account.blocked is True))
            not_belongs.add_metric([account.name], int(account.not_belongs_to_tornado_instance))
        yield from per_counter.values()
        yield blocked
        yield not_belongs
        tornado = accounts.tornado(every)
        yield GaugeMetricFamily(
            "webim_accounts", "Active (not blocked) accounts", value=tornado.accounts_cnt
        )
        errors = GaugeMetricFamily(  # set by the admin, so it can go down: not a counter
            "webim_channel_errors", "Errors of each channel (error_cnt)", labels=["channel"]
        )
        for channel in channels.with_errors(service.database):
            errors.add_metric([channel.channel], channel.error_cnt)
        yield errors
        polling = long_polling.current(service.database)
        yield GaugeMetricFamily(
            "webim_long_polling_avg_tries", "avgNTries of long polling", value=polling.avg_n_tries
        )
        yield CounterMetricFamily(
            "webim_long_polling_cycles", "Long-polling update cycles (n)", value=polling.n
        )
        yield GaugeMetricFamily(
            "webim_start_time_seconds",
            "Start of this chat backend (startTs)",
            value=service.instance.start_ts,
        )
        info = GaugeMetricFamily(
            "webim_build_info",
            "The instance id and version of this chat backend",
            labels=["instance_id", "version", "env"],
        )
        instance = service.instance
        info.add_metric([instance.instance_id, instance.version, instance.env], 1)
        yield info


def render_metrics(hub: HubApi, upstream: Sequence[Metric] = ()) -> tuple[bytes, str]:
    """The hub's registry: the host's and every plugin's families (:class:`WebimCollector`
    among them) and the hub process's; with ``upstream``, the vendor's families joined in."""
    registry: Collector = hub.metrics.registry
    if upstream:
        registry = _Joined(registry, upstream)
    return generate_latest(registry), CONTENT_TYPE_LATEST


# samples the text format writes as gauges of their own (``x_created`` of a counter ``x``)
SPLIT_SUFFIXES = ("_created", "_gsum", "_gcount")


class _Joined(Collector):
    """The hub's families and the vendor's, one family per name as the text format needs: the
    vendor's samples join a family of the hub's with the same name and type (a hub fronting a
    hub, or the process collectors both have); a vendor family whose name the hub uses for a
    family of another type is left out."""

    def __init__(self, registry: Collector, upstream: Iterable[Metric]) -> None:
        self.registry = registry
        self.upstream = upstream

    def collect(self) -> Iterator[Metric]:
        theirs = {family.name: family for family in self.upstream}
        for family in self.registry.collect():
            joining = [(family.name, family.type)]
            joining += [(family.name + suffix, "gauge") for suffix in SPLIT_SUFFIXES]
            samples = list(family.samples)
            for name, kind in joining:
                same = theirs.pop(name, None)
                if same is not None and same.type == kind:
                    samples += same.samples
            joined = Metric(family.name, family.documentation, family.type, family.unit)
            joined.samples = samples
            yield joined
        yield from theirs.values()
