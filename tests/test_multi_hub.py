"""Several hubs as one: real hubs, each with a data directory of its own, on ONE PostgreSQL
database, driven over real HTTP and gRPC clients. A rate limit is exact across them, a credential
revoked or rotated through one is refused (or accepted) by the other on its very next request, a
write through one is read through the other at once, and three hubs starting at the same moment
on an empty database run each migration once. The two hubs run twice: on loopback, and as two
hosts (a network namespace each, with an address of its own, reaching PostgreSQL over a veth
link: tests/netns.py; skipped without root). Subscriptions across hubs and periodic-job leases
are in tests/test_cluster.py.

PostgreSQL only: the suite's second run (``HUB_TEST_POSTGRES``) runs it; on SQLite it is skipped,
since separate data directories there share nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import grpc
import pytest
from hub_era.v1 import era_pb2, era_pb2_grpc
from hub_monitorozas.v1 import monitorozas_pb2, monitorozas_pb2_grpc

from hub.storage.postgres import split_url
from hub.testing.plugin import PostgresDatabases
from hub.testing.postgres import run_sql
from hub.v1 import hub_pb2, hub_pb2_grpc
from tests import netns
from tests.hubproc import ADMIN_TOKEN, HubProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ERA = "/era/rest/v1/service/integration_points"
MONITOROZAS = "/monitorozas/api/v1"
RATE_LIMIT = 10  # monitorozas requests per key in RATE_WINDOW, on both hubs
RATE_WINDOW = 3600  # long enough that nothing refills while a test runs
QUIET = {  # no device checks while the tests run
    "HUB_MONITOROZAS_INTERVAL": "3600",
    "HUB_MONITOROZAS_BLACKLIST_INTERVAL": "3600",
}
ONLY_ON_POSTGRES = (
    "several hubs share state only on PostgreSQL: run with HUB_TEST_POSTGRES=temporary"
    " (or the URL of a server where databases may be created)"
)


@dataclass
class Cluster:
    """Two hubs (``a``, ``b``) on one database (``url``)."""

    a: HubProcess
    b: HubProcess
    url: str


@pytest.fixture(scope="module")
def database(hub_postgres: Any) -> Iterator[PostgresDatabases]:
    if hub_postgres is None:
        pytest.skip(ONLY_ON_POSTGRES)
    databases = PostgresDatabases(hub_postgres)
    yield databases
    databases.drop()


def hub_env(url: str) -> dict[str, str]:
    return {
        **QUIET,
        "HUB_DATABASE_URL": url,
        "HUB_MONITOROZAS_RATE_LIMIT": str(RATE_LIMIT),
        "HUB_MONITOROZAS_RATE_WINDOW": str(RATE_WINDOW),
    }


def relayed(url: str, host: str, port: int) -> str:
    """``url`` reaching its server through ``host:port`` instead."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    address = f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{address}" if userinfo else address))


