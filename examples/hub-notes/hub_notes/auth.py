"""Who may call ``notes``: its credential type (``hub creds add notes [--param scope=read]``)
and the check every operation makes of the caller the host built."""

from __future__ import annotations

from typing import Any

from hub.caller import Caller
from hub.credentials import Credential, CredentialType
from hub.errors import HubError
from hub_notes.errors import bad_request, error

SCOPES = ("read", "write")


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


def unauthorized() -> HubError:
    return error(
        401, "send Authorization: Bearer <a token from hub creds add notes>", "unauthorized"
    )


def authorize(caller: Caller, *, write: bool = False) -> Credential:
    """The caller's ``notes`` credential (the admin token counts); 401, or 403 when a
    read-only token tries to write."""
    credential = caller.require(unauthorized)
    if write and not credential.is_admin and credential.attrs.get("scope") != "write":
        raise error(403, "this token may only read notes (scope=read)", "read_only")
    return credential
