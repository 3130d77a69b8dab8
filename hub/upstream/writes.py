"""Writes forwarded to the vendor exactly once. Each write is a row of the host's durable queue
(``upstream_writes`` in ``_upstream.db``) before anything is sent; the request that made it
works its own row at once under a lease, and waits ``write_wait`` for the vendor's answer. A
write whose answer was lost (a timeout, a dropped connection, the hub killed) is due again when
its lease runs out, and because it may have reached the vendor it goes to the plugin's
*reconciler* first: ERA looks the object up by its ``code``, Monitorozás.hu reads its 409 as
"it is there", ROP its 409 on ``call_id``. Only a write the reconciler cannot find is sent again.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from hub.errors import HubError
from hub.queue import QUEUE_COLUMNS, Backoff, Claim, Outcome, Table, WorkQueue, done, later, retry
from hub.upstream.cache import Target
from hub.upstream.client import Reply, VendorFailure

if TYPE_CHECKING:
    from hub.upstream.source import Upstream

DONE = "done"
WRITE_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16)


def m002_writes(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS upstream_writes ("
        " id TEXT PRIMARY KEY, source TEXT NOT NULL, credential_id TEXT,"
        " method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL,"
        " content_type TEXT, body BLOB NOT NULL, reconcile TEXT, params TEXT NOT NULL,"
        " invalidates TEXT NOT NULL, created_at REAL NOT NULL, sent_at REAL,"
        " reply_status INTEGER, reply_type TEXT, reply_body BLOB, replied_at REAL,"
        f" {QUEUE_COLUMNS})"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS upstream_writes_due"
        " ON upstream_writes (source, status, next_attempt_at)"
    )


@dataclass(frozen=True)
class Write:
    """One write as the plugin asks for it: the vendor's method, path, query and body, the
    name of its reconciler (``Vendor.reconcilers``) with what it needs to find the object
    (``params``: ERA's ``code``), and the paths whose cached answers it makes stale (a path
    and everything under it)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_type: str | None = None
    reconcile: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    invalidates: tuple[str, ...] = ()

    @property
    def target(self) -> Target:
        return Target.of(self.path, self.query)


# (upstream, write, reply): None before a write that may have reached the vendor is sent again
# (answer the object if it is there), then the vendor's reply to the resend (translate a
# duplicate into the object). Return None to go on as planned.
Reconciler = Callable[["Upstream", Write, Reply | None], Awaitable[Reply | None]]


class WritePending(HubError):
    """The vendor's answer did not come within ``write_wait``: the write is kept and will be
    delivered once. REST answers 202 with the write's id; GraphQL ``WRITE_PENDING``; gRPC
    DEADLINE_EXCEEDED with the ``hub-write-id`` trailer. Poll ``hub.upstreamWrite(id)``."""

    def __init__(self, plugin: str, write_id: str, why: str) -> None:
        super().__init__(
            202,
            f"the write is pending ({why}): it will reach the vendor once; poll write {write_id}",
            reason="write_pending",
            plugin=plugin,
        )
        self.write_id = write_id

    @property
    def extensions(self) -> dict[str, Any]:
        return {**super().extensions, "writeId": self.write_id}


@dataclass(frozen=True)
class WriteState:
    id: str
    plugin: str
    status: str  # pending, done, dead
    attempts: int
    last_error: str | None
    created_at: float
    replied_at: float | None
    reply: Reply | None
    credential_id: str | None


def _status_of(state: str) -> str:
    return "done" if state == DONE else state


