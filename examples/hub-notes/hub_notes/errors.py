"""The plugin's one error factory: every error names the plugin and a reason, in one argument
order; REST renders them as problem details, GraphQL and gRPC by the host's error table."""

from __future__ import annotations

from hub.errors import ErrorFactory, HubError
from hub_notes.settings import PLUGIN

error = ErrorFactory(PLUGIN)


def bad_request(message: str) -> HubError:
    return error(400, message, "bad_request")
