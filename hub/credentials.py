"""Credentials for every plugin: the admin token, bearer tokens (SHA-256) and login/password
pairs (scrypt). Secrets are shown once, at creation, and compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hub.errors import HubError, StartupError
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


def _no_params(params: dict[str, str]) -> dict[str, Any]:
    if params:
        raise HubError(400, f"unknown parameter: {sorted(params)[0]}")
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
    # surrogateescape: a header value that is not UTF-8 reaches us with its bytes escaped
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    return "scrypt$" + salt.hex() + "$" + _scrypt(password, salt).hex()


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        return hmac.compare_digest(_scrypt(password, bytes.fromhex(salt)).hex(), digest)
    except ValueError:
        return False


def load_admin_token(data_dir: Path, from_env: str | None) -> tuple[str, bool]:
    """The admin token and whether it was generated just now (so the caller prints it once)."""
    if from_env:
        return from_env, False
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip(), False
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, True


class CredentialStore:
    def __init__(self, database: Database, admin_token: str) -> None:
        self.database = database
        self._admin_hash = sha256(admin_token)
        self.types: dict[str, CredentialType] = {}
        self._basic_cache: dict[tuple[str, str, str], Credential] = {}
        self._token_cache: dict[tuple[str, str], Credential | None] = {}
        self._seen_version = -1

    def _cache_is_current(self) -> None:
        """Look-ups are cached until the credentials file changes: ``PRAGMA data_version`` moves
        when any other connection (another worker, ``hub creds add``) commits, and our own
        writes clear the caches themselves. So a revoked token stops working at once."""
        version = self.database.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version or len(self._token_cache) > 10_000:
            self._token_cache.clear()
            self._basic_cache.clear()
            self._seen_version = version

    def register_type(self, plugin: str, ctype: CredentialType) -> None:
        if plugin in self.types:
            raise StartupError(f"plugin {plugin} registers credential types twice")
        self.types[plugin] = ctype

    def is_admin(self, token: str) -> bool:
        return hmac.compare_digest(sha256(token), self._admin_hash)

    def issue(self, plugin: str, params: dict[str, str]) -> dict[str, Any]:
        ctype = self.types.get(plugin)
        if ctype is None:
            raise HubError(404, f"plugin {plugin!r} has no credentials", plugin="hub")
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
            password = params.pop("password", None) or secrets.token_urlsafe(18)
        attrs = ctype.validate(params)
        secret = password if password is not None else secrets.token_hex(32)
        secret_hash = hash_password(secret) if login is not None else sha256(secret)
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
        self._basic_cache.clear()
        self._token_cache.clear()
        return ctype.present(secret, cred)

    def by_token(self, plugin: str, token: str) -> Credential | None:
        digest = sha256(token)
        if hmac.compare_digest(digest, self._admin_hash):
            return ADMIN
        self._cache_is_current()
        key = (plugin, digest)
        if key in self._token_cache:
            return self._token_cache[key]
        row = self.database.execute(
            "SELECT id, attrs FROM credentials WHERE secret_hash = ? AND plugin = ?"
            " AND revoked_at IS NULL",
            (digest, plugin),
        ).fetchone()
        credential = Credential(row[0], plugin, orjson.loads(row[1])) if row else None
        self._token_cache[key] = credential
        return credential

    def by_login(self, plugin: str, login: str, password: str) -> Credential | None:
        self._cache_is_current()
        key = (plugin, login, sha256(password))
        if key in self._basic_cache:  # scrypt is slow on purpose; pay it once per password
            return self._basic_cache[key]
        row = self.database.execute(
            "SELECT id, attrs, secret_hash FROM credentials WHERE plugin = ? AND login = ?"
            " AND revoked_at IS NULL",
            (plugin, login),
        ).fetchone()
        if row is None or not verify_password(password, row[2]):
            return None
        cred = Credential(row[0], plugin, orjson.loads(row[1]), login=login)
        self._basic_cache[key] = cred
        return cred

    def authenticate(self, plugin: str, authorization: str | None) -> Credential | None:
        """The credential an ``Authorization`` value carries for ``plugin``; ``None`` if none."""
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return self.by_token(plugin, value)
        if scheme.lower() == "basic" and value:
            try:
                login, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 inside
                return None
            return self.by_login(plugin, login, password)
        return None

    def require(self, plugin: str, authorization: str | None) -> Credential:
        cred = self.authenticate(plugin, authorization)
        if cred is None:
            raise HubError(401, "Unauthorized", plugin=plugin)
        return cred

    def require_admin(self, authorization: str | None) -> Credential:
        scheme, _, value = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not self.is_admin(value.strip()):
            raise HubError(401, "admin token required", plugin="hub", reason="admin_required")
        return ADMIN