@pytest.fixture(scope="module", params=["one host", "two hosts"])
def cluster(
    request: pytest.FixtureRequest,
    database: PostgresDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    """Two hubs on loopback (``one host``), or each in a network namespace of its own with an
    address of its own, reaching PostgreSQL over its veth link (``two hosts``)."""
    url = database.new()
    with contextlib.ExitStack() as stack:
        if request.param == "one host":
            made = [HubProcess(tmp_path_factory.mktemp("hub"), hub_env(url)) for _ in "ab"]
            for hub in made:
                stack.callback(hub.stop)
                hub.start()
        else:
            why = netns.unavailable()
            if why:
                pytest.skip(why)
            server = urlsplit(url)
            target = (server.hostname or "127.0.0.1", server.port or 5432)
            made = []
            for host in stack.enter_context(netns.hosts(2)):
                relay = netns.Relay(host.gateway, target)
                stack.callback(relay.close)
                env = hub_env(relayed(url, host.gateway, relay.port))
                hub = HubProcess(tmp_path_factory.mktemp("hub"), env)
                stack.callback(hub.stop)
                made.append(host.start(hub, tmp_path_factory.mktemp("bin")))
            assert made[0].http.rsplit(":", 1)[0] != made[1].http.rsplit(":", 1)[0]
        yield Cluster(made[0], made[1], url)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def metadata(secret: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {secret}"),)


async def request(
    hub: HubProcess, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, dict[str, str], Any]:
    """One request on a connection of its own: (status, headers, JSON body)."""
    async with (
        aiohttp.ClientSession(base_url=hub.url) as session,
        session.request(method, path, headers=headers, json=body) as answer,
    ):
        text = await answer.text()
        return answer.status, dict(answer.headers), json.loads(text) if text else None


async def graphql(
    hub: HubProcess, query: str, variables: dict[str, Any] | None = None, token: str = ADMIN_TOKEN
) -> dict[str, Any]:
    status, _, body = await request(
        hub, "POST", "/graphql", bearer(token), {"query": query, "variables": variables or {}}
    )
    assert status == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def monitorozas_key(hub: HubProcess, user: str) -> dict[str, Any]:
    data = await graphql(
        hub,
        'mutation($p: [HubParamInput!]) { hubAddCredential(plugin: "monitorozas", params: $p) }',
        {"p": [{"key": "user", "value": user}, {"key": "scopes", "value": "read,write"}]},
    )
    return data["hubAddCredential"]  # type: ignore[no-any-return]


async def credential_id(hub: HubProcess, plugin: str) -> str:
    """The id of the plugin's newest live credential, as the admin lists it."""
    data = await graphql(
        hub,
        "query($p: String) { hub { credentials(plugin: $p, first: 1000) { nodes { id } } } }",
        {"p": plugin},
    )
    return str(data["hub"]["credentials"]["nodes"][-1]["id"])


async def grpc_me(hub: HubProcess, key: str) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        stub = monitorozas_pb2_grpc.MonitorozasStub(channel)
        try:
            await stub.Me(monitorozas_pb2.MeRequest(), metadata=metadata(key))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                assert "retry-after" in dict(error.trailing_metadata() or ())
            return error.code()
    return grpc.StatusCode.OK


def assert_rate_limited(answer: tuple[int, dict[str, str], Any]) -> None:
    """monitorozas's 429: its envelope, its code, a Retry-After within the window."""
    status, headers, body = answer
    assert status == 429, answer
    assert body == {
        "success": False,
        "error": "rate_limit_exceeded",
        "message": f"at most {RATE_LIMIT} requests per {RATE_WINDOW}s per key",
    }
    assert 1 <= int(headers["Retry-After"]) <= RATE_WINDOW


# -- (a) rate limits are exact across hubs ------------------------------------------------------
async def test_a_rate_limit_alternating_between_hubs_counts_every_request(cluster: Cluster) -> None:
    """One after another, A, B, A, B...: the limit's number of 200s, half through each hub,
    then 429s from both; GraphQL and gRPC are refused on both too."""
    key = (await monitorozas_key(cluster.a, "alternating"))["key"]
    hubs = [cluster.a, cluster.b] * RATE_LIMIT
    answers = [await request(hub, "GET", f"{MONITOROZAS}/me", bearer(key)) for hub in hubs]
    assert [a[0] for a in answers] == [200] * RATE_LIMIT + [429] * RATE_LIMIT
    for answer in answers[RATE_LIMIT:]:
        assert_rate_limited(answer)
    for hub in (cluster.a, cluster.b):
        assert await grpc_me(hub, key) == grpc.StatusCode.RESOURCE_EXHAUSTED
        status, _, body = await request(
            hub, "POST", "/graphql", bearer(key), {"query": "{ monitorozas { me { userId } } }"}
        )
        assert status == 200 and body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_rate_limit_under_concurrent_load_on_both_hubs_is_exact(cluster: Cluster) -> None:
    """Forty REST requests and ten gRPC calls at once, spread over both hubs: exactly the limit
    get through, every other one is the plugin's 429."""
    key = (await monitorozas_key(cluster.a, "concurrent"))["key"]
    hubs = [cluster.a, cluster.b]
    rest = [request(hubs[i % 2], "GET", f"{MONITOROZAS}/me", bearer(key)) for i in range(40)]
    calls = [grpc_me(hubs[i % 2], key) for i in range(10)]
    answers = await asyncio.gather(*rest, *calls)
    rest_answers: list[Any] = list(answers[:40])
    grpc_answers: list[Any] = list(answers[40:])
    ok = sum(a[0] == 200 for a in rest_answers) + grpc_answers.count(grpc.StatusCode.OK)
    unexpected = [a for a in rest_answers if a[0] not in (200, 429)]
    summary = (Counter(a[0] for a in rest_answers), Counter(grpc_answers), unexpected[:1])
    assert ok == RATE_LIMIT, summary
    for answer in rest_answers:
        if answer[0] != 200:
            assert_rate_limited(answer)
    assert set(grpc_answers) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}


# -- (b) revocation and rotation are seen by every hub on the next request ----------------------
async def test_revoked_through_one_hub_is_refused_by_the_other_at_once(cluster: Cluster) -> None:
    token = cluster.a.creds("era")["token"]
    for hub in (cluster.a, cluster.b):  # both hubs now hold it in their credential caches
        assert (await request(hub, "GET", ERA, bearer(token)))[0] == 200
    revoked = await graphql(
        cluster.a,
        'mutation($id: ID!) { hubRevokeCredential(plugin: "era", id: $id) { revokedAt } }',
        {"id": await credential_id(cluster.b, "era")},
    )
    assert revoked["hubRevokeCredential"]["revokedAt"]
    assert (await request(cluster.b, "GET", ERA, bearer(token)))[0] == 401
    async with grpc.aio.insecure_channel(cluster.b.grpc) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await era_pb2_grpc.EraStub(channel).List(
                era_pb2.ListRequest(), metadata=metadata(token)
            )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await request(cluster.a, "GET", ERA, bearer(token)))[0] == 401


