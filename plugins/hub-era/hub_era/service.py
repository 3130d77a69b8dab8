"""The one service layer of ``era``: REST, GraphQL and gRPC all call this and nothing else.
Every operation takes the :class:`~hub.caller.Caller` first and checks it before anything else;
reads and writes return :class:`~hub_era.records.IntegrationPoint` records, except the JSON REST
serves as it is (``list_json``, ``get_json``: stored, or the vendor's). In upstream mode
(``mode = "upstream"``) each operation checks the request as local mode does, then asks the ERA
deployment the hub fronts (:mod:`hub_era.upstream`)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from hub import paging
from hub.api import HubApi
from hub.caller import Caller
from hub.credentials import Credential
from hub.records import json_array, to_json
from hub.storage import IntegrityError
from hub_era.errors import PLUGIN, bad_request, error, unauthorized
from hub_era.fields import (
    ALIASES,
    KEY_FIELDS,
    Order,
    apply_mask,
    holds_nul,
    new_entity,
    validate_changes,
)
from hub_era.records import IntegrationPoint, now_stamp
from hub_era.settings import EraSettings
from hub_era.storage import TABLE, StoredPage, keyset, where

if TYPE_CHECKING:
    from hub_era.upstream import UpstreamPoints


class PointPage(Protocol):
    """A page of channels, stored or the vendor's: what GraphQL and gRPC render."""

    @property
    def total(self) -> int | None: ...

    @property
    def has_next(self) -> bool: ...

    @property
    def stored(self) -> list[bytes] | None:
        """Each channel's stored JSON (for :func:`~hub_era.storage.record_of`); None for the
        vendor's."""

    @property
    def ids(self) -> list[int] | None:
        """Each stored channel's unique ``seq``; None for the vendor's."""

    def records(self) -> list[IntegrationPoint]: ...

    def cursors(self) -> Sequence[str] | None: ...


