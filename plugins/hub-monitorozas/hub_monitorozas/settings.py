"""The plugin's options, ``[plugins.monitorozas]`` or ``HUB_MONITOROZAS_<KEY>``."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field

from hub.config import ConfigError
from hub.upstream import UpstreamSettings, check_mode
from hub_monitorozas.checks import trust_store

PLUGIN = "monitorozas"


@dataclass
class MonitorozasUpstream(UpstreamSettings):
    """``[plugins.monitorozas.upstream]``: the Monitorozás.hu deployment fronted in upstream
    mode. The vendor counts requests per key, whatever the path: one budget for the key."""

    budget: str = "120/m"  # the vendor's documented limit per key
    key: str = ""  # the vendor's API key (sent as Authorization: Bearer)


@dataclass
class MonitorozasSettings:
    mode: str = "local"  # "upstream": front the deployment in [plugins.monitorozas.upstream]
    upstream: MonitorozasUpstream = field(default_factory=MonitorozasUpstream)
    interval: float = 60.0  # seconds between two checks of one device
    blacklist_interval: float = 3600.0  # seconds between two DNSBL rounds of one monitor
    scheduler_tick: float = 0.5  # how often the scheduler looks for due work
    timeout: float = 10.0  # per check: connect + TLS + first answer
    concurrency: int = 50  # checks and look-ups in flight at once
    history_size: int = 50  # results kept per device
    ca_file: str = ""  # PEM trust store for HTTPS/TLS checks; "" = the system's
    user_agent: str = "hub-monitorozas/1.0"
    rate_limit: int = 120  # requests per key per rate_window
    rate_window: float = 60.0
    # CIDRs whose X-Forwarded-For counts: read by the host's Caller (``caller.address``)
    trusted_proxies: list[str] = field(default_factory=list)
    resolver: str = ""  # DNS server for DNSBL look-ups; "" = the system's (/etc/resolv.conf)
    resolver_port: int = 53
    ip_zones: list[str] = field(
        default_factory=lambda: ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"]
    )
    domain_zones: list[str] = field(default_factory=lambda: ["dbl.spamhaus.org", "multi.surbl.org"])
    max_body: int = 64 * 1024  # a device is a few hundred bytes

    def __post_init__(self) -> None:
        for name in ("interval", "blacklist_interval", "scheduler_tick", "timeout", "rate_window"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"plugins.{PLUGIN}.{name}: must be positive")
        for name in ("concurrency", "history_size", "rate_limit", "max_body"):
            if getattr(self, name) < 1:
                raise ConfigError(f"plugins.{PLUGIN}.{name}: must be at least 1")
        if not 1 <= self.resolver_port <= 65535:
            raise ConfigError(f"plugins.{PLUGIN}.resolver_port: must be between 1 and 65535")
        if self.resolver:
            try:
                ipaddress.ip_address(self.resolver)
            except ValueError:
                raise ConfigError(
                    f"plugins.{PLUGIN}.resolver: expected an IP address, got {self.resolver!r}"
                ) from None
        if not all(" " <= char <= "~" for char in self.user_agent):
            raise ConfigError(
                f"plugins.{PLUGIN}.user_agent: printable ASCII only (an HTTP header value),"
                f" got {self.user_agent!r}"
            )
        if self.ca_file:
            try:  # every HTTPS and TLS check would fail on it
                trust_store(self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"plugins.{PLUGIN}.ca_file: cannot load {self.ca_file!r} as a PEM trust"
                    f" store: {exc}"
                ) from None
        for i, cidr in enumerate(self.trusted_proxies):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ConfigError(
                    f"plugins.{PLUGIN}.trusted_proxies[{i}]: not an address or CIDR: {cidr!r}"
                ) from None
        if check_mode(PLUGIN, self.mode, self.upstream) and not self.upstream.key:
            raise ConfigError(
                f"plugins.{PLUGIN}.upstream.key: the vendor's API key is required in upstream"
                f" mode (or HUB_MONITOROZAS_UPSTREAM_KEY)"
            )