class Writes:
    """The write queue of one upstream source."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.database = upstream.cache.database
        settings = upstream.settings
        source = upstream.plugin
        table = Table("upstream_writes", where=f"source = '{source}'", done=DONE)
        self.queue = WorkQueue(
            self.database,
            "upstream_writes",
            self._deliver,
            table,
            interval=settings.poll,
            lease=settings.write_lease,
            backoff=Backoff(first=1.0, maximum=60.0),
            job="upstream.writes",
        )

    async def send(self, credential_id: str | None, write: Write) -> Reply:
        """Record the write, work it at once, and answer the vendor's reply, or raise
        :class:`WritePending` when it cannot be had within ``write_wait``."""
        write_id = secrets.token_hex(16)
        with self.database.write() as db:
            claim = self.queue.enqueue_claimed(
                db,
                {
                    "id": write_id,
                    "source": self.upstream.plugin,
                    "credential_id": credential_id,
                    "method": write.method,
                    "path": write.path,
                    "query": orjson.dumps(write.query).decode(),
                    "content_type": write.content_type,
                    "body": write.body,
                    "reconcile": write.reconcile,
                    "params": orjson.dumps(dict(write.params)).decode(),
                    "invalidates": orjson.dumps(write.invalidates).decode(),
                    "created_at": time.time(),
                },
            )
        task = self.queue.work(claim)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.upstream.settings.write_wait)
        except TimeoutError:
            raise WritePending(self.upstream.plugin, write_id, "the vendor is slow") from None
        state = self.state(write_id)
        if state is None or state.reply is None:
            why = state.last_error if state is not None and state.last_error else "not sent yet"
            raise WritePending(self.upstream.plugin, write_id, why)
        return state.reply

    def state(self, write_id: str) -> WriteState | None:
        if not WRITE_ID.fullmatch(write_id):
            return None  # no write has that id (and a NUL in it is no value to look up)
        row = self.database.execute(
            "SELECT id, source, status, attempts, last_error, created_at, replied_at,"
            " reply_status, reply_type, reply_body, credential_id FROM upstream_writes"
            " WHERE id = ? AND source = ?",
            (write_id, self.upstream.plugin),
        ).fetchone()
        if row is None:
            return None
        ident, source, status, attempts, error, created, replied, code, ctype, body, cred = row
        reply = Reply(code, ctype or "", bytes(body)) if code is not None else None
        return WriteState(
            ident, source, _status_of(status), attempts, error, created, replied, reply, cred
        )

    def _load(self, write_id: str) -> tuple[Write, bool]:
        row = self.database.execute(
            "SELECT method, path, query, body, content_type, reconcile, params, invalidates,"
            " sent_at FROM upstream_writes WHERE id = ?",
            (write_id,),
        ).fetchone()
        method, path, query, body, ctype, reconcile, params, invalidates, sent_at = row
        write = Write(
            method,
            path,
            tuple(tuple(pair) for pair in orjson.loads(query)),
            bytes(body),
            ctype,
            reconcile,
            orjson.loads(params),
            tuple(orjson.loads(invalidates)),
        )
        return write, sent_at is not None

    async def _deliver(self, claim: Claim) -> Outcome:
        """One attempt: reconcile a write that may have landed, wait for a budget slot, mark
        it sent (committed before a byte goes out), send, and keep the vendor's answer."""
        upstream = self.upstream
        write, uncertain = self._load(claim.key)
        reconciler = upstream.vendor.reconcilers.get(write.reconcile or "")
        try:
            if uncertain and reconciler is not None:
                found = await reconciler(upstream, write, None)
                if found is not None:
                    return self._answered(write, found)
            wait = await upstream.wait_for_slot(write.target)
            if wait > 0:
                return later(time.time() + wait)
            with self.database.write() as db:
                now = time.time()
                marked = db.execute(
                    "UPDATE upstream_writes SET sent_at = ?"
                    " WHERE id = ? AND claimed_by = ? AND claimed_until >= ?",
                    (now, claim.key, claim.token, now),
                ).rowcount
            if not marked:  # the lease ran out (this process stalled): whoever holds it sends
                return retry("the lease ran out before the write was sent")
            reply = await upstream.send(write)
            if uncertain and reconciler is not None:
                reply = await reconciler(upstream, write, reply) or reply
        except (HubError, VendorFailure) as exc:
            retry_after = float(exc.retry_after) if exc.retry_after is not None else None
            return retry(exc.message, retry_after)
        return self._answered(write, reply)

    def _answered(self, write: Write, reply: Reply) -> Outcome:
        self.upstream.forget(write.invalidates)
        return done(
            {
                "reply_status": reply.status,
                "reply_type": reply.content_type,
                "reply_body": reply.body,
                "replied_at": time.time(),
            }
        )
