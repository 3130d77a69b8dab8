"""The one service layer of ``era``: REST, GraphQL and gRPC all call this and nothing else.

Each channel is stored as its canonical JSON (the seed's field order), so a plain list is
served by joining stored text; ``filter`` and ``order`` run in SQL on ``json_extract``."""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from hub import paging
from hub.caller import Caller
from hub.credentials import Credential
from hub.errors import ErrorFactory, HubError

PLUGIN = "era"
TABLE = "integration_points"
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
FIELDS = ("id", "code", "type", "token_local", *STRING_FIELDS[2:], "opts", "ext")
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


error = ErrorFactory(PLUGIN, reasons=lambda status: 1000 + status)  # ERA's error_code


def bad_request(message: str) -> HubError:
    return error(400, message)


def unauthorized() -> HubError:
    return error(401, "Unauthorized: send Authorization: Bearer <token>")


def now_stamp() -> str:
    """UTC with centiseconds, as the seed writes it: ``2019-08-28T13:34:16.42Z``."""
    t = datetime.now(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 10000:02d}Z"


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


@dataclass(frozen=True)
class Page:
    items: list[bytes]  # canonical JSON of each channel, as stored
    total: int | None  # None unless counted
    keys: list[tuple[Any, ...]]  # each item's sort key, for its cursor
    keyset: paging.Keyset  # the order the page was read in
    has_next: bool  # more rows follow this page

    def entities(self) -> list[dict[str, Any]]:
        return [orjson.loads(item) for item in self.items]

    def cursors(self) -> list[str]:
        return [self.keyset.cursor(key) for key in self.keys]


def m001_integration_points(db: Any) -> None:
    db.execute(
        f"CREATE TABLE {TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " code TEXT NOT NULL UNIQUE, token_local TEXT NOT NULL UNIQUE, data TEXT NOT NULL)"
    )


MIGRATIONS = [m001_integration_points]


def _validate_changes(changes: Any, *, creating: bool) -> dict[str, Any]:
    """Check a POST/PATCH body; the message names the first bad field."""
    if not isinstance(changes, dict):
        raise bad_request("body: expected a JSON object (integration_point entity)")
    for key in changes:
        if key in SERVER_SET or ALIASES.get(key) == "token_local":
            raise bad_request(f"{key}: field is set by the server and cannot be changed")
        if key not in STRING_FIELDS and key != "opts":
            raise bad_request(f"{key}: unknown field")
    for key in STRING_FIELDS:
        if key in changes:
            value = changes[key]
            if not isinstance(value, str):
                raise bad_request(f"{key}: expected a string")
            limit = MAX_CODE if key == "code" else MAX_STRING
            if len(value) > limit:
                raise bad_request(f"{key}: longer than {limit} characters")
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
            if type(value) is not kind:
                raise bad_request(
                    f"opts.{key}: expected a {'boolean' if kind is bool else 'string'}"
                )
            if isinstance(value, str) and len(value) > MAX_STRING:
                raise bad_request(f"opts.{key}: longer than {MAX_STRING} characters")
    elif "opts" in changes:
        raise bad_request("opts: expected an object")
    return changes


def _canonical(entity: dict[str, Any]) -> dict[str, Any]:
    out = {k: entity[k] for k in FIELDS if k not in ("opts", "ext")}
    out["opts"] = {k: entity["opts"][k] for k in OPTS}
    out["ext"] = {"ct": entity["ext"]["ct"], "lwt": entity["ext"]["lwt"]}
    return out


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


def _json_path(path: str) -> str:
    return "$." + path


def _keyset(order: Sequence[Order]) -> paging.Keyset:
    """``order``'s fields (a repeated field cannot change the order), then the unique ``seq``.
    Each path is one of :data:`LEAVES`, so it is written into the SQL as a literal."""
    terms: dict[str, bool] = {}  # path -> descending
    for o in order:
        path = field_path(o.field, what="order")
        if path in ("opts", "ext"):
            raise bad_request("order: sort by a leaf field such as opts.title or ext.ct")
        terms.setdefault(path, o.desc)
    return paging.Keyset(
        (
            *(
                paging.SortKey(path, f"json_extract(data, '{_json_path(path)}')", desc)
                for path, desc in terms.items()
            ),
            paging.SortKey("seq", "seq"),
        )
    )


