"""``[plugins.webim]`` / ``HUB_WEBIM_<KEY>``: what the hub reports as this Webim installation,
or, with ``mode = "upstream"``, the Webim deployment it fronts (``[plugins.webim.upstream]``,
``HUB_WEBIM_UPSTREAM_<KEY>``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.config import ConfigError
from hub.upstream import UpstreamSettings, check_mode


@dataclass
class WebimUpstream(UpstreamSettings):
    """``[plugins.webim.upstream]``: the Webim deployment fronted in upstream mode."""

    budget: str = "1/5s"  # Webim documents no limit: a polite pace per endpoint
    login: str = ""  # the vendor's service login (HTTP Basic)
    password: str = ""
    auth_token: str = ""  # an operator's WEBIM_AUTH_TOKEN cookie, for /l/o/pingservice


@dataclass
class WebimSettings:
    mode: str = "local"  # "upstream": front the deployment in [plugins.webim.upstream]
    upstream: WebimUpstream = field(default_factory=WebimUpstream)
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
        if check_mode("webim", self.mode, self.upstream):
            for key in ("login", "password"):
                if not getattr(self.upstream, key):
                    raise ConfigError(
                        f"plugins.webim.upstream.{key}: the vendor's service {key} is required"
                        f" in upstream mode (or HUB_WEBIM_UPSTREAM_{key.upper()})"
                    )
