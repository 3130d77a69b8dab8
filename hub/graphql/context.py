"""What every resolver gets as ``info.context``: the hub, the caller (``caller(plugin)``),
per-request DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from strawberry.dataloader import DataLoader

from hub.caller import Caller, Callers

if TYPE_CHECKING:
    from hub.api import HubApi


class HubContext:
    def __init__(self, hub: HubApi, authorization: str | None = None, request: Any = None) -> None:
        self.hub = hub
        self.request = request
        self._authorization = authorization
        self.connection_params: dict[str, Any] | None = None  # set by graphql-transport-ws
        self._loaders: dict[Hashable, DataLoader] = {}
        self._callers: dict[str, Caller] = {}

    @property
    def _presented(self) -> str | None:
        """The ``Authorization`` header, or for websockets the ``connection_init`` payload's:
        what :meth:`caller` resolves."""
        if self._authorization:
            return self._authorization
        params = self.connection_params or {}
        value = params.get("Authorization") or params.get("authorization")
        return str(value) if value else None

    async def check_logins(self) -> None:
        """A login and password presented, checked off the event loop for every plugin that
        has the login (:meth:`hub.caller.Caller.check_logins`), before the operation runs."""
        await self.hub.credentials.check_login(None, self._presented)

    def caller(self, plugin: str) -> Caller:
        """Who is calling ``plugin``: one :class:`~hub.caller.Caller` per HTTP request. A
        websocket's context lasts as long as the connection, so there each call makes a new
        one: a credential revoked while the socket is open stops working at once."""
        if self.connection_params is not None:  # a websocket, after connection_init
            return self.hub.service(Callers).of_graphql(plugin, self._presented, self.request)
        if plugin not in self._callers:
            self._callers[plugin] = self.hub.service(Callers).of_graphql(
                plugin, self._presented, self.request
            )
        return self._callers[plugin]

    def callers(self) -> list[Caller]:
        """The callers this HTTP request made (what ``extensions.upstream`` is read from)."""
        return list(self._callers.values())

    def loader(
        self, key: Hashable, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]
    ) -> DataLoader:
        """A DataLoader made once per request, so batching and caching never cross requests."""
        if key not in self._loaders:
            self._loaders[key] = DataLoader(load_fn=load)
        return self._loaders[key]


S = TypeVar("S")


def plugin_resolvers(
    plugin: str, service: type[S]
) -> tuple[Callable[[Any], S], Callable[[Any], Caller]]:
    """What a plugin's resolvers take from ``info``: its service layer (one per hub) and the
    request's :class:`~hub.caller.Caller` for the plugin. ``_service, _caller =
    plugin_resolvers(PLUGIN, TodoService)`` at the top of a plugin's ``graphql.py``."""

    def service_of(info: Any) -> S:
        found: S = info.context.hub.service(service)
        return found

    def caller_of(info: Any) -> Caller:
        found: Caller = info.context.caller(plugin)
        return found

    return service_of, caller_of