class EraService:
    def __init__(self, hub: HubApi) -> None:
        self.hub = hub
        self.database = hub.database(PLUGIN)
        self.settings: EraSettings = hub.settings_for(PLUGIN)
        self.upstream: UpstreamPoints | None = None
        if self.settings.mode == "upstream":
            from hub_era.upstream import UpstreamPoints

            self.upstream = UpstreamPoints(hub, self.settings)

    # -- auth ----------------------------------------------------------------------------
    def authorize(self, caller: Caller) -> Credential:
        """Any era token or the admin token; every operation checks it first (the caller
        looks it up once, so an adapter may also check before it reads the request)."""
        return caller.require(unauthorized)

    # -- reads ---------------------------------------------------------------------------
    async def get_json(
        self,
        caller: Caller,
        ident: str,
        *,
        mask: Sequence[str] | None = None,
        flat: bool = False,
        sent: Sequence[tuple[str, str]] = (),
    ) -> bytes:
        """REST's channel: the stored JSON as bytes (read as a BLOB: no decoding to ``str``
        and back), or shaped by ``mask``/``flat``; upstream, the vendor's answer to the
        query ``sent`` (``mask``/``flat`` as the client sent them)."""
        self.authorize(caller)
        if self.upstream is not None:
            plain = mask is None and not flat
            return await self.upstream.get_json(caller, ident, sent, plain)
        stored = self._stored(ident)
        if mask is None and not flat:
            return stored
        point = IntegrationPoint.of(orjson.loads(stored))
        return orjson.dumps(apply_mask(to_json(point), mask, flat))

    def _stored(self, ident: str) -> bytes:
        if holds_nul(ident):
            raise error(404, "Not found")
        row = self.database.execute(
            f"SELECT CAST(data AS BLOB) FROM {TABLE} WHERE id = ?", (ident,)
        ).fetchone()
        if row is None:
            raise error(404, "Not found")
        return bytes(row[0])

    async def get(self, caller: Caller, ident: str) -> IntegrationPoint:
        self.authorize(caller)
        if self.upstream is not None:
            return await self.upstream.get(caller, ident)
        return IntegrationPoint.of(orjson.loads(self._stored(ident)))

    async def list_json(
        self,
        caller: Caller,
        *,
        filter: Any,
        order: Sequence[Order],
        window: paging.Page,
        mask: Sequence[str] | None,
        flat: bool,
        sent: Sequence[tuple[str, str]],
    ) -> bytes:
        """REST's list, a bare array: stored JSON joined as it is, or shaped by
        ``mask``/``flat``; upstream, the vendor's answer to the query ``sent``."""
        self.authorize(caller)
        plain = mask is None and not flat
        if self.upstream is not None:
            self._check(filter, order)
            return await self.upstream.list_json(caller, sent, plain)
        page = self._page(filter, order, window, count=False)
        if plain:
            return json_array(page.items)
        return orjson.dumps([apply_mask(to_json(p), mask, flat) for p in page.records()])

    async def page(
        self,
        caller: Caller,
        *,
        filter: Any = None,  # checked here: a JSON object of field -> value(s)
        order: Sequence[Order] = (),
        window: paging.Page = paging.Page(),
    ) -> PointPage:
        """One page in ``order`` with the count of all matches (stored: then creation
        order, every order ending with the unique ``seq``, so every page can seek)."""
        self.authorize(caller)
        if self.upstream is not None:
            self._check(filter, order)
            return await self.upstream.page(caller, filter, order, window)
        return self._page(filter, order, window, count=True)

    @staticmethod
    def _check(filter: Any, order: Sequence[Order]) -> None:
        """``filter`` and ``order`` as local mode checks them, before the vendor is asked."""
        where({} if filter is None else filter)
        keyset(order)

    def _page(
        self, filter: Any, order: Sequence[Order], window: paging.Page, *, count: bool
    ) -> StoredPage:
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

    async def lookup(self, caller: Caller, key: Any) -> list[str]:
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
        if self.upstream is not None:
            return await self.upstream.lookup(caller, key)
        if holds_nul(value):
            raise error(404, "Lookup failed")
        where = " OR ".join(f"{f} = ?" for f in fields)
        rows = self.database.execute(
            f"SELECT id FROM {TABLE} WHERE {where} ORDER BY seq", [value] * len(fields)
        ).fetchall()
        if not rows:
            raise error(404, "Lookup failed")
        return [r[0] for r in rows]

    async def by_token(self, caller: Caller, token: str) -> str:
        self.authorize(caller)
        if self.upstream is not None:
            return await self.upstream.by_token(caller, token)
        if holds_nul(token):
            raise error(404, "Token not found")
        row = self.database.execute(
            f"SELECT id FROM {TABLE} WHERE token_local = ?", (token,)
        ).fetchone()
        if row is None:
            raise error(404, "Token not found")
        return str(row[0])

    # -- writes --------------------------------------------------------------------------
    async def create(self, caller: Caller, changes: Any) -> IntegrationPoint:
        self.authorize(caller)
        changes = validate_changes(changes, creating=True)
        if self.upstream is not None:
            return await self.upstream.create(caller, changes)
        return IntegrationPoint.of(self._insert(changes)[0])

    async def create_json(self, caller: Caller, changes: Any) -> bytes:
        """REST's create: the new channel's JSON as it is stored (the record REST would render
        from it is never built); upstream, the vendor's channel rendered."""
        self.authorize(caller)
        changes = validate_changes(changes, creating=True)
        if self.upstream is not None:
            return orjson.dumps(to_json(await self.upstream.create(caller, changes)))
        return self._insert(changes)[1]

    def _insert(self, changes: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Store a new channel made from checked ``changes``: it and its canonical JSON."""
        entity = new_entity(changes, str(uuid.uuid4()), secrets.token_hex(16), now_stamp())
        stored = orjson.dumps(entity)
        row = (entity["id"], entity["code"], entity["token_local"], stored.decode())
        try:
            # one statement, no look-up first: the UNIQUE constraints refuse a duplicate (a 409)
            with self.database.write() as db:
                db.execute(
                    f"INSERT INTO {TABLE} (id, code, token_local, data) VALUES (?, ?, ?, ?)", row
                )
        except IntegrityError:
            raise error(
                409, f"code: an integration point with code {entity['code']!r} already exists"
            ) from None
        return entity, stored

    async def update(self, caller: Caller, ident: str, changes: Any) -> IntegrationPoint:
        self.authorize(caller)
        changes = validate_changes(changes, creating=False)
        if self.upstream is not None:
            return await self.upstream.update(caller, ident, changes)
        if holds_nul(ident):
            raise error(404, "Not found")
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
        except IntegrityError:
            raise error(
                409, f"code: an integration point with code {changes.get('code')!r} already exists"
            ) from None
        return IntegrationPoint.of(entity)

    async def delete(self, caller: Caller, ident: str) -> None:
        self.authorize(caller)
        if self.upstream is not None:
            await self.upstream.delete(caller, ident)
            return
        if holds_nul(ident):
            raise error(404, "Not found")
        with self.database.write() as db:
            if db.execute(f"DELETE FROM {TABLE} WHERE id = ?", (ident,)).rowcount == 0:
                raise error(404, "Not found")
