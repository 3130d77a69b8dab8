"""Responses assembled from messages already in their wire format, so that a list of stored rows
is not rebuilt message by message on every call.

A repeated message field is, on the wire, nothing but its entries one after another, each as
its tag, its length and its bytes; a message is its fields in field-number order. So a list
response is the concatenation of its rows' length-prefixed messages (each rendered once, then
kept in a :class:`RenderedRows` keyed by the row as stored) and its other fields, byte for
byte what ``SerializeToString`` of the same message gives. The server sends a :class:`Serialized`
as it is (:class:`hub.grpc.server.Guard` wraps every method's response serializer)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from hub.rendered import renderings

WIRE_LENGTH_DELIMITED = 2


class Serialized:
    """A whole response message, already serialized: what a method returns instead of the
    message when it assembled the bytes itself. (Not a ``bytes`` subclass: grpc sends exact
    ``bytes`` only.)"""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def varint(value: int) -> bytes:
    """A non-negative integer as a protobuf varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_LAYOUTS: dict[type[Message], tuple[tuple[str, bytes | None], ...]] = {}
_SPLICEABLE: dict[type[Message], frozenset[str]] = {}


def _layout(cls: type[Message]) -> tuple[tuple[str, bytes | None], ...]:
    """``cls``'s fields in field-number order, each with its tag when its entries can be
    spliced in (a repeated message that is not a map), else ``None``. Worked out once."""
    found = _LAYOUTS.get(cls)
    if found is None:
        found = _LAYOUTS[cls] = _make_layout(cls)
    return found


def _spliceable(cls: type[Message]) -> frozenset[str]:
    found = _SPLICEABLE.get(cls)
    if found is None:
        found = _SPLICEABLE[cls] = frozenset(name for name, tag in _layout(cls) if tag)
    return found


def _make_layout(cls: type[Message]) -> tuple[tuple[str, bytes | None], ...]:
    layout = []
    for field in sorted(cls.DESCRIPTOR.fields, key=lambda f: f.number):
        spliceable = (
            field.is_repeated
            and field.type == FieldDescriptor.TYPE_MESSAGE
            and not field.message_type.GetOptions().map_entry
        )
        tag = varint(field.number << 3 | WIRE_LENGTH_DELIMITED) if spliceable else None
        layout.append((field.name, tag))
    return tuple(layout)


def delimited(message: Message) -> bytes:
    """``message`` serialized, after its length: an entry of a repeated field, less its tag."""
    data = message.SerializeToString()
    return varint(len(data)) + data


def spliced(
    cls: type[Message], entries: Mapping[str, Sequence[bytes]], **fields: Any
) -> Serialized:
    """``cls(**fields)`` serialized, with each repeated message field named in ``entries``
    holding those messages (each :func:`delimited`) in that order: the bytes
    ``SerializeToString`` gives for the same message."""
    parts: list[bytes] = []
    pending: dict[str, Any] = {}  # consecutive plain fields, serialized together
    layout = _layout(cls)
    unknown = [name for name in entries if name not in _spliceable(cls) or name in fields]
    if unknown:
        raise ValueError(
            f"{cls.DESCRIPTOR.full_name}: not repeated message fields, or given twice: {unknown}"
        )
    for name, tag in layout:
        if name in entries:
            if pending:
                parts.append(cls(**pending).SerializeToString())
                pending = {}
            assert tag is not None
            if entries[name]:
                parts += (tag, tag.join(entries[name]))
        elif name in fields:
            pending[name] = fields.pop(name)
    if fields:  # names the message lacks: the constructor says which
        cls(**fields)
    if pending:
        parts.append(cls(**pending).SerializeToString())
    return Serialized(b"".join(parts))


class RenderedRows:
    """Each stored row's message, :func:`delimited`, keyed by the row, within the process's
    budget of renderings (:mod:`hub.rendered`). A row is what holds the whole of one item, as
    :func:`hub.graphql.stored.stored_objects` takes them: its stored bytes, a tuple of its
    column values, or a frozen record; ``render`` a function of it alone. So a hit is always the
    message a fresh rendering would give; an edited row is another row, a miss. A row that
    cannot be hashed is rendered each time."""

    def __init__(self, render: Callable[[Any], Message]) -> None:
        self.render = render
        self.memo = renderings.new()

    def __call__(self, stored: Hashable, ident: Hashable | None = None) -> bytes:
        key = bytes(stored) if type(stored) is memoryview else stored  # a memoryview is no key
        try:
            found = self.memo.entry(key, ident)
        except TypeError:  # unhashable: nothing to keep it by
            return delimited(self.render(key))
        if found is None:
            found = (key, delimited(self.render(key)))
            by = key if ident is None else ident
            renderings.keep(self.memo, by, found, len(found[1]), ident is not None)
        message: bytes = found[1]
        return message

    def many(
        self, stored: Iterable[Hashable], ids: Iterable[Hashable] | None = None
    ) -> list[bytes]:
        """Each row's message; with ``ids`` (each row's unique id) found by id and confirmed by
        comparing the row, instead of hashing every row (as
        :func:`hub.graphql.stored.stored_objects` takes them)."""
        if ids is None:
            return [self(row) for row in stored]
        return [self(row, ident) for row, ident in zip(stored, ids, strict=True)]
