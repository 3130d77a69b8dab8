"""Credentials for every plugin: the admin token, bearer tokens (SHA-256) and login/password
pairs (scrypt). Secrets are shown once, at creation or rotation, and compared in constant time;
the admin lists (never a secret), revokes and rotates them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from hub.errors import HubError, StartupError, quoted
from hub.paging import Keyset, Page, SortKey
from hub.storage import Database


def m001_credentials(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS credentials ("
        " id TEXT PRIMARY KEY, plugin TEXT NOT NULL, login TEXT, secret_hash TEXT NOT NULL,"
        " attrs TEXT NOT NULL, created_at REAL NOT NULL, revoked_at REAL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS credentials_hash ON credentials (secret_hash)")
    db.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS credentials_login ON credentials (plugin, login)"
        " WHERE login IS NOT NULL AND revoked_at IS NULL"
    )


def m001_credential_last_used(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS credential_last_used ("
        " id TEXT PRIMARY KEY, last_used_at REAL NOT NULL)"
    )


def _no_params(params: dict[str, str]) -> dict[str, Any]:
    if params:
        name = quoted(sorted(params)[0])
        raise HubError(400, f"unknown parameter: {name}", reason="bad_argument")
    return {}


def _token_only(secret: str, credential: Credential) -> dict[str, Any]:
    return {"token": secret}


@dataclass(frozen=True)
class CredentialType:
    """How one plugin's credentials are made.

    ``validate`` turns the ``--param`` pairs into the attributes stored with the credential
    (raise ``HubError(400)`` naming the bad parameter). ``present`` builds the JSON shown once.
    ``login_param`` makes it a login/password credential (HTTP Basic) instead of a bearer token.
    ``one_per`` names an attribute: issuing a credential revokes the others with the same value.
    ``login_for`` decides per credential instead of ``login_param``, for plugins with both kinds:
    it returns the login (a login/password credential) or ``None`` (a bearer token), and may
    raise ``HubError(400)``.
    """

    validate: Callable[[dict[str, str]], dict[str, Any]] = _no_params
    present: Callable[[str, Credential], dict[str, Any]] = _token_only
    login_param: str | None = None
    one_per: str | None = None
    login_for: Callable[[dict[str, str]], str | None] | None = None


@dataclass(frozen=True)
class Credential:
    id: str
    plugin: str
    attrs: dict[str, Any] = field(default_factory=dict)
    login: str | None = None
    is_admin: bool = False


ADMIN = Credential(id="admin", plugin="*", is_admin=True)


def sha256(secret: str) -> str:
    """Whatever ``secret`` holds: a header value that is not UTF-8 reaches us with its bytes
    escaped (surrogateescape); a lone surrogate is kept as it is (surrogatepass), so it matches
    nothing rather than failing. (Every request hashes its token: no call more than needed.)"""
    try:
        data = secret.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = secret.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def basic_pair(authorization: str | None) -> tuple[str, str] | None:
    """The login and password of an ``Authorization: Basic`` value; ``None`` for any other
    value, or one that is not base64 of UTF-8 text."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "basic" or not value:
        return None
    try:
        login, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 inside
        return None
    return login, password


