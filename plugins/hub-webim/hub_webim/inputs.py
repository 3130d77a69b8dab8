"""Checking what callers send, once for all three protocols; every message names the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hub.errors import quoted
from hub.records import INT_MAX
from hub_webim.errors import bad_request

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
INTEGER = re.compile(r"[0-9]{1,18}")
NUMBER = re.compile(r"[0-9]{1,18}(\.[0-9]{1,9})?")
MAX_COUNT = INT_MAX  # the same bound on every protocol
MAX_TEXT = 255


def text(data: Mapping[str, Any], key: str, *, required: bool = False, name: bool = False) -> Any:
    """``data[key]``: a string of at most :data:`MAX_TEXT` characters (a :data:`NAME` if
    ``name``), or ``None`` when absent and not ``required``."""
    value = data.get(key)
    if value is None or (required and value == ""):
        if required:
            raise bad_request(f"{key}: required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key}: expected a string")
    if name and not NAME.fullmatch(value):
        raise bad_request(
            f"{key}: 1-63 letters, digits, '_', '.', '-', starting with one of the first two"
        )
    if len(value) > MAX_TEXT:
        raise bad_request(f"{key}: longer than {MAX_TEXT} characters")
    if "\x00" in value:  # PostgreSQL's text cannot hold one: refused alike on every engine
        raise bad_request(f"{key}: must not contain NUL (\\u0000)")
    return value


def count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise bad_request(f"{key}: expected an integer between 0 and {MAX_COUNT}")
    return value


Pairs = tuple[tuple[str, Any], ...]  # a map as gRPC carries it: a repeated field of pairs


def mapping(data: Any, what: str) -> Any:
    """``data`` as a map if it is :data:`Pairs` (else as it is, for the caller's checks): a
    key given twice is a 400, as GraphQL refuses a field given twice, not the last value
    silently winning."""
    if not isinstance(data, tuple):
        return data
    out: dict[str, Any] = {}
    for key, value in data:
        if key in out:
            raise bad_request(f"{what}: {key!r} is given more than once")
        out[key] = value
    return out


def only(data: Any, allowed: tuple[str, ...], what: str) -> Mapping[str, Any]:
    """``data`` as an object holding none but the ``allowed`` fields."""
    if not isinstance(data, Mapping):
        raise bad_request(f"{what}: expected an object")
    for key in data:
        if key not in allowed:
            raise bad_request(f"{key}: unknown field; expected one of {', '.join(allowed)}")
    return data


def integer(raw: str | None, key: str, *, low: int, high: int) -> int:
    """A whole number sent as text (a query parameter, or its twin on GraphQL and gRPC)."""
    if raw is None or raw == "":
        raise bad_request(f"{key}: required")
    if not INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        raise bad_request(f"{key}: expected an integer between {low} and {high}, got {quoted(raw)}")
    return int(raw)


def ping(pinger_id: str | None, ts: str | None) -> None:
    """pingservice's ``pinger-id`` (an integer) and ``ts`` (a number)."""
    if not pinger_id:
        raise bad_request("pinger-id: required")
    if not INTEGER.fullmatch(pinger_id):
        raise bad_request(f"pinger-id: expected an integer, got {quoted(pinger_id)}")
    if not ts:
        raise bad_request("ts: required")
    if not NUMBER.fullmatch(ts):
        raise bad_request(f"ts: expected a number, got {quoted(ts)}")
