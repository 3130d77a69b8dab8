"""What every resolver gets as ``info.context``: the hub, the caller's credentials, per-request
DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from hub.credentials import Credential


class HubContext:
    def __init__(self, hub: Any, authorization: str | None = None, request: Any = None) -> None:
        self.hub = hub
        self.request = request
        self._authorization = authorization
        self.connection_params: dict[str, Any] | None = None  # set by graphql-transport-ws
        self._loaders: dict[Hashable, DataLoader] = {}

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header, or for websockets the ``connection_init`` payload's."""
        if self._authorization:
            return self._authorization
        params = self.connection_params or {}
        value = params.get("Authorization") or params.get("authorization")
        return str(value) if value else None

    def credential(self, plugin: str) -> Credential:
        """The caller's credential for ``plugin`` (the admin token counts); 401 otherwise."""
        return self.hub.credentials.require(plugin, self.authorization)

    def require_admin(self) -> Credential:
        return self.hub.credentials.require_admin(self.authorization)

    def loader(
        self, key: Hashable, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]
    ) -> DataLoader:
        """A DataLoader made once per request, so batching and caching never cross requests."""
        if key not in self._loaders:
            self._loaders[key] = DataLoader(load_fn=load)
        return self._loaders[key]
