"""The bytes an event is between processes (:mod:`hub.bus`, :mod:`hub.pgbus`): a pickle, read
back by an unpickler that rebuilds values and records, never runs code the bytes name.

Whoever can write to the hub's PostgreSQL database (``NOTIFY`` on the bus channel, a row of
``bus_events``) or connect to the broker's socket hands every process bytes to decode, so
decoding must not be a way to run code.
Every callable a pickle can reach (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ, and the extension
codes) is a global resolved by :meth:`EventUnpickler.find_class` (persistent ids are refused by
the base class), and BUILD only sets attributes or calls ``__setstate__`` of an object so
built. ``find_class`` here resolves only:

- ``datetime``'s ``datetime``, ``date``, ``time``, ``timedelta`` and ``timezone``,
  ``uuid.UUID`` and ``decimal.Decimal``: values, built from their own state;
- a dataclass or Enum defined in an already imported module of the hub (``hub``) or of the
  package a loaded plugin came from. Those packages are the ones :func:`hub.plugins.load_plugins`
  claims for each plugin in :mod:`hub.logs` (a plugin's top-level package,
  ``hub_local_plugin_<name>`` for a single file): exactly the code this process already runs,
  whatever ``HUB_PLUGINS`` or the plugin directory chose. Nothing is imported to decode, so no
  module's import side effects can be triggered (importing ``hub.__main__`` runs the CLI).

Containers and scalars (tuples, lists, dicts, sets, str, bytes, numbers, None) have opcodes of
their own at the protocol events are written in, so no builtin and no ``copyreg`` helper is
allowed: dataclasses come back through NEWOBJ and BUILD, enum members by calling their class
with the value. Crafted bytes can still hand a subscriber a record of another topic (its
stream then fails on it); they cannot run code.

Pickle rather than a typed JSON: what subscribers get is exactly what was published (tuples stay
tuples, datetimes keep their zone, enums and nested records come back as such) with no code per
type, and a JSON that names record classes would need this same class check, plus an encoder
and a decoder of its own."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import io
import pickle
import sys
import uuid
from types import ModuleType
from typing import Any

from hub import logs

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


class Refused(pickle.UnpicklingError):
    """The bytes name a global that is not a value or a record of the hub or a loaded plugin."""

    def __init__(self, module: str, name: str) -> None:
        self.name = f"{module}.{name}"
        super().__init__(
            f"{self.name} is refused: events hold only plain values and dataclasses or Enums"
            " of the hub or a loaded plugin"
        )


class EventUnpickler(pickle.Unpickler):
    """Python's "restricting globals" unpickler: every global goes through :meth:`find_class`."""

    def find_class(self, module: str, name: str) -> Any:
        found = VALUES.get((module, name)) or _record(module, name)
        if found is None:
            raise Refused(module, name)
        return found


def _record(module: str, name: str) -> type | None:
    """The dataclass or Enum ``name`` of ``module`` if the module is imported and is the hub's
    or a loaded plugin's; attributes are read from ``vars`` so no descriptor runs."""
    found: Any = sys.modules.get(module)
    if found is None or not _trusted(module):  # imported first: hub.logs memoises its answers
        return None
    for part in name.split("."):
        if not isinstance(found, ModuleType | type):
            return None
        found = vars(found).get(part)
    if not isinstance(found, type) or (found.__module__, found.__qualname__) != (module, name):
        return None  # not a class, or one imported from elsewhere
    return found if dataclasses.is_dataclass(found) or issubclass(found, enum.Enum) else None


def _trusted(module: str) -> bool:
    """Whether ``module`` (imported) is the hub's or in a loaded plugin's package."""
    return module.partition(".")[0] == logs.HOST or logs.owner(module) != logs.NO_PLUGIN


def decode(body: bytes) -> Any:
    """The event ``body`` holds; :class:`Refused` if it names anything but values and records."""
    return EventUnpickler(io.BytesIO(body)).load()


def encode(event: Any) -> bytes:
    """``event`` as bytes for the other processes; raises if they would refuse it, so the
    publisher logs it once (and keeps it to its own subscribers) rather than every receiver."""
    body = pickle.dumps(event, pickle.HIGHEST_PROTOCOL)
    decode(body)
    return body
