"""The one service layer of ``era``: REST, GraphQL and gRPC all call this and nothing else.
Every operation takes the :class:`~hub.caller.Caller` first and checks it before anything else;
reads and writes return :class:`~hub_era.records.IntegrationPoint` records, except the stored
JSON REST serves as it is (``get_json``, ``StoredPage.items``)."""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from hub import paging
from hub.api import HubApi
from hub.caller import Caller
from hub.credentials import Credential
from hub_era.errors import PLUGIN, bad_request, error, unauthorized
from hub_era.fields import ALIASES, FIELDS, KEY_FIELDS, Order, canonical, validate_changes
from hub_era.records import IntegrationPoint, now_stamp
from hub_era.storage import TABLE, StoredPage, keyset, where


class EraService:
    def __init__(self, hub: HubApi) -> None:
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

    def get(self, caller: Caller, ident: str) -> IntegrationPoint:
        return IntegrationPoint.of(orjson.loads(self.get_json(caller, ident)))

    def page(
        self,
        caller: Caller,
        *,
        filter: Any = None,  # checked here: a JSON object of field -> value(s)
        order: Sequence[Order] = (),
        window: paging.Page = paging.Page(),
        count: bool = True,
    ) -> StoredPage:
        """One page in ``order`` (then creation order: every order ends with the unique
        ``seq``, so every page can seek); ``count`` also counts all matches."""
        self.authorize(caller)
        clauses, params = where({} if filter is None else filter)  # [] is no object
        read = keyset(order).read(
            self.database,
            window,
            select="CAST(data AS BLOB)",
            source=TABLE,
            where=clauses,
            params=params,
            error=bad_request,
            count=count,
        )
        return StoredPage([row[0] for row in read.rows], read)

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
    def create(self, caller: Caller, changes: Any) -> IntegrationPoint:
        self.authorize(caller)
        changes = validate_changes(changes, creating=True)
        stamp = now_stamp()
        entity: dict[str, Any] = {k: "" for k in FIELDS if k not in ("opts", "ext")}
        entity.update({k: v for k, v in changes.items() if k != "opts"})
        entity["id"] = str(uuid.uuid4())
        entity["token_local"] = secrets.token_hex(16)
        entity["opts"] = {"title": "", "comment": "", "allow_files_api": False, "issync": False}
        entity["opts"].update(changes.get("opts") or {})
        entity["ext"] = {"ct": stamp, "lwt": stamp}
        entity = canonical(entity)
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
        return IntegrationPoint.of(entity)

    def update(self, caller: Caller, ident: str, changes: Any) -> IntegrationPoint:
        self.authorize(caller)
        changes = validate_changes(changes, creating=False)
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
        return IntegrationPoint.of(entity)

    def delete(self, caller: Caller, ident: str) -> None:
        self.authorize(caller)
        with self.database.write() as db:
            if db.execute(f"DELETE FROM {TABLE} WHERE id = ?", (ident,)).rowcount == 0:
                raise error(404, "Not found")
