"""rop's errors: the spec's codes are the ``reason`` of every :class:`HubError` it raises."""

from __future__ import annotations

from hub.errors import ErrorFactory, HubError

PLUGIN = "rop"
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal",
    502: "upstream_unavailable",  # the file host behind audio_url failed: worth retrying
    503: "upstream_unavailable",
    504: "upstream_unavailable",
}


error = ErrorFactory(PLUGIN, reasons=lambda status: CODES.get(status, "internal"))


def bad_request(message: str) -> HubError:
    return error(400, message)


def code_of(exc: HubError) -> str:
    """The ``error`` of the REST body: the plugin's own reason, else the status's code (so the
    host's 404/405/413 and body errors get one of the documented codes too)."""
    if isinstance(exc.reason, str) and exc.reason in (*CODES.values(), "not_audio"):
        return exc.reason
    return CODES.get(exc.status, "bad_request" if exc.status < 500 else "internal")
