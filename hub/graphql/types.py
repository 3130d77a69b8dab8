"""Types the host shares with every plugin: Relay connections and their cursors, JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import count, repeat
from operator import itemgetter
from typing import Any, Generic, TypeVar, overload

import strawberry
from strawberry.scalars import JSON

from hub.errors import HubError
from hub.graphql.stored import StoredRows
from hub.paging import Cursors, Page, bad_argument, offset_cursor

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


def page_window(
    first: int | None,
    after: str | None,
    error: Callable[[str], HubError] = bad_argument,
    *,
    seekable: bool = False,
) -> Page:
    """The :class:`~hub.paging.Page` that ``first``/``after`` ask for. A bad value is a 400
    naming the argument, made by ``error`` so that it carries the plugin's own error code;
    ``seekable`` lists (ordered by a :class:`~hub.paging.Keyset`) also take keyset cursors."""
    return Page.relay(first, after, error, seekable=seekable)


def connection(
    items: Sequence[T],
    total: int,
    page: Page,
    cursors: Sequence[str] | None = None,
    has_next: bool | None = None,
) -> Connection[T]:
    """One page as a Relay connection. Without ``cursors`` each edge's cursor is its offset
    and ``total`` tells whether more follow; a keyset list passes each row's
    :meth:`~hub.paging.Keyset.cursor` and ``has_next`` (it fetched one row more than asked)."""
    if cursors is None:
        offset = page.offset
        cursors = Cursors(len(items), lambda i: offset_cursor(offset + i))
        has_next = page.offset + len(items) < total
    if len(cursors) != len(items):
        raise ValueError(f"{len(items)} items but {len(cursors)} cursors")
    nodes = items if type(items) is StoredRows else list(items)  # stored rows: made when read
    return Connection(
        edges=Edges(nodes, cursors),  # type: ignore[arg-type]
        nodes=nodes,  # type: ignore[arg-type]
        page_info=_PageInfo(  # type: ignore[arg-type]
            (bool(has_next), page.offset > 0 or page.after is not None, cursors)
        ),
        total_count=total,
    )


class Edges(Sequence["_Edge"]):
    """A page's edges, each made when it is read. The fast completer (:mod:`hub.graphql.fast`)
    answers the edge of a stored row from the row and its kept rendering alone, so a page of
    thousands of rows makes no edge object for an answer that needs none; anything else
    (graphql-core, a resolver) reads edges as from a list."""

    __slots__ = ("cursors", "nodes")

    def __init__(self, nodes: Sequence[Any], cursors: Sequence[str]) -> None:
        self.nodes = nodes
        self.cursors = cursors

    def __len__(self) -> int:
        return len(self.nodes)

    @overload
    def __getitem__(self, index: int) -> _Edge: ...

    @overload
    def __getitem__(self, index: slice) -> list[_Edge]: ...

    def __getitem__(self, index: int | slice) -> _Edge | list[_Edge]:
        if isinstance(index, slice):
            return [_Edge((self.nodes[i], self.cursors, i)) for i in range(len(self))[index]]
        at = range(len(self))[index]  # negative indexes, and IndexError past the end
        return _Edge((self.nodes[at], self.cursors, at))

    def __iter__(self) -> Iterator[_Edge]:
        return map(_Edge, zip(self.nodes, repeat(self.cursors), count()))


class _Edge(tuple[Any, Sequence[str], int]):
    """An :class:`Edge` whose cursor is made only if the answer asks for it: a page of
    thousands of rows must not encode a cursor per row for a query that selects none. A tuple
    (node, cursors, index): made and read in C, once per row."""

    __slots__ = ()
    node = property(itemgetter(0))

    @property
    def cursor(self) -> str:
        return self[1][self[2]]


class _PageInfo(tuple[bool, bool, Sequence[str]]):
    """A :class:`PageInfo` whose first and last cursors are made only if asked for."""

    __slots__ = ()
    has_next_page = property(itemgetter(0))
    has_previous_page = property(itemgetter(1))

    @property
    def start_cursor(self) -> str | None:
        return self[2][0] if self[2] else None

    @property
    def end_cursor(self) -> str | None:
        return self[2][len(self[2]) - 1] if self[2] else None


SHARED_TYPES = {"PageInfo", "JSON"}
__all__ = ["JSON", "SHARED_TYPES", "Connection", "Edge", "PageInfo", "connection", "page_window"]
