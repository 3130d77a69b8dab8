"""Monitorozás' errors: ``{"success": false, "error": "<code>", "message": ...}`` over REST, the
same code as GraphQL's ``extensions.reason`` and gRPC's ``hub-reason``. Every error of the plugin
is made by :data:`error`, in one argument order: status, message, code."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from hub.errors import ErrorFactory, HubError
from hub.storage import MissingTable, StorageError
from hub_monitorozas.settings import PLUGIN

log = logging.getLogger("hub_monitorozas")
F = TypeVar("F", bound=Callable[..., Any])

error = ErrorFactory(PLUGIN)


def invalid_field(message: str) -> HubError:
    """A bad value; ``message`` starts with the field or parameter it names."""
    return error(400, message, "invalid_field")


def missing_field(message: str) -> HubError:
    return error(400, message, "missing_field")


def storage_errors(method: F) -> F:
    """Storage failures as the seed's 500s: ``missing_table`` when a table is gone,
    ``server_error`` otherwise (the details go to the log only)."""

    def translate(exc: StorageError) -> HubError:
        log.error("monitorozas storage error: %s", exc)
        if isinstance(exc, MissingTable):
            return error(500, "a table of the monitor is missing", "missing_table")
        return error(500, "the monitor's storage failed", "server_error")

    if asyncio.iscoroutinefunction(method):

        @functools.wraps(method)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except StorageError as exc:
                raise translate(exc) from None

        return wrapped_async  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except StorageError as exc:
            raise translate(exc) from None

    return wrapped  # type: ignore[return-value]
