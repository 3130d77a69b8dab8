"""The admin manages credentials over the CLI, GraphQL and gRPC against real hubs: list (never a
secret), revoke and rotate, seen at once by a second hub serving the same data directory; each
plugin's own notion of users keeps working. Also what the hub root shows without the admin token."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format

from hub import __version__ as HUB_VERSION
from hub.storage import Database, Engine
from hub.v1 import hub_pb2, hub_pb2_grpc
from tests.hubproc import ADMIN_TOKEN, HubProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADMIN_METADATA = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
ERA = "/era/rest/v1/service/integration_points"
UNSPOT = "/unspot/api/external/v1/monitoring/displays"
Pair = tuple[HubProcess, HubProcess]
LISTED = {"id", "plugin", "login", "attrs", "created_at", "last_used_at", "revoked_at"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Two hubs serving one data directory, as two workers would."""
    data = tmp_path_factory.mktemp("creds") / "data"
    first = HubProcess(data).start()
    second = HubProcess(data).start()
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture
async def http(pair: Pair) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=pair[0].url) as session:
        yield session


def database_of(hub: HubProcess, name: str) -> Database:
    """``hub``'s database ``name``, on the engine the hub runs on (a file or a schema)."""
    return Engine(hub.data_dir, hub.env.get("HUB_DATABASE_URL", "")).open(name)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


async def status(hub: HubProcess, path: str, headers: dict[str, str], **kw: Any) -> int:
    async with (
        aiohttp.ClientSession(base_url=hub.url) as session,
        session.get(path, headers=headers, **kw) as r,
    ):
        return r.status