class EraService:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.database = hub.database(PLUGIN)

    # -- auth ----------------------------------------------------------------------------
    def authorize(self, caller: Caller) -> Credential:
        """Any era token or the admin token; every operation checks it first (the caller
        looks it up once, so an adapter may also check before it reads the request)."""
        return caller.require(unauthorized)

    # -- reads ---------------------------------------------------------------------------
    def get_json(self, caller: Caller, ident: str) -> bytes:
        """The stored JSON as bytes (read as a BLOB: no decoding to ``str`` and back)."""
        self.authorize(caller)
        row = self.database.execute(
            f"SELECT CAST(data AS BLOB) FROM {TABLE} WHERE id = ?", (ident,)
        ).fetchone()
        if row is None:
            raise error(404, "Not found")
        return bytes(row[0])

    def get(self, caller: Caller, ident: str) -> dict[str, Any]:
        return orjson.loads(self.get_json(caller, ident))  # type: ignore[no-any-return]

    def page(
        self,
        caller: Caller,
        *,
        filter: Any = None,  # checked here: a JSON object of field -> value(s)
        order: Sequence[Order] = (),
        window: paging.Page = paging.Page(),
        count: bool = True,
    ) -> Page:
        """One page in ``order`` (then creation order: every order ends with the unique
        ``seq``, so every page can seek); ``count`` also counts all matches."""
        self.authorize(caller)
        clauses, params = self._where({} if filter is None else filter)  # [] is no object
        keyset = _keyset(order)
        total = None
        if count:
            where = " WHERE " + " AND ".join(clauses) if clauses else ""
            total = self.database.execute(
                f"SELECT count(*) FROM {TABLE}{where}", params
            ).fetchone()[0]
        if window.after is not None:
            seek, seek_params = keyset.seek(window.after, bad_request)
            clauses, params = [*clauses, seek], [*params, *seek_params]
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self.database.execute(  # one row more than asked: whether another page follows
            f"SELECT CAST(data AS BLOB), {keyset.columns()} FROM {TABLE}{where}"
            f" ORDER BY {keyset.order_by()} LIMIT ? OFFSET ?",
            [*params, window.limit + 1, window.offset],
        ).fetchall()
        shown = rows[: window.limit]
        keys = [tuple(r[1:]) for r in shown]
        return Page([r[0] for r in shown], total, keys, keyset, len(rows) > len(shown))

    def _where(self, filter: dict[str, Any]) -> tuple[list[str], list[Any]]:
        if not isinstance(filter, dict):
            raise bad_request("filter: expected a JSON object of field -> value")
        clauses, params = [], []
        for name, value in filter.items():
            path = field_path(name, what="filter")
            if path in ("opts", "ext"):
                raise bad_request(f"filter: {name!r} is an object; filter on {name}.<field>")
            values = value if isinstance(value, list) else [value]
            for v in values:
                if not isinstance(v, str | bool):  # every field is one of these
                    raise bad_request(
                        f"filter.{name}: expected a string, boolean or a list of them"
                    )
            if not values:
                clauses.append("0")
                continue
            # one parameter however long the list: SQLite caps the number of parameters
            clauses.append("json_extract(data, ?) IN (SELECT value FROM json_each(?))")
            params.extend([_json_path(path), orjson.dumps(values).decode()])
        return clauses, params

    def lookup(self, caller: Caller, key: Any) -> list[str]:
        """Ids of channels whose key field equals ``key`` (a string, or ``{"code": "..."}``)."""
        self.authorize(caller)
        fields: tuple[str, ...]
        if isinstance(key, str):
            fields, value = KEY_FIELDS, key
        elif isinstance(key, dict) and len(key) == 1:
            name, value = next(iter(key.items()))
            field = ALIASES.get(name, name)
            if field not in KEY_FIELDS:
                raise bad_request(f"{name}: not a key field; use one of id, code, token_local")
            if not isinstance(value, str):
                raise bad_request(f"{name}: expected a string")
            fields = (field,)
        else:
            raise bad_request(
                "body: expected a JSON string or an object naming one key field,"
                ' e.g. {"code": "ABCDE"}'
            )
        where = " OR ".join(f"{f} = ?" for f in fields)
        rows = self.database.execute(
            f"SELECT id FROM {TABLE} WHERE {where} ORDER BY seq", [value] * len(fields)
        ).fetchall()
        if not rows:
            raise error(404, "Lookup failed")
        return [r[0] for r in rows]

    def by_token(self, caller: Caller, token: str) -> str:
        self.authorize(caller)
        row = self.database.execute(
            f"SELECT id FROM {TABLE} WHERE token_local = ?", (token,)
        ).fetchone()
        if row is None:
            raise error(404, "Token not found")
        return str(row[0])

    # -- writes --------------------------------------------------------------------------
    def create(self, caller: Caller, changes: Any) -> dict[str, Any]:
        self.authorize(caller)
        changes = _validate_changes(changes, creating=True)
        stamp = now_stamp()
        entity: dict[str, Any] = {k: "" for k in FIELDS if k not in ("opts", "ext")}
        entity.update({k: v for k, v in changes.items() if k != "opts"})
        entity["id"] = str(uuid.uuid4())
        entity["token_local"] = secrets.token_hex(16)
        entity["opts"] = {"title": "", "comment": "", "allow_files_api": False, "issync": False}
        entity["opts"].update(changes.get("opts") or {})
        entity["ext"] = {"ct": stamp, "lwt": stamp}
        entity = _canonical(entity)
        try:
            with self.database.write() as db:
                db.execute(
                    f"INSERT INTO {TABLE} (id, code, token_local, data) VALUES (?, ?, ?, ?)",
                    (
                        entity["id"],
                        entity["code"],
                        entity["token_local"],
                        orjson.dumps(entity).decode(),
                    ),
                )
        except sqlite3.IntegrityError:
            raise error(
                409, f"code: an integration point with code {entity['code']!r} already exists"
            ) from None
        return entity

    def update(self, caller: Caller, ident: str, changes: Any) -> dict[str, Any]:
        self.authorize(caller)
        changes = _validate_changes(changes, creating=False)
        try:
            with self.database.write() as db:
                row = db.execute(f"SELECT data FROM {TABLE} WHERE id = ?", (ident,)).fetchone()
                if row is None:
                    raise error(404, "Not found")
                entity = orjson.loads(row[0])
                entity.update({k: v for k, v in changes.items() if k != "opts"})
                entity["opts"].update(changes.get("opts") or {})
                entity["ext"]["lwt"] = now_stamp()
                db.execute(
                    f"UPDATE {TABLE} SET code = ?, data = ? WHERE id = ?",
                    (entity["code"], orjson.dumps(entity).decode(), ident),
                )
        except sqlite3.IntegrityError:
            raise error(
                409, f"code: an integration point with code {changes.get('code')!r} already exists"
            ) from None
        return entity  # type: ignore[no-any-return]

    def delete(self, caller: Caller, ident: str) -> None:
        self.authorize(caller)
        with self.database.write() as db:
            if db.execute(f"DELETE FROM {TABLE} WHERE id = ?", (ident,)).rowcount == 0:
                raise error(404, "Not found")


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
