"""Typed records and the conversions every protocol adapter needs, written once.

A service returns records (frozen dataclasses with snake_case fields, booleans as ``bool``,
instants as aware ``datetime``); each adapter renders them for its protocol: :func:`to_json` for
REST, :func:`to_graphql` for a strawberry type, :func:`to_message` for a protobuf message. The
other way, :func:`sent_fields` turns what a client sent (a strawberry input or a proto3 request)
into the dict a REST body would be, holding only the fields the client set."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import strawberry
from google.protobuf import json_format, message_factory, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from strawberry.types.base import (
    StrawberryList,
    StrawberryOptional,
    get_object_definition,
    has_object_definition,
)

T = TypeVar("T")
M = TypeVar("M", bound=Message)
Timespec = Literal["seconds", "centiseconds", "milliseconds", "microseconds"]
SPEC_KEY = "hub.records"  # where a field's rendering rules live in dataclass field metadata
INT_MAX = 2**31 - 1
"""The largest integer every protocol carries as a number: GraphQL's ``Int`` is 32-bit. A value
a plugin stores past it could be given over REST and gRPC but never over GraphQL."""


# -- names ---------------------------------------------------------------------------------------
def camel(name: str) -> str:
    """``last_sync_date`` → ``lastSyncDate``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    """``lastSyncDate`` → ``last_sync_date``; every capital starts a word (``avgNTries`` →
    ``avg_n_tries``), so ``snake(camel(x)) == x`` for any snake_case ``x``."""
    return re.sub(r"([A-Z])", r"_\1", name).lower()


# -- 0/1 flags -----------------------------------------------------------------------------------
def flag(value: Any) -> bool | None:
    """A stored 0/1 flag as a boolean; ``None`` stays ``None``."""
    return None if value is None else bool(value)


def as_flag(value: bool | None) -> int | None:
    """A boolean as the 0/1 a JSON contract (or a SQLite column) holds."""
    return None if value is None else int(bool(value))


# -- instants ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instant:
    """How one contract writes an instant as ISO 8601, always in UTC: ``zulu`` ends it with
    ``Z`` rather than ``+00:00``; ``timespec`` is the precision (``centiseconds``: two digits)."""

    timespec: Timespec = "seconds"
    zulu: bool = True

    def format(self, moment: datetime | float) -> str:
        return iso8601(moment, timespec=self.timespec, zulu=self.zulu)


ISO_Z = Instant()  # 2026-02-04T11:41:39Z
ISO_OFFSET = Instant(zulu=False)  # 2026-02-04T11:41:39+00:00


def instant(moment: datetime | float) -> datetime:
    """An epoch (seconds) or a datetime as an aware UTC datetime."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    return datetime.fromtimestamp(moment, UTC)


def iso8601(moment: datetime | float, *, timespec: Timespec = "seconds", zulu: bool = True) -> str:
    """An instant in UTC as ISO 8601, at the precision and with the offset a contract uses."""
    when = instant(moment)
    if timespec == "centiseconds":  # milliseconds less their last digit: 13:34:16.42
        text = when.isoformat(timespec="milliseconds")
        dot = text.index(".")
        text = text[: dot + 3] + text[dot + 4 :]
    else:
        text = when.isoformat(timespec=timespec)
    return text.replace("+00:00", "Z") if zulu else text


def parse_iso8601(text: str) -> datetime:
    """An ISO 8601 date-time that names its offset (``Z`` or ``+02:00``), as an aware UTC
    datetime. Raises ValueError, naming the problem, for anything else."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"not an ISO 8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"needs an offset such as +00:00 or Z: {text!r}")
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"out of range: {text!r}") from None


