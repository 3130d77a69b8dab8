"""The one service layer of ``rop``: REST, GraphQL and gRPC call this and nothing else."""

from __future__ import annotations

import inspect
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from hub.credentials import Credential, CredentialType
from hub_rop import inputs
from hub_rop.audio import IntakeFailure, fetch_head, sniff
from hub_rop.errors import PLUGIN, bad_request, error
from hub_rop.intake import Intake
from hub_rop.results import checklist_result, stamp, table_result
from hub_rop.settings import RopSettings
from hub_rop.webhooks import Outbox, WebhookCollector

log = logging.getLogger("hub_rop")
CALL_STATUSES = ("downloading", "awaiting_analysis", "analyzed", "rejected")
ROLES = ("crm", "analyser")
ANALYZED_TOPIC = "rop.call_analyzed"
CALL_COLUMNS = (
    "call_id, manager_id, deal_id, deal_stage_id, audio_url, declared_duration, status, reason,"
    " detail, format, size_bytes, duration, created_at, updated_at, analyzed_at"
)


def _credential_attrs(params: dict[str, str]) -> dict[str, Any]:
    for name in params:
        if name != "role":
            raise bad_request(f"{name}: unknown parameter; rop takes only role (crm, analyser)")
    role = params.get("role", "crm")
    if role not in ROLES:
        raise bad_request(f"role: expected crm or analyser, got {role!r}")
    return {"role": role}


def _present(secret: str, credential: Credential) -> dict[str, Any]:
    shown: dict[str, Any] = {"api_key": secret}
    if credential.attrs.get("role") != "crm":
        shown["role"] = credential.attrs["role"]
    return shown


CREDENTIAL_TYPE = CredentialType(validate=_credential_attrs, present=_present)


def _call(row: Any) -> dict[str, Any]:
    call = dict(zip([c.strip() for c in CALL_COLUMNS.split(",")], row, strict=True))
    return call


