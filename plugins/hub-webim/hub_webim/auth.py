"""Who may call webim: service logins (HTTP Basic) for the monitoring endpoints, operator tokens
(the ``WEBIM_AUTH_TOKEN`` cookie) for pingservice, the admin token for everything."""

from __future__ import annotations

import logging
from typing import Any

from hub.caller import AUTHORIZATION, Caller, Cookie
from hub.credentials import Credential, CredentialType
from hub.errors import HubError
from hub_webim.errors import bad_request, error
from hub_webim.inputs import NAME

auth_log = logging.getLogger("hub.auth")  # Webim's "auth" component (set-log-level name=auth)

SERVICE_LOGIN = AUTHORIZATION  # Authorization: Basic <login:password> (or the admin's Bearer)
OPERATOR_SESSION = Cookie("WEBIM_AUTH_TOKEN")
PRESENTED_IN = (SERVICE_LOGIN, OPERATOR_SESSION)  # REST; GraphQL and gRPC: Authorization only
KINDS = ("service", "operator")


def unauthorized() -> HubError:
    return error(401, "send Authorization: Basic <service login:password>", "unauthorized")


def bad_session() -> HubError:
    return error(401, "WEBIM_AUTH_TOKEN: not a valid operator session", "bad_auth_token")


# -- issuing ---------------------------------------------------------------------------------
def _login_for(params: dict[str, str]) -> str | None:
    """A service credential is a login/password (HTTP Basic; login ``zabbix`` unless given);
    an operator credential is a bearer token sent as the ``WEBIM_AUTH_TOKEN`` cookie."""
    kind = params.get("kind", "service")
    if kind not in KINDS:
        raise bad_request(f"kind: expected service or operator, got {kind!r}")
    if kind == "operator":
        if "login" in params or "password" in params:
            raise bad_request("login: operator credentials are tokens; only kind is allowed")
        return None
    login = params.setdefault("login", "zabbix")
    if not NAME.fullmatch(login):
        raise bad_request("login: 1-63 letters, digits, '_', '.', '-'")
    return login


def _credential_attrs(params: dict[str, str]) -> dict[str, Any]:
    for name in params:
        if name not in ("kind", "login"):
            raise bad_request(f"{name}: unknown parameter; webim takes kind, login and password")
    return {"kind": params.get("kind", "service")}


def _present(secret: str, credential: Credential) -> dict[str, Any]:
    if credential.attrs["kind"] == "operator":
        return {"auth_token": secret}
    return {"login": credential.login, "password": secret}


CREDENTIAL_TYPE = CredentialType(validate=_credential_attrs, present=_present, login_for=_login_for)


# -- checking --------------------------------------------------------------------------------
def _is(credential: Credential | None, kind: str) -> bool:
    return credential is not None and (credential.is_admin or credential.attrs.get("kind") == kind)


def require_service(caller: Caller) -> Credential:
    """A service login, or the admin token, in ``Authorization``."""
    credential = caller.credential_in(SERVICE_LOGIN)
    if credential is None or not _is(credential, "service"):
        sent = caller.presented(SERVICE_LOGIN) is not None
        auth_log.debug(
            "webim: refused a service request (%s)", "bad credentials" if sent else "no credentials"
        )
        raise unauthorized()
    auth_log.debug("webim: service request by %s", credential.login or credential.id)
    return credential


def require_operator(credential: Credential | None) -> Credential:
    """An operator session: what the ``WEBIM_AUTH_TOKEN`` cookie (GraphQL and gRPC:
    ``Authorization: Bearer``) or a message's ``auth_token`` carried, an operator token or the
    admin's."""
    if credential is None or not _is(credential, "operator"):
        auth_log.debug("webim: refused an operator session")
        raise bad_session()
    auth_log.debug("webim: operator session %s", credential.id)
    return credential
