"""Rows as stored, handed to GraphQL without building their objects first.

A list resolver over stored rows returns :func:`stored_objects` instead of building a strawberry
object per row. The fast completer (:mod:`hub.graphql.fast`) renders each row once per
(selection, stored bytes): on ``/graphql`` it keeps the rendering as serialized JSON and
splices it into every later answer that selects the same fields of a row with the same bytes,
the way REST joins stored JSON texts. The stored bytes are the whole key, so a changed row is a
new key and can never be answered with an old rendering. Anything else that reads a row (a
resolver, graphql-core's own completion) gets the object built from the row, once.

The contract for ``record``: a pure function of the stored bytes (no caller, clock or setting
may change what it returns), because its result is reused for every request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hub.records import to_graphql

T = TypeVar("T")
_UNBUILT: Any = object()


class Stored:
    """A row's bytes and how to build its strawberry object; reads as that object."""

    __slots__ = ("_build", "_object", "key")

    def __init__(self, key: bytes, build: Callable[[bytes], Any]) -> None:
        self.key = key
        self._build = build
        self._object = _UNBUILT

    def built(self) -> Any:
        if self._object is _UNBUILT:
            self._object = self._build(self.key)
        return self._object

    def __getattr__(self, name: str) -> Any:
        return getattr(self.built(), name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() of the built object's type holds too
        return type(self.built())


def stored_objects(cls: type[T], rows: Sequence[bytes], record: Callable[[bytes], Any]) -> list[T]:
    """``rows`` (stored bytes, each decoded by ``record`` into a record) as objects of the
    strawberry type ``cls``, each built from its record only when something reads it."""

    def build(raw: bytes) -> T:
        return to_graphql(cls, record(raw))

    return [Stored(raw, build) for raw in rows]  # type: ignore[misc]