class RopService:
    """Built once per hub by ``hub.service(RopService)``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.settings: RopSettings = hub.settings_for(PLUGIN)
        self.database = hub.database(PLUGIN)
        self._session: aiohttp.ClientSession | None = None
        self.outbox = Outbox(self.database, self.settings, self.session)
        self.intake = Intake(
            self.database,
            self.settings,
            hub.data_dir / "rop-audio",
            self.session,
            self.ask_analysers,
        )
        hub.metrics.registry.register(WebhookCollector(self.outbox))

    def session(self) -> aiohttp.ClientSession:
        """One client session for audio and webhooks, made on the serving loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100), auto_decompress=False
            )
        return self._session

    async def close(self) -> None:
        """After the host stopped the work queues (their tasks use the session)."""
        if self._session is not None:
            await self._session.close()

    # -- who may do what -----------------------------------------------------------------
    def credential(self, authorization: str | None) -> Credential:
        credential = self.hub.credentials.authenticate(PLUGIN, authorization)
        if credential is None:
            raise error(
                401,
                "apiKey: missing or unknown API key (REST: ?apiKey=...; GraphQL and gRPC:"
                " Authorization: Bearer <api_key>)",
            )
        return credential  # type: ignore[no-any-return]

    def client(self, authorization: str | None) -> Credential:
        """A CRM call: the key's rate limit applies (the admin token is not limited)."""
        credential = self.credential(authorization)
        if not credential.is_admin:
            limit, window = self.settings.rate_limit, self.settings.rate_window
            decision = self.hub.rate_limiter.hit(f"{PLUGIN}:{credential.id}", limit, window)
            if not decision.allowed:
                raise error(
                    429,
                    f"apiKey: more than {limit} requests in {window:g}s",
                    retry_after=decision.retry_after,
                )
        return credential

    def admin(self, authorization: str | None) -> Credential:
        credential = self.credential(authorization)
        if not credential.is_admin:
            raise error(403, "Authorization: this needs the hub admin token")
        return credential

    def analyser(self, authorization: str | None) -> Credential:
        credential = self.credential(authorization)
        if not credential.is_admin and credential.attrs.get("role") != "analyser":
            raise error(
                403,
                "Authorization: submitting results needs an analyser key"
                " (hub creds add rop --param role=analyser) or the admin token",
            )
        return credential

    # -- incoming CRM methods --------------------------------------------------------------
    async def upload(self, authorization: str | None, data: Any) -> dict[str, Any]:
        """Queue a call: the start of ``audio_url`` must be MP3, WAV or OGG by its magic bytes
        (a file host that fails is a 502/503/504: the CRM retries); the download, the size cap
        and the duration check follow in the background."""
        self.client(authorization)
        call = inputs.upload(data)
        if self._status(call["call_id"]) not in (None, "rejected"):
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
        self._store_call(call, fmt)
        return {"status": "queued", "call_id": call["call_id"]}

    def _status(self, call_id: str) -> str | None:
        row = self.database.execute(
            "SELECT status FROM calls WHERE call_id = ?", (call_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _store_call(self, call: dict[str, Any], fmt: str) -> None:
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

    def update_offices(self, authorization: str | None, data: Any) -> dict[str, Any]:
        """Replace the whole office structure in one transaction."""
        self.client(authorization)
        offices = inputs.offices(data)
        with self.database.write() as db:
            db.execute("DELETE FROM office_members")
            db.execute("DELETE FROM offices")
            for position, office in enumerate(offices):
                db.execute(
                    "INSERT INTO offices (position, office_id, office_title) VALUES (?, ?, ?)",
                    (position, office["office_id"], office["office_title"]),
                )
                db.conn.executemany(
                    "INSERT INTO office_members (office_id, role, member_id, position)"
                    " VALUES (?, ?, ?, ?)",
                    [
                        (office["office_id"], role, member, i)
                        for role, key in (("leader", "leader_ids"), ("manager", "managers_ids"))
                        for i, member in enumerate(office[key])
                    ],
                )
        return {
            "status": "ok",
            "offices": len(offices),
            "leaders": sum(len(o["leader_ids"]) for o in offices),
            "managers": sum(len(o["managers_ids"]) for o in offices),
        }

    def update_managers(self, authorization: str | None, data: Any) -> dict[str, Any]:
        """Insert new managers and update known ones; the others stay."""
        self.client(authorization)
        managers = inputs.managers(data)
        created = 0
        now = time.time()
        with self.database.write() as db:
            for m in managers:
                known = db.execute(
                    "SELECT 1 FROM managers WHERE manager_id = ?", (m["manager_id"],)
                ).fetchone()
                created += known is None
                db.execute(
                    "INSERT INTO managers (manager_id, name, surname, middlename, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(manager_id) DO UPDATE SET"
                    " name = excluded.name, surname = excluded.surname,"
                    " middlename = excluded.middlename, updated_at = excluded.updated_at",
                    (m["manager_id"], m["name"], m["surname"], m["middlename"], now),
                )
        return {
            "status": "ok",
            "received": len(managers),
            "created": created,
            "updated": len(managers) - created,
        }

    def call_ready(self, authorization: str | None, tab: Any, call: Any) -> dict[str, Any]:
        self.client(authorization)
        tab = inputs.ident(tab, "tab")
        call = inputs.ident(call, "call")
        if self._row("analytic_tables", tab) is None:
            raise error(404, f"tab: no table {tab!r}")
        if self._status(call) is None:
            raise error(404, f"call: no call {call!r}")
        row = self.database.execute(
            "SELECT result FROM table_results WHERE call_id = ? AND table_id = ?", (call, tab)
        ).fetchone()
        if row is None:
            return {"ready": False}
        return {"ready": True, "data": orjson.loads(row[0])["extracted_data"]}

    # -- reading -----------------------------------------------------------------------
    def calls(
        self, authorization: str | None, status: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        self.credential(authorization)
        if status is not None and status not in CALL_STATUSES:
            raise bad_request(f"status: expected one of {', '.join(CALL_STATUSES)}, got {status!r}")
        where, params = (" WHERE status = ?", [status]) if status else ("", [])
        total = self.database.execute(f"SELECT count(*) FROM calls{where}", params).fetchone()[0]
        rows = self.database.execute(
            f"SELECT {CALL_COLUMNS} FROM calls{where} ORDER BY seq LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [self._with_results(_call(r)) for r in rows], total

    def call(self, authorization: str | None, call_id: str) -> dict[str, Any]:
        self.credential(authorization)
        return self._call(call_id)

    def _call(self, call_id: str) -> dict[str, Any]:
        row = self.database.execute(
            f"SELECT {CALL_COLUMNS} FROM calls WHERE call_id = ?", (call_id,)
        ).fetchone()
        if row is None:
            raise error(404, f"callId: no call {call_id!r}")
        return self._with_results(_call(row))

    def _with_results(self, call: dict[str, Any]) -> dict[str, Any]:
        for key, table, order in (
            ("checklist_results", "checklist_results", "checklist_id"),
            ("table_results", "table_results", "table_id"),
        ):
            call[key] = [
                orjson.loads(r[0])
                for r in self.database.execute(
                    f"SELECT result FROM {table} WHERE call_id = ? ORDER BY created_at, {order}",
                    (call["call_id"],),
                )
            ]
        return call

    def offices(self, authorization: str | None) -> list[dict[str, Any]]:
        self.credential(authorization)
        members: dict[str, dict[str, list[str]]] = {}
        for office_id, role, member in self.database.execute(
            "SELECT office_id, role, member_id FROM office_members ORDER BY position"
        ):
            key = "leader_ids" if role == "leader" else "managers_ids"
            members.setdefault(office_id, {}).setdefault(key, []).append(member)
        return [
            {
                "office_id": office_id,
                "office_title": title,
                "leader_ids": members.get(office_id, {}).get("leader_ids", []),
                "managers_ids": members.get(office_id, {}).get("managers_ids", []),
            }
            for office_id, title in self.database.execute(
                "SELECT office_id, office_title FROM offices ORDER BY position"
            )
        ]

    def managers(
        self, authorization: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        self.credential(authorization)
        total = self.database.execute("SELECT count(*) FROM managers").fetchone()[0]
        rows = self.database.execute(
            "SELECT manager_id, name, surname, middlename FROM managers ORDER BY seq"
            " LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        keys = ("manager_id", "name", "surname", "middlename")
        return [dict(zip(keys, r, strict=True)) for r in rows], total

    # -- checklists and tables (admin state) ---------------------------------------------
    def _row(self, table: str, ident: str) -> dict[str, Any] | None:
        cursor = self.database.execute(f"SELECT * FROM {table} WHERE id = ?", (ident,))
        row = cursor.fetchone()
        if row is None:
            return None
        item = dict(zip([d[0] for d in cursor.description], row, strict=True))
        for key in ("stages", "fields"):
            if key in item:
                item[key] = orjson.loads(item[key])
        item.pop("seq", None)
        return item

    def _all(self, table: str) -> list[dict[str, Any]]:
        ids = [r[0] for r in self.database.execute(f"SELECT id FROM {table} ORDER BY seq")]
        return [item for i in ids if (item := self._row(table, i)) is not None]

    @staticmethod
    def _public(item: dict[str, Any]) -> dict[str, Any]:
        """What callers see: the signing secret never leaves the hub."""
        return {k: v for k, v in item.items() if k != "webhook_secret"}

    def checklists(self, authorization: str | None) -> list[dict[str, Any]]:
        self.credential(authorization)
        return [self._public(c) for c in self._all("checklists")]

    def tables(self, authorization: str | None) -> list[dict[str, Any]]:
        self.credential(authorization)
        return [self._public(t) for t in self._all("analytic_tables")]

    def put_checklist(self, authorization: str | None, data: Any) -> dict[str, Any]:
        self.admin(authorization)
        return self._put("checklists", "CHK", inputs.checklist(data), data, "stages")

    def put_table(self, authorization: str | None, data: Any) -> dict[str, Any]:
        self.admin(authorization)
        return self._put("analytic_tables", "TBL", inputs.table(data), data, "fields")

    def _put(
        self, table: str, prefix: str, item: dict[str, Any], data: dict[str, Any], parts: str
    ) -> dict[str, Any]:
        """Create (an id like ``TBL_1755863365`` unless one is given) or replace by id."""
        with self.database.write() as db:
            ident = item["id"]
            existing = self._row(table, ident) if ident else None
            url, secret = inputs.webhook(data, existing["webhook_secret"] if existing else None)
            if ident is None:
                stamp_id = int(time.time())
                while self._row(table, f"{prefix}_{stamp_id}") is not None:
                    stamp_id += 1
                ident = f"{prefix}_{stamp_id}"
            db.execute(
                f"INSERT INTO {table} (id, name, {parts}, webhook_url, webhook_secret)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
                f" {parts} = excluded.{parts}, webhook_url = excluded.webhook_url,"
                " webhook_secret = excluded.webhook_secret",
                (ident, item["name"], orjson.dumps(item[parts]).decode(), url, secret),
            )
        stored = self._row(table, ident)
        assert stored is not None
        return self._public(stored)

    def delete_checklist(self, authorization: str | None, ident: str) -> str:
        self.admin(authorization)
        return self._delete("checklists", ident, "checklist")

    def delete_table(self, authorization: str | None, ident: str) -> str:
        self.admin(authorization)
        return self._delete("analytic_tables", ident, "table")

    def _delete(self, table: str, ident: str, what: str) -> str:
        """Results already made for it stay, and so do their deliveries."""
        with self.database.write() as db:
            if db.execute(f"DELETE FROM {table} WHERE id = ?", (ident,)).rowcount == 0:
                raise error(404, f"id: no {what} {ident!r}")
        return ident

    # -- analysis ------------------------------------------------------------------------
    def submit_analysis(self, authorization: str | None, data: Any) -> dict[str, Any]:
        self.analyser(authorization)
        return self._store_analysis(inputs.analysis(data))

    def _store_analysis(self, analysis: dict[str, Any]) -> dict[str, Any]:
        """Results, the call's new status and every webhook delivery, in one transaction."""
        call_id = analysis["call_id"]
        now = time.time()
        try:
            with self.database.write() as db:
                call = self._call(call_id) if self._status(call_id) else None
                if call is None:
                    raise error(404, f"call_id: no call {call_id!r}")
                if call["status"] not in ("awaiting_analysis", "analyzed"):
                    raise error(
                        409,
                        f"call_id: call {call_id!r} is {call['status']}, not ready for analysis",
                    )
                for i, entry in enumerate(analysis["checklists"]):
                    where = f"checklists[{i}]"
                    checklist = self._row("checklists", entry["checklist_id"])
                    if checklist is None:
                        raise error(
                            404, f"{where}.checklist_id: no checklist {entry['checklist_id']!r}"
                        )
                    result = checklist_result(call, checklist, entry["stages"], where, now)
                    self._save_result(db, "checklist", checklist, result, now)
                for i, entry in enumerate(analysis["tables"]):
                    where = f"tables[{i}]"
                    table = self._row("analytic_tables", entry["table_id"])
                    if table is None:
                        raise error(404, f"{where}.table_id: no table {entry['table_id']!r}")
                    result = table_result(call, table, entry["extracted_data"], where, now)
                    self._save_result(db, "table", table, result, now)
                db.execute(
                    "UPDATE calls SET status = 'analyzed', analyzed_at = ?, updated_at = ?"
                    " WHERE call_id = ?",
                    (now, now, call_id),
                )
        except sqlite3.IntegrityError:
            raise error(
                409,
                f"call_id: call {call_id!r} already has a result for one of"
                " these checklists or tables",
            ) from None
        analyzed = self._call(call_id)
        self.hub.events.publish(ANALYZED_TOPIC, analyzed)
        return analyzed

    def _save_result(
        self, db: Any, kind: str, endpoint: dict[str, Any], result: dict[str, Any], now: float
    ) -> None:
        body = orjson.dumps(result)
        db.execute(
            f"INSERT INTO {kind}_results (call_id, {kind}_id, result, created_at)"
            " VALUES (?, ?, ?, ?)",
            (result["call_id"], endpoint["id"], body.decode(), now),
        )
        if endpoint["webhook_url"]:
            self.outbox.enqueue(
                db,
                event=f"{kind}.result",
                call_id=result["call_id"],
                target_kind=kind,
                target_id=endpoint["id"],
                url=endpoint["webhook_url"],
                secret=endpoint["webhook_secret"],
                body=body,
            )

    async def ask_analysers(self, call_id: str) -> None:
        """Offer a call that is ready to the ``rop_analyze_call`` implementations; without an
        answer it waits in ``awaiting_analysis`` for ``ropSubmitAnalysis``."""
        row = self.database.execute(
            "SELECT audio_path FROM calls WHERE call_id = ? AND status = 'awaiting_analysis'",
            (call_id,),
        ).fetchone()
        if row is None:
            return
        call = {k: v for k, v in self._call(call_id).items() if not k.endswith("_results")}
        try:
            answer = self.hub.pm.hook.rop_analyze_call(
                call=call,
                audio_path=row[0],
                checklists=[self._public(c) for c in self._all("checklists")],
                tables=[self._public(t) for t in self._all("analytic_tables")],
            )
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is None:
                return
            if isinstance(answer, dict):
                answer = {**answer, "call_id": call_id}
            self._store_analysis(inputs.analysis(answer))
        except Exception:
            log.exception("call %s: the analyser failed; the call waits for a result", call_id)

    def analyzed(self, authorization: str | None) -> AsyncIterator[dict[str, Any]]:
        self.credential(authorization)
        return self.hub.events.subscribe(ANALYZED_TOPIC)  # type: ignore[no-any-return]

    # -- webhooks ------------------------------------------------------------------------
    def deliveries(
        self, authorization: str | None, status: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        self.admin(authorization)
        return self.outbox.page(status, offset, limit)

    def delivery_counts(self, authorization: str | None) -> dict[str, int]:
        self.credential(authorization)
        return self.outbox.counts()

    def redeliver(self, authorization: str | None, delivery_id: str) -> dict[str, Any]:
        self.admin(authorization)
        return self.outbox.redeliver(delivery_id)


def iso(at: float | None) -> str | None:
    return None if at is None else stamp(at)
