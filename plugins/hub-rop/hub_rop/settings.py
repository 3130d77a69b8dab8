"""``[plugins.rop]`` / ``HUB_ROP_<KEY>``: limits of the seed and the knobs tests shorten, and
``mode = "upstream"`` with ``[plugins.rop.upstream]`` (``HUB_ROP_UPSTREAM_<KEY>``): the ROP
deployment the hub fronts."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from hub.config import ConfigError
from hub.peer import parse_networks
from hub.records import INT_MAX
from hub.upstream import UpstreamSettings, check_mode
from hub.urls import http_url_fault

PLUGIN = "rop"


@dataclass
class RopUpstream(UpstreamSettings):
    """The ROP deployment fronted in upstream mode. ROP allows 60 requests a minute per key;
    the hub spends at most ``budget`` on reads (call-ready) and as much again on writes, so the
    default of half that each never breaks ROP's limit and reads never starve writes."""

    budget: str = "30/m"
    api_key: str = ""  # the vendor's key, sent as ?apiKey= (HUB_ROP_UPSTREAM_API_KEY)
    public_url: str = ""  # the hub's address as ROP reaches it: receiver URLs start with it
    receiver_allow: list[str] = field(default_factory=list)  # addresses/CIDRs ROP posts from


@dataclass
class RopSettings:
    mode: str = "local"  # "upstream": front the ROP deployment in [plugins.rop.upstream]
    upstream: RopUpstream = field(default_factory=RopUpstream)
    trusted_proxies: list[str] = field(default_factory=list)  # whose X-Forwarded-For counts
    rate_limit: int = 60  # requests per key per rate_window (the seed: 60 per minute)
    rate_window: float = 60.0
    max_body: int = 1024 * 1024
    probe_timeout: float = 5.0  # the ranged fetch of audio_url at upload time
    download_timeout: float = 600.0  # the whole background download
    max_audio_bytes: int = 100 * 1024 * 1024
    max_duration: float = 2700.0
    intake_interval: float = 1.0
    intake_concurrency: int = 4
    intake_lease: float = 60.0  # renewed while a download runs; a dead hub's claim expires
    webhook_interval: float = 1.0
    webhook_concurrency: int = 8
    webhook_timeout: float = 10.0
    webhook_lease: float = 30.0  # must exceed webhook_timeout: a claim outlives its attempt
    webhook_max_attempts: int = 8
    webhook_backoff: float = 2.0  # first retry delay; doubled per attempt, with jitter
    webhook_backoff_max: float = 3600.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and value <= 0:
                raise ConfigError(f"plugins.{PLUGIN}.{f.name}: must be positive")
        if self.webhook_lease <= self.webhook_timeout:
            raise ConfigError(f"plugins.{PLUGIN}.webhook_lease: must exceed webhook_timeout")
        if self.max_audio_bytes > INT_MAX:  # a call's sizeBytes is a GraphQL Int
            raise ConfigError(f"plugins.{PLUGIN}.max_audio_bytes: at most {INT_MAX} bytes")
        upstream = f"plugins.{PLUGIN}.upstream"
        if check_mode(PLUGIN, self.mode, self.upstream) and not self.upstream.api_key:
            raise ConfigError(
                f"{upstream}.api_key: the vendor's API key is required in upstream mode"
                " (or HUB_ROP_UPSTREAM_API_KEY)"
            )
        fault = http_url_fault(self.upstream.public_url) if self.upstream.public_url else None
        if fault is not None:
            raise ConfigError(f"{upstream}.public_url: {fault}")
        for index, entry in enumerate(self.upstream.receiver_allow):
            try:
                parse_networks([entry])
            except ValueError:
                raise ConfigError(
                    f"{upstream}.receiver_allow[{index}]: not an address or CIDR: {entry!r}"
                ) from None

    @property
    def upstream_mode(self) -> bool:
        return self.mode == "upstream"
