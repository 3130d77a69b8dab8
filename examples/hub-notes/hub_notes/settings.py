"""``[plugins.notes]`` in the config file; ``HUB_NOTES_<KEY>`` in the environment wins."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import ConfigError

PLUGIN = "notes"


@dataclass
class NotesSettings:
    default_ttl: float = 0.0  # seconds a note lives unless it says otherwise; 0: forever
    purge_interval: float = 60.0  # seconds between runs of the purge job
    max_body: int = 10_000  # characters
    create_limit: int = 60  # notes one credential may create per create_window seconds
    create_window: float = 60.0

    def __post_init__(self) -> None:
        """Types are checked by the host; ranges are the plugin's to check, naming the key."""
        if self.default_ttl < 0:
            raise ConfigError(f"plugins.{PLUGIN}.default_ttl: must not be negative")
        for name in ("purge_interval", "max_body", "create_limit", "create_window"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"plugins.{PLUGIN}.{name}: must be positive")
