"""The one error type every protocol adapter understands, and the spec's error table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

GRAPHQL_CODES = {
    202: "WRITE_PENDING",  # upstream mode: a write kept for delivery (hub.upstream.writes)
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "BAD_REQUEST",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL",
    502: "UPSTREAM_UNAVAILABLE",
    503: "UPSTREAM_UNAVAILABLE",
    504: "UPSTREAM_UNAVAILABLE",
}

GRPC_CODES = {
    202: grpc.StatusCode.DEADLINE_EXCEEDED,  # the write's answer did not come in time; kept
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    409: grpc.StatusCode.ALREADY_EXISTS,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


class StartupError(Exception):
    """The plugins cannot be assembled into one hub (a name two plugins claim, a plugin that
    fails to import, a registration that breaks the rules); the message names the plugins."""


class HubError(Exception):
    """A failure with an HTTP status: REST renders it in the plugin's shape, GraphQL puts it in
    ``extensions``, gRPC maps it to a status code. Raised by service layers, never by adapters
    inventing their own errors."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        reason: str | int | None = None,
        plugin: str | None = None,
        retry_after: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.plugin = plugin
        self.retry_after = retry_after
        self.body = body  # the plugin's exact REST body, when it documents one

    @property
    def code(self) -> str:
        return GRAPHQL_CODES.get(self.status, "INTERNAL" if self.status >= 500 else "BAD_REQUEST")

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return GRPC_CODES.get(
            self.status,
            grpc.StatusCode.INTERNAL if self.status >= 500 else grpc.StatusCode.INVALID_ARGUMENT,
        )

    @property
    def extensions(self) -> dict[str, Any]:
        """Read by graphql-core when it wraps this error, so GraphQL errors follow the table."""
        ext: dict[str, Any] = {
            "code": self.code,
            "plugin": self.plugin,
            "status": self.status,
            "reason": self.reason,
        }
        if self.retry_after is not None:
            ext["retryAfter"] = self.retry_after
        return ext

    def __repr__(self) -> str:
        return f"HubError({self.status}, {self.message!r}, reason={self.reason!r})"


Reason = str | int | None


def quoted(value: object, limit: int = 40) -> str:
    """``value`` as an error message shows what a client sent: its ``repr`` (escapes visible),
    cut after ``limit`` characters with the full length said (an input may be kilobytes). A
    value that is neither text nor bytes (JSON's numbers, lists) is cut as its ``repr``."""
    if not isinstance(value, str | bytes):
        shown = repr(value)
        return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(shown)} characters)"
    if len(value) <= limit:
        return repr(value)
    unit = "bytes" if isinstance(value, bytes) else "characters"
    return f"{value[:limit]!r}... ({len(value)} {unit})"


class ErrorFactory:
    """A plugin's ``error(status, message, reason=None, *, retry_after=None, body=None)``: one
    argument order for every plugin. Each HubError it makes names the plugin; a reason left out
    comes from ``reasons(status)`` (the plugin's table of codes), or stays None."""

    def __init__(self, plugin: str, reasons: Callable[[int], Reason] | None = None) -> None:
        self.plugin = plugin
        self.reasons = reasons

    def __call__(
        self,
        status: int,
        message: str,
        reason: Reason = None,
        *,
        retry_after: int | None = None,
        body: Any = None,
    ) -> HubError:
        if reason is None and self.reasons is not None:
            reason = self.reasons(status)
        return HubError(
            status, message, reason=reason, plugin=self.plugin, retry_after=retry_after, body=body
        )
