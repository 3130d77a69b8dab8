"""The one service layer of ``notes``: REST, GraphQL, gRPC, the job and the CLI call this and
nothing else, so the same operation gives the same data and the same error everywhere. Each
operation takes the :class:`~hub.caller.Caller` the host built and checks it first."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from hub.api import HubApi
from hub.caller import Caller, while_admitted
from hub.paging import Page
from hub_notes.auth import authorize
from hub_notes.errors import bad_request, error
from hub_notes.records import Note
from hub_notes.settings import PLUGIN, NotesSettings
from hub_notes.storage import COLUMNS, LIVE, NotePage, live_notes, note_of

MAX_TITLE = 200
TOPIC = "notes.added"

log = logging.getLogger("hub_notes")


class NotesService:
    """Built once per hub by ``hub.service(NotesService)``."""

    def __init__(self, hub: HubApi) -> None:
        self.hub = hub
        self.settings: NotesSettings = hub.settings_for(PLUGIN)
        self.database = hub.database(PLUGIN)

    # -- reads ---------------------------------------------------------------------------
    def get(self, caller: Caller, note_id: str) -> Note:
        authorize(caller)
        row = self.database.execute(
            f"SELECT {COLUMNS} FROM notes WHERE id = ? AND {LIVE}", (note_id, time.time())
        ).fetchone()
        if row is None:
            raise error(404, f"id: no note {note_id!r}", "note_not_found")
        return note_of(row)

    def list(self, caller: Caller, page: Page) -> NotePage:
        """A page of live notes, oldest first, and how many there are in all."""
        authorize(caller)
        return live_notes(self.database, page, time.time())

    def count(self) -> int:
        """Stored notes, expired ones not yet purged included (for the CLI and the probe)."""
        return int(self.database.execute("SELECT count(*) FROM notes").fetchone()[0])

    # -- writes --------------------------------------------------------------------------
    def create(self, caller: Caller, data: Any) -> Note:
        """``data`` is a REST body, or what GraphQL and gRPC were sent, as the same dict."""
        credential = authorize(caller, write=True)
        settings = self.settings
        decision = self.hub.rate_limiter.hit(
            f"{PLUGIN}:create:{credential.id}", settings.create_limit, settings.create_window
        )
        if not decision.allowed:
            raise error(
                429,
                f"at most {settings.create_limit} notes per {settings.create_window:g}s",
                "rate_limited",
                retry_after=decision.retry_after,
            )
        title, body, ttl = self._validate(data)
        now = time.time()
        row = (str(uuid.uuid4()), title, body, now, now + ttl if ttl else None)
        with self.database.write() as db:
            db.execute(f"INSERT INTO notes ({COLUMNS}) VALUES (?, ?, ?, ?, ?)", row)
        note = note_of(row)
        self.hub.events.publish(TOPIC, note)
        return note

    def _validate(self, data: Any) -> tuple[str, str, float]:
        if not isinstance(data, dict):
            raise bad_request("body: expected a JSON object with title, body and ttl_seconds")
        for name in data:
            if name not in ("title", "body", "ttl_seconds"):
                raise bad_request(f"{name}: unknown field")
        title, body = data.get("title"), data.get("body", "")
        if not isinstance(title, str) or not title.strip():
            raise bad_request("title: required, a non-empty string")
        if len(title) > MAX_TITLE:
            raise bad_request(f"title: longer than {MAX_TITLE} characters")
        if not isinstance(body, str):
            raise bad_request("body: expected a string")
        if len(body) > self.settings.max_body:
            raise bad_request(f"body: longer than {self.settings.max_body} characters")
        for name, text in (("title", title), ("body", body)):
            if "\x00" in text:  # PostgreSQL's text cannot hold one: refused on every engine
                raise bad_request(f"{name}: must not contain NUL (\\u0000)")
        ttl = data.get("ttl_seconds")
        if ttl is None:
            return title, body, self.settings.default_ttl
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl < 10**9:
            raise bad_request("ttl_seconds: expected a positive number of seconds")
        return title, body, float(ttl)

    def purge_expired(self) -> int:
        """The periodic job: delete notes whose time is up."""
        with self.database.write() as db:
            purged = db.execute(
                "DELETE FROM notes WHERE expires_at IS NOT NULL AND expires_at <= ?", (time.time(),)
            ).rowcount
        if purged:
            log.info("notes: purged %d expired notes", purged)
        return int(purged)

    # -- the subscription ----------------------------------------------------------------
    def added(self, caller: Caller) -> AsyncIterator[Note]:
        """Each note created from now on, as it is created, until the hub shuts down (the
        host's event bus ends the stream then, or when the subscriber lags too far), or the
        token is revoked (the check runs again before each note)."""
        authorize(caller)
        return while_admitted(caller, authorize, self.hub.events.subscribe(TOPIC))

    @property
    def subscribers(self) -> int:
        return self.hub.events.subscribers(TOPIC)

    def expired_pending(self) -> int:
        """Expired notes the next purge will remove (the ``purge`` background queue)."""
        row = self.database.execute(
            "SELECT count(*) FROM notes WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (time.time(),),
        ).fetchone()
        return int(row[0])
