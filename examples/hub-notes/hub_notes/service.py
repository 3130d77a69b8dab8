"""The one service layer of ``notes``: REST, GraphQL, gRPC, the job and the CLI call this and
nothing else, so the same operation gives the same data and the same error everywhere."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from hub.config import ConfigError
from hub.credentials import Credential, CredentialType
from hub.errors import ErrorFactory, HubError
from hub.paging import Page

PLUGIN = "notes"
MAX_TITLE = 200
TOPIC = "notes.added"
SCOPES = ("read", "write")

log = logging.getLogger("hub_notes")


@dataclass
class NotesSettings:
    """``[plugins.notes]`` in the config file; ``HUB_NOTES_<KEY>`` in the environment wins."""

    default_ttl: float = 0.0  # seconds a note lives unless it says otherwise; 0: forever
    purge_interval: float = 60.0  # seconds between runs of the purge job
    max_body: int = 10_000  # characters
    create_limit: int = 60  # notes one credential may create per create_window seconds
    create_window: float = 60.0

    def __post_init__(self) -> None:
        """Types are checked by the host; ranges are the plugin's to check, naming the key."""
        if self.default_ttl < 0:
            raise ConfigError(f"plugins.{PLUGIN}.default_ttl: must not be negative")
        for name in ("purge_interval", "max_body", "create_limit", "create_window"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"plugins.{PLUGIN}.{name}: must be positive")


@dataclass(frozen=True)
class Note:
    id: str
    title: str
    body: str
    created_at: str
    expires_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


error = ErrorFactory(PLUGIN)


def bad_request(message: str) -> HubError:
    return error(400, message, "bad_request")


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def m001_notes(db: Any) -> None:
    db.execute(
        "CREATE TABLE notes (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " title TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL)"
    )
    db.execute("CREATE INDEX notes_expires_at ON notes (expires_at) WHERE expires_at IS NOT NULL")


MIGRATIONS = [m001_notes]


# -- credentials: `hub creds add notes [--param scope=read]` ---------------------------------
def _credential_attrs(params: dict[str, str]) -> dict[str, Any]:
    for name in params:
        if name != "scope":
            raise bad_request(f"{name}: unknown parameter; notes takes only scope")
    scope = params.get("scope", "write")
    if scope not in SCOPES:
        raise bad_request(f"scope: expected read or write, got {scope!r}")
    return {"scope": scope}


def _present(secret: str, credential: Credential) -> dict[str, Any]:
    return {"token": secret, "scope": credential.attrs["scope"]}


CREDENTIAL_TYPE = CredentialType(validate=_credential_attrs, present=_present)


# -- the service -----------------------------------------------------------------------------
def _note(row: Any) -> Note:
    ident, title, body, created_at, expires_at = row
    return Note(ident, title, body, stamp(created_at), stamp(expires_at) if expires_at else None)


COLUMNS = "id, title, body, created_at, expires_at"
LIVE = "(expires_at IS NULL OR expires_at > ?)"


class NotesService:
    """Built once per hub by ``hub.service(NotesService)``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.settings: NotesSettings = hub.settings_for(PLUGIN)
        self.database = hub.database(PLUGIN)

    # -- auth ----------------------------------------------------------------------------
    def authorize(self, authorization: str | None, *, write: bool = False) -> Credential:
        """The caller's ``notes`` credential (the admin token counts); 401, or 403 when a
        read-only token tries to write."""
        credential = self.hub.credentials.authenticate(PLUGIN, authorization)
        if credential is None:
            raise error(
                401, "send Authorization: Bearer <a token from hub creds add notes>", "unauthorized"
            )
        if write and not credential.is_admin and credential.attrs.get("scope") != "write":
            raise error(403, "this token may only read notes (scope=read)", "read_only")
        return credential  # type: ignore[no-any-return]

    # -- reads ---------------------------------------------------------------------------
    def get(self, authorization: str | None, note_id: str) -> Note:
        self.authorize(authorization)
        row = self.database.execute(
            f"SELECT {COLUMNS} FROM notes WHERE id = ? AND {LIVE}", (note_id, time.time())
        ).fetchone()
        if row is None:
            raise error(404, f"id: no note {note_id!r}", "note_not_found")
        return _note(row)

    def list(
        self, authorization: str | None, *, offset: int = 0, limit: int | None = None
    ) -> tuple[list[Note], int]:
        """A page of live notes, oldest first, and how many there are in all."""
        self.authorize(authorization)
        page = Page.of(offset, limit, bad_request)  # the host's bounds, as every plugin's
        now = time.time()
        total = self.database.execute(f"SELECT count(*) FROM notes WHERE {LIVE}", (now,))
        total = total.fetchone()[0]
        rows = self.database.execute(
            f"SELECT {COLUMNS} FROM notes WHERE {LIVE} ORDER BY seq LIMIT ? OFFSET ?",
            (now, page.limit, page.offset),
        ).fetchall()
        return [_note(r) for r in rows], total

    def count(self) -> int:
        """Stored notes, expired ones not yet purged included (for the CLI and the probe)."""
        return int(self.database.execute("SELECT count(*) FROM notes").fetchone()[0])

    # -- writes --------------------------------------------------------------------------
    def create(self, authorization: str | None, data: Any) -> Note:
        """``data`` is a REST body, or what GraphQL and gRPC were sent, as the same dict."""
        credential = self.authorize(authorization, write=True)
        settings = self.settings
        decision = self.hub.rate_limiter.hit(
            f"{PLUGIN}:create:{credential.id}", settings.create_limit, settings.create_window
        )
        if not decision.allowed:
            raise HubError(
                429,
                f"at most {settings.create_limit} notes per {settings.create_window:g}s",
                reason="rate_limited",
                plugin=PLUGIN,
                retry_after=decision.retry_after,
            )
        title, body, ttl = self._validate(data)
        now = time.time()
        note_id = str(uuid.uuid4())
        expires_at = now + ttl if ttl else None
        with self.database.write() as db:
            db.execute(
                f"INSERT INTO notes ({COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (note_id, title, body, now, expires_at),
            )
        note = _note((note_id, title, body, now, expires_at))
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
    def added(self, authorization: str | None) -> AsyncIterator[Note]:
        """Each note created from now on, as it is created, until the hub shuts down (the
        host's event bus ends the stream then, or when the subscriber lags too far)."""
        self.authorize(authorization)
        return self.hub.events.subscribe(TOPIC)

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
