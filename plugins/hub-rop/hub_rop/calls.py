"""Calls: an upload taken at request time (the start of the recording checked, the call stored
and its download queued in one transaction), and calls read back with their results."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
import orjson

from hub.paging import Page
from hub.records import instant
from hub.storage import Database
from hub.urls import without_password
from hub_rop import inputs
from hub_rop.audio import IntakeFailure, fetch_head, sniff
from hub_rop.errors import bad_request, error
from hub_rop.intake import Intake
from hub_rop.records import Call, ChecklistResult, Queued, TableResult
from hub_rop.settings import RopSettings
from hub_rop.storage import Listing, read_page

STATUSES = ("downloading", "awaiting_analysis", "analyzed", "rejected", "uploaded")
COLUMNS = (
    "call_id, manager_id, deal_id, deal_stage_id, audio_url, declared_duration, status, reason,"
    " detail, format, size_bytes, duration, created_at, updated_at, analyzed_at"
)
NAMES = [name.strip() for name in COLUMNS.split(",")]
UPLOADED = ("call_id", "manager_id", "deal_id", "deal_stage_id", "audio_url", "duration")


class Calls:
    def __init__(
        self,
        database: Database,
        settings: RopSettings,
        intake: Intake,
        session: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self.database = database
        self.settings = settings
        self.intake = intake
        self.session = session

    # -- taking an upload ----------------------------------------------------------------
    async def accept(self, data: Any) -> Queued:
        """Queue a call: the start of ``audio_url`` must be MP3, WAV or OGG by its magic bytes
        (a file host that fails is a 502/503/504: the CRM retries); the download, the size cap
        and the duration check follow in the background."""
        call = inputs.upload(data)
        if self.status(call["call_id"]) not in (None, "rejected"):
            raise error(409, f"call_id: call {call['call_id']!r} is already known")
        try:
            head = await fetch_head(self.session(), call["audio_url"], self.settings.probe_timeout)
            fmt = sniff(head)
            if fmt is None:
                raise IntakeFailure(
                    "not_audio",
                    "audio_url: the file is not MP3, WAV or OGG audio"
                    f" (it starts with {head[:8].hex() or 'nothing'})",
                )
        except IntakeFailure as failure:  # refused at once: nothing is stored (docs/rop.md)
            code = "not_audio" if failure.reason == "not_audio" else None
            raise error(failure.status, failure.message, code) from None
        self._store(call, fmt)
        return Queued("queued", call["call_id"])

    def _store(self, call: dict[str, Any], fmt: str) -> None:
        """A new call waiting for its download, or a fresh start for one that was rejected; 409
        if another upload of the same id got there first."""
        now = time.time()
        values = {
            "call_id": call["call_id"],
            "manager_id": call["manager_id"],
            "deal_id": call["deal_id"],
            "deal_stage_id": call["deal_stage_id"],
            "audio_url": call["audio_url"],
            "declared_duration": call["duration"],
            "status": "downloading",
            "reason": None,
            "detail": None,
            "format": fmt,
            "size_bytes": None,
            "duration": None,
            "audio_path": None,
            "created_at": now,
            "updated_at": now,
            "analyzed_at": None,
        }
        names = ", ".join(values)
        updates = ", ".join(f"{k} = excluded.{k}" for k in values if k != "call_id")
        with self.database.write() as db:
            cursor = db.execute(
                f"INSERT INTO calls ({names}) VALUES ({', '.join('?' * len(values))})"
                f" ON CONFLICT(call_id) DO UPDATE SET {updates} WHERE calls.status = 'rejected'",
                list(values.values()),
            )
            if cursor.rowcount == 0:
                raise error(409, f"call_id: call {call['call_id']!r} is already known")
            self.intake.enqueue(db, call["call_id"])

    # -- upstream mode: the calls ROP has -----------------------------------------------
    def uploaded(self, call: dict[str, Any]) -> None:
        """A call ROP took through this hub, kept as ``uploaded`` until its results come."""
        now = time.time()
        with self.database.write() as db:
            db.execute(
                "INSERT INTO calls (call_id, manager_id, deal_id, deal_stage_id, audio_url,"
                " declared_duration, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'uploaded', ?, ?) ON CONFLICT(call_id) DO NOTHING",
                [*(call[k] for k in UPLOADED), now, now],
            )

    @staticmethod
    def analyzed(db: Any, call_id: str, manager_id: str, now: float) -> None:
        """A call ROP posted a result for; one that did not come through this hub is kept
        with what the result tells of it. Call in the transaction that stores the result."""
        db.execute(
            "INSERT INTO calls (call_id, manager_id, deal_id, deal_stage_id, audio_url, status,"
            " created_at, updated_at, analyzed_at) VALUES (?, ?, '', '', '', 'analyzed', ?, ?, ?)"
            " ON CONFLICT(call_id) DO UPDATE SET status = 'analyzed',"
            " analyzed_at = excluded.analyzed_at, updated_at = excluded.updated_at,"
            " manager_id = CASE calls.manager_id WHEN '' THEN excluded.manager_id"
            " ELSE calls.manager_id END",
            (call_id, manager_id, now, now, now),
        )

    # -- reading -------------------------------------------------------------------------
    def status(self, call_id: str) -> str | None:
        row = self.database.execute(
            "SELECT status FROM calls WHERE call_id = ?", (call_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def get(self, call_id: str, name: str = "callId") -> Call:
        """The call and its results; a 404 naming ``name`` if there is none."""
        row = self.database.execute(
            f"SELECT {COLUMNS} FROM calls WHERE call_id = ?", (call_id,)
        ).fetchone()
        if row is None:
            raise error(404, f"{name}: no call {call_id!r}")
        return call_of(self._with_results([row])[0])

    def page(self, status: str | None, page: Page) -> Listing[Call]:
        """Calls in upload order; ``status`` filters."""
        if status is not None and status not in STATUSES:
            raise bad_request(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        where, params = ("status = ?", [status]) if status else ("", [])
        listing = read_page(self.database, "calls", COLUMNS, page, call_of, where, params)
        return replace(listing, rows=self._with_results(listing.rows))

    def _with_results(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Each row of :data:`COLUMNS` with its results as stored (JSON texts, checklists' then
        tables'), read in one query per kind: the row then holds the whole call."""
        if not rows:
            return []
        call_ids = [row[0] for row in rows]
        marks = ", ".join("?" * len(call_ids))
        results: dict[str, dict[str, list[Any]]] = {}
        for kind in ("checklist", "table"):
            of_kind = results[kind] = {}
            for call_id, result in self.database.execute(
                f"SELECT call_id, result FROM {kind}_results WHERE call_id IN ({marks})"
                f" ORDER BY created_at, {kind}_id",
                call_ids,
            ):
                of_kind.setdefault(call_id, []).append(result)
        checklists, tables = results["checklist"], results["table"]
        return [
            (*row, tuple(checklists.get(row[0], ())), tuple(tables.get(row[0], ()))) for row in rows
        ]


def call_of(row: tuple[Any, ...]) -> Call:
    """A row of :data:`COLUMNS` (times as epoch seconds) with its results' JSON texts
    (:meth:`Calls._with_results`) as its record, from the row alone."""
    *columns, checklists, tables = row
    stored = dict(zip(NAMES, columns, strict=True))
    for name in ("created_at", "updated_at", "analyzed_at"):
        stored[name] = None if stored[name] is None else instant(stored[name])
    stored["audio_url"] = without_password(stored["audio_url"])  # fetched whole, shown without
    return Call(
        **stored,
        checklist_results=tuple(ChecklistResult.of(orjson.loads(r)) for r in checklists),
        table_results=tuple(TableResult.of(orjson.loads(r)) for r in tables),
    )
