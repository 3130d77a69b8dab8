"""``[plugins.webim]`` / ``HUB_WEBIM_<KEY>``: what the hub reports as this Webim installation."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import ConfigError


@dataclass
class WebimSettings:
    env: str = ""  # Webim environment; default: the machine's short host name
    host: str = ""  # monitor's "host"; default: the machine's fully qualified name
    node_name: str = ""
    multinode_mode: str = ""
    version: str = ""  # default: the installed hub's version
    branch: str = ""
    revision: str = ""
    tag: str = ""
    default_account: str = ""  # account-state/info.php when neither parameter nor Host names one
    storager_interval: float = 10.0  # seconds between the storager's write checks

    def __post_init__(self) -> None:
        if self.storager_interval <= 0:
            raise ConfigError("plugins.webim.storager_interval: must be positive")
