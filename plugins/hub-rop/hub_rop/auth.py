"""rop's keys (``hub creds add rop [--param role=analyser]``) and who may do what. The host's
:class:`~hub.caller.Caller` finds the key (REST: ``?apiKey=``; GraphQL and gRPC:
``Authorization: Bearer``); these checks give rop's answers when it is missing or not enough."""

from __future__ import annotations

from typing import Any

from hub.api import HubApi
from hub.caller import Caller
from hub.credentials import Credential, CredentialType
from hub.errors import HubError
from hub_rop.errors import PLUGIN, bad_request, error
from hub_rop.settings import RopSettings

ROLES = ("crm", "analyser")


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


def unauthorized() -> HubError:
    return error(
        401,
        "apiKey: missing or unknown API key (REST: ?apiKey=...; GraphQL and gRPC:"
        " Authorization: Bearer <api_key>)",
    )


class Access:
    """The checks every operation starts with; each returns the caller's credential."""

    def __init__(self, hub: HubApi, settings: RopSettings) -> None:
        self.rate_limiter = hub.rate_limiter
        self.settings = settings

    @staticmethod
    def reader(caller: Caller) -> Credential:
        """Any rop key or the admin token."""
        return caller.require(unauthorized)

    def client(self, caller: Caller) -> Credential:
        """A CRM call: the key's rate limit applies (the admin token is not limited)."""
        credential = self.reader(caller)
        if not credential.is_admin:
            limit, window = self.settings.rate_limit, self.settings.rate_window
            decision = self.rate_limiter.hit(f"{PLUGIN}:{credential.id}", limit, window)
            if not decision.allowed:
                raise error(
                    429,
                    f"apiKey: more than {limit} requests in {window:g}s",
                    retry_after=decision.retry_after,
                )
        return credential

    def admin(self, caller: Caller) -> Credential:
        credential = self.reader(caller)
        if not credential.is_admin:
            raise error(403, "Authorization: this needs the hub admin token")
        return credential

    def analyser(self, caller: Caller) -> Credential:
        credential = self.reader(caller)
        if not credential.is_admin and credential.attrs.get("role") != "analyser":
            raise error(
                403,
                "Authorization: submitting results needs an analyser key"
                " (hub creds add rop --param role=analyser) or the admin token",
            )
        return credential