async def gql(
    hub: HubProcess,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = {"query": query, "variables": variables or {}}
    async with (
        aiohttp.ClientSession(base_url=hub.url) as session,
        session.post("/graphql", json=body, headers=headers) as r,
    ):
        return await r.json()  # type: ignore[no-any-return]


def listed(hub: HubProcess, *plugin: str) -> list[dict[str, Any]]:
    return json.loads(hub.cli("creds", "list", *plugin).stdout)  # type: ignore[no-any-return]


def only_id(hub: HubProcess, plugin: str) -> str:
    (credential,) = listed(hub, plugin)
    return credential["id"]  # type: ignore[no-any-return]


def rotate(hub: HubProcess, plugin: str, credential_id: str) -> tuple[dict[str, Any], str]:
    """What ``hub creds rotate`` prints, and the new id it names on stderr."""
    done = hub.cli("creds", "rotate", plugin, credential_id)
    return json.loads(done.stdout), done.stderr.strip().rsplit(" ", 1)[1]


async def call(method: str, request: Any, hub: HubProcess, metadata: Any = ADMIN_METADATA) -> Any:
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        return await getattr(hub_pb2_grpc.HubStub(channel), method)(request, metadata=metadata)


# == the CLI ====================================================================================
def test_cli_lists_without_secrets_and_filters_by_plugin(pair: Pair) -> None:
    hub = pair[0]
    secrets = [
        hub.creds("era")["token"],
        hub.creds("webim", kind="service", login="lister")["password"],
        hub.creds("monitorozas", user="lister", scopes="read")["key"],
    ]
    everything = hub.cli("creds", "list").stdout
    for secret in secrets:
        assert secret not in everything
    with closing(database_of(hub, "hub")) as db:
        hashes = [row[0] for row in db.execute("SELECT secret_hash FROM credentials")]
    for stored in hashes:
        assert stored not in everything and stored.split("$")[-1] not in everything
    assert "secret" not in everything and "hash" not in everything
    credentials = json.loads(everything)
    assert all(set(c) == LISTED for c in credentials)
    assert {"era", "webim", "monitorozas"} <= {c["plugin"] for c in credentials}
    webim = [c for c in listed(hub, "webim") if c["login"] == "lister"]
    assert webim[0]["attrs"] == {"kind": "service"} and webim[0]["revoked_at"] is None
    assert all(c["plugin"] == "webim" for c in listed(hub, "webim"))
    (key,) = [c for c in listed(hub, "monitorozas") if c["attrs"]["user"] == "lister"]
    assert key["login"] is None and key["attrs"]["scopes"] == ["read"]
    assert key["created_at"].endswith("Z") and key["last_used_at"] is None


def test_cli_errors(pair: Pair) -> None:
    hub = pair[0]
    for args, message in (
        (("list", "nosuch"), "no plugin named 'nosuch' is loaded"),
        (("revoke", "nosuch", "x"), "no plugin named 'nosuch' is loaded"),
        (("rotate", "nosuch", "x"), "no plugin named 'nosuch' is loaded"),
        (("rotate", "era", "no-such-id"), "has no live credential 'no-such-id'"),
        (("revoke", "era", "no-such-id"), "has no live credential 'no-such-id'"),
    ):
        done = hub.cli("creds", *args, check=False)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
        assert done.stdout == "" and "Traceback" not in done.stderr


async def test_cli_revoke_is_refused_at_once_by_both_hubs(
    pair: Pair,
) -> None:
    first, second = pair
    token = first.creds("era")["token"]
    credential_id = [c for c in listed(first, "era")][-1]["id"]
    for hub in pair:  # both hubs now hold it in their credential caches
        assert await status(hub, ERA, bearer(token)) == 200
    revoked = json.loads(first.cli("creds", "revoke", "era", credential_id).stdout)
    assert revoked["id"] == credential_id and revoked["revoked_at"] is not None
    for hub in pair:
        assert await status(hub, ERA, bearer(token)) == 401
    assert credential_id not in {c["id"] for c in listed(second, "era")}
    again = first.cli("creds", "revoke", "era", credential_id, check=False)
    assert again.returncode == 1 and "no live credential" in again.stderr


# == rotation keeps each plugin's own notion of users ===========================================
async def test_rotate_era_and_rop_print_what_add_prints(pair: Pair) -> None:
    first, second = pair
    old = first.creds("era")["token"]
    old_id = listed(first, "era")[-1]["id"]
    assert await status(second, ERA, bearer(old)) == 200
    shown, new_id = rotate(first, "era", old_id)
    assert set(shown) == {"token"} and new_id != old_id
    assert await status(second, ERA, bearer(old)) == 401
    assert await status(second, ERA, bearer(shown["token"])) == 200
    (now,) = [c for c in listed(first, "era") if c["id"] == new_id]
    assert now["attrs"] == {}
    first.creds("rop", role="analyser")
    rop_id = [c for c in listed(first, "rop") if c["attrs"] == {"role": "analyser"}][-1]["id"]
    shown, _ = rotate(first, "rop", rop_id)
    assert set(shown) == {"api_key", "role"} and shown["role"] == "analyser"
    rop = bearer(shown["api_key"])
    answer = await gql(second, "{ rop { managers { totalCount } } }", headers=rop)
    assert "errors" not in answer, answer


async def test_rotate_unspot_keeps_the_user_and_one_current_token(
    pair: Pair,
) -> None:
    first, second = pair
    made = first.creds("unspot", role="owner", name="Rota")
    (old,) = [c for c in listed(first, "unspot") if c["attrs"] == {"user_id": made["user_id"]}]
    assert await status(second, UNSPOT, bearer(made["token"])) == 200  # uses the 30 s window
    shown, new_id = rotate(first, "unspot", old["id"])
    assert set(shown) == {"user_id", "role", "token"}
    assert shown["user_id"] == made["user_id"] and shown["role"] == "owner"
    assert await status(second, UNSPOT, bearer(made["token"])) == 401
    # a new token, as unspot's own "generate a new token" gives: its own rate-limit window
    assert await status(second, UNSPOT, bearer(shown["token"])) == 200
    mine = [c for c in listed(first, "unspot") if c["attrs"] == {"user_id": made["user_id"]}]
    assert [c["id"] for c in mine] == [new_id]
    # unspot's own path after a rotation still leaves exactly one current token
    answer = await gql(
        first,
        "mutation($u: ID!) { unspotIssueToken(userId: $u) { token } }",
        {"u": made["user_id"]},
        ADMIN,
    )
    issued = answer["data"]["unspotIssueToken"]["token"]
    calendars = UNSPOT.replace("displays", "calendars")
    webhooks = UNSPOT.replace("displays", "webhooks")
    assert await status(second, calendars, bearer(shown["token"])) == 401
    assert await status(second, webhooks, bearer(issued)) == 200
    mine = [c for c in listed(first, "unspot") if c["attrs"] == {"user_id": made["user_id"]}]
    assert len(mine) == 1 and mine[0]["id"] != new_id


async def test_rotate_monitorozas_keeps_user_and_key_id(pair: Pair) -> None:
    first, second = pair
    made = first.creds("monitorozas", user="rotor", scopes="read,write")
    (old,) = [c for c in listed(first, "monitorozas") if c["attrs"]["user"] == "rotor"]
    shown, _ = rotate(first, "monitorozas", old["id"])
    assert set(shown) == {"user_id", "key_id", "scopes", "key"}
    assert (shown["user_id"], shown["key_id"], shown["scopes"]) == (
        made["user_id"],
        made["key_id"],
        ["read", "write"],
    )
    assert await status(second, "/monitorozas/api/v1/me", bearer(made["key"])) == 401
    async with (
        aiohttp.ClientSession(base_url=second.url) as session,
        session.get("/monitorozas/api/v1/me", headers=bearer(shown["key"])) as r,
    ):
        assert r.status == 200
        me = await r.json()
    assert str(made["key_id"]) in json.dumps(me) and str(made["user_id"]) in json.dumps(me)


async def test_rotate_and_revoke_webim_logins_and_operators(
    pair: Pair,
) -> None:
    first, second = pair
    made = first.creds("webim", kind="service", login="rotating")
    (old,) = [c for c in listed(first, "webim") if c["login"] == "rotating"]
    assert await status(second, "/webim/l/a/monitor", basic("rotating", made["password"])) == 200
    shown, new_id = rotate(first, "webim", old["id"])
    assert set(shown) == {"login", "password"} and shown["login"] == "rotating"
    assert await status(second, "/webim/l/a/monitor", basic("rotating", made["password"])) == 401
    assert await status(second, "/webim/l/a/monitor", basic("rotating", shown["password"])) == 200
    first.cli("creds", "revoke", "webim", new_id)
    assert await status(second, "/webim/l/a/monitor", basic("rotating", shown["password"])) == 401
    again = first.creds("webim", kind="service", login="rotating")  # the login is free again
    assert await status(second, "/webim/l/a/monitor", basic("rotating", again["password"])) == 200
    operator = first.creds("webim", kind="operator")["auth_token"]
    ping = "/webim/l/o/pingservice?pinger-id=1&ts=1"
    assert await status(second, ping, {}, cookies={"WEBIM_AUTH_TOKEN": operator}) == 200
    op_id = [c for c in listed(first, "webim") if c["attrs"] == {"kind": "operator"}][-1]["id"]
    shown, _ = rotate(first, "webim", op_id)
    assert set(shown) == {"auth_token"}
    assert await status(second, ping, {}, cookies={"WEBIM_AUTH_TOKEN": operator}) == 401
    assert await status(second, ping, {}, cookies={"WEBIM_AUTH_TOKEN": shown["auth_token"]}) == 200


# == GraphQL ====================================================================================
CREDENTIALS = """query($plugin: String, $first: Int, $after: String) {
  hub { credentials(plugin: $plugin, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id plugin login attrs createdAt lastUsedAt revokedAt } } } }"""
REVOKE = """mutation($p: String!, $id: ID!) {
  hubRevokeCredential(plugin: $p, id: $id) { id revokedAt } }"""
ROTATE = """mutation($p: String!, $id: ID!) {
  hubRotateCredential(plugin: $p, id: $id) { id credential } }"""


def error_of(answer: dict[str, Any]) -> tuple[str, int]:
    (error,) = answer["errors"]
    return error["extensions"]["code"], error["extensions"]["status"]


async def test_graphql_list_revoke_rotate(pair: Pair) -> None:
    first, second = pair
    tokens = [first.creds("era")["token"] for _ in range(3)]
    answer = await gql(first, CREDENTIALS, {"plugin": "era", "first": 2}, ADMIN)
    page = answer["data"]["hub"]["credentials"]
    assert page["totalCount"] >= 3 and len(page["nodes"]) == 2 and page["pageInfo"]["hasNextPage"]
    rest = await gql(
        first, CREDENTIALS, {"plugin": "era", "after": page["pageInfo"]["endCursor"]}, ADMIN
    )
    nodes = page["nodes"] + rest["data"]["hub"]["credentials"]["nodes"]
    assert len(nodes) == page["totalCount"] and all(n["plugin"] == "era" for n in nodes)
    newest = nodes[-3:]  # oldest first: the three just made
    for token in tokens:
        assert token not in json.dumps(nodes)
        assert await status(second, ERA, bearer(token)) == 200
    revoked = await gql(first, REVOKE, {"p": "era", "id": newest[0]["id"]}, ADMIN)
    assert revoked["data"]["hubRevokeCredential"]["id"] == newest[0]["id"]
    assert revoked["data"]["hubRevokeCredential"]["revokedAt"]
    assert await status(second, ERA, bearer(tokens[0])) == 401
    rotated = await gql(first, ROTATE, {"p": "era", "id": newest[1]["id"]}, ADMIN)
    new = rotated["data"]["hubRotateCredential"]
    assert set(new["credential"]) == {"token"} and new["id"] != newest[1]["id"]
    assert await status(second, ERA, bearer(tokens[1])) == 401
    assert await status(second, ERA, bearer(new["credential"]["token"])) == 200
    everything = await gql(first, CREDENTIALS, {"first": 1000}, ADMIN)
    plugins = {n["plugin"] for n in everything["data"]["hub"]["credentials"]["nodes"]}
    assert "era" in plugins


async def test_graphql_errors_follow_the_table(pair: Pair) -> None:
    hub = pair[0]
    era = bearer(hub.creds("era")["token"])
    era_id = listed(hub, "era")[-1]["id"]
    for headers in (None, era):  # anonymous, and a plugin's credential: not the admin
        assert error_of(await gql(hub, CREDENTIALS, {}, headers)) == ("UNAUTHENTICATED", 401)
        for mutation in (REVOKE, ROTATE):
            answer = await gql(hub, mutation, {"p": "era", "id": era_id}, headers)
            assert error_of(answer) == ("UNAUTHENTICATED", 401)
    assert error_of(await gql(hub, CREDENTIALS, {"plugin": "nosuch"}, ADMIN)) == ("NOT_FOUND", 404)
    for mutation in (REVOKE, ROTATE):
        answer = await gql(hub, mutation, {"p": "nosuch", "id": era_id}, ADMIN)
        assert error_of(answer) == ("NOT_FOUND", 404)
        answer = await gql(hub, mutation, {"p": "rop", "id": era_id}, ADMIN)  # another plugin's
        assert error_of(answer) == ("NOT_FOUND", 404)
    assert await status(hub, ERA, era) == 200  # nothing above touched it


# == gRPC =======================================================================================
async def test_grpc_list_revoke_rotate(pair: Pair) -> None:
    first, second = pair
    made = first.creds("monitorozas", user="grpc-user", scopes="read")
    answer = await call(
        "ListCredentials", hub_pb2.ListCredentialsRequest(plugin="monitorozas", limit=1000), second
    )
    (mine,) = [c for c in answer.credentials if c.attrs["user"] == "grpc-user"]
    assert answer.total_count == len(answer.credentials)
    assert not mine.HasField("login") and not mine.HasField("revoked_at") and mine.created_at
    assert made["key"] not in str(answer)
    rotated = await call(
        "RotateCredential",
        hub_pb2.RotateCredentialRequest(plugin="monitorozas", id=mine.id),
        second,
    )
    shown = json_format.MessageToDict(rotated.credential)
    assert set(shown) == {"user_id", "key_id", "scopes", "key"} and rotated.id != mine.id
    assert await status(first, "/monitorozas/api/v1/me", bearer(made["key"])) == 401
    assert await status(first, "/monitorozas/api/v1/me", bearer(shown["key"])) == 200
    revoked = await call(
        "RevokeCredential",
        hub_pb2.RevokeCredentialRequest(plugin="monitorozas", id=rotated.id),
        second,
    )
    assert revoked.credential.id == rotated.id and revoked.credential.HasField("revoked_at")
    assert await status(first, "/monitorozas/api/v1/me", bearer(shown["key"])) == 401
    paged = await call("ListCredentials", hub_pb2.ListCredentialsRequest(offset=1, limit=1), first)
    assert len(paged.credentials) == 1 and paged.total_count > 1


async def test_grpc_errors_follow_the_table(pair: Pair) -> None:
    hub = pair[0]
    era_token = hub.creds("era")["token"]
    era_id = listed(hub, "era")[-1]["id"]
    requests = {
        "ListCredentials": hub_pb2.ListCredentialsRequest(plugin="era"),
        "RevokeCredential": hub_pb2.RevokeCredentialRequest(plugin="era", id=era_id),
        "RotateCredential": hub_pb2.RotateCredentialRequest(plugin="era", id=era_id),
    }
    cases = [
        (method, request, metadata, grpc.StatusCode.UNAUTHENTICATED, "401")
        for method, request in requests.items()
        for metadata in ((), (("authorization", f"Bearer {era_token}"),))
    ]
    cases += [
        (method, type(request)(plugin="nosuch"), ADMIN_METADATA, grpc.StatusCode.NOT_FOUND, "404")
        for method, request in requests.items()
    ]
    cases += [
        (
            method,
            type(request)(plugin="era", id="no-such-id"),
            ADMIN_METADATA,
            grpc.StatusCode.NOT_FOUND,
            "404",
        )
        for method, request in requests.items()
        if method != "ListCredentials"
    ]
    cases.append(
        (
            "ListCredentials",
            hub_pb2.ListCredentialsRequest(offset=-1),
            ADMIN_METADATA,
            grpc.StatusCode.INVALID_ARGUMENT,
            "400",
        )
    )
    for method, request, metadata, code, hub_status in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(method, request, hub, metadata)
        assert info.value.code() == code, (method, request)
        trailers = dict(info.value.trailing_metadata() or ())
        assert trailers["hub-status"] == hub_status and trailers["hub-plugin"] == "hub"
    assert await status(hub, ERA, bearer(era_token)) == 200


# == last used ==================================================================================
async def test_last_used_is_coalesced_and_written_at_shutdown(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data").start()
    try:
        token = hub.creds("era")["token"]
        credential_id = only_id(hub, "era")
        for _ in range(20):
            assert await status(hub, ERA, bearer(token)) == 200
        answer = await gql(hub, CREDENTIALS, {"plugin": "era"}, ADMIN)
        (node,) = answer["data"]["hub"]["credentials"]["nodes"]
        assert node["lastUsedAt"] is not None  # the serving process knows at once
        # ... but twenty requests wrote nothing yet: another process does not see it
        assert listed(hub, "era")[0]["last_used_at"] is None
        with closing(database_of(hub, "_ratelimits")) as db:
            assert db.execute("SELECT count(*) FROM credential_last_used").fetchone() == (0,)
    finally:
        assert hub.stop() == 0
    (after,) = listed(hub, "era")  # the shutdown wrote it, once
    assert after["id"] == credential_id and after["last_used_at"] == node["lastUsedAt"]


# == what the hub root shows without the admin token ============================================
ROOT = "{ hub { plugins { name version source hooks } health { plugin status detail } } }"


async def test_graphql_hub_root_anonymous_sees_names_and_statuses(
    pair: Pair,
) -> None:
    hub = pair[0]
    era = bearer(hub.creds("era")["token"])
    for headers in (None, era, bearer("wrong")):
        answer = await gql(hub, ROOT, headers=headers)
        assert "errors" not in answer, answer
        plugins = {p["name"]: p for p in answer["data"]["hub"]["plugins"]}
        assert plugins["era"] == {"name": "era", "version": None, "source": None, "hooks": None}
        health = {h["plugin"]: h for h in answer["data"]["hub"]["health"]}
        assert health["era"] == {"plugin": "era", "status": "ok", "detail": None}
    answer = await gql(hub, ROOT, headers=ADMIN)
    plugins = {p["name"]: p for p in answer["data"]["hub"]["plugins"]}
    assert plugins["hub"]["version"] == HUB_VERSION and "register_grpc" in plugins["hub"]["hooks"]
    assert plugins["era"]["source"]
    health = {h["plugin"]: h for h in answer["data"]["hub"]["health"]}
    assert "integration points" in health["era"]["detail"]


async def test_grpc_hub_root_anonymous_sees_names_and_statuses(
    pair: Pair,
) -> None:
    hub = pair[0]
    plugins = await call("ListPlugins", hub_pb2.ListPluginsRequest(), hub, ())
    era = {p.name: p for p in plugins.plugins}["era"]
    assert not era.HasField("version") and not era.HasField("source") and not era.hooks
    health = await call("Health", hub_pb2.HealthRequest(), hub, ())
    assert health.status == "ready" and {p.plugin: p.status for p in health.plugins}["era"] == "ok"
    assert not any(p.HasField("detail") for p in health.plugins)
    assert health.probes and not any(p.HasField("detail") for p in health.probes)
    plugins = await call("ListPlugins", hub_pb2.ListPluginsRequest(), hub)
    era = {p.name: p for p in plugins.plugins}["era"]
    assert era.version == "0.1.0" and "register_grpc" in era.hooks and era.source
    health = await call("Health", hub_pb2.HealthRequest(), hub)
    assert "integration points" in {p.plugin: p.detail for p in health.plugins}["era"]
