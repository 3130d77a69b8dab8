"""Results: an analyser's answer (from ``ropSubmitAnalysis``, gRPC or the ``rop_analyze_call``
hook) scored and stored with the call's new status and every webhook delivery in one
transaction, then announced on ``rop.call_analyzed``; and whether a table's result is ready."""

from __future__ import annotations

import asyncio
import inspect
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from hub.api import HubApi
from hub.errors import HubError
from hub.records import instant, to_json
from hub.storage import IntegrityError
from hub_rop import inputs
from hub_rop.audio_store import AudioStore
from hub_rop.calls import Calls
from hub_rop.definitions import CHECKLISTS, TABLES, Definitions, Kind
from hub_rop.errors import error
from hub_rop.records import Call, CallReady, Checklist, ChecklistResult, Table, TableResult
from hub_rop.results import checklist_result, table_result
from hub_rop.webhooks import Outbox

log = logging.getLogger("hub_rop")
ANALYZED_TOPIC = "rop.call_analyzed"


class Analysis:
    def __init__(self, hub: HubApi, calls: Calls, definitions: Definitions, outbox: Outbox) -> None:
        self.hub = hub
        self.database = calls.database
        self.calls = calls
        self.definitions = definitions
        self.outbox = outbox
        self._asking: set[asyncio.Task[None]] = set()

    def offer(self, call_id: str) -> None:
        """:meth:`ask_analysers` in a task of its own, once the download is settled: the
        download queue's task renews leases while it runs, and an analyser (or copying the
        audio for it) may take longer than a lease."""
        task = asyncio.get_running_loop().create_task(self.ask_analysers(call_id))
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    async def close(self) -> None:
        """At shutdown: analysers still running are cancelled (the call waits for a result)."""
        for task in list(self._asking):
            task.cancel()
        await asyncio.gather(*self._asking, return_exceptions=True)

    def submit(self, data: Any) -> Call:
        """Results, the call's new status and every webhook delivery, in one transaction."""
        analysis = inputs.analysis(data)
        call_id = analysis["call_id"]
        now = time.time()
        try:
            with self.database.write() as db:
                if self.calls.status(call_id) is None:
                    raise error(404, f"call_id: no call {call_id!r}")
                call = self.calls.get(call_id)
                if call.status not in ("awaiting_analysis", "analyzed"):
                    raise error(
                        409, f"call_id: call {call_id!r} is {call.status}, not ready for analysis"
                    )
                for i, entry in enumerate(analysis["checklists"]):
                    where = f"checklists[{i}]"
                    checklist = self.definitions.get(CHECKLISTS, entry["checklist_id"])
                    if not isinstance(checklist, Checklist):
                        raise error(
                            404, f"{where}.checklist_id: no checklist {entry['checklist_id']!r}"
                        )
                    result = checklist_result(call, checklist, entry["stages"], where, instant(now))
                    self._save(db, CHECKLISTS, checklist.id, result, now)
                for i, entry in enumerate(analysis["tables"]):
                    where = f"tables[{i}]"
                    table = self.definitions.get(TABLES, entry["table_id"])
                    if not isinstance(table, Table):
                        raise error(404, f"{where}.table_id: no table {entry['table_id']!r}")
                    made = table_result(call, table, entry["extracted_data"], where, instant(now))
                    self._save(db, TABLES, table.id, made, now)
                db.execute(
                    "UPDATE calls SET status = 'analyzed', analyzed_at = ?, updated_at = ?"
                    " WHERE call_id = ?",
                    (now, now, call_id),
                )
        except IntegrityError:
            raise error(
                409,
                f"call_id: call {call_id!r} already has a result for one of"
                " these checklists or tables",
            ) from None
        analyzed = self.calls.get(call_id)
        self.hub.events.publish(ANALYZED_TOPIC, analyzed)
        return analyzed

    def _save(
        self, db: Any, kind: Kind, ident: str, result: ChecklistResult | TableResult, now: float
    ) -> None:
        """The result as the seed's document, stored and, if its checklist or table has a
        webhook, queued for delivery with these very bytes."""
        body = orjson.dumps(to_json(result))
        db.execute(
            f"INSERT INTO {kind.name}_results (call_id, {kind.name}_id, result, created_at)"
            " VALUES (?, ?, ?, ?)",
            (result.call_id, ident, body.decode(), now),
        )
        self.outbox.enqueue_result(db, kind, ident, result.call_id, body)

    def ready(self, tab: Any, call: Any) -> CallReady:
        """REST's call-ready: the table's extracted data for the call, once its result exists."""
        tab = inputs.ident(tab, "tab")
        call = inputs.ident(call, "call")
        if self.definitions.get(TABLES, tab) is None:
            raise error(404, f"tab: no table {tab!r}")
        if self.calls.status(call) is None:
            raise error(404, f"call: no call {call!r}")
        return self.stored_ready(tab, call) or CallReady(ready=False)

    def _copy_audio(self, call_id: str, path: Path) -> None:
        """In a thread, on a connection of its own, a chunk at a time."""
        with self.database.fresh() as db, path.open("xb") as out:
            AudioStore.copy_to(db, call_id, out)

    def stored_ready(self, tab: str, call: str) -> CallReady | None:
        """The table's result for the call if the hub holds one (made here, or received)."""
        row = self.database.execute(
            "SELECT result FROM table_results WHERE call_id = ? AND table_id = ?", (call, tab)
        ).fetchone()
        if row is None:
            return None
        return CallReady(ready=True, data=orjson.loads(row[0])["extracted_data"])

    async def ask_analysers(self, call_id: str) -> None:
        """Offer a call that is ready to the ``rop_analyze_call`` implementations; without an
        answer it waits in ``awaiting_analysis`` for ``ropSubmitAnalysis``. The hook gets the
        call as GraphQL shows it (snake_case, without results), the definitions, and the audio
        as a file: a copy of the stored audio in a private temporary directory, removed once the
        hook (and its awaitable) returns."""
        row = self.database.execute(
            "SELECT format FROM calls WHERE call_id = ? AND status = 'awaiting_analysis'",
            (call_id,),
        ).fetchone()
        if row is None or not self.hub.pm.hook.rop_analyze_call.get_hookimpls():
            return
        call = {
            k: v for k, v in to_json(self.calls.get(call_id)).items() if not k.endswith("_results")
        }
        with tempfile.TemporaryDirectory(prefix="hub-rop-") as scratch:
            audio_path = Path(scratch) / f"audio.{row[0]}"
            try:
                await asyncio.to_thread(self._copy_audio, call_id, audio_path)
                answer = self.hub.pm.hook.rop_analyze_call(
                    call=call,
                    audio_path=str(audio_path),
                    checklists=to_json(self.definitions.all(CHECKLISTS)),
                    tables=to_json(self.definitions.all(TABLES)),
                )
                if inspect.isawaitable(answer):
                    answer = await answer
                if answer is None:
                    return
                if isinstance(answer, dict):
                    answer = {**answer, "call_id": call_id}
                self.submit(answer)
            except HubError as refused:
                if refused.status >= 500:  # the hub's own trouble (its database), not the answer
                    log.exception("call %s: storing the analyser's result failed", call_id)
                else:  # a bad answer of the analyser: one line naming what is wrong with it
                    log.warning(
                        "call %s: the analyser's result was refused (%s); the call waits for"
                        " a result",
                        call_id,
                        refused.message,
                    )
            except Exception:
                log.exception("call %s: the analyser failed; the call waits for a result", call_id)
