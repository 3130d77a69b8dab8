"""ERA's errors: ``{"error_code": 1000 + status, ...}`` over REST, the same code as GraphQL's
``extensions.reason`` and gRPC's ``hub-reason``."""

from __future__ import annotations

from hub.errors import ErrorFactory, HubError

PLUGIN = "era"

error = ErrorFactory(PLUGIN, reasons=lambda status: 1000 + status)  # ERA's error_code


def bad_request(message: str) -> HubError:
    return error(400, message)


def unauthorized() -> HubError:
    return error(401, "Unauthorized: send Authorization: Bearer <token>")
