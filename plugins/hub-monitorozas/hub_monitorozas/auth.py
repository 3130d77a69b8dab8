"""Who may call monitorozas. Its credentials are API keys, ``hub creds add monitorozas --param
user=<name> --param scopes=read,write [--param allow_ips=...]``: the hub stores the key (hashed)
with its attributes, while the numbered users and key ids of the seed (``"user_id": 1,
"key_id": 1``) live in the plugin's database. Every operation checks its caller here: the key,
its IP allow-list, its rate limit, then the scope the operation needs."""

from __future__ import annotations

import ipaddress
import time
import weakref
from dataclasses import dataclass
from typing import Any

from hub.api import HubApi
from hub.caller import Caller
from hub.credentials import Credential, CredentialType
from hub.storage import Database
from hub_monitorozas.errors import error, invalid_field, missing_field
from hub_monitorozas.records import Identity
from hub_monitorozas.settings import PLUGIN, MonitorozasSettings

SCOPES = ("read", "write")
PARAMS = ("user", "scopes", "allow_ips")
MAX_USER = 64


@dataclass(frozen=True)
class KeyHolder:
    """The caller, once its key passed: whose devices it sees, and what it may do."""

    user_id: int | None  # None: the admin token, which acts across users
    key_id: int | None
    scopes: tuple[str, ...]
    is_admin: bool = False

    def identity(self) -> Identity:
        return Identity(self.user_id, self.key_id, self.scopes)

    def require(self, scope: str) -> KeyHolder:
        if scope not in self.scopes:
            raise error(403, f"this key lacks the {scope} scope", "insufficient_scope")
        return self

    @property
    def owner(self) -> int | None:
        """The user whose rows the caller sees; None (every user's) for the admin."""
        return None if self.is_admin else self.user_id


class KeyGate:
    """Checks each caller once: a GraphQL request asking for several fields is one caller, and
    so one rate-limit hit."""

    def __init__(self, hub: HubApi, settings: MonitorozasSettings) -> None:
        self.hub = hub
        self.settings = settings
        self._passed: weakref.WeakKeyDictionary[Caller, KeyHolder] = weakref.WeakKeyDictionary()

    def authorize(self, caller: Caller) -> KeyHolder:
        """401 without a valid key, 403 from outside its allow-list, 429 over its rate (the
        admin token passes all three). The operation then asks for its scope with
        :meth:`KeyHolder.require`."""
        holder = self._passed.get(caller)
        if holder is None:
            holder = self._passed[caller] = self._check(caller)
        return holder

    def _check(self, caller: Caller) -> KeyHolder:
        presented = caller.presented()
        if (
            presented is None
            or not presented.scheme
            or (presented.scheme == "bearer" and presented.is_blank)
        ):
            raise error(401, "send Authorization: Bearer <API key>", "missing_api_key")
        credential = caller.credential
        if credential is None:
            raise error(401, "the API key is not valid", "invalid_api_key")
        if credential.is_admin:
            return KeyHolder(None, None, SCOPES, is_admin=True)
        attrs = credential.attrs
        allow = attrs.get("allow_ips") or []
        if allow:
            address = caller.address
            if address is None or not any(address in ipaddress.ip_network(net) for net in allow):
                shown = address.compressed if address else "unknown"
                raise error(403, f"requests from {shown} are not allowed", "ip_not_allowed")
        limit, window = self.settings.rate_limit, self.settings.rate_window
        decision = self.hub.rate_limiter.hit(f"{PLUGIN}:key:{credential.id}", limit, window)
        if not decision.allowed:
            raise error(
                429,
                f"at most {limit} requests per {window:g}s per key",
                "rate_limit_exceeded",
                retry_after=decision.retry_after,
            )
        return KeyHolder(int(attrs["user_id"]), int(attrs["key_id"]), tuple(attrs["scopes"]))


# -- issuing keys -------------------------------------------------------------------------------
def parse_scopes(raw: str) -> list[str]:
    scopes = [s.strip().lower() for s in raw.split(",") if s.strip()]
    if not scopes:
        raise invalid_field("scopes: name read, write or both (read,write)")
    for scope in scopes:
        if scope not in SCOPES:
            raise invalid_field(f"scopes: unknown scope {scope!r}; expected read and/or write")
    return [s for s in SCOPES if s in scopes]


def parse_allow_ips(raw: str) -> list[str]:
    networks = []
    for item in (i.strip() for i in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False).compressed)
        except ValueError:
            raise invalid_field(f"allow_ips: not an address or CIDR: {item!r}") from None
    return networks


class KeyIssuer:
    """The credential type of the plugin: users and key numbers are rows of the plugin's
    database, made as the key is issued."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def credential_type(self) -> CredentialType:
        return CredentialType(validate=self.validate, present=self.present)

    def validate(self, params: dict[str, str]) -> dict[str, Any]:
        for name in params:
            if name not in PARAMS:
                raise invalid_field(f"{name}: unknown parameter; expected {', '.join(PARAMS)}")
        user = (params.get("user") or "").strip()
        if not user:
            raise missing_field("user: required (--param user=<name>)")
        if len(user) > MAX_USER:
            raise invalid_field(f"user: longer than {MAX_USER} characters")
        if "\0" in user:  # PostgreSQL's text cannot hold one: refused alike on every engine
            raise invalid_field("user: must not contain NUL characters")
        scopes = parse_scopes(params.get("scopes", "read"))
        allow_ips = parse_allow_ips(params.get("allow_ips", ""))
        now = time.time()
        with self.database.write() as db:
            db.execute(
                "INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                (user, now),
            )
            user_id = db.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()[0]
            key_id = db.execute(
                "INSERT INTO api_keys (user_id, created_at) VALUES (?, ?) RETURNING id",
                (user_id, now),
            ).fetchone()[0]
        return {
            "user": user,
            "user_id": user_id,
            "key_id": key_id,
            "scopes": scopes,
            "allow_ips": allow_ips,
        }

    @staticmethod
    def present(secret: str, credential: Credential) -> dict[str, Any]:
        attrs = credential.attrs
        return {
            "user_id": attrs["user_id"],
            "key_id": attrs["key_id"],
            "scopes": attrs["scopes"],
            "key": secret,
        }
