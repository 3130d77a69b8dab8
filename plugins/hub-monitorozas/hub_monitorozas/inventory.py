"""A user's devices or blacklist monitors: rows a user owns, listed, read, created and deleted
alike (the admin token sees and deletes every user's, and names the owner when it creates).
``service.devices`` and ``service.monitors`` are the two inventories; the adapters reach them
as :class:`Records` (``service.device_records``, ``service.monitor_records``), which upstream
mode answers from the vendor instead (``hub_monitorozas.upstream``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from hub.caller import Caller
from hub.errors import HubError
from hub.paging import Page
from hub.records import json_array
from hub.storage import Database, IntegrityError
from hub_monitorozas import storage, validation
from hub_monitorozas.auth import KeyGate, KeyHolder
from hub_monitorozas.errors import error, invalid_field, storage_errors
from hub_monitorozas.records import Deleted
from hub_monitorozas.storage import Kind, StoredPage

R = TypeVar("R")


class Inventory(Generic[R]):
    def __init__(
        self,
        database: Database,
        gate: KeyGate,
        kind: Kind[R],
        *,
        noun: str,  # as errors name a row: "device", "blacklist monitor"
        validate: Callable[..., dict[str, Any]],  # the create body as columns (``validation``)
        duplicate: str,  # the 409's message
        first_check: Callable[[int], float],  # when a new row (by its id) is first checked
    ) -> None:
        self.database = database
        self.gate = gate
        self.kind = kind
        self.noun = noun
        self.code = noun.replace(" ", "_")
        self.validate = validate
        self.duplicate = duplicate
        self.first_check = first_check

    def not_found(self, ident: int) -> HubError:
        return error(404, f"id: no {self.noun} {ident}", f"{self.code}_not_found")

    @storage_errors
    def list_json(self, caller: Caller, window: Page | None = None) -> bytes:
        """The caller's rows as one JSON array of stored text, never decoded (REST's lists):
        every row, as the seed answers, unless the request asked for a page."""
        holder = self.gate.authorize(caller).require("read")
        docs = storage.docs(self.database, self.kind, holder.owner, window)
        return json_array(docs)

    @storage_errors
    def page(self, caller: Caller, window: Page) -> StoredPage[R]:
        """One page by id, with every row's count: keyset cursors seek."""
        holder = self.gate.authorize(caller).require("read")
        return storage.page_of(self.database, self.kind, holder.owner, window, invalid_field)

    def find(self, holder: KeyHolder, raw_id: Any) -> R:
        """The row ``holder`` may see by that id, else 400 ``invalid_id`` / 404."""
        ident = validation.parse_id(raw_id)
        found = storage.find(self.database, self.kind, ident, holder.owner)
        if found is None:
            raise self.not_found(ident)
        return found

    @storage_errors
    def get(self, caller: Caller, raw_id: Any) -> R:
        return self.find(self.gate.authorize(caller).require("read"), raw_id)

    @storage_errors
    def create(self, caller: Caller, data: Any) -> R:
        holder = self.gate.authorize(caller).require("write")
        columns = self.validate(data, is_admin=holder.is_admin)
        owner = self._owner(holder, data)
        try:
            ident = storage.insert(
                self.database, self.kind, {"user_id": owner, **columns}, self.first_check
            )
        except IntegrityError:
            raise error(409, self.duplicate, f"duplicate_{self.code}") from None
        return self.find(holder, ident)

    @storage_errors
    def delete(self, caller: Caller, raw_id: Any) -> Deleted:
        holder = self.gate.authorize(caller).require("write")
        ident = validation.parse_id(raw_id)
        if not storage.delete(self.database, self.kind, ident, holder.owner):
            raise self.not_found(ident)
        return Deleted(ident)

    def _owner(self, holder: KeyHolder, data: Any) -> int:
        """Whose new row this is: the key's user, or the existing user the admin names."""
        if holder.user_id is not None:
            return holder.user_id
        user_id = validation.owner(data)
        if not storage.user_exists(self.database, user_id):
            raise validation.invalid("user_id", f"no user {user_id}")
        return user_id


class Records(Protocol[R]):
    """What the adapters ask of devices or blacklist monitors, whichever mode answers."""

    async def list_json(self, caller: Caller, window: Page | None = None) -> bytes: ...

    async def page(self, caller: Caller, window: Page) -> StoredPage[R]: ...

    async def get(self, caller: Caller, raw_id: Any) -> R: ...

    async def create(self, caller: Caller, data: Any) -> R: ...

    async def delete(self, caller: Caller, raw_id: Any) -> Deleted: ...


class LocalRecords(Generic[R]):
    """Local mode's :class:`Records`: the inventory in the hub's own database."""

    def __init__(self, inventory: Inventory[R]) -> None:
        self.inventory = inventory

    async def list_json(self, caller: Caller, window: Page | None = None) -> bytes:
        return self.inventory.list_json(caller, window)

    async def page(self, caller: Caller, window: Page) -> StoredPage[R]:
        return self.inventory.page(caller, window)

    async def get(self, caller: Caller, raw_id: Any) -> R:
        return self.inventory.get(caller, raw_id)

    async def create(self, caller: Caller, data: Any) -> R:
        return self.inventory.create(caller, data)

    async def delete(self, caller: Caller, raw_id: Any) -> Deleted:
        return self.inventory.delete(caller, raw_id)