async def test_rotated_with_the_cli_of_one_hub_the_other_takes_only_the_new_secret(
    cluster: Cluster,
) -> None:
    old = cluster.a.creds("era")["token"]
    for hub in (cluster.a, cluster.b):
        assert (await request(hub, "GET", ERA, bearer(old)))[0] == 200
    rotated = cluster.a.cli("creds", "rotate", "era", await credential_id(cluster.a, "era"))
    new = json.loads(rotated.stdout)["token"]
    assert (await request(cluster.b, "GET", ERA, bearer(old)))[0] == 401
    assert (await request(cluster.b, "GET", ERA, bearer(new)))[0] == 200
    assert (await request(cluster.a, "GET", ERA, bearer(old)))[0] == 401


async def test_rotated_over_grpc_on_one_hub_the_other_takes_only_the_new_key(
    cluster: Cluster,
) -> None:
    old = (await monitorozas_key(cluster.a, "rotating"))["key"]
    for hub in (cluster.a, cluster.b):
        assert await grpc_me(hub, old) == grpc.StatusCode.OK
    async with grpc.aio.insecure_channel(cluster.b.grpc) as channel:
        rotated = await hub_pb2_grpc.HubStub(channel).RotateCredential(
            hub_pb2.RotateCredentialRequest(
                plugin="monitorozas", id=await credential_id(cluster.b, "monitorozas")
            ),
            metadata=metadata(ADMIN_TOKEN),
        )
    new = rotated.credential["key"]
    assert await grpc_me(cluster.a, old) == grpc.StatusCode.UNAUTHENTICATED
    assert await grpc_me(cluster.a, new) == grpc.StatusCode.OK
    assert (await request(cluster.a, "GET", f"{MONITOROZAS}/me", bearer(new)))[0] == 200


# -- (c) a write through one hub is read through the other at once ------------------------------
async def test_era_write_through_a_is_read_through_b(cluster: Cluster) -> None:
    token = cluster.a.creds("era")["token"]
    point = {"code": "MULTI", "type": "public", "url": "http://trapper.example"}
    status, _, created = await request(cluster.a, "POST", ERA, bearer(token), point)
    assert status in (200, 201), created
    status, _, found = await request(cluster.b, "LOOKUP", ERA, bearer(token), "MULTI")
    assert status == 200 and len(found) == 1, found
    status, _, point = await request(cluster.b, "GET", f"{ERA}/{found[0]}", bearer(token))
    assert status == 200 and json.dumps(point).count("http://trapper.example") == 1, point


async def test_monitorozas_write_through_b_is_read_through_a(cluster: Cluster) -> None:
    key = (await monitorozas_key(cluster.b, "writer"))["key"]
    device = {"target_type": "domain", "target_value": "multi.example", "service_type": "ssh"}
    status, _, created = await request(
        cluster.b, "POST", f"{MONITOROZAS}/devices/create", bearer(key), device
    )
    assert status == 201, created
    status, _, listed = await request(cluster.a, "GET", f"{MONITOROZAS}/devices", bearer(key))
    assert status == 200 and [d["target_value"] for d in listed["data"]] == ["multi.example"]


