"""Who may call unspot: its credentials (a user per ``hub creds add unspot``, one current token
per user) and the checks every operation makes of its caller."""

from __future__ import annotations

from typing import Any

from hub.caller import Caller
from hub.credentials import Credential, CredentialType
from hub.storage import Database
from hub_unspot import storage
from hub_unspot.errors import access_denied, bad_request, invalid_token, user_not_found
from hub_unspot.records import User

READ_ROLES = ("owner", "integration_admin")
ROLES = ("owner", "integration_admin", "admin", "office_manager", "employee")


class UnspotAuth:
    def __init__(self, database: Database) -> None:
        self.database = database

    def user(self, user_id: Any) -> User:
        user = storage.find_user(self.database, user_id)
        if user is None:
            raise user_not_found(user_id)
        return user

    # -- credentials: `hub creds add unspot --param role=owner [--param name=...]` --------
    def credential_type(self) -> CredentialType:
        """A new user per credential, or with ``user_id`` a new token for an existing user;
        ``one_per`` makes the new token revoke the user's previous one."""
        return CredentialType(
            validate=self._credential_attrs, present=self._present, one_per="user_id"
        )

    def _credential_attrs(self, params: dict[str, str]) -> dict[str, Any]:
        for name in params:
            if name not in ("role", "name", "user_id"):
                raise bad_request(f"{name}: unknown parameter; unspot takes role, name or user_id")
        if "user_id" in params:
            if "role" in params or "name" in params:
                raise bad_request("user_id: a new token for an existing user takes no role or name")
            return {"user_id": self.user(params["user_id"]).id}
        role = params.get("role")
        if role not in ROLES:
            raise bad_request(f"role: required, one of {', '.join(ROLES)}; got {role!r}")
        name = params.get("name", "")
        if len(name) > storage.MAX_NAME:
            raise bad_request(f"name: longer than {storage.MAX_NAME} characters")
        return {"user_id": storage.insert_user(self.database, role, name)}

    def _present(self, secret: str, credential: Credential) -> dict[str, Any]:
        user = self.user(credential.attrs["user_id"])
        return {"user_id": user.id, "role": user.role, "token": secret}

    # -- the caller ----------------------------------------------------------------------
    def reader(self, caller: Caller) -> Credential:
        """The hub admin, or a live user's current token whose role may read."""
        credential = caller.require(invalid_token)
        if credential.is_admin:
            return credential
        user = storage.find_user(self.database, credential.attrs.get("user_id"))
        if user is None:  # the user was deleted: its token died with it
            raise invalid_token()
        if user.role not in READ_ROLES:
            raise access_denied()
        return credential

    @staticmethod
    def admin(caller: Caller) -> Credential:
        """The hub's admin token: the only credential for unspot's admin operations."""
        return caller.require_admin()
