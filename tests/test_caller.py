"""The caller, built once by the host (hub.caller): from a REST request through the middleware,
from a GraphQL operation (HTTP and websocket) through the context, from a gRPC call through the
method wrapper; each presentation form, IPv4 and IPv6 peers, X-Forwarded-For behind trusted
proxies. The wire tests run an in-process hub with a single-file plugin on real loopback
listeners and talk to it with real HTTP, websocket and gRPC clients."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web

from hub.app import Hub
from hub.caller import (
    AUTHORIZATION,
    Caller,
    CallerPolicy,
    Callers,
    Cookie,
    Header,
    Presented,
    Query,
    caller_of,
    rest_forms,
    trusted_proxies,
)
from hub.config import Settings
from hub.credentials import CredentialStore, CredentialType, m001_credentials
from hub.errors import HubError, StartupError
from hub.graphql.schema import build_schema
from hub.graphql.view import GraphQLEndpoint
from hub.grpc.server import ErrorMapping
from hub.http.protocol import ConnectionLimits, HubRunner, Listener
from hub.http.server import build_apps
from hub.peer import Peer, parse_address
from hub.registrations import GrpcService, default_error_renderer
from hub.storage import SQLiteDatabase as Database
from hub.v1 import hub_pb2, hub_pb2_grpc

ADMIN = "the-admin-token"
SESSION = Cookie("SESSION")
API_KEY = Query("apiKey")

# A plugin whose REST clients present credentials three ways; its routes and GraphQL field
# answer what the host made of the caller.
WHOAMI = """
from dataclasses import dataclass, field

import strawberry
from aiohttp import web

from hub.caller import AUTHORIZATION, Cookie, Query, caller_of
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, RestApi


@dataclass
class Settings:
    trusted_proxies: list[str] = field(default_factory=list)


def described(caller, form=None):
    credential = caller.credential_in(form)
    return {
        "plugin": caller.plugin,
        "protocol": caller.protocol,
        "credential": credential.login or credential.id if credential else None,
        "address": str(caller.address) if caller.address else None,
    }


async def whoami(request):
    form = {"cookie": Cookie("SESSION"), "query": Query("apiKey")}.get(request.query.get("form"))
    return web.json_response(described(caller_of(request), form))


async def boom(request):
    raise RuntimeError("a bug")


@strawberry.type(name="Whoami")
class Whoami:
    plugin: str
    protocol: str
    credential: str | None
    address: str | None


@strawberry.type(name="WhoamiQuery")
class WhoamiQuery:
    @strawberry.field
    def me(self, info: strawberry.Info) -> Whoami:
        return Whoami(**described(info.context.caller("whoami")))


@hookimpl
def register_settings(register):
    register(Settings)


@hookimpl
def register_credential_types(register):
    register(CredentialType(login_for=lambda params: params.pop("login", None)))


@hookimpl
def register_rest(hub, register):
    routes = [web.get("/whoami", whoami), web.get("/boom", boom)]
    forms = (AUTHORIZATION, Query("apiKey"), Cookie("SESSION"))
    register(RestApi(routes=routes, presented_in=forms))


