"""The seed's field table of an integration point: its fields and aliases, the check of a
POST/PATCH body, ``mask``/``flat`` and ``order``, each naming the first bad field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub_era.errors import bad_request

STRING_FIELDS = (
    "code",
    "type",
    "token_remote",
    "token_remote2",
    "url",
    "recv_svcscriptcode",
    "recv_svcscriptcode_ws",
    "send_svcscriptcode",
    "send_svcscriptcode_ws",
)
OPTS: dict[str, type] = {"title": str, "comment": str, "allow_files_api": bool, "issync": bool}
SERVER_SET = ("id", "token_local", "ext")
OPTIONAL_STRINGS = STRING_FIELDS[2:]
EMPTY_OPTS = {k: kind() for k, kind in OPTS.items()}  # "" and False
FIELDS = ("id", "code", "type", "token_local", *OPTIONAL_STRINGS, "opts", "ext")
LEAVES = (
    *(f for f in FIELDS if f not in ("opts", "ext")),
    *(f"opts.{k}" for k in OPTS),
    "ext.ct",
    "ext.lwt",
)
ALIASES = {
    "tokenlocal": "token_local",
    "tokenremote": "token_remote",
    "tokenremote2": "token_remote2",
}
KEY_FIELDS = ("id", "code", "token_local")
MAX_STRING = 2048
MAX_CODE = 255
# what a POST/PATCH body may hold; what only the server sets (``tokenlocal`` too)
SETTABLE = frozenset((*STRING_FIELDS, "opts"))
SERVER_KEYS = frozenset((*SERVER_SET, *(a for a, f in ALIASES.items() if f == "token_local")))
STRING_LIMITS = tuple((k, MAX_CODE if k == "code" else MAX_STRING) for k in STRING_FIELDS)


def holds_nul(value: str) -> bool:
    """PostgreSQL text cannot hold NUL (and SQLite's JSON functions end a string at one), so no
    stored string may have one and a value searched for that has one matches nothing."""
    return "\x00" in value


def _check_string(name: str, value: Any, limit: int) -> None:
    if not isinstance(value, str):
        raise bad_request(f"{name}: expected a string")
    if len(value) > limit:
        raise bad_request(f"{name}: longer than {limit} characters")
    if holds_nul(value):
        raise bad_request(f"{name}: must not contain NUL (\\u0000)")


def field_path(name: str, *, what: str) -> str:
    """A known leaf or group field (``opts``, ``opts.title``, ``tokenlocal``) or a 400."""
    head, dot, rest = name.partition(".")
    head = ALIASES.get(head, head)
    path = f"{head}.{rest}" if dot else head
    if path in LEAVES or path in ("opts", "ext"):
        return path
    raise bad_request(f"{what}: unknown field {name!r}")


@dataclass(frozen=True)
class Order:
    field: str
    desc: bool = False


def validate_changes(changes: Any, *, creating: bool) -> dict[str, Any]:
    """Check a POST/PATCH body; the message names the first bad field."""
    if not isinstance(changes, dict):
        raise bad_request("body: expected a JSON object (integration_point entity)")
    if not SETTABLE.issuperset(changes):
        for key in changes:
            if key in SERVER_KEYS:
                raise bad_request(f"{key}: field is set by the server and cannot be changed")
            if key not in SETTABLE:
                raise bad_request(f"{key}: unknown field")
    for key, limit in STRING_LIMITS:
        if key in changes:
            _check_string(key, changes[key], limit)
    for key in ("code", "type"):
        if (creating or key in changes) and not (changes.get(key) or "").strip():
            raise bad_request(f"{key}: required, must be a non-empty string")
    opts = changes.get("opts")
    if opts is not None:
        if not isinstance(opts, dict):
            raise bad_request("opts: expected an object")
        for key, value in opts.items():
            kind = OPTS.get(key)
            if kind is None:
                raise bad_request(f"opts.{key}: unknown field")
            if kind is str:
                _check_string(f"opts.{key}", value, MAX_STRING)
            elif type(value) is not bool:
                raise bad_request(f"opts.{key}: expected a boolean")
    elif "opts" in changes:
        raise bad_request("opts: expected an object")
    return changes


def new_entity(changes: dict[str, Any], ident: str, token: str, stamp: str) -> dict[str, Any]:
    """A new channel in its canonical form (the seed's field order), built in one pass: what
    the checked ``changes`` set, every other field empty."""
    opts = changes.get("opts") or {}
    return {
        "id": ident,
        "code": changes["code"],
        "type": changes["type"],
        "token_local": token,
        **{k: changes.get(k, "") for k in OPTIONAL_STRINGS},
        "opts": {k: opts.get(k, empty) for k, empty in EMPTY_OPTS.items()},
        "ext": {"ct": stamp, "lwt": stamp},
    }


def apply_mask(entity: dict[str, Any], mask: Sequence[str] | None, flat: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in mask or FIELDS:
        head, _, leaf = path.partition(".")
        if not leaf:
            out[head] = entity[head]
        else:
            out.setdefault(head, {})[leaf] = entity[head][leaf]
    if flat:
        flat_out: dict[str, Any] = {}
        for key, value in out.items():
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    flat_out[f"{key}.{sub}"] = subvalue
            else:
                flat_out[key] = value
        return flat_out
    return out


def orders_from_json(data: Any) -> list[Order]:
    """REST's ``order``: ``["code", {"ext.ct": "desc"}]``."""
    if not isinstance(data, list):
        raise bad_request('order: expected a JSON array such as ["code", {"ext.ct": "desc"}]')
    orders = []
    for item in data:
        if isinstance(item, str):
            orders.append(Order(item))
        elif isinstance(item, dict) and len(item) == 1:
            name, direction = next(iter(item.items()))
            if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
                raise bad_request(f'order.{name}: direction must be "asc" or "desc"')
            orders.append(Order(name, direction.lower() == "desc"))
        else:
            raise bad_request('order: each item is a field name or {"field": "asc"|"desc"}')
    return orders
