"""``[plugins.<name>]`` ``mode`` and ``[plugins.<name>.upstream]``: what every plugin that can
front its vendor's deployment shares. A plugin subclasses :class:`UpstreamSettings` to add its
vendor's credential fields and to set the vendor's documented ``budget`` as the default."""

from __future__ import annotations

import math
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hub.config import ConfigError
from hub.urls import http_url_fault

MODES = ("local", "upstream")
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)?\s*$")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` requests in any ``window`` seconds (``"1/30s"``, ``"60/m"``)."""

    limit: int
    window: float

    @property
    def interval(self) -> float:
        """The spacing of requests sent at the budget's full pace."""
        return self.window / self.limit

    def __str__(self) -> str:
        return f"{self.limit}/{self.window:g}s"


def parse_rate(text: str, key: str) -> Rate:
    match = RATE.match(text)
    if not match:
        raise ConfigError(f"{key}: expected REQUESTS/DURATION such as 1/30s or 60/m, got {text!r}")
    limit, amount, unit = int(match[1]), float(match[2] or 1), UNITS[match[3] or "s"]
    window = amount * unit
    if limit < 1 or not math.isfinite(window) or window <= 0:
        raise ConfigError(f"{key}: needs at least one request in a positive duration: {text!r}")
    return Rate(limit, window)


def ca_file_fault(path: str) -> str | None:
    """Why ``path`` cannot add to the trust of the vendor's TLS, or None: it is loaded as the
    client will load it, so a file that is not PEM certificates (or cannot be read) stops the
    start instead of failing every request to the vendor."""
    if not Path(path).is_file():
        return f"no such file: {path}"
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        return f"{path} holds no PEM certificate that can be read ({exc.reason or exc})"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None


@dataclass
class UpstreamSettings:
    """The vendor deployment a plugin fronts in ``mode = "upstream"``. Durations in seconds;
    ``fresh`` and ``revalidate`` of 0 mean one budget interval."""

    url: str = ""  # the vendor's base URL; the documented paths follow it
    budget: str = "1/5s"  # requests to the vendor per category and credential
    max_stale: float = 600.0  # how long past freshness an answer is served while the vendor fails
    ca_file: str = ""  # extra CA certificates (PEM) to trust for the vendor's TLS
    timeout: float = 10.0  # one request to the vendor, connect to last byte
    connections: int = 4  # open connections to the vendor at most
    fresh: float = 0.0  # an answer this young is served as it is
    revalidate: float = 0.0  # past fresh, served unmarked this much longer while refreshed
    hot: float = 300.0  # a key read in this window is kept fresh by the poller
    poll: float = 1.0  # how often the poller looks for keys to refresh
    max_wait: float = 10.0  # how long a reader with nothing to serve waits for a budget slot
    max_body: int = 16 * 1024 * 1024  # bytes of one vendor answer at most
    write_wait: float = 10.0  # how long a client waits for the vendor's answer to its write
    write_lease: float = 30.0  # a write whose sender died is taken up again after this long
    max_keys: int = 10_000  # cached answers kept; the least recently read go first
    history_versions: int = 100  # versions of one answer kept in its history

    def rate(self, plugin: str) -> Rate:
        return parse_rate(self.budget, f"plugins.{plugin}.upstream.budget")

    def check(self, plugin: str) -> None:
        """Every value, naming its key; called by the host when the plugin starts upstream."""
        key = f"plugins.{plugin}.upstream"
        fault = http_url_fault(self.url)
        if fault is not None:
            raise ConfigError(f"{key}.url: {fault}")
        split = urlsplit(self.url)
        if split.username or split.password:
            raise ConfigError(f"{key}.url: put the vendor's credential in its own setting")
        if split.query or split.fragment:
            raise ConfigError(f"{key}.url: a base URL takes no query or fragment")
        self.rate(plugin)
        if self.ca_file:
            fault = ca_file_fault(self.ca_file)
            if fault is not None:
                raise ConfigError(f"{key}.ca_file: {fault}")
        positive = ("timeout", "poll", "hot", "max_wait", "write_wait", "write_lease")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{key}.{name}: must be greater than 0")
        for name in ("max_stale", "fresh", "revalidate"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name}: must not be negative")
        for name in ("connections", "max_body", "max_keys", "history_versions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key}.{name}: must be at least 1")


def check_mode(plugin: str, mode: str, upstream: UpstreamSettings) -> bool:
    """Whether the plugin fronts its vendor; a bad ``mode`` or upstream table stops the start."""
    if mode not in MODES:
        raise ConfigError(f"plugins.{plugin}.mode: expected local or upstream, got {mode!r}")
    if mode == "upstream":
        upstream.check(plugin)
    return mode == "upstream"
