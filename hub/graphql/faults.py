"""Whose fault a GraphQL error is. A resolver's exception, or a value graphql-core could not
give at a path of the answer (an int past ``Int``, null for a non-null field), is the hub's or a
plugin's: an internal error whose text goes to the log, never a request error that blames the
client's document. The HTTP view and the websocket path ask the same question."""

from __future__ import annotations

import logging

from graphql import GraphQLError

from hub.errors import HubError

log = logging.getLogger("hub.graphql")


def is_internal(error: GraphQLError) -> bool:
    """Neither a :class:`HubError` nor an error that carries the error table's code (a request
    error of graphql-core's or the hub's own, the field budget), but raised by a resolver or met
    while completing the answer."""
    original = error.original_error
    if isinstance(original, HubError):
        return False
    if original is not None and not isinstance(original, GraphQLError):
        return True
    return error.path is not None and "code" not in (error.extensions or {})


def log_internal(error: GraphQLError) -> None:
    """One line naming where, with the exception's traceback when there is one."""
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        log.error("resolver failed at %s", error.path, exc_info=original)
    else:
        log.error("resolver failed at %s: %s", error.path, error.message)
