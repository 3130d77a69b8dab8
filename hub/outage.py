"""The engine being unreachable (PostgreSQL restarting, the network down) is an outage the hub
rides out, not a bug: background work that meets it logs one line and tries again later, where
anything else it meets is logged with its traceback."""

from __future__ import annotations

import logging

from hub.storage import DatabaseUnavailable


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseUnavailable)


def log_failure(logger: logging.Logger, exc: BaseException, message: str, *args: object) -> None:
    """``message % args`` and why: one warning line for an outage, else an error with the
    traceback."""
    if is_outage(exc):
        logger.warning(message + ": the database is unavailable (%s)", *args, exc)
    else:
        logger.error(message, *args, exc_info=exc)
