"""What every probe of the conformance check is judged by: the error table (hub.errors)."""

from __future__ import annotations

from hub.errors import HubError

PROBE = "conformance"  # every made-up path segment, argument and string value
WRONG_TOKEN = "conformance-not-a-credential"
STREAM_WAIT = 2.0  # seconds a stream may stay silent: it is waiting for events, not failing


def table_status(status: object) -> int | None:
    """The HTTP status an error carries (GraphQL ``extensions.status``, gRPC ``hub-status``),
    or ``None`` when it carries none that the table knows."""
    try:
        value = int(str(status))
    except ValueError:
        return None
    return value if 400 <= value <= 599 else None


def owned_by(plugin: str, named: object) -> bool:
    """An error is the plugin's or the host's own (``hub``, for requests refused before any
    plugin code runs)."""
    return named in (plugin, "hub")


def graphql_code(status: int) -> str:
    return HubError(status, "").code
