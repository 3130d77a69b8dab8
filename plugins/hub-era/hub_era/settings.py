"""``[plugins.era]`` in the config file; ``HUB_ERA_<KEY>`` (and ``HUB_ERA_UPSTREAM_<KEY>``) in
the environment wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.config import ConfigError
from hub.upstream import UpstreamSettings, check_mode
from hub_era.errors import PLUGIN


@dataclass
class EraUpstream(UpstreamSettings):
    """``[plugins.era.upstream]``: the ERA deployment fronted in upstream mode. ERA documents
    no limit: the budget is a polite one per endpoint group, pushed back by the vendor's 429."""

    budget: str = "10/s"
    token: str = ""  # the vendor's service token, sent as Authorization: Bearer


@dataclass
class EraSettings:
    mode: str = "local"  # "upstream": front the deployment in [plugins.era.upstream]
    upstream: EraUpstream = field(default_factory=EraUpstream)

    def __post_init__(self) -> None:
        if check_mode(PLUGIN, self.mode, self.upstream) and not self.upstream.token:
            raise ConfigError(
                f"plugins.{PLUGIN}.upstream.token: the vendor's token is required in upstream"
                " mode (or HUB_ERA_UPSTREAM_TOKEN)"
            )