async def test_unspot_write_through_a_is_read_through_b(cluster: Cluster) -> None:
    made = await graphql(
        cluster.a,
        'mutation { unspotCreateUser(role: "owner", name: "Multi hub") { userId token } }',
    )
    user = made["unspotCreateUser"]
    users = await graphql(cluster.b, "{ unspot { users(first: 100) { nodes { id name } } } }")
    assert {"id": str(user["userId"]), "name": "Multi hub"} in users["unspot"]["users"]["nodes"]
    status, _, _ = await request(
        cluster.b,
        "GET",
        "/unspot/api/external/v1/monitoring/displays",
        bearer(user["token"]),
    )
    assert status == 200


async def test_webim_write_through_b_is_read_through_a(cluster: Cluster) -> None:
    await graphql(
        cluster.b,
        'mutation { webimUpsertAccount(input: {name: "multi", domain: "multi.example"})'
        " { sessionsCnt } }",
    )
    data = await graphql(cluster.a, '{ webim { account(name: "multi") { sessionsCnt } } }')
    assert data["webim"]["account"] == {"sessionsCnt": 0}


async def test_rop_write_through_a_is_read_through_b(cluster: Cluster) -> None:
    key = cluster.a.creds("rop")["api_key"]
    offices = {
        "offices": [
            {
                "office_title": "Multi",
                "office_id": "office_multi",
                "leader_ids": ["leader_1"],
                "managers_ids": ["manager_1"],
            }
        ]
    }
    status, _, done = await request(
        cluster.a, "POST", f"/rop/api/v1/settings/offices-update?apiKey={key}", {}, offices
    )
    assert status == 200 and done["status"] == "ok", done
    data = await graphql(cluster.b, "{ rop { offices { officeId officeTitle } } }", token=key)
    assert data["rop"]["offices"] == [{"officeId": "office_multi", "officeTitle": "Multi"}]


# -- (d) hubs starting together on an empty database migrate once -------------------------------
MIGRATED = {"hub", "_ratelimits", "era", "monitorozas", "unspot", "webim", "rop", "once"}
ONCE_PLUGIN = """
import os

from hub.hookspecs import hookimpl


def m001_runs(db):
    # no IF NOT EXISTS: a second run of this migration would fail the hub that ran it
    db.execute("CREATE TABLE runs (pid INTEGER NOT NULL)")
    db.execute("INSERT INTO runs (pid) VALUES (?)", (os.getpid(),))


@hookimpl
def register_migrations(register):
    register(m001_runs)
"""


def test_three_hubs_starting_at_once_on_an_empty_database_migrate_once(
    database: PostgresDatabases, tmp_path: Path
) -> None:
    url = database.new()
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "once.py").write_text(ONCE_PLUGIN)
    env = {**QUIET, "HUB_DATABASE_URL": url, "HUB_PLUGINS_DIR": str(plugins)}
    hubs = [HubProcess(tmp_path / f"hub-{i}", env) for i in range(3)]
    start = threading.Barrier(len(hubs))
    failures: list[str] = []

    def start_one(hub: HubProcess) -> None:
        start.wait()
        try:
            hub.start(timeout=90)
        except RuntimeError as error:
            failures.append(str(error))

    threads = [threading.Thread(target=start_one, args=(hub,)) for hub in hubs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        server, prefix = split_url(url)  # this test's schemas are named prefix + plugin
        assert run_sql(server, f'SELECT count(*) FROM "{prefix}once".runs') == [(1,)]
        recorded = run_sql(
            server,
            "SELECT table_schema FROM information_schema.tables"
            " WHERE table_name = '_hub_migrations' ORDER BY 1",
        )
        schemas = [row[0] for row in recorded if row[0].startswith(prefix)]
        assert {s.removeprefix(prefix) for s in schemas} >= MIGRATED, schemas
        for schema in schemas:
            rows = run_sql(
                server,
                f'SELECT plugin, name, count(*) FROM "{schema}"._hub_migrations'
                " GROUP BY plugin, name HAVING count(*) > 1",
            )
            assert rows == [], (schema, rows)
        assert run_sql(server, f'SELECT plugin, name FROM "{prefix}once"._hub_migrations') == [
            ("once", "m001_runs")
        ]
        for hub in hubs:
            answer = asyncio.run(request(hub, "GET", "/readyz", {}))
            assert answer[0] == 200, answer
    finally:
        for hub in hubs:
            hub.stop()
