"""Upstream mode: ROP posts each checklist's and table's results to a URL set per checklist or
table in its settings, and documents no signature. The hub serves one receiver per checklist or
table at ``<rop REST>/receivers/<token>``: the unguessable token in the path is what admits ROP
(its SHA-256 is stored; the URL is shown once, when the admin makes it), optionally from the
addresses of ``receiver_allow`` only. A result is stored as local mode stores one, with its
call, in one transaction with its re-delivery to the hub's own webhook of that checklist or
table (the same signed, durable outbox); the same result posted again is stored once."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.peer import Address, parse_networks
from hub.records import INT_MAX, instant, to_json
from hub_rop import inputs
from hub_rop.calls import Calls
from hub_rop.definitions import CHECKLISTS, KINDS, Kind
from hub_rop.errors import bad_request, error
from hub_rop.records import ChecklistResult, Received, Receiver, StageResult, TableResult
from hub_rop.settings import RopSettings
from hub_rop.webhooks import Outbox

COLUMNS = "kind, target_id, created_at, received, last_received_at"


def kind_of(value: Any) -> Kind:
    if value not in KINDS:
        raise bad_request(f"kind: expected checklist or table, got {value!r}")
    return KINDS[value]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _receiver(row: Any, path: str | None = None, url: str | None = None) -> Receiver:
    kind, target, created, received, last = row
    last_at = None if last is None else instant(last)
    return Receiver(kind, target, instant(created), received, last_at, path, url)


class Receivers:
    def __init__(
        self,
        settings: RopSettings,
        calls: Calls,
        outbox: Outbox,
        prefix: str,
        on_stored: Callable[[str], None],
    ) -> None:
        self.database = calls.database
        self.settings = settings
        self.calls = calls
        self.outbox = outbox
        self.prefix = prefix  # where rop's REST routes start: /rop, or "" on its own listener
        self.on_stored = on_stored
        self.allowed = parse_networks(settings.upstream.receiver_allow)

    # -- the admin's -----------------------------------------------------------------------
    def create(self, kind: Kind, target: Any) -> Receiver:
        """The receiver of ROP's checklist or table ``target``, with its URL; one that exists
        gets a new token (the old URL stops working at once)."""
        if not self.settings.upstream_mode:
            raise error(
                409,
                "receivers take ROP's results in upstream mode (plugins.rop.mode = upstream);"
                " in local mode the hub makes the results itself",
                "local_mode",
            )
        target = inputs.ident(target, "id")
        token = secrets.token_urlsafe(32)
        with self.database.write() as db:
            db.execute(
                "INSERT INTO receivers (kind, target_id, token_hash, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(kind, target_id) DO UPDATE SET"
                " token_hash = excluded.token_hash, created_at = excluded.created_at",
                (kind.name, target, _digest(token), time.time()),
            )
        path = f"{self.prefix}/receivers/{token}"
        public = self.settings.upstream.public_url.rstrip("/")
        return _receiver(self._row(kind, target), path, public + path if public else None)

    def delete(self, kind: Kind, target: Any) -> str:
        target = inputs.ident(target, "id")
        with self.database.write() as db:
            gone = db.execute(
                "DELETE FROM receivers WHERE kind = ? AND target_id = ?", (kind.name, target)
            )
            if gone.rowcount == 0:
                raise error(404, f"id: no receiver for {kind.name} {target!r}")
        return target

    def all(self) -> list[Receiver]:
        rows = self.database.execute(f"SELECT {COLUMNS} FROM receivers ORDER BY seq")
        return [_receiver(row) for row in rows]

    def _row(self, kind: Kind, target: str) -> Any:
        return self.database.execute(
            f"SELECT {COLUMNS} FROM receivers WHERE kind = ? AND target_id = ?",
            (kind.name, target),
        ).fetchone()

    # -- ROP's -----------------------------------------------------------------------------
    def receive(self, token: str, address: Address | None, body: bytes) -> Received:
        if self.allowed and not (address is not None and any(address in n for n in self.allowed)):
            raise error(403, f"receiver: {address} is not in receiver_allow")
        row = self.database.execute(
            "SELECT kind, target_id FROM receivers WHERE token_hash = ?", (_digest(token),)
        ).fetchone()
        if row is None or not self.settings.upstream_mode:
            raise error(404, "receiver: no such receiver")
        kind, target = KINDS[row[0]], row[1]
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise bad_request("body: not JSON") from None
        document = inputs.obj(document, "body")
        now = time.time()
        if kind is CHECKLISTS:
            result: ChecklistResult | TableResult = checklist_result(document, now)
        else:
            result = table_result(document, target, now)
        stored = orjson.dumps(to_json(result)).decode()
        digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
        with self.database.write() as db:
            changed = db.execute(
                f"INSERT INTO {kind.name}_results"
                f" (call_id, {kind.name}_id, result, created_at, received_digest)"
                f" VALUES (?, ?, ?, ?, ?) ON CONFLICT (call_id, {kind.name}_id) DO UPDATE SET"
                " result = excluded.result, created_at = excluded.created_at,"
                " received_digest = excluded.received_digest"
                f" WHERE {kind.name}_results.received_digest IS NOT excluded.received_digest",
                (result.call_id, target, stored, now, digest),
            ).rowcount
            if not changed:
                return Received("duplicate", result.call_id)
            manager = result.manager_id if isinstance(result, ChecklistResult) else ""
            self.calls.analyzed(db, result.call_id, manager, now)
            self.outbox.enqueue_result(db, kind, target, result.call_id, body)
            db.execute(
                "UPDATE receivers SET received = received + 1, last_received_at = ?"
                " WHERE kind = ? AND target_id = ?",
                (now, kind.name, target),
            )
        self.on_stored(result.call_id)
        return Received("stored", result.call_id)


# -- ROP's result documents, read leniently: a field left out is empty, a wrong one a 400 -------
def _field(doc: dict[str, Any], name: str, where: str, kind: type, default: Any) -> Any:
    value = doc.get(name, default)
    if value is None:
        value = default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise bad_request(f"{where}{name}: expected {kind.__name__}, got {value!r}")
    if isinstance(value, int) and not -INT_MAX - 1 <= value <= INT_MAX:
        raise bad_request(f"{where}{name}: expected an integer from {-INT_MAX - 1} to {INT_MAX}")
    return value


def _instant(doc: dict[str, Any], name: str, where: str, default: datetime) -> datetime:
    """ISO 8601; one without an offset is taken as UTC."""
    value = doc.get(name)
    if value in (None, ""):
        return default
    try:
        moment = datetime.fromisoformat(str(value))
        return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    except ValueError:
        raise bad_request(f"{where}{name}: not an ISO 8601 date-time: {value!r}") from None
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before the first instant Python has
        raise bad_request(f"{where}{name}: out of range: {value!r}") from None


def checklist_result(doc: dict[str, Any], now: float) -> ChecklistResult:
    call_id = inputs.ident(doc.get("call_id"), "call_id")
    moment = _instant(doc, "timestamp", "", instant(now))
    stages = []
    for i, raw in enumerate(inputs.items(doc.get("stages", []), "stages")):
        where = f"stages[{i}]."
        stage = inputs.obj(raw, where[:-1])
        stages.append(
            StageResult(
                stage_id=_field(stage, "stage_id", where, str, ""),
                stage_name=_field(stage, "stage_name", where, str, ""),
                score=_field(stage, "score", where, int, 0),
                percentage=_field(stage, "percentage", where, float, 0.0),
                status=_field(stage, "status", where, str, ""),
                comment=_field(stage, "comment", where, str, ""),
                quote=_field(stage, "quote", where, str, ""),
                timestamp=_instant(stage, "timestamp", where, moment),
            )
        )
    return ChecklistResult(
        call_id=call_id,
        manager_id=_field(doc, "manager_id", "", str, ""),
        checklist_name=_field(doc, "checklist_name", "", str, ""),
        total_score=_field(doc, "total_score", "", int, 0),
        max_score=_field(doc, "max_score", "", int, 0),
        completion_percentage=_field(doc, "completion_percentage", "", float, 0.0),
        stages=tuple(stages),
        timestamp=moment,
    )


def table_result(doc: dict[str, Any], target: str, now: float) -> TableResult:
    table_id = _field(doc, "table_id", "", str, target) or target
    if table_id != target:
        raise bad_request(f"table_id: this receiver takes the results of table {target!r}")
    return TableResult(
        call_id=inputs.ident(doc.get("call_id"), "call_id"),
        table_id=target,
        table_name=_field(doc, "table_name", "", str, ""),
        extracted_data=inputs.document(
            _field(doc, "extracted_data", "", dict, {}), "extracted_data"
        ),
        processing_time=_field(doc, "processing_time", "", float, 0.0),
        timestamp=_instant(doc, "timestamp", "", instant(now)),
    )