def to_timestamp(moment: datetime | float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(instant(moment))
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


# -- typed records -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    """How the renderers treat one record field beyond its type."""

    flag: bool = False  # a boolean that JSON writes as 0/1
    instant: Instant = ISO_Z  # how a string (JSON, GraphQL, a proto string) writes a datetime
    omit_none: bool = False  # JSON leaves the key out rather than writing null


PLAIN = FieldSpec()


def spec(*, flag: bool = False, instant: Instant = ISO_Z, omit_none: bool = False) -> Any:
    """A record field's rendering rules, as dataclass field metadata:
    ``created_at: datetime = field(metadata=spec(instant=ISO_OFFSET))``,
    ``is_enabled: bool = field(metadata=spec(flag=True))``."""
    return {SPEC_KEY: FieldSpec(flag=flag, instant=instant, omit_none=omit_none)}


def _is_record(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _items(record: Any) -> Iterator[tuple[str, Any, FieldSpec]]:
    """A record's (or a mapping's) fields with their specs, in declaration order."""
    if isinstance(record, Mapping):
        for name, value in record.items():
            yield name, value, PLAIN
        return
    for field in dataclasses.fields(record):
        yield field.name, getattr(record, field.name), field.metadata.get(SPEC_KEY, PLAIN)


def _lookup(record: Any, name: str) -> tuple[Any, FieldSpec]:
    """``(value, spec)`` of one field; a field the record lacks reads as ``dataclasses.MISSING``."""
    if isinstance(record, Mapping):
        return record.get(name, dataclasses.MISSING), PLAIN
    fields = getattr(record, "__dataclass_fields__", {})
    spec = fields[name].metadata.get(SPEC_KEY, PLAIN) if name in fields else PLAIN
    return getattr(record, name, dataclasses.MISSING), spec


# -- REST ----------------------------------------------------------------------------------------
def json_array(items: Sequence[bytes]) -> bytes:
    """Stored JSON texts as one JSON array, copied once: a 1,000-row page is over half a
    megabyte, and ``b"[" + b",".join(items) + b"]"`` would copy it three times."""
    if not items:
        return b"[]"
    parts = list(items)
    parts[0] = b"[" + parts[0]
    parts[-1] = parts[-1] + b"]"
    return b",".join(parts)


def to_json(value: Any, *, camel_case: bool = False) -> Any:
    """A record (nested records, lists and mappings of them too) as JSON-ready data: field
    names as they are or camelCased, instants as ISO 8601, flags as 0/1. A plain mapping's
    keys are data, not field names, and stay as they are."""
    if _is_record(value):
        out: dict[str, Any] = {}
        for name, item, spec in _items(value):
            if item is None and spec.omit_none:
                continue
            out[camel(name) if camel_case else name] = _json_field(item, spec, camel_case)
        return out
    if isinstance(value, Mapping):
        return {k: to_json(v, camel_case=camel_case) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v, camel_case=camel_case) for v in value]
    if isinstance(value, datetime):
        return ISO_Z.format(value)
    return value


def _json_field(value: Any, spec: FieldSpec, camel_case: bool) -> Any:
    if value is None:
        return None
    if spec.flag:
        return as_flag(value)
    if isinstance(value, datetime):
        return spec.instant.format(value)
    return to_json(value, camel_case=camel_case)


# -- GraphQL -------------------------------------------------------------------------------------
def to_graphql(cls: type[T], record: Any) -> T:
    """A record as the strawberry type ``cls``: each plain field of ``cls`` (not a resolver)
    takes the record's field of the same Python name; nested types and lists follow the
    annotations; instants become ISO 8601 strings. A field the record lacks keeps its default.
    What to do per field is worked out once per (type, record type)."""
    values: dict[str, Any] = {}
    if isinstance(record, Mapping):
        for name, convert in _graphql_plan(cls, None):
            value = record.get(name, dataclasses.MISSING)
            if value is not dataclasses.MISSING:
                values[name] = None if value is None else convert(value)
    else:
        for name, convert in _graphql_plan(cls, type(record)):
            value = getattr(record, name, dataclasses.MISSING)
            if value is not dataclasses.MISSING:
                values[name] = None if value is None else convert(value)
    return cls(**values)


_GRAPHQL_PLANS: dict[tuple[Any, Any], tuple[tuple[str, Any], ...]] = {}
_MESSAGE_PLANS: dict[tuple[Any, Any], tuple[tuple[str, str, Any], ...]] = {}


def _graphql_plan(cls: Any, record_type: Any) -> tuple[tuple[str, Any], ...]:
    plan = _GRAPHQL_PLANS.get((cls, record_type))
    if plan is None:
        plan = _GRAPHQL_PLANS[cls, record_type] = _make_graphql_plan(cls, record_type)
    return plan


def _make_graphql_plan(cls: Any, record_type: Any) -> tuple[tuple[str, Any], ...]:
    definition = get_object_definition(cls, strict=True)
    plan = []
    for field in definition.fields:
        if field.base_resolver is not None or not field.init:
            continue
        spec = _spec_of(record_type, field.python_name)
        plan.append((field.python_name, _graphql_converter(field.type, spec)))
    return tuple(plan)


def _spec_of(record_type: type | None, name: str) -> FieldSpec:
    fields = getattr(record_type, "__dataclass_fields__", None) or {}
    return fields[name].metadata.get(SPEC_KEY, PLAIN) if name in fields else PLAIN


def _graphql_converter(annotation: Any, spec: FieldSpec) -> Callable[[Any], Any]:
    """How a field's (non-null) value becomes what the strawberry type holds, decided once
    from its annotation: a list element by element, a nested type by :func:`to_graphql`, an
    instant as ISO 8601, a flag as a bool."""
    if isinstance(annotation, StrawberryOptional):
        annotation = annotation.of_type
    if isinstance(annotation, StrawberryList):
        inner = _graphql_converter(annotation.of_type, spec)
        return lambda value: [None if v is None else inner(v) for v in value]
    if isinstance(annotation, type) and has_object_definition(annotation):
        return functools.partial(to_graphql, annotation)
    instant = spec.instant
    if spec.flag:
        return lambda value: instant.format(value) if isinstance(value, datetime) else bool(value)
    return lambda value: instant.format(value) if isinstance(value, datetime) else value


# -- gRPC ----------------------------------------------------------------------------------------
TIMESTAMP = Timestamp.DESCRIPTOR.full_name
STRUCT = struct_pb2.Struct.DESCRIPTOR.full_name


def to_message(cls: type[M], record: Any) -> M:
    """A record (or a mapping) as the protobuf message ``cls``, field by proto field name:
    ``None`` and missing fields stay unset, numbers become booleans for ``bool`` fields (0/1
    flags), nested records become nested messages, a mapping becomes a ``Struct``, instants
    become ``Timestamp`` or, for a ``string`` field, ISO 8601. What to do per field is worked
    out once per (message, record type): rendering is on every list's hot path. A value the
    field cannot take is a ``TypeError`` naming the message and the field (protobuf's own
    names neither)."""
    fields = _message_fields(cls, record)
    try:
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise TypeError(_misfit(cls, fields, exc)) from exc


def _misfit(cls: Any, fields: dict[str, Any], exc: Exception) -> str:
    """Which of ``fields`` the message ``cls`` refused, found by trying them one at a time."""
    for name, value in fields.items():
        try:
            cls(**{name: value})
        except (TypeError, ValueError) as one:
            return f"{cls.DESCRIPTOR.full_name}.{name}: {one} (got {type(value).__name__})"
    return f"{cls.DESCRIPTOR.full_name}: {exc}"


def _message_fields(cls: Any, record: Any) -> dict[str, Any]:
    """``to_message``'s keyword arguments. A nested record's are a dict of its own, which the
    constructor builds in place (a message built first would be copied in)."""
    values: dict[str, Any] = {}
    mapping = isinstance(record, Mapping)
    for name, shape, convert in _message_plan(cls, None if mapping else type(record)):
        value = record.get(name) if mapping else getattr(record, name, None)
        if value is None:
            continue
        if shape is _MAP:
            values[name] = {k: convert(v) for k, v in value.items()}
        elif shape is _REPEATED:
            values[name] = list(value) if convert is None else [convert(v) for v in value]
        else:
            values[name] = value if convert is None else convert(value)
    return values


_SINGLE, _REPEATED, _MAP = "single", "repeated", "map"


def _message_plan(cls: Any, record_type: Any) -> tuple[tuple[str, str, Any], ...]:
    found = _MESSAGE_PLANS.get((cls, record_type))
    if found is None:
        found = _MESSAGE_PLANS[cls, record_type] = _make_message_plan(cls, record_type)
    return found


def _make_message_plan(cls: Any, record_type: Any) -> tuple[tuple[str, str, Any], ...]:
    """Per field: its shape and its value's conversion (``None``: the value as it is)."""
    plan = []
    for field in cls.DESCRIPTOR.fields:
        spec = _spec_of(record_type, field.name)
        if _is_map(field):
            entry = field.message_type.fields_by_name["value"]
            convert = _converter(entry, spec, whole=True)
            plan.append((field.name, _MAP, convert or _as_is))
        else:
            shape = _REPEATED if field.is_repeated else _SINGLE
            plan.append((field.name, shape, _converter(field, spec)))
    return tuple(plan)


def _converter(field: FieldDescriptor, spec: FieldSpec, *, whole: bool = False) -> Any:
    """What a value of ``field`` goes through, or ``None`` when it is taken as it is. A nested
    message becomes its keyword arguments, or (``whole``: a map's values) a message."""
    message_type = field.message_type
    if message_type is not None:
        if message_type.full_name == TIMESTAMP:
            return _timestamp
        if message_type.full_name == STRUCT:
            return _struct
        nested = _message_class(message_type)
        return functools.partial(_whole_message if whole else _nested_fields, nested)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return bool
    if field.type == FieldDescriptor.TYPE_STRING:
        return functools.partial(_text, spec=spec)
    return None


def _as_is(value: Any) -> Any:
    return value


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _message_class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


def _timestamp(value: Any) -> Any:
    return value if isinstance(value, Message) else to_timestamp(value)


def _struct(value: Any) -> Any:
    """A JSON object (a mapping) as a ``Struct``."""
    if isinstance(value, Message):
        return value
    return json_format.ParseDict(value, struct_pb2.Struct())


def _nested_fields(cls: Any, value: Any) -> Any:
    return value if isinstance(value, Message) else _message_fields(cls, value)


def _whole_message(cls: Any, value: Any) -> Any:
    return value if isinstance(value, Message) else to_message(cls, value)


def _text(value: Any, spec: FieldSpec) -> Any:
    return spec.instant.format(value) if isinstance(value, datetime) else value


# -- only the fields that were sent --------------------------------------------------------------
def sent_fields(value: Any) -> dict[str, Any]:
    """What the client sent, as the dict a REST body would be. A strawberry input: its fields
    that are not ``strawberry.UNSET`` (nested inputs and lists of them too). A proto3 message:
    its fields with presence (``optional``, messages, oneofs) only if set, every other field
    (plain scalars, repeated, maps) always; nested messages likewise, a ``Timestamp`` as an
    aware datetime."""
    if isinstance(value, Message):
        return _sent_message(value)
    return {
        field.name: _sent_input(getattr(value, field.name))
        for field in dataclasses.fields(value)
        if getattr(value, field.name) is not strawberry.UNSET
    }


def _sent_input(value: Any) -> Any:
    if _is_record(value):
        return sent_fields(value)
    if isinstance(value, list):
        return [_sent_input(v) for v in value]
    return value


def _sent_message(message: Message) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.has_presence and not message.HasField(field.name):
            continue
        value = getattr(message, field.name)
        if _is_map(field):
            entry = field.message_type.fields_by_name["value"]
            sent[field.name] = {k: _sent_value(entry, v) for k, v in value.items()}
        elif field.is_repeated:
            sent[field.name] = [_sent_value(field, v) for v in value]
        else:
            sent[field.name] = _sent_value(field, value)
    return sent


def _sent_value(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is None:
        return value
    if field.message_type.full_name == TIMESTAMP:
        return from_timestamp(value)
    if field.message_type.file.package == "google.protobuf":
        return value  # Struct, Value, wrappers: the adapter knows what it wants of them
    return _sent_message(value)


def plain(message: Any, *, whole_numbers: bool = False) -> Any:
    """A ``google.protobuf`` ``Struct``, ``ListValue`` or ``Value`` as plain Python, as JSON
    would give it. Walked by hand: json_format raises on the infinities and NaN a
    ``number_value`` can hold, which the service should judge instead. ``whole_numbers`` turns
    whole doubles (below 2**53) back into integers: a Struct's numbers are all doubles, and 3
    should read as 3, as GraphQL gives it."""
    if isinstance(message, struct_pb2.Struct):
        return {k: plain(v, whole_numbers=whole_numbers) for k, v in message.fields.items()}
    if isinstance(message, struct_pb2.ListValue):
        return [plain(v, whole_numbers=whole_numbers) for v in message.values]
    kind = message.WhichOneof("kind")
    if kind == "struct_value":
        return plain(message.struct_value, whole_numbers=whole_numbers)
    if kind == "list_value":
        return plain(message.list_value, whole_numbers=whole_numbers)
    if kind in (None, "null_value"):
        return None
    value = getattr(message, kind)
    if whole_numbers and kind == "number_value" and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
