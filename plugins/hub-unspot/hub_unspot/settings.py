"""``[plugins.unspot]`` in the config file; ``HUB_UNSPOT_<KEY>`` in the environment wins."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from hub.config import ConfigError
from hub.upstream import UpstreamSettings, check_mode

PLUGIN = "unspot"


@dataclass(frozen=True)
class RedisAddress:
    """Where the ``system`` category's redis PING goes."""

    host: str = ""
    port: int = 6379
    unix_path: str = ""
    username: str | None = None
    password: str | None = None
    db: int = 0
    tls: bool = False


def parse_redis_url(value: str, key: str = f"plugins.{PLUGIN}.redis_url") -> RedisAddress:
    """``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS), ``unix:///path`` or
    a bare ``host:port``; a bad one stops the hub naming ``key``."""
    if "://" not in value:
        value = "redis://" + value
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}: {value!r}") from None
    password = unquote(url.password) if url.password is not None else None
    username = unquote(url.username) if url.username else None
    if url.scheme == "unix":
        if not url.path:
            raise ConfigError(f"{key}: unix:// needs a socket path, got {value!r}")
        return RedisAddress(unix_path=url.path, username=username, password=password)
    if url.scheme not in ("redis", "rediss"):
        raise ConfigError(f"{key}: expected redis://, rediss:// or unix://, got {value!r}")
    if not url.hostname:
        raise ConfigError(f"{key}: no host in {value!r}")
    db_text = url.path.strip("/")
    if db_text and not db_text.isdigit():
        raise ConfigError(f"{key}: the database number must be an integer, got {db_text!r}")
    return RedisAddress(
        host=url.hostname,
        port=port or 6379,
        username=username,
        password=password,
        db=int(db_text or 0),
        tls=url.scheme == "rediss",
    )


@dataclass
class UnspotUpstream(UpstreamSettings):
    """``[plugins.unspot.upstream]``: the UnSpot deployment fronted in upstream mode."""

    budget: str = "1/30s"  # UnSpot's documented limit, per category and token
    token: str = ""  # the vendor's API token (an owner's or integration admin's)


@dataclass
class UnspotSettings:
    mode: str = "local"  # "upstream": front the deployment in [plugins.unspot.upstream]
    upstream: UnspotUpstream = field(default_factory=UnspotUpstream)
    on_premise: bool = True  # the hub runs on your premises; off: `system` is a 401
    rate_window: float = 30.0  # seconds: one REST request per token per category in this window
    redis_url: str = ""  # empty: redis is "not_configured"
    probe_timeout: float = 1.0  # seconds each system probe may take before it counts as offline
    system_cache: float = 2.0  # seconds a system probe result is reused; 0: probe every request

    def __post_init__(self) -> None:
        if self.rate_window <= 0:
            raise ConfigError(f"plugins.{PLUGIN}.rate_window: must be positive")
        if not 0 < self.probe_timeout <= 30:
            raise ConfigError(f"plugins.{PLUGIN}.probe_timeout: must be between 0 and 30")
        if not 0 <= self.system_cache <= 10:
            raise ConfigError(f"plugins.{PLUGIN}.system_cache: must be between 0 and 10")
        if self.redis_url:
            parse_redis_url(self.redis_url)
        if check_mode(PLUGIN, self.mode, self.upstream) and not self.upstream.token:
            raise ConfigError(
                f"plugins.{PLUGIN}.upstream.token: the vendor's API token is required in"
                f" upstream mode (or HUB_UNSPOT_UPSTREAM_TOKEN)"
            )

    @property
    def redis(self) -> RedisAddress | None:
        return parse_redis_url(self.redis_url) if self.redis_url else None
