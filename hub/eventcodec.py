"""The bytes an event is between processes (:mod:`hub.bus`, :mod:`hub.pgbus`): a pickle, read
back by an unpickler that rebuilds values and records, never runs code the bytes name.

Whoever can write to the hub's PostgreSQL database (``NOTIFY`` on the bus channel, a row of
``bus_events``) or connect to the broker's socket hands every process bytes to decode, so
decoding must not be a way to run code.
Every callable a pickle can reach (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ, and the extension
codes) is a global resolved by :meth:`EventUnpickler.find_class` (persistent ids are refused by
the base class), and BUILD only sets attributes or calls ``__setstate__`` of an object so
built. ``find_class`` here resolves (:func:`_resolve`) only:

- ``datetime``'s ``datetime``, ``date``, ``time``, ``timedelta`` and ``timezone``,
  ``uuid.UUID`` and ``decimal.Decimal``: values, built from their own state;
- a dataclass or Enum defined in an already imported module of a trusted package: the hub's
  (``hub``) and each loaded plugin's, which :func:`hub.plugins.load_plugins` hands to
  :func:`trust` (a plugin's top-level package, ``hub_local_plugin_<name>`` for a single file):
  exactly the code this process already runs, whatever ``HUB_PLUGINS`` or the plugin directory
  chose. Nothing is imported to decode, so no module's import side effects can be triggered
  (importing ``hub.__main__`` runs the CLI).

Containers and scalars (tuples, lists, dicts, sets, str, bytes, numbers, None) have opcodes of
their own at the protocol events are written in, so no builtin and no ``copyreg`` helper is
allowed: dataclasses come back through NEWOBJ and BUILD, enum members by calling their class
with the value. Crafted bytes can still hand a subscriber a record of another topic (its
stream then fails on it); they cannot run code.

:func:`encode` refuses what the others would refuse, so the publisher logs it once rather than
every receiver: its pickler hands every global it writes to the same :func:`_resolve`, without
unpickling the result again.

Pickle rather than a typed JSON: what subscribers get is exactly what was published (tuples stay
tuples, datetimes keep their zone, enums and nested records come back as such) with no code per
type, and a JSON that names record classes would need this same class check, plus an encoder
and a decoder of its own."""

from __future__ import annotations

import copyreg
import dataclasses
import datetime
import decimal
import enum
import io
import pickle
import sys
import uuid
from types import FunctionType, ModuleType
from typing import Any

PROTOCOL = pickle.HIGHEST_PROTOCOL
VALUES: dict[tuple[str, str], type] = {
    (cls.__module__, cls.__qualname__): cls
    for cls in (
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        uuid.UUID,
        decimal.Decimal,
    )
}
_BY_VALUE = frozenset(VALUES.values())  # their reductions name their class, never themselves
_OBJECT_REDUCE_EX, _OBJECT_REDUCE = object.__reduce_ex__, object.__reduce__
_trusted_packages = {"hub"}  # the host's own; load_plugins adds each plugin's
# every global resolved so far: an answer stays true (trust is only ever added, modules are not
# unloaded), and only classes are kept, so names a pickle merely tries do not grow it
_resolved = dict(VALUES)


class Refused(pickle.UnpicklingError):
    """The bytes name a global that is not a value or a record of the hub or a loaded plugin."""

    def __init__(self, module: str, name: str) -> None:
        self.name = f"{module}.{name}"
        super().__init__(
            f"{self.name} is refused: events hold only plain values and dataclasses or Enums"
            " of the hub or a loaded plugin"
        )


def trust(package: str) -> None:
    """Let events carry the dataclasses and Enums of ``package`` (a package or module name, its
    submodules included): :func:`hub.plugins.load_plugins` trusts each plugin's package, and
    code that publishes events outside a plugin (a test, a benchmark) trusts its own module."""
    _trusted_packages.add(package)


def _trusted(module: str) -> bool:
    """Whether ``module`` is, or is inside, a trusted package."""
    while module and module not in _trusted_packages:
        module = module.rpartition(".")[0]
    return bool(module)


def _resolve(module: str, name: str) -> type | None:
    """The global ``module``.``name`` an event may name, or None: the one rule of both ends."""
    found = _resolved.get((module, name))
    if found is None:
        found = _record(module, name)
        if found is not None:
            _resolved[module, name] = found
    return found


def _record(module: str, name: str) -> type | None:
    """The dataclass or Enum ``name`` of ``module`` if the module is imported and trusted;
    attributes are read from ``vars`` so no descriptor runs."""
    found: Any = sys.modules.get(module)
    if found is None or not _trusted(module):
        return None
    for part in name.split("."):
        if not isinstance(found, ModuleType | type):
            return None
        found = vars(found).get(part)
    if not isinstance(found, type) or (found.__module__, found.__qualname__) != (module, name):
        return None  # not a class, or one imported from elsewhere
    return found if dataclasses.is_dataclass(found) or issubclass(found, enum.Enum) else None


class EventUnpickler(pickle.Unpickler):
    """Python's "restricting globals" unpickler: every global goes through :meth:`find_class`."""

    def find_class(self, module: str, name: str) -> Any:
        found = _resolve(module, name)
        if found is None:
            raise Refused(module, name)
        return found


class EventPickler(pickle.Pickler):
    """A pickler that refuses to write a global :class:`EventUnpickler` would refuse to read.

    ``reducer_override`` sees every object but plain containers and scalars (which need no
    global), classes included, each once. Classes and functions are written as globals by their
    name; any other object is reduced here as pickle would reduce it, and a reduction that is a
    name (a module-level singleton, a builtin function) is a global too; the callable and
    arguments of any other reduction are pickled, and so seen here, in turn."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if isinstance(obj, type) or cls is FunctionType:
            _named(obj, obj.__module__, obj.__qualname__)
            return NotImplemented  # pickle writes the global
        if cls in _BY_VALUE or (
            cls.__reduce_ex__ is _OBJECT_REDUCE_EX
            and cls.__reduce__ is _OBJECT_REDUCE
            and cls not in copyreg.dispatch_table
        ):
            return NotImplemented  # reduced to its class and state: the class comes here next
        reduce = copyreg.dispatch_table.get(cls)
        reduced = reduce(obj) if reduce is not None else obj.__reduce_ex__(PROTOCOL)
        if isinstance(reduced, str):
            module = pickle.whichmodule(obj, reduced)  # type: ignore[attr-defined]  # untyped
            _named(obj, module, reduced)
        return reduced


def _named(obj: Any, module: str, name: str) -> None:
    """Refuse ``obj``, written as the global ``module``.``name``, unless the decoder would read
    that name back as ``obj``."""
    if _resolve(module, name) is not obj:
        raise Refused(module, name)


def decode(body: bytes) -> Any:
    """The event ``body`` holds; :class:`Refused` if it names anything but values and records."""
    return EventUnpickler(io.BytesIO(body)).load()


def encode(event: Any) -> bytes:
    """``event`` as bytes for the other processes; :class:`Refused` if they would refuse it, so
    the publisher logs it once (and keeps it to its own subscribers) rather than every receiver."""
    out = io.BytesIO()
    EventPickler(out, PROTOCOL).dump(event)
    return out.getvalue()
