"""API keys: ``hub creds add monitorozas --param user=<name> --param scopes=read,write
[--param allow_ips=...]``. The hub stores the key (hashed) with its attributes; the numbered
users and key ids of the seed (``"user_id": 1, "key_id": 1``) live in the plugin's database."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from hub.credentials import Credential, CredentialType
from hub.errors import HubError
from hub.storage import Database
from hub_monitorozas.settings import PLUGIN

SCOPES = ("read", "write")
PARAMS = ("user", "scopes", "allow_ips")
MAX_USER = 64


def bad_param(message: str) -> HubError:
    return HubError(400, message, reason="invalid_field", plugin=PLUGIN)


def parse_scopes(raw: str) -> list[str]:
    scopes = [s.strip().lower() for s in raw.split(",") if s.strip()]
    if not scopes:
        raise bad_param("scopes: name read, write or both (read,write)")
    for scope in scopes:
        if scope not in SCOPES:
            raise bad_param(f"scopes: unknown scope {scope!r}; expected read and/or write")
    return [s for s in SCOPES if s in scopes]


def parse_allow_ips(raw: str) -> list[str]:
    networks = []
    for item in (i.strip() for i in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False).compressed)
        except ValueError:
            raise bad_param(f"allow_ips: not an address or CIDR: {item!r}") from None
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
                raise bad_param(f"{name}: unknown parameter; expected {', '.join(PARAMS)}")
        user = (params.get("user") or "").strip()
        if not user:
            raise HubError(
                400, "user: required (--param user=<name>)", reason="missing_field", plugin=PLUGIN
            )
        if len(user) > MAX_USER:
            raise bad_param(f"user: longer than {MAX_USER} characters")
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
                "INSERT INTO api_keys (user_id, created_at) VALUES (?, ?)", (user_id, now)
            ).lastrowid
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
