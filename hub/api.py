"""What a plugin may use of the running hub. Hooks and services annotate ``hub: HubApi``, so mypy
checks a plugin, built-in or third-party, against the host; :class:`hub.app.Hub` satisfies it
(mypy checks that in hub/app.py). Everything else on ``Hub`` is the host's own."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import pluggy

    from hub.config import Settings
    from hub.credentials import CredentialStore
    from hub.events import EventBus
    from hub.metrics import HubMetrics
    from hub.plugins import PluginInfo
    from hub.ratelimit import RateLimiter
    from hub.storage import Database
    from hub.timers import TimerRegistry
    from hub.upstream import Upstream, Vendor

S = TypeVar("S")


class HubApi(Protocol):
    """The hub as a plugin sees it: read-only attributes and a few methods."""

    @property
    def settings(self) -> Settings:
        """The hub's own settings (``max_body``, ``shutdown_timeout``, ...)."""

    @property
    def instance_id(self) -> str:
        """32 hex digits, new at every start of the hub (in a multi-worker hub, of its
        supervisor: every worker has the same)."""

    @property
    def started_at(self) -> float:
        """When this start of the hub began (epoch seconds; the supervisor's start)."""

    @property
    def data_dir(self) -> Path:
        """The data directory, for files a plugin keeps beside its database."""

    @property
    def pm(self) -> pluggy.PluginManager:
        """The plugin manager, to call hooks a plugin defines (``hub.pm.hook.<name>(...)``)."""

    @property
    def plugins(self) -> Mapping[str, PluginInfo]:
        """Every loaded plugin by name, the host's own (``hub``) included."""

    @property
    def credentials(self) -> CredentialStore:
        """``authenticate``, ``require``, ``require_admin`` and the admin operations."""

    @property
    def rate_limiter(self) -> RateLimiter:
        """Limits shared by every process of the hub (state in SQLite)."""

    @property
    def timers(self) -> TimerRegistry:
        """The periodic jobs and their statistics."""

    @property
    def events(self) -> EventBus:
        """Publish and subscribe by topic, for subscriptions and streams."""

    @property
    def metrics(self) -> HubMetrics:
        """``metrics.registry`` takes a plugin's own Prometheus collectors."""

    @property
    def listening(self) -> Mapping[str, tuple[str, int]]:
        """Bound addresses once ``hub serve`` listens: ``http``, ``grpc``, ``http:<plugin>``."""

    def database(self, plugin: str) -> Database:
        """The plugin's own SQLite file, ``<data-dir>/<plugin>.db``."""

    def settings_for(self, plugin: str) -> Any:
        """The plugin's registered settings dataclass, filled from config and environment."""

    def service(self, cls: type[S]) -> S:
        """One instance per hub of ``cls(hub)``, shared by the plugin's adapters."""

    def upstream(self, plugin: str, vendor: Vendor) -> Upstream:
        """The vendor deployment the plugin fronts in upstream mode (``hub.upstream``)."""

    def queue_depths(self) -> list[tuple[str, int]]:
        """``(plugin.queue, pending)`` for every registered background queue."""
