"""Rows (stored bytes, column tuples, records) handed to GraphQL without building their objects.

A list resolver over stored rows returns :func:`stored_objects` instead of building a strawberry
object per row. The fast completer (:mod:`hub.graphql.fast`) renders each row once per
(selection, row): on ``/graphql`` it keeps the rendering as serialized JSON and splices it into
every later answer that selects the same fields of an equal row, the way REST joins stored JSON
texts. The row's whole content is the key, so a changed row is a new key and can never be
answered with an old rendering. Anything else that reads a row (a resolver, graphql-core's own
completion) gets the object built from the row, once.

The contract: ``record`` is a pure function of the row (no caller, clock, setting or other row
may change what it returns), and rows that compare equal render alike, because a rendering is
reused for every request that lists an equal row. JSON bytes, tuples of column values and frozen
dataclass records of typed fields are such rows. A row that cannot be hashed (a record holding a
list or a dict) is rendered each time, as if it were not stored."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator, Sequence
from itertools import repeat
from typing import Any, TypeVar, overload

from hub.records import to_graphql

T = TypeVar("T")
R = TypeVar("R", bound=Hashable)
_UNBUILT: Any = object()


class Stored:
    """A row's bytes and how to build its strawberry object; reads as that object. Its own
    attributes are named ``_stored_*``, so that no field of the object (``key``, ``ident``,
    ``built``...) is shadowed for graphql-core, a resolver's ``self`` or anything else that
    reads the row as the object."""

    __slots__ = ("_stored_build", "_stored_ident", "_stored_key", "_stored_object")

    def __init__(
        self, key: Hashable, build: Callable[[Any], Any], ident: Hashable | None = None
    ) -> None:
        self._stored_key = key
        self._stored_build = build
        self._stored_object = _UNBUILT
        self._stored_ident = ident

    def _stored_built(self) -> Any:
        """The object built from the row, once."""
        if self._stored_object is _UNBUILT:
            self._stored_object = self._stored_build(self._stored_key)
        return self._stored_object

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stored_built(), name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() of the built object's type holds too
        return type(self._stored_built())


class StoredRows(Sequence[Any]):
    """What :func:`stored_objects` returns: the rows, read as their :class:`Stored` objects (all
    made at the first read). The fast completer answers a row whose rendering is kept from the
    row itself, so a page whose rows are all rendered already makes no object per row."""

    __slots__ = ("_made", "build", "ids", "rows")

    def __init__(
        self, rows: Sequence[Any], build: Callable[[Any], Any], ids: Sequence[Hashable] | None
    ) -> None:
        if ids is not None and len(ids) != len(rows):
            raise ValueError(f"{len(rows)} rows but {len(ids)} ids")
        self.rows, self.build, self.ids = rows, build, ids
        self._made: list[Stored] | None = None

    def objects(self) -> list[Stored]:
        made = self._made
        if made is None:
            ids = repeat(None) if self.ids is None else self.ids
            made = self._made = list(map(Stored, self.rows, repeat(self.build), ids))
        return made

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self.objects()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.objects())


def stored_objects(
    cls: type[T],
    rows: Sequence[R],
    record: Callable[[R], Any] | None = None,
    ids: Sequence[Hashable] | None = None,
) -> Sequence[T]:
    """``rows`` as objects of the strawberry type ``cls``, each built from ``record(row)`` (or
    the row itself, when it is a record) only when something reads it. A row is what holds the
    whole of it: its stored JSON bytes, a tuple of its columns, or a frozen dataclass record.

    ``ids``: each row's unique id (its primary key, an int or a string), when the plugin has
    one at hand: a rendering is then found by id and confirmed by comparing the row (a
    comparison of equal bytes stops at the first difference), instead of hashing the whole row
    (about 0.2 us for a row of 600 bytes, per row of every answer)."""
    if record is None:
        build: Callable[[Any], Any] = functools.partial(to_graphql, cls)
    else:

        def build(row: R) -> T:
            return to_graphql(cls, record(row))

    return StoredRows(rows, build, ids)
