"""``[plugins.rop]`` / ``HUB_ROP_<KEY>``: limits of the seed and the knobs tests shorten."""

from __future__ import annotations

from dataclasses import dataclass, fields

from hub.config import ConfigError

PLUGIN = "rop"


@dataclass
class RopSettings:
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
            if getattr(self, f.name) <= 0:
                raise ConfigError(f"plugins.{PLUGIN}.{f.name}: must be positive")
        if self.webhook_lease <= self.webhook_timeout:
            raise ConfigError(f"plugins.{PLUGIN}.webhook_lease: must exceed webhook_timeout")
