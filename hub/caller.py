"""Who is calling: one :class:`Caller` per request, built by the host for every protocol, so
that no adapter reads ``Authorization``, a cookie, ``apiKey`` or a peer address itself.

REST gets it from ``caller_of(request)`` (the host's middleware builds it), GraphQL from
``info.context.caller(plugin)``, gRPC from ``caller_of(context)`` (the host's wrapper of every
method builds it). Services take it: ``service.list(caller, ...)``.

Where a REST client presents its credential is the plugin's to declare
(``RestApi.presented_in``: an ``Authorization`` header, a query parameter, a cookie); GraphQL
and gRPC always take ``Authorization`` (the header, the websocket's ``connection_init`` payload,
the call's metadata). A form other than the ``Authorization`` header holds a bare token, read as
``Authorization: Bearer <token>`` would be."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web

from hub.credentials import Credential, CredentialStore
from hub.errors import HubError, StartupError
from hub.peer import Address, Network, Peer, invocation_metadata, parse_networks

Protocol = Literal["rest", "graphql", "grpc"]
T = TypeVar("T")


@dataclass(frozen=True)
class Header:
    """A request header: ``Authorization`` carries a scheme (``Bearer``, ``Basic``), any other
    header a bare token."""

    name: str


@dataclass(frozen=True)
class Query:
    """A query parameter holding a token (rop's ``?apiKey=``). The host keeps it out of logs:
    they name route templates, never a URL."""

    name: str


@dataclass(frozen=True)
class Cookie:
    """A cookie holding a token (webim's ``WEBIM_AUTH_TOKEN``)."""

    name: str


Presentation = Header | Query | Cookie
AUTHORIZATION = Header("Authorization")


@dataclass(frozen=True)
class Presented:
    """A credential as one request carried it, never shown in a ``repr``."""

    form: Presentation
    value: str = field(repr=False)

    @property
    def authorization(self) -> str:
        """The ``Authorization`` value this amounts to."""
        if isinstance(self.form, Header) and self.form.name.lower() == "authorization":
            return self.value
        return f"Bearer {self.value}"

    @property
    def scheme(self) -> str:
        """``bearer``, ``basic`` or whatever scheme the client wrote, lower-cased."""
        return self.authorization.strip().partition(" ")[0].lower()

    @property
    def is_blank(self) -> bool:
        """A scheme with nothing after it (``Authorization: Bearer``)."""
        return not self.authorization.strip().partition(" ")[2].strip()


@dataclass(frozen=True)
class CallerPolicy:
    """What the host knows of one plugin's callers: its credentials, where its REST clients
    present them, and the proxies whose ``X-Forwarded-For`` it trusts."""

    plugin: str
    credentials: CredentialStore
    rest_forms: tuple[Presentation, ...] = (AUTHORIZATION,)
    trusted_proxies: tuple[Network, ...] = ()

    def forms(self, protocol: Protocol) -> tuple[Presentation, ...]:
        return self.rest_forms if protocol == "rest" else (AUTHORIZATION,)


class Caller:
    """One request's caller. Nothing is looked up until asked, and each form's credential is
    looked up once: ``credential``, ``credential_in(form)``, ``require()``,
    ``require_admin()``, ``is_admin``, ``address``."""

    def __init__(
        self, policy: CallerPolicy, protocol: Protocol, presented: Iterable[Presented], peer: Peer
    ) -> None:
        self.policy = policy
        self.plugin = policy.plugin
        self.protocol: Protocol = protocol
        self.peer = peer
        self._presented = {p.form: p for p in presented if p.value}
        self._resolved: dict[Presentation, Credential | None] = {}
        # plugin -> (oldest fetched_at, any stale) of the upstream answers this request read
        self.upstream: dict[str, tuple[float, bool]] = {}

    async def check_logins(self) -> None:
        """Check each login and password presented off the event loop (scrypt is slow on
        purpose: :meth:`~hub.credentials.CredentialStore.check_login`); every entry point
        awaits this before the plugin's synchronous checks read the outcome. The hub's own
        endpoints check for every plugin that has the login: one may show what a plugin's
        login made (an upstream write's state), asking that plugin's credentials."""
        plugin = None if self.plugin == "hub" else self.plugin
        for sent in self._presented.values():
            await self.policy.credentials.check_login(plugin, sent.authorization)

    def fresh(self) -> Caller:
        """The same presentation, looked up anew (a credential revoked since is ``None``)."""
        return Caller(self.policy, self.protocol, self._presented.values(), self.peer)

    def __repr__(self) -> str:
        forms = ", ".join(map(repr, self._presented))
        return f"<Caller {self.plugin} {self.protocol} from {self.address} presenting [{forms}]>"

    def _form(self, form: Presentation | None) -> Presentation:
        """``None`` is the plugin's first form; over GraphQL and gRPC every form is
        ``Authorization``, the only place those protocols have for a credential."""
        forms = self.policy.forms(self.protocol)
        if form is None or self.protocol != "rest":
            return forms[0]
        return form

    def presented(self, form: Presentation | None = None) -> Presented | None:
        """What the request carried in ``form`` (default: the plugin's first form), or
        ``None``: to tell "no credential" from "a wrong one" without parsing a header."""
        return self._presented.get(self._form(form))

    def credential_in(self, form: Presentation | None) -> Credential | None:
        """The credential ``form`` carries for this plugin (the admin token counts), else
        ``None``. A REST form the plugin did not declare is never read, so it is ``None``."""
        form = self._form(form)
        if form not in self._resolved:
            sent = self._presented.get(form)
            self._resolved[form] = (
                self.policy.credentials.authenticate(self.plugin, sent.authorization)
                if sent is not None
                else None
            )
        return self._resolved[form]

    @property
    def credential(self) -> Credential | None:
        """The credential of the plugin's first REST form (``Authorization`` unless it declared
        otherwise), or of ``Authorization`` over GraphQL and gRPC."""
        return self.credential_in(None)

    @property
    def is_admin(self) -> bool:
        """Whether the caller presented the hub's admin token (in the plugin's first form)."""
        credential = self.credential
        return credential is not None and credential.is_admin

    def require(
        self,
        unauthorized: Callable[[], HubError] | None = None,
        form: Presentation | None = None,
    ) -> Credential:
        """The credential, or ``unauthorized()`` raised (default: the host's 401
        ``Unauthorized`` for this plugin; pass the plugin's own error factory for its shape)."""
        credential = self.credential_in(form)
        if credential is None:
            if unauthorized is not None:
                raise unauthorized()
            raise HubError(401, "Unauthorized", plugin=self.plugin)
        return credential

    def require_admin(self) -> Credential:
        """The admin token, or the host's 401 ``admin token required`` (reason
        ``admin_required``)."""
        credential = self.credential
        if credential is None or not credential.is_admin:
            raise HubError(401, "admin token required", plugin="hub", reason="admin_required")
        return credential

    def saw_upstream(self, plugin: str, fetched_at: float, stale: bool) -> None:
        """An upstream answer went into this request's answer (``hub.upstream.freshness``
        tells the client how old the oldest was)."""
        seen = self.upstream.get(plugin)
        if seen is not None:
            fetched_at, stale = min(seen[0], fetched_at), seen[1] or stale
        self.upstream[plugin] = (fetched_at, stale)

    @property
    def address(self) -> Address | None:
        """The client: the peer, or behind one of the plugin's trusted proxies the right-most
        ``X-Forwarded-For`` hop that is not one; ``None`` when unknown (a Unix socket, a hop
        that is not an address)."""
        return self.peer.client(self.policy.trusted_proxies)


async def while_admitted(
    caller: Caller, check: Callable[[Caller], object], items: AsyncIterator[T]
) -> AsyncIterator[T]:
    """``items`` (a subscription's events), each passed on only once ``check`` (the plugin's
    own check, as the subscription started) admits ``caller`` looked up anew: a credential
    revoked, or a user removed, while a GraphQL subscription or a gRPC stream runs ends it at
    its next item with the check's error, as the next request would be refused."""
    try:
        async for item in items:
            check(caller.fresh())
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()


def trusted_proxies(plugin: str, settings: Any) -> tuple[Network, ...]:
    """The plugin's ``trusted_proxies`` setting (a field of its settings class, a list of
    addresses or CIDRs), parsed once; none when it has no such field."""
    networks: list[Network] = []
    for index, entry in enumerate(getattr(settings, "trusted_proxies", None) or ()):
        try:
            networks += parse_networks([str(entry)])
        except ValueError:
            raise StartupError(
                f"plugin {plugin}: trusted_proxies[{index}]: not an address or CIDR: {entry!r}"
            ) from None
    return tuple(networks)


def rest_forms(plugin: str, declared: Sequence[Any]) -> tuple[Presentation, ...]:
    """``RestApi.presented_in``, checked: one or more ``Header``, ``Query`` or ``Cookie``."""
    forms = tuple(declared)
    for form in forms:
        if not isinstance(form, Header | Query | Cookie) or not form.name:
            raise StartupError(
                f"plugin {plugin}: RestApi.presented_in: expected Header, Query or Cookie"
                f" with a name, got {form!r}"
            )
    if not forms:
        raise StartupError(f"plugin {plugin}: RestApi.presented_in: name at least one form")
    return forms


def _rest_presented(request: web.BaseRequest, forms: Sequence[Presentation]) -> list[Presented]:
    found = []
    for form in forms:
        if isinstance(form, Header):
            value = request.headers.get(form.name)
        elif isinstance(form, Query):
            value = request.query.get(form.name)
        else:
            value = request.cookies.get(form.name)
        if value:
            found.append(Presented(form, value))
    return found


def _grpc_authorization(context: Any) -> str | None:
    for key, value in invocation_metadata(context):
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return None


class Callers:
    """The host's one maker of callers, ``hub.service(Callers)``: a :class:`CallerPolicy` per
    plugin, made when the server is built (so a bad ``trusted_proxies`` stops the start)."""

    def __init__(self, hub: Any) -> None:
        self.policies = {
            plugin: CallerPolicy(
                plugin,
                hub.credentials,
                rest_forms(plugin, hub.rest[plugin].presented_in)
                if plugin in hub.rest
                else (AUTHORIZATION,),
                trusted_proxies(plugin, hub.settings_for(plugin)),
            )
            for plugin in hub.plugins
        }
        self.credentials: CredentialStore = hub.credentials

    def policy(self, plugin: str) -> CallerPolicy:
        return self.policies.get(plugin) or CallerPolicy(plugin, self.credentials)

    def of_request(self, plugin: str, request: web.BaseRequest) -> Caller:
        """A REST request: every form the plugin declared, read once."""
        policy = self.policy(plugin)
        return Caller(
            policy, "rest", _rest_presented(request, policy.rest_forms), Peer.of_request(request)
        )

    def of_graphql(self, plugin: str, authorization: str | None, request: Any) -> Caller:
        """A GraphQL operation: ``authorization`` is the header or the websocket's
        ``connection_init`` value; ``request`` the HTTP request (or the websocket's upgrade)."""
        presented = [Presented(AUTHORIZATION, authorization)] if authorization else []
        return Caller(self.policy(plugin), "graphql", presented, Peer.of_request(request))

    def of_grpc(self, plugin: str, context: Any) -> Caller:
        """A gRPC call: its ``authorization`` metadata and its peer."""
        authorization = _grpc_authorization(context)
        presented = [Presented(AUTHORIZATION, authorization)] if authorization else []
        return Caller(self.policy(plugin), "grpc", presented, Peer.of_grpc(context))


CALLER_KEY = web.RequestKey("hub_caller", Caller)
_GRPC_CALLER: ContextVar[tuple[Any, Caller] | None] = ContextVar("hub_grpc_caller", default=None)


def bind_grpc(context: Any, caller: Caller) -> None:
    """Make ``caller`` what ``caller_of(context)`` returns for the rest of this call (each gRPC
    call runs in a task of its own, so the binding never leaks into another call)."""
    _GRPC_CALLER.set((context, caller))


def caller_of(request_or_context: Any) -> Caller:
    """The caller of a REST request or of a gRPC call, as the host built it."""
    if isinstance(request_or_context, web.BaseRequest):
        try:
            return request_or_context[CALLER_KEY]
        except KeyError:
            raise LookupError("no caller: this request did not pass the hub's middleware") from None
    bound = _GRPC_CALLER.get()
    if bound is None or bound[0] is not request_or_context:
        raise LookupError("no caller: this gRPC call did not pass the hub's method wrapper")
    return bound[1]
