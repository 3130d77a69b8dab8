"""webim's errors: REST renders each as ``{"result": "error", "e": message}``."""

from __future__ import annotations

from hub.errors import ErrorFactory, HubError, quoted

PLUGIN = "webim"

error = ErrorFactory(PLUGIN)


def bad_request(message: str) -> HubError:
    return error(400, message, "bad_request")


def account_not_found(field: str, name: str) -> HubError:
    return error(404, f"{field}: no account {quoted(name)}", "account_not_found")
