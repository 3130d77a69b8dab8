"""Query-string parameters read the same way by every plugin: a bad value is a 400 that names
the parameter, rendered in the plugin's own error shape by the host's middleware."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from hub.errors import HubError

INTEGER = re.compile(r"-?[0-9]{1,19}")  # no "+5", " 5", "1_000"; 19 digits fit SQLite
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


def int_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not INTEGER.fullmatch(raw):
        raise bad_param(f"{name}: expected an integer, got {raw!r}")
    return int(raw)


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