@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=WhoamiQuery))
"""


# -- the Caller itself -----------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Iterator[CredentialStore]:
    database = Database(tmp_path / "hub.db")
    database.migrate("hub", [m001_credentials])
    credentials = CredentialStore(database, ADMIN)
    credentials.register_type("x", CredentialType(login_for=lambda p: p.pop("login", None)))
    yield credentials
    database.close()


def token(store: CredentialStore) -> str:
    return str(store.issue("x", {})["token"])


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def caller(
    store: CredentialStore,
    protocol: Any = "rest",
    presented: dict[Any, str] | None = None,
    peer: Peer = Peer(None),
    forms: tuple[Any, ...] = (AUTHORIZATION, API_KEY, SESSION),
    proxies: tuple[str, ...] = (),
) -> Caller:
    networks = tuple(ipaddress.ip_network(p) for p in proxies)
    policy = CallerPolicy("x", store, forms, networks)
    sent = [Presented(form, value) for form, value in (presented or {}).items()]
    return Caller(policy, protocol, sent, peer)


def test_each_rest_form_resolves_its_own_credential(store: CredentialStore) -> None:
    header, query, cookie = token(store), token(store), token(store)
    issued = store.issue("x", {"login": "svc", "password": "pw"})
    assert issued == {"token": "pw"}  # login_for: a login credential, its password shown
    one = caller(
        store,
        presented={AUTHORIZATION: f"Bearer {header}", API_KEY: query, SESSION: cookie},
    )
    ids = {one.credential_in(f).id for f in (AUTHORIZATION, API_KEY, SESSION)}  # type: ignore[union-attr]
    assert len(ids) == 3
    assert one.credential == one.credential_in(AUTHORIZATION)  # the first declared form
    assert one.presented(API_KEY) is not None and one.presented(API_KEY).scheme == "bearer"  # type: ignore[union-attr]
    login = caller(store, presented={AUTHORIZATION: basic("svc", "pw")})
    assert login.credential is not None and login.credential.login == "svc"
    assert caller(store, presented={AUTHORIZATION: basic("svc", "no")}).credential is None


def test_a_form_the_plugin_did_not_declare_is_never_read(store: CredentialStore) -> None:
    only_query = caller(store, presented={API_KEY: token(store)}, forms=(API_KEY,))
    assert only_query.credential is not None  # the first (only) declared form
    assert only_query.credential_in(SESSION) is None
    assert only_query.credential_in(AUTHORIZATION) is None


def test_graphql_and_grpc_take_every_form_from_authorization(store: CredentialStore) -> None:
    secret = token(store)
    for protocol in ("graphql", "grpc"):
        over = caller(store, protocol, {AUTHORIZATION: f"Bearer {secret}"})
        assert over.credential_in(SESSION) == over.credential_in(API_KEY) == over.credential
        assert over.credential is not None


def test_blank_and_missing_are_told_apart_from_wrong(store: CredentialStore) -> None:
    assert caller(store).presented() is None
    blank = caller(store, presented={AUTHORIZATION: "Bearer  "})
    assert blank.presented() is not None and blank.presented().is_blank  # type: ignore[union-attr]
    wrong = caller(store, presented={AUTHORIZATION: "Bearer nope"})
    assert not wrong.presented().is_blank and wrong.credential is None  # type: ignore[union-attr]
    assert "nope" not in repr(wrong) and "nope" not in repr(wrong.presented())


def test_require_raises_the_plugins_own_401(store: CredentialStore) -> None:
    nobody = caller(store)
    with pytest.raises(HubError) as default:
        nobody.require()
    assert (default.value.status, default.value.plugin) == (401, "x")
    with pytest.raises(HubError, match="send a token") as own:
        nobody.require(lambda: HubError(401, "send a token", reason=1401, plugin="x"))
    assert own.value.reason == 1401
    with pytest.raises(HubError) as admin:
        caller(store, presented={AUTHORIZATION: f"Bearer {token(store)}"}).require_admin()
    assert (admin.value.status, admin.value.reason) == (401, "admin_required")
    boss = caller(store, presented={AUTHORIZATION: f"Bearer {ADMIN}"})
    assert boss.require_admin().is_admin and boss.is_admin and boss.require().is_admin


def test_the_credential_is_looked_up_once_per_caller(store: CredentialStore) -> None:
    secret = token(store)
    credential_id = store.by_token("x", secret).id  # type: ignore[union-attr]
    first = caller(store, presented={AUTHORIZATION: f"Bearer {secret}"})
    assert first.credential is not None
    store.revoke("x", credential_id)
    assert first.credential is not None  # this request already resolved it
    assert caller(store, presented={AUTHORIZATION: f"Bearer {secret}"}).credential is None


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "client"),
    [
        ("127.0.0.1", (), (), "127.0.0.1"),
        ("::1", (), (), "::1"),
        ("::ffff:10.1.2.3", (), (), "10.1.2.3"),
        ("127.0.0.1", ("10.9.9.9",), (), "127.0.0.1"),  # no proxy is trusted by default
        ("127.0.0.2", ("10.9.9.9",), ("127.0.0.2/32",), "10.9.9.9"),
        ("127.0.0.2", ("10.0.0.1, 10.0.0.7", "127.0.0.3"), ("127.0.0.0/24",), "10.0.0.7"),
        ("::1", ("2001:db8::5",), ("::1",), "2001:db8::5"),
        ("::1", ("[2001:db8::6]",), ("::1",), "2001:db8::6"),
        ("::1", ("not-an-address",), ("::1",), None),
    ],
)
def test_the_address_follows_the_trusted_proxy_rule(
    store: CredentialStore,
    peer: str,
    forwarded: tuple[str, ...],
    proxies: tuple[str, ...],
    client: str | None,
) -> None:
    one = caller(store, peer=Peer(parse_address(peer), forwarded), proxies=proxies)
    assert one.address == (ipaddress.ip_address(client) if client else None)


def test_bad_declarations_stop_the_start() -> None:
    class Options:
        trusted_proxies = ["10.0.0.0/8", "nonsense"]

    with pytest.raises(StartupError, match=r"plugin p: trusted_proxies\[1\]: .*'nonsense'"):
        trusted_proxies("p", Options())
    assert trusted_proxies("p", None) == ()
    with pytest.raises(StartupError, match="expected Header, Query or Cookie"):
        rest_forms("p", ["apiKey"])
    with pytest.raises(StartupError, match="name at least one form"):
        rest_forms("p", [])
    assert rest_forms("p", [Header("X-Api-Key")]) == (Header("X-Api-Key"),)


# -- over the wire ---------------------------------------------------------------------------
@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "whoami.py").write_text(WHOAMI)
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        admin_token=ADMIN,
        plugins_dir=str(plugins),
        plugins={"whoami": {"trusted_proxies": ["127.0.0.2", "::1"]}},
    )
    running = Hub(settings, env={"HUB_PLUGINS": "whoami"})
    yield running
    running.close()


@pytest.fixture
async def http(hub: Hub) -> AsyncIterator[dict[str, str]]:
    graphql = hub.settings.graphql
    endpoint = GraphQLEndpoint(hub, build_schema(hub.graphql_parts, graphql), graphql)
    main, _ = build_apps(hub, endpoint.routes())
    limits = ConnectionLimits.from_settings(hub.settings)  # the hub's own runner: no access log
    runner = HubRunner(main, Listener("http", default_error_renderer, None, limits, hub.metrics))
    await runner.setup()
    bases = {}
    for host in ("127.0.0.1", "::1"):
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        bases[host] = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    yield bases
    await runner.cleanup()


async def get(url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url, **kwargs) as response:
        return response.status, await response.json()


async def test_rest_caller_from_each_form_and_both_address_families(
    hub: Hub, http: dict[str, str]
) -> None:
    header, query, cookie = (str(hub.credentials.issue("whoami", {})["token"]) for _ in "abc")
    by_id = {
        secret: hub.credentials.by_token("whoami", secret).id  # type: ignore[union-attr]
        for secret in (header, query, cookie)
    }
    base = http["127.0.0.1"] + "/whoami/whoami"
    status, me = await get(base, headers={"Authorization": f"Bearer {header}"})
    assert status == 200
    assert me == {
        "plugin": "whoami",
        "protocol": "rest",
        "credential": by_id[header],
        "address": "127.0.0.1",
    }
    _, me = await get(base + f"?form=query&apiKey={query}")
    assert me["credential"] == by_id[query]
    _, me = await get(base + "?form=cookie", headers={"Cookie": f"SESSION={cookie}"})
    assert me["credential"] == by_id[cookie]
    _, me = await get(base + "?form=query", headers={"Authorization": f"Bearer {header}"})
    assert me["credential"] is None  # the header is not the query form
    _, me = await get(http["::1"] + "/whoami/whoami")
    assert me["address"] == "::1" and me["credential"] is None
    # ::1 is a trusted proxy of this plugin: the forwarded client counts
    _, me = await get(http["::1"] + "/whoami/whoami", headers={"X-Forwarded-For": "192.0.2.7"})
    assert me["address"] == "192.0.2.7"
    # 127.0.0.1 is not: the header is ignored
    _, me = await get(base, headers={"X-Forwarded-For": "192.0.2.7"})
    assert me["address"] == "127.0.0.1"


async def test_a_query_secret_never_reaches_the_log(
    hub: Hub, http: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with (
            aiohttp.ClientSession() as session,
            session.get(http["127.0.0.1"] + "/whoami/boom?apiKey=s3cret-key") as response,
        ):
            assert response.status == 500
    assert "unhandled error on GET /whoami/boom" in caplog.text
    assert "s3cret-key" not in caplog.text


async def test_graphql_caller_over_http_and_websocket(hub: Hub, http: dict[str, str]) -> None:
    secret = str(hub.credentials.issue("whoami", {})["token"])
    credential_id = hub.credentials.by_token("whoami", secret).id  # type: ignore[union-attr]
    query = "{ whoami { me { plugin protocol credential address } } }"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            http["::1"] + "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {secret}", "X-Forwarded-For": "192.0.2.9"},
        ) as response:
            me = (await response.json())["data"]["whoami"]["me"]
        assert me == {
            "plugin": "whoami",
            "protocol": "graphql",
            "credential": credential_id,
            "address": "192.0.2.9",
        }
        async with session.ws_connect(
            http["127.0.0.1"] + "/graphql", protocols=["graphql-transport-ws"]
        ) as ws:
            await ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}}
            )
            assert (await ws.receive_json())["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
            answer = await ws.receive_json()
    me = answer["payload"]["data"]["whoami"]["me"]
    assert me["credential"] == credential_id and me["address"] == "127.0.0.1"


class Whoami(hub_pb2_grpc.HubServicer):
    """hub.v1.Hub's ListPlugins, answering what caller_of(context) is."""

    async def ListPlugins(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await asyncio.sleep(0.01)  # let concurrent calls interleave
        caller = caller_of(context)
        credential = caller.credential
        fields = [caller.plugin, caller.protocol, str(caller.address)]
        fields.append(credential.id if credential else "-")
        return hub_pb2.ListPluginsResponse(plugins=[hub_pb2.Plugin(name=f) for f in fields])

    async def Health(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller_of(object())  # another call's context: no caller


async def test_grpc_caller_from_metadata_and_peer(hub: Hub) -> None:
    secret = str(hub.credentials.issue("whoami", {})["token"])
    credential_id = hub.credentials.by_token("whoami", secret).id  # type: ignore[union-attr]
    server = grpc.aio.server()
    wrapped = ErrorMapping(hub.metrics, hub.service(Callers)).servicer(
        "whoami", GrpcService("hub.v1.Hub", Whoami(), hub_pb2_grpc.add_HubServicer_to_server)
    )
    hub_pb2_grpc.add_HubServicer_to_server(wrapped, server)
    v4 = server.add_insecure_port("127.0.0.1:0")
    v6 = server.add_insecure_port("[::1]:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{v4}") as channel:
            stub = hub_pb2_grpc.HubStub(channel)
            answer = await stub.ListPlugins(
                hub_pb2.ListPluginsRequest(), metadata=(("authorization", f"Bearer {secret}"),)
            )
            assert [p.name for p in answer.plugins] == [
                "whoami",
                "grpc",
                "127.0.0.1",
                credential_id,
            ]
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.Health(hub_pb2.HealthRequest())
            assert failed.value.code() is grpc.StatusCode.INTERNAL  # a LookupError is a bug
            tokens = [str(hub.credentials.issue("whoami", {})["token"]) for _ in range(20)]
            answers = await asyncio.gather(
                *(
                    stub.ListPlugins(
                        hub_pb2.ListPluginsRequest(), metadata=(("authorization", f"Bearer {t}"),)
                    )
                    for t in tokens
                )
            )
            expected = [hub.credentials.by_token("whoami", t).id for t in tokens]  # type: ignore[union-attr]
            assert [a.plugins[3].name for a in answers] == expected  # each call its own caller
        async with grpc.aio.insecure_channel(f"[::1]:{v6}") as channel:
            stub = hub_pb2_grpc.HubStub(channel)
            forwarded = (("x-forwarded-for", "198.51.100.4"),)
            answer = await stub.ListPlugins(hub_pb2.ListPluginsRequest(), metadata=forwarded)
            assert [p.name for p in answer.plugins][2:] == ["198.51.100.4", "-"]
    finally:
        await server.stop(None)


async def test_the_hubs_own_admin_operations_take_the_caller(hub: Hub) -> None:
    """hub.v1.Hub through the real GrpcServer: the admin token sees versions, a plugin's token
    gets the public view, and admin operations refuse it with admin_required."""
    from hub.grpc.server import GrpcServer

    secret = str(hub.credentials.issue("whoami", {})["token"])
    server = GrpcServer(hub)
    port = server.bind("127.0.0.1", 0)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = hub_pb2_grpc.HubStub(channel)
            admin = await stub.ListPlugins(
                hub_pb2.ListPluginsRequest(), metadata=(("authorization", f"Bearer {ADMIN}"),)
            )
            assert all(p.version for p in admin.plugins)
            public = await stub.ListPlugins(
                hub_pb2.ListPluginsRequest(), metadata=(("authorization", f"Bearer {secret}"),)
            )
            assert not any(p.version for p in public.plugins)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListCredentials(
                    hub_pb2.ListCredentialsRequest(),
                    metadata=(("authorization", f"Bearer {secret}"),),
                )
            trailers = dict(refused.value.trailing_metadata() or ())
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert trailers["hub-reason"] == "admin_required"
    finally:
        await server.stop(None)