def _is_text(value: str) -> bool:
    """Whether ``value`` is UTF-8 text (a command-line argument that is not decodes to lone
    surrogates, which can be neither stored nor presented)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    return "scrypt$" + salt.hex() + "$" + _scrypt(password, salt).hex()


# Every login's check of a password against no stored hash, so that an unknown login costs what a
# wrong password costs: how long a refusal takes must not tell which logins exist.
NO_SUCH_LOGIN = "scrypt$" + "00" * 16 + "$"
PASSWORD_CHECKS_AT_ONCE = 2  # per process: each scrypt takes 16 MiB and a core for tens of ms
REFUSED_REMEMBERED = 10_000  # wrong passwords remembered, so a repeated one costs nothing


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        return hmac.compare_digest(_scrypt(password, bytes.fromhex(salt)).hex(), digest)
    except ValueError:
        return False


def _new_secret(login: str | None, password: str | None = None) -> tuple[str, str]:
    """A secret and what is stored of it: a token and its SHA-256, or for a login a password
    (the one given, else a random one) and its scrypt hash."""
    if login is None:
        token = secrets.token_hex(32)
        return token, sha256(token)
    password = password or secrets.token_urlsafe(18)
    return password, hash_password(password)


def iso(at: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC, to the second."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def m002_shared_admin_token(db) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL only: the SHA-256 of the generated admin token every hub on the database
    accepts (one row)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS admin_token ("
        " id INTEGER PRIMARY KEY CHECK (id = 1), token_hash TEXT NOT NULL,"
        " created_at REAL NOT NULL)"
    )


@dataclass(frozen=True)
class AdminToken:
    """What a hub knows of the admin token: its SHA-256, all that a comparison needs, and the
    token itself only when this command generated it (to be shown once)."""

    digest: str
    generated: str | None = None


def _write_private(path: Path, token: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")


def load_admin_token(
    data_dir: Path, from_env: str | None, shared: Database | None = None
) -> AdminToken:
    """The admin token: the setting, else ``<data-dir>/admin-token``, generated there once.
    ``shared`` (the ``hub`` schema on PostgreSQL) makes it one token for every hub on the
    database: see :func:`_shared_admin_token`."""
    from_env = (from_env or "").strip()  # a client's "Bearer <token>" is read stripped, too
    if from_env:
        return AdminToken(sha256(from_env))
    path = data_dir / "admin-token"
    if shared is not None:
        return _shared_admin_token(path, shared)
    if path.exists():
        return AdminToken(sha256(path.read_text().strip()))
    token = secrets.token_urlsafe(32)
    _write_private(path, token)
    return AdminToken(sha256(token), token)


def _shared_admin_token(path: Path, database: Database) -> AdminToken:
    """The first hub to store a token's SHA-256 decides, the others read it back (hubs
    starting together agree). Only the hub that generated the token writes it to its data
    directory; a token already there (a SQLite data directory moved to PostgreSQL) is offered
    as that token, and one the database does not share is refused."""
    database.migrate(database.name, [m002_shared_admin_token])
    known = path.read_text().strip() if path.exists() else None
    candidate = known or secrets.token_urlsafe(32)
    with database.write() as db:
        db.execute(
            "INSERT INTO admin_token (id, token_hash, created_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (sha256(candidate), time.time()),
        )
        digest = str(db.execute("SELECT token_hash FROM admin_token WHERE id = 1").fetchone()[0])
    if known is not None:
        if not hmac.compare_digest(digest, sha256(known)):
            raise StartupError(
                f"{path} holds another admin token than the one the hubs on"
                f" {database.location} share: delete the file, or set admin_token"
            )
        return AdminToken(digest)
    if not hmac.compare_digest(digest, sha256(candidate)):
        return AdminToken(digest)  # another hub generated it
    _write_private(path, candidate)
    return AdminToken(digest, candidate)


class LastUsed:
    """When each credential was last used, without a write per request: a use is remembered in
    memory and :meth:`flush` (the ``hub.credential_last_used`` timer, every
    :data:`FLUSH_SECONDS`, and shutdown) writes what changed in one batch, so each credential
    costs at most one row write per interval however busy it is.

    The table lives in the rate-limit file, not in ``hub.db``: the credential cache is
    invalidated by any change of ``hub.db``'s ``PRAGMA data_version``, so writing there would
    make every worker drop its cache (and pay scrypt again for Basic logins) once a minute."""

    FLUSH_SECONDS = 60.0

    def __init__(self) -> None:
        self.database: Database | None = None
        self._pending: dict[str, float] = {}

    def store_in(self, database: Database, migrate_as: str) -> None:
        database.migrate(migrate_as, [m001_credential_last_used])
        self.database = database

    def touch(self, credential_id: str) -> None:
        self._pending[credential_id] = time.time()

    def flush(self) -> None:
        if not self._pending or self.database is None:
            return
        batch = dict(self._pending)
        with self.database.write() as db:
            db.executemany(  # several processes may flush the same id: the latest use wins
                "INSERT INTO credential_last_used (id, last_used_at) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET"
                " last_used_at = max(credential_last_used.last_used_at, excluded.last_used_at)",
                list(batch.items()),
            )
        for credential_id, at in batch.items():
            if self._pending.get(credential_id) == at:
                del self._pending[credential_id]

    def of(self, credential_ids: list[str]) -> dict[str, float]:
        """The last use of each id, stored (by any process) or still pending in this one."""
        found: dict[str, float] = {}
        if self.database is not None:
            for start in range(0, len(credential_ids), 500):  # SQLite bounds the parameters
                chunk = credential_ids[start : start + 500]
                found.update(
                    self.database.execute(
                        "SELECT id, last_used_at FROM credential_last_used"
                        f" WHERE id IN ({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                )
        for credential_id in credential_ids:
            pending = self._pending.get(credential_id)
            if pending is not None and pending > found.get(credential_id, 0.0):
                found[credential_id] = pending
        return found


class Arrivals:
    """How many times this process has read bytes from a client on the hub's HTTP listeners
    (request heads and bodies, websocket frames). The HTTP protocol counts each read before the
    bytes go to the parser and notes the count on the connection, so a request's stamp (its
    connection's count when its handler starts) is at least the count of a read that carried
    its bytes.

    A credential check reads the database's data version (a query; on PostgreSQL a round trip)
    so that a change committed elsewhere counts. A request whose stamp is not above the count
    taken just before the last read arrived before that read, and so did any change its sender
    could know of (a change counts for the requests *sent* after it was committed): the last
    read is recent enough. See :meth:`CredentialStore._cache_is_current`."""

    def __init__(self) -> None:
        self.count = 0


ARRIVALS = Arrivals()  # one per process, shared by every listener and credential store
_ARRIVED: ContextVar[int | None] = ContextVar("hub_request_arrived", default=None)


class ArrivedRequest:
    """``with ArrivedRequest(stamp):`` marks the checks made inside as being for a request whose
    bytes :data:`ARRIVALS` counted, with its stamp (a plain HTTP request; not a websocket, whose
    later work is not prompted by its upgrade's bytes). Anything else (gRPC, websockets,
    commands) reads the data version on every check. A class, not a generator: it wraps every
    HTTP request."""

    __slots__ = ("_stamp", "_token")

    def __init__(self, stamp: int) -> None:
        self._stamp = stamp

    def __enter__(self) -> None:
        self._token = _ARRIVED.set(self._stamp)

    def __exit__(self, *exc: object) -> None:
        _ARRIVED.reset(self._token)


LISTED = "id, plugin, login, attrs, created_at, revoked_at"
LISTING_ORDER = Keyset((SortKey("created", "created_at"), SortKey("id", "id")))
EVERY = Page(0, 2**62)  # the command line lists every credential at once


@dataclass(frozen=True)
class CredentialPage:
    items: list[dict[str, Any]]
    total: int  # every live credential listed, whatever the page
    cursors: list[str]  # each credential's keyset cursor, for GraphQL
    has_next: bool  # more credentials follow this page


class CredentialStore:
    def __init__(
        self, database: Database, admin_token: str | None = None, *, admin_hash: str = ""
    ) -> None:
        """``admin_hash`` (the token's SHA-256) when the hub knows only that."""
        if not admin_token and not admin_hash:
            raise ValueError("CredentialStore needs the admin token or its hash")
        self.database = database
        self._admin_hash = admin_hash or sha256(admin_token or "")
        self.types: dict[str, CredentialType] = {}
        # (plugin, login, SHA-256 of the password): what scrypt found, until credentials change
        self._basic_cache: dict[tuple[str, str, str], Credential] = {}
        self._basic_refused: set[tuple[str, str, str]] = set()
        self._generation = 0  # moves whenever the caches are cleared
        self._password_checks: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._token_cache: dict[tuple[str, str], Credential | None] = {}
        self._seen_version = -1
        self._seen_at = -1  # ARRIVALS.count when the data version was last read
        self._seen_marker: bytes | None = None  # the database's commit marker before that read
        self.last_used = LastUsed()

    def _cache_is_current(self) -> None:
        """Look-ups are cached until the credentials change: the database's data version moves
        when any other connection (another worker or hub, ``hub creds add``) commits, and our
        own writes clear the caches themselves. So a revoked token stops working at once.

        The version is read again unless the check is for an HTTP request that arrived before
        the last read (see :class:`Arrivals`): every change committed before it was sent was
        seen then; or unless the database's commit marker (SQLite's wal-index header, read
        without a transaction) is the one taken before that read: nothing was committed since,
        so that read is as good as a new one."""
        arrived = _ARRIVED.get()
        if len(self._token_cache) > 10_000:
            self._seen_marker = None
        elif arrived is not None and arrived <= self._seen_at:
            return
        arrivals = ARRIVALS.count  # taken before the read: bytes read after it count as new
        marker = self.database.commit_marker()  # taken before the read, too
        if marker is not None and marker == self._seen_marker:
            self._seen_at = arrivals
            return
        version = self.database.data_version()
        if version != self._seen_version or len(self._token_cache) > 10_000:
            self._clear_caches()
            self._seen_version = version
        self._seen_at = arrivals
        self._seen_marker = marker

    def register_type(self, plugin: str, ctype: CredentialType) -> None:
        if plugin in self.types:
            raise StartupError(f"plugin {plugin} registers credential types twice")
        self.types[plugin] = ctype

    def is_admin(self, token: str) -> bool:
        return hmac.compare_digest(sha256(token), self._admin_hash)

    def is_admin_authorization(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` value is ``Bearer <the admin token>``."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        return scheme.lower() == "bearer" and self.is_admin(value.strip())

    def _type(self, plugin: str) -> CredentialType:
        ctype = self.types.get(plugin)
        if ctype is None:
            raise HubError(
                404, f"plugin {plugin!r} has no credentials", plugin="hub", reason="unknown_plugin"
            )
        return ctype

    def _clear_caches(self) -> None:
        self._basic_cache.clear()
        self._basic_refused.clear()
        self._token_cache.clear()
        self._generation += 1

    def issue(self, plugin: str, params: dict[str, str]) -> dict[str, Any]:
        ctype = self._type(plugin)
        for name, value in params.items():
            if not (_is_text(name) and _is_text(value)):
                shown = quoted(name) if _is_text(name) else "a parameter name"
                message = f"{shown}: not UTF-8 text"
                raise HubError(400, message, plugin=plugin, reason="bad_argument")
        params = dict(params)
        login = None
        password = None
        if ctype.login_for is not None:
            login = ctype.login_for(params)
        elif ctype.login_param:
            login = params.get(ctype.login_param, "")
            if not login:
                raise HubError(400, f"missing parameter: {ctype.login_param}", plugin=plugin)
        if login is not None:
            password = params.pop("password", None)
        attrs = ctype.validate(params)
        secret, secret_hash = _new_secret(login, password)
        cred = Credential(id=str(uuid.uuid4()), plugin=plugin, attrs=attrs, login=login)
        now = time.time()
        with self.database.write() as db:
            if login is not None:
                db.execute(
                    "UPDATE credentials SET revoked_at = ? WHERE plugin = ? AND login = ?"
                    " AND revoked_at IS NULL",
                    (now, plugin, login),
                )
            if ctype.one_per:
                db.execute(
                    "UPDATE credentials SET revoked_at = ? WHERE plugin = ? AND revoked_at IS NULL"
                    " AND json_extract(attrs, '$.' || ?) = ?",
                    (now, plugin, ctype.one_per, attrs.get(ctype.one_per)),
                )
            db.execute(
                "INSERT INTO credentials (id, plugin, login, secret_hash, attrs, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (cred.id, plugin, login, secret_hash, orjson.dumps(attrs).decode(), now),
            )
        self._clear_caches()
        return ctype.present(secret, cred)

    # -- what the admin manages --------------------------------------------------------
    def _describe(self, row: tuple[Any, ...], last_used: float | None) -> dict[str, Any]:
        credential_id, plugin, login, attrs, created_at, revoked_at = row
        return {
            "id": credential_id,
            "plugin": plugin,
            "login": login,
            "attrs": orjson.loads(attrs),
            "created_at": iso(created_at),
            "last_used_at": iso(last_used),
            "revoked_at": iso(revoked_at),
        }

    def listing(self, plugin: str | None = None, page: Page = EVERY) -> CredentialPage:
        """Live credentials of one plugin (or of every loaded plugin), oldest first, a page at a
        time (keyset cursors: creation time, then the unique id): what they are, never a
        secret or its hash."""
        plugins = [plugin] if plugin is not None else sorted(self.types)
        if plugin is not None:
            self._type(plugin)
        where = f"revoked_at IS NULL AND plugin IN ({','.join('?' * len(plugins))})"
        read = LISTING_ORDER.read(
            self.database,
            page,
            select=LISTED,
            source="credentials",
            where=[where],
            params=plugins,
            error=lambda message: HubError(400, message, plugin="hub", reason="bad_argument"),
        )
        used = self.last_used.of([row[0] for row in read.rows])
        described = [self._describe(row, used.get(row[0])) for row in read.rows]
        return CredentialPage(described, read.total or 0, list(read.cursors()), read.has_next)

    def _live_row(self, db: Any, plugin: str, credential_id: str) -> tuple[Any, ...]:
        row = (
            db.execute(
                f"SELECT {LISTED} FROM credentials"
                " WHERE id = ? AND plugin = ? AND revoked_at IS NULL",
                (credential_id, plugin),
            ).fetchone()
            if _is_text(credential_id)
            else None  # no stored id is anything else
        )
        if row is None:
            raise HubError(
                404,
                f"plugin {plugin!r} has no live credential {credential_id!r}",
                plugin="hub",
                reason="unknown_credential",
            )
        return row  # type: ignore[no-any-return]

    def revoke(self, plugin: str, credential_id: str) -> dict[str, Any]:
        """Revoke at once, here and (through ``data_version``) in every other process."""
        self._type(plugin)
        now = time.time()
        with self.database.write() as db:
            row = self._live_row(db, plugin, credential_id)
            db.execute("UPDATE credentials SET revoked_at = ? WHERE id = ?", (now, credential_id))
        self._clear_caches()
        used = self.last_used.of([credential_id]).get(credential_id)
        return self._describe((*row[:5], now), used)

    def revoke_matching(self, plugin: str, attr: str, value: str | int) -> int:
        """Revoke every live credential of ``plugin`` whose attribute ``attr`` is ``value`` (a
        plugin's own record is gone: its user, its account), at once, everywhere, so listings
        no longer show them live; how many were."""
        self._type(plugin)
        with self.database.write() as db:
            revoked = db.execute(
                "UPDATE credentials SET revoked_at = ? WHERE plugin = ? AND revoked_at IS NULL"
                " AND json_extract(attrs, '$.' || ?) = ?",
                (time.time(), plugin, attr, value),
            ).rowcount
        self._clear_caches()
        return int(revoked)

    def rotate(self, plugin: str, credential_id: str) -> tuple[str, dict[str, Any]]:
        """A new secret, under a new id, with the same login and attributes; the old one is
        revoked in the same transaction. A new id because that is what the plugin's own way of
        replacing a credential (``creds add``) gives: per-credential state such as rate-limit
        windows starts afresh. Returns the new id and what ``creds add`` would print."""
        ctype = self._type(plugin)
        now = time.time()
        with self.database.write() as db:
            _, _, login, attrs, _, _ = self._live_row(db, plugin, credential_id)
            secret, secret_hash = _new_secret(login)
            cred = Credential(str(uuid.uuid4()), plugin, orjson.loads(attrs), login=login)
            db.execute("UPDATE credentials SET revoked_at = ? WHERE id = ?", (now, credential_id))
            db.execute(
                "INSERT INTO credentials (id, plugin, login, secret_hash, attrs, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (cred.id, plugin, login, secret_hash, attrs, now),
            )
            shown = ctype.present(secret, cred)  # if the plugin refuses, nothing changes
        self._clear_caches()
        return cred.id, shown

    def by_token(self, plugin: str, token: str) -> Credential | None:
        digest = sha256(token)
        if hmac.compare_digest(digest, self._admin_hash):
            return ADMIN
        self._cache_is_current()
        key = (plugin, digest)
        if key in self._token_cache:
            cached = self._token_cache[key]
            if cached is not None:
                self.last_used.touch(cached.id)
            return cached
        row = self.database.execute(
            "SELECT id, attrs FROM credentials WHERE secret_hash = ? AND plugin = ?"
            " AND revoked_at IS NULL",
            (digest, plugin),
        ).fetchone()
        credential = Credential(row[0], plugin, orjson.loads(row[1])) if row else None
        self._token_cache[key] = credential
        if credential is not None:
            self.last_used.touch(credential.id)
        return credential

    def by_login(self, plugin: str, login: str, password: str) -> Credential | None:
        self._cache_is_current()
        key = (plugin, login, sha256(password))
        if key in self._basic_cache:  # scrypt is slow on purpose; pay it once per password
            self.last_used.touch(self._basic_cache[key].id)
            return self._basic_cache[key]
        if key in self._basic_refused:
            return None
        row = self.database.execute(
            "SELECT id, attrs, secret_hash FROM credentials WHERE plugin = ? AND login = ?"
            " AND revoked_at IS NULL",
            (plugin, login),
        ).fetchone()
        if row is None or not verify_password(password, row[2]):
            return None
        cred = Credential(row[0], plugin, orjson.loads(row[1]), login=login)
        self._basic_cache[key] = cred
        self.last_used.touch(cred.id)
        return cred

    async def check_login(self, plugin: str | None, authorization: str | None) -> None:
        """Check an HTTP Basic login and password off the event loop, so that the synchronous
        look-up which follows (:meth:`by_login`) finds the outcome cached: scrypt takes tens of
        milliseconds on purpose, and on the loop a client sending wrong passwords would stall
        every other request. ``None`` checks the login for every plugin that has it (a GraphQL
        request may call any). An unknown login is checked against :data:`NO_SUCH_LOGIN`, so
        it costs what a wrong password costs; a password already checked costs nothing."""
        pair = basic_pair(authorization)
        if pair is None:
            return
        with_logins = [name for name, t in self.types.items() if t.login_param or t.login_for]
        if plugin not in with_logins if plugin else not with_logins:
            return  # no plugin asked has logins: nothing a password could open
        login, password = pair
        self._cache_is_current()
        digest = sha256(password)
        sql = (
            "SELECT plugin, id, attrs, secret_hash FROM credentials"
            " WHERE login = ? AND revoked_at IS NULL"
        )
        params = [login]
        if plugin is not None:
            sql, params = sql + " AND plugin = ?", [login, plugin]
        rows = self.database.execute(sql, params).fetchall()
        for owner, ident, attrs, stored in rows or [(plugin or "*", "", "{}", NO_SUCH_LOGIN)]:
            key = (owner, login, digest)
            if key in self._basic_cache or key in self._basic_refused:
                continue
            generation = self._generation
            async with self._password_slots():
                accepted = await asyncio.to_thread(verify_password, password, stored)
            if generation != self._generation:  # credentials changed meanwhile: check again later
                continue
            if accepted:
                self._basic_cache[key] = Credential(ident, owner, orjson.loads(attrs), login=login)
            else:
                if len(self._basic_refused) >= REFUSED_REMEMBERED:
                    self._basic_refused.clear()
                self._basic_refused.add(key)

    def _password_slots(self) -> asyncio.Semaphore:
        """:data:`PASSWORD_CHECKS_AT_ONCE` for the running loop (a store may outlive a loop)."""
        loop = asyncio.get_running_loop()
        if self._password_checks is None or self._password_checks[0] is not loop:
            self._password_checks = (loop, asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE))
        return self._password_checks[1]

    def authenticate(self, plugin: str, authorization: str | None) -> Credential | None:
        """The credential an ``Authorization`` value carries for ``plugin``; ``None`` if none."""
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return self.by_token(plugin, value)
        pair = basic_pair(authorization)
        if pair is not None:
            return self.by_login(plugin, *pair)
        return None

    def require(self, plugin: str, authorization: str | None) -> Credential:
        cred = self.authenticate(plugin, authorization)
        if cred is None:
            raise HubError(401, "Unauthorized", plugin=plugin)
        return cred

    def require_admin(self, authorization: str | None) -> Credential:
        if not self.is_admin_authorization(authorization):
            raise HubError(401, "admin token required", plugin="hub", reason="admin_required")
        return ADMIN
