"""unspot's errors: one factory, so every one names the plugin and its reason (the REST
renderer keeps the message of the reasons the seed documents)."""

from __future__ import annotations

from hub.errors import ErrorFactory, HubError
from hub_unspot.settings import PLUGIN

error = ErrorFactory(PLUGIN)


def bad_request(message: str) -> HubError:
    return error(400, message, "bad_request")


def invalid_token() -> HubError:
    return error(401, "Invalid API token", "invalid_token")


def access_denied() -> HubError:
    return error(403, "Access denied", "access_denied")


def not_found() -> HubError:
    return error(404, "Not Found", "unknown_category")


def user_not_found(user_id: object) -> HubError:
    return error(404, f"user_id: no user {user_id!r}", "user_not_found")
