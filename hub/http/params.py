"""Query-string parameters read the same way by every plugin: a bad value is a 400 that names
the parameter, rendered in the plugin's own error shape by the host's middleware."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from hub.errors import HubError, quoted

INTEGER = re.compile(r"-?[0-9]+")  # no "+5", " 5", "1_000"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite (and a gRPC int64) can hold
TRUE = ("true", "1")
FALSE = ("false", "0", "")


def bad_param(message: str) -> HubError:
    return HubError(400, message, reason="bad_query_parameter")


def reject_unknown(query: Mapping[str, str], allowed: set[str]) -> None:
    for name in query:
        if name not in allowed:
            raise bad_param(
                f"{name}: unknown query parameter; expected one of {', '.join(sorted(allowed))}"
            )


def int_param(
    query: Mapping[str, str], name: str, *, low: int = INT64_MIN, high: int = INT64_MAX
) -> int | None:
    """The integer ``name`` if given, within ``low``..``high`` (by default the signed 64-bit
    range, so that no value reaches SQLite or arithmetic that it cannot hold)."""
    raw = query.get(name)
    if raw is None:
        return None
    if not INTEGER.fullmatch(raw):
        raise bad_param(f"{name}: expected an integer, got {quoted(raw)}")
    # more than 19 significant digits is out of range: int() of thousands is slow, and refused
    value = int(raw) if len(raw.lstrip("-").lstrip("0")) <= 19 else None
    if value is None or not low <= value <= high:
        raise bad_param(f"{name}: expected an integer from {low} to {high}, got {quoted(raw)}")
    return value


def bool_param(query: Mapping[str, str], name: str) -> bool:
    raw = (query.get(name) or "").lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise bad_param(f"{name}: expected true or false, got {query.get(name)!r}")


def json_param(query: Mapping[str, str], name: str) -> Any:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_param(f"{name}: not valid JSON") from None
