"""``/webim/metrics``: Webim's state as Prometheus families, beside the hub's own metrics and
the hub process's (CPU, memory, file descriptors, GC), in the text format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub_webim.storage import ALL_COUNTERS


class WebimCollector(Collector):
    """Read at every scrape, from the same service the endpoints use."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        from hub_webim.service import HubError, WebimService

        service = self.hub.service(WebimService)
        try:
            service.connect_to_db()
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

    def _state(self, service: Any) -> Iterator[Metric]:
        accounts = service.accounts()
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
        for account in accounts:
            for counter, family in per_counter.items():
                family.add_metric([account["name"]], account[counter])
            blocked.add_metric([account["name"]], int(account["blocked"]))
            not_belongs.add_metric(
                [account["name"]], int(account["not_belongs_to_tornado_instance"])
            )
        yield from per_counter.values()
        yield blocked
        yield not_belongs
        tornado = service.zabbix_tornado()
        yield GaugeMetricFamily(
            "webim_accounts", "Active (not blocked) accounts", value=tornado["accounts_cnt"]
        )
        channels = GaugeMetricFamily(  # set by the admin, so it can go down: not a counter
            "webim_channel_errors", "Errors of each channel (error_cnt)", labels=["channel"]
        )
        for channel, counts in service.channels().items():
            channels.add_metric([channel], counts["error_cnt"])
        yield channels
        avg, n = service.long_polling()
        yield GaugeMetricFamily(
            "webim_long_polling_avg_tries", "avgNTries of long polling", value=avg
        )
        yield CounterMetricFamily(
            "webim_long_polling_cycles", "Long-polling update cycles (n)", value=n
        )
        yield GaugeMetricFamily(
            "webim_start_time_seconds",
            "Start of this chat backend (startTs)",
            value=service.start_ts,
        )
        info = GaugeMetricFamily(
            "webim_build_info",
            "The instance id and version of this chat backend",
            labels=["instance_id", "version", "env"],
        )
        info.add_metric([service.instance_id, service.version, service.env], 1)
        yield info


def render_metrics(hub: Any) -> tuple[bytes, str]:
    """The hub's registry: the host's and every plugin's families (:class:`WebimCollector`
    among them) and the hub process's."""
    return generate_latest(hub.metrics.registry), CONTENT_TYPE_LATEST
