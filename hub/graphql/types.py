"""Types the host shares with every plugin: Relay connections and their cursors, JSON."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from hub.errors import HubError
from hub.paging import Page

T = TypeVar("T")


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    total_count: int


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


MAX_OFFSET = 2**63 - 2  # SQLite's largest integer, less the one added to step past a cursor


def _bad_argument(message: str) -> HubError:
    return HubError(400, message, reason="bad_argument")


def decode_cursor(cursor: str, error: Callable[[str], HubError] = _bad_argument) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "offset" and value.isdigit() and int(value) <= MAX_OFFSET:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise error(f"after: not a cursor from this API: {cursor!r}")


def page_window(
    first: int | None, after: str | None, error: Callable[[str], HubError] = _bad_argument
) -> tuple[int, int]:
    """``(offset, limit)`` for ``first``/``after``. A bad value is a 400 naming the argument,
    made by ``error`` so that it carries the plugin's own error code."""
    offset = decode_cursor(after, error) + 1 if after else 0
    page = Page.of(offset, first, error, offset_name="after", limit_name="first")
    return page.offset, page.limit


def connection(items: Sequence[T], total: int, offset: int) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(offset + i), node=item) for i, item in enumerate(items)]
    return Connection(
        edges=edges,
        nodes=list(items),
        page_info=PageInfo(
            has_next_page=offset + len(items) < total,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


SHARED_TYPES = {"PageInfo", "JSON"}
__all__ = ["JSON", "SHARED_TYPES", "Connection", "Edge", "PageInfo", "connection", "page_window"]
