"""unspot on a real hub: users, roles and token rotation, the seed's error bodies byte for byte,
the REST rate limit (sequential, concurrent, across two processes, a shortened window), counts
that follow the admin API, and the same data and errors over REST, GraphQL and gRPC."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hub_unspot.v1 import unspot_pb2 as pb

from tests.hubproc import HubProcess
from tests.unspot_helpers import (
    ADMIN,
    BASE,
    SEED_401,
    SEED_403,
    SEED_429,
    SPEC_404,
    bearer,
    body,
    get,
    graphql,
    graphql_ok,
    grpc_call,
    grpc_error,
    unspot_hub,
)
from tests.ws_client import acknowledged, first_answer, next_message, subscribe

WINDOW = 600  # long enough that a window never ends during a test on this hub
MONITORING = """{ unspot { monitoring {
  displays { id name status } calendars { total online offline }
  webhooks { total online failed disabled } userSync { lastSyncDate }
  system { redis database filesystem queue { name messages } } } } }"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    hub = unspot_hub(tmp_path_factory.mktemp("unspot"), rate_window=str(WINDOW))
    hub.start()
    yield hub
    hub.stop()


def owner(hub: HubProcess, role: str = "owner") -> str:
    return str(grpc_call(hub, "CreateUser", pb.CreateUserRequest(role=role)).token)


# -- credentials, roles, rotation ------------------------------------------------------------
async def test_creds_add_prints_user_role_token(hub: HubProcess) -> None:
    issued = hub.creds("unspot", role="integration_admin", name="Integrations")
    assert list(issued) == ["user_id", "role", "token"]
    assert issued["role"] == "integration_admin" and len(issued["token"]) == 64
    assert (await get(hub, "/displays", issued["token"]))[0] == 200
    users = await graphql_ok(hub, "{ unspot { users(first: 1000) { nodes { id name role } } } }")
    assert {"id": issued["user_id"], "name": "Integrations", "role": "integration_admin"} in users[
        "unspot"
    ]["users"]["nodes"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["role=superuser"], "role: required, one of owner, integration_admin"),
        ([], "role: required"),
        (["role=owner", "colour=red"], "colour: unknown parameter"),
        (["user_id=nobody"], "user_id: no user 'nobody'"),
    ],
)
def test_creds_add_refuses_bad_params(hub: HubProcess, params: list[str], message: str) -> None:
    before = grpc_call(hub, "ListUsers", pb.ListUsersRequest(limit=1000))
    args = [x for p in params for x in ("--param", p)]
    failed = hub.cli("creds", "add", "unspot", *args, check=False)
    assert failed.returncode != 0 and message in failed.stderr
    assert grpc_call(hub, "ListUsers", pb.ListUsersRequest(limit=1000)) == before  # no user made


async def test_new_token_revokes_the_old_one_cli_and_admin_api(hub: HubProcess) -> None:
    first = hub.creds("unspot", role="owner")
    second = hub.creds("unspot", user_id=first["user_id"])  # hub creds add rotates too
    assert second["user_id"] == first["user_id"] and second["role"] == "owner"
    assert (await get(hub, "/displays", first["token"]))[2] == SEED_401
    assert (await get(hub, "/displays", second["token"]))[0] == 200
    data = await graphql_ok(
        hub,
        "mutation($u: ID!) { unspotIssueToken(userId: $u) { userId role token } }",
        u=first["user_id"],
    )
    third = data["unspotIssueToken"]
    assert third["userId"] == first["user_id"] and third["token"] != second["token"]
    assert (await get(hub, "/webhooks", second["token"]))[2] == SEED_401
    assert (await get(hub, "/webhooks", third["token"]))[0] == 200
    fourth = grpc_call(hub, "IssueToken", pb.IssueTokenRequest(user_id=first["user_id"]))
    assert (await get(hub, "/calendars", third["token"]))[2] == SEED_401
    assert (await get(hub, "/calendars", fourth.token))[0] == 200


def _live_credentials_of(hub: HubProcess, user_id: str) -> list[str]:
    listed = json.loads(hub.cli("creds", "list", "unspot").stdout)
    return [c["id"] for c in listed if c["attrs"].get("user_id") == user_id]


async def test_deleting_a_user_kills_its_token(hub: HubProcess) -> None:
    issued = grpc_call(hub, "CreateUser", pb.CreateUserRequest(role="owner", name="Leaver"))
    assert (await get(hub, "/displays", issued.token))[0] == 200
    assert len(_live_credentials_of(hub, issued.user_id)) == 1
    grpc_call(hub, "DeleteUser", pb.DeleteUserRequest(user_id=issued.user_id))
    assert (await get(hub, "/webhooks", issued.token))[2] == SEED_401
    assert _live_credentials_of(hub, issued.user_id) == []  # not listed as live any more
    missing = grpc_error(hub, "DeleteUser", pb.DeleteUserRequest(user_id=issued.user_id), ADMIN)
    assert missing.code().name == "NOT_FOUND"


USERS_PAGE = """query($first: Int, $after: String) { unspot { users(first: $first, after: $after) {
  nodes { id } pageInfo { hasNextPage endCursor } totalCount } } }"""


async def test_users_page_by_keyset_so_a_deleted_user_skips_nobody(hub: HubProcess) -> None:
    """users is ordered by creation (a unique key), so its cursors seek: deleting a user before
    the cursor neither skips nor repeats a user on the next page (an offset cursor would skip
    one)."""
    made = [
        grpc_call(hub, "CreateUser", pb.CreateUserRequest(role="owner", name=f"Pager {i}"))
        for i in range(3)
    ]
    everyone = await graphql_ok(hub, USERS_PAGE, first=1000)
    ids = [n["id"] for n in everyone["unspot"]["users"]["nodes"]]
    second = ids.index(made[1].user_id)
    upto = await graphql_ok(hub, USERS_PAGE, first=second + 1)
    cursor = upto["unspot"]["users"]["pageInfo"]["endCursor"]
    grpc_call(hub, "DeleteUser", pb.DeleteUserRequest(user_id=made[0].user_id))
    after = (await graphql_ok(hub, USERS_PAGE, first=1, after=cursor))["unspot"]["users"]
    assert [n["id"] for n in after["nodes"]] == [made[2].user_id]
    assert after["totalCount"] == len(ids) - 1


@pytest.mark.parametrize("role", ["owner", "integration_admin"])
async def test_reading_roles(hub: HubProcess, role: str) -> None:
    status, _, raw = await get(hub, "/displays", owner(hub, role))
    assert status == 200 and body(raw)["message"] == "OK"


@pytest.mark.parametrize("role", ["employee", "admin", "office_manager"])
async def test_other_roles_get_the_seeds_403_everywhere(hub: HubProcess, role: str) -> None:
    token = owner(hub, role)
    for path in ("", "/displays", "/system"):
        status, _, raw = await get(hub, path, token)
        assert (status, raw) == (403, SEED_403)
    result = await graphql(hub, "{ unspot { monitoring { displays { id } } } }", token)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert result["errors"][0]["message"] == "Access denied"
    failed = grpc_error(hub, "GetMonitoring", pb.GetMonitoringRequest(), token)
    assert failed.code().name == "PERMISSION_DENIED" and failed.details() == "Access denied"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic b3duZXI6c2VjcmV0"},
        {"Authorization": "Token abc"},
    ],
)
async def test_missing_malformed_or_unknown_token_is_the_seeds_401(
    hub: HubProcess, headers: dict[str, str]
) -> None:
    for path in ("", "/displays", "/user-sync", "/system"):
        status, _, raw = await get(hub, path, headers=headers)
        assert (status, raw) == (401, SEED_401)


async def test_another_plugins_token_is_a_401(hub: HubProcess) -> None:
    era = hub.creds("era")["token"]
    assert (await get(hub, "/displays", era))[2] == SEED_401


async def test_unknown_category_and_method(hub: HubProcess) -> None:
    token = owner(hub)
    for path in ("/rooms", "/displays/1", "/"):
        status, _, raw = await get(hub, path, token)
        assert (status, raw) == (404, SPEC_404)
    async with (
        aiohttp.ClientSession() as session,
        session.post(hub.url + BASE + "/displays", headers=bearer(token)) as resp,
    ):
        assert resp.status == 405 and resp.headers["Allow"] == "GET"
        assert await resp.read() == b'{\n  "message": "Method Not Allowed",\n  "errors": []\n}'
    # none of that used up the token's window
    assert (await get(hub, "/displays", token))[0] == 200


# -- the rate limit --------------------------------------------------------------------------
async def test_one_request_per_window_per_token_per_category(hub: HubProcess) -> None:
    token, other = owner(hub), owner(hub)
    assert (await get(hub, "/displays", token))[0] == 200
    status, headers, raw = await get(hub, "/displays", token)
    assert (status, raw) == (429, SEED_429)
    assert 1 <= int(headers["Retry-After"]) <= WINDOW
    assert (await get(hub, "/displays", other))[0] == 200  # per token
    for path in ("/calendars", "/webhooks", "/user-sync", "/system", ""):  # per category
        assert (await get(hub, path, token))[0] == 200, path
        assert (await get(hub, path, token))[0] == 429, path
    # GraphQL and gRPC reads are not limited
    for _ in range(3):
        await graphql_ok(hub, MONITORING, token)
        grpc_call(hub, "GetMonitoring", pb.GetMonitoringRequest(), token)


async def test_exactly_one_of_concurrent_requests_succeeds(hub: HubProcess) -> None:
    token = owner(hub)
    results = await asyncio.gather(*(get(hub, "/webhooks", token) for _ in range(20)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] + [429] * 19
    assert all(raw == SEED_429 for status, _, raw in results if status == 429)


async def test_the_limit_holds_across_processes(hub: HubProcess) -> None:
    """A second hub serving the same data directory shares the window (SQLite, not memory)."""
    twin = unspot_hub(hub.data_dir, rate_window=str(WINDOW))
    twin.env["HUB_DATABASE_URL"] = hub.env.get("HUB_DATABASE_URL", "")  # the same state
    twin.start()
    try:
        token = owner(hub)
        results = await asyncio.gather(
            *(get(h, "/calendars", token) for _ in range(8) for h in (hub, twin))
        )
        assert sorted(status for status, _, _ in results) == [200] + [429] * 15
        # and a token rotated through one process is dead in the other at once
        user = grpc_call(hub, "CreateUser", pb.CreateUserRequest(role="owner"))
        assert (await get(twin, "/displays", user.token))[0] == 200
        grpc_call(hub, "IssueToken", pb.IssueTokenRequest(user_id=user.user_id))
        assert (await get(twin, "/webhooks", user.token))[2] == SEED_401
    finally:
        twin.stop()


async def test_a_shortened_window_opens_again_and_429s_do_not_consume(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    short = unspot_hub(tmp_path_factory.mktemp("unspot-short"), rate_window="1").start()
    try:
        token = owner(short)
        assert (await get(short, "/displays", token))[0] == 200
        status, headers, _ = await get(short, "/displays", token)
        assert status == 429 and headers["Retry-After"] == "1"
        # keep knocking while refused: if a 429 used up the window it would never open
        deadline = time.monotonic() + 10
        while (status := (await get(short, "/displays", token))[0]) == 429:
            assert time.monotonic() < deadline, "the window never opened again"
            await asyncio.sleep(0.1)
        assert status == 200
        assert (await get(short, "/displays", token))[0] == 429  # a new window started
    finally:
        short.stop()


# -- state through the admin API, the same over every protocol -------------------------------
async def counts(hub: HubProcess) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Calendars and webhooks as REST (fresh token), GraphQL and gRPC report them."""
    _, _, raw = await get(hub, "", owner(hub))
    rest = body(raw)["body"]
    graph = (await graphql_ok(hub, MONITORING, owner(hub)))["unspot"]["monitoring"]
    rpc = grpc_call(hub, "GetMonitoring", pb.GetMonitoringRequest(), owner(hub))
    return rest, graph, rpc


async def test_counts_follow_entities_created_through_the_admin_api(hub: HubProcess) -> None:
    before, _, _ = await counts(hub)
    cal = await graphql_ok(
        hub, 'mutation { unspotUpsertCalendar(input: {name: "Room A", status: "online"}) { id } }'
    )
    cal_id = cal["unspotUpsertCalendar"]["id"]
    grpc_call(hub, "UpsertCalendar", pb.UpsertCalendarRequest(name="Room B", status="offline"))
    hook = grpc_call(
        hub, "UpsertWebhook", pb.UpsertWebhookRequest(url="https://example.org/h", status="failed")
    )
    rest, graph, rpc = await counts(hub)
    c0, w0 = before["calendars"], before["webhooks"]
    assert rest["calendars"] == {
        "total": c0["total"] + 2,
        "online": c0["online"] + 1,
        "offline": c0["offline"] + 1,
    }
    assert rest["webhooks"]["failed"] == w0["failed"] + 1
    assert rest["webhooks"]["total"] == w0["total"] + 1
    for name in ("calendars", "webhooks"):
        assert graph[name] == rest[name]
        fields = getattr(rpc, name)
        assert {k: getattr(fields, k) for k in rest[name]} == rest[name]

    await graphql_ok(
        hub,
        'mutation($id: ID!) { unspotSetCalendarStatus(id: $id, status: "offline") { status } }',
        id=cal_id,
    )
    grpc_call(hub, "SetWebhookStatus", pb.SetStatusRequest(id=hook.id, status="disabled"))
    rest, _, _ = await counts(hub)
    assert rest["calendars"]["online"] == c0["online"]
    assert rest["calendars"]["offline"] == c0["offline"] + 2
    assert (rest["webhooks"]["failed"], rest["webhooks"]["disabled"]) == (
        w0["failed"],
        w0["disabled"] + 1,
    )
    grpc_call(hub, "DeleteCalendar", pb.DeleteRequest(id=cal_id))
    await graphql_ok(hub, "mutation($id: ID!) { unspotDeleteWebhook(id: $id) }", id=hook.id)
    rest, _, _ = await counts(hub)
    assert rest["calendars"]["total"] == c0["total"] + 1
    assert rest["webhooks"] == w0


async def test_rest_graphql_and_grpc_give_the_same_monitoring(hub: HubProcess) -> None:
    grpc_call(
        hub, "UpsertDisplay", pb.UpsertDisplayRequest(id="same-1", name="Lobby", status="online")
    )
    grpc_call(hub, "RecordUserSync", pb.RecordUserSyncRequest(at="2026-02-04T11:41:39Z"))
    rest, graph, rpc = await counts(hub)
    assert {"id": "same-1", "name": "Lobby", "status": "online"} in rest["displays"]
    assert graph["displays"] == rest["displays"]
    assert [{"id": d.id, "name": d.name, "status": d.status} for d in rpc.displays.items] == rest[
        "displays"
    ]
    assert graph["userSync"] == rest["userSync"] == {"lastSyncDate": "2026-02-04T11:41:39+00:00"}
    assert rpc.user_sync.last_sync_date == "2026-02-04T11:41:39+00:00"
    assert graph["system"] == rest["system"]
    assert rpc.system.database == rest["system"]["database"] == "online"
    assert rpc.system.redis == "not_configured"
    one = grpc_call(hub, "GetMonitoring", pb.GetMonitoringRequest(categories=["user-sync"]))
    assert one.HasField("user_sync") and not one.HasField("displays")


async def test_unknown_category_over_grpc_and_admin_token_reads(hub: HubProcess) -> None:
    failed = grpc_error(hub, "GetMonitoring", pb.GetMonitoringRequest(categories=["rooms"]), ADMIN)
    assert failed.code().name == "NOT_FOUND" and failed.details() == "Not Found"
    assert (await get(hub, "/displays", ADMIN))[0] == 200


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (
            'unspotUpsertDisplay(input: {name: "x", status: "broken"}) { id }',
            "status: expected one of online, offline, got 'broken'",
        ),
        ('unspotUpsertDisplay(input: {name: "x"}) { id }', "status: required for a new display"),
        (
            'unspotUpsertDisplay(input: {id: "bad id!", name: "x", status: "online"}) { id }',
            "id: expected 1-64 characters",
        ),
        (
            'unspotUpsertWebhook(input: {url: "ftp://x", status: "online"}) { id }',
            "url: expected an http or https URL",
        ),
        (
            'unspotUpsertCalendar(input: {name: "  ", status: "online"}) { id }',
            "name: expected a non-empty string",
        ),
        ('unspotRecordUserSync(at: "yesterday") { lastSyncDate }', "at: not an ISO 8601"),
        ('unspotRecordUserSync(at: "2026-02-04T11:41:39") { lastSyncDate }', "at: needs an offset"),
        ('unspotCreateUser(role: "root") { token }', "role: required, one of"),
        ('unspotSetDisplayStatus(id: "nope", status: "online") { id }', "id: no display 'nope'"),
    ],
)
async def test_bad_admin_input_names_the_field_and_changes_nothing(
    hub: HubProcess, mutation: str, message: str
) -> None:
    before = await counts(hub)
    result = await graphql(hub, f"mutation {{ {mutation} }}", ADMIN)
    assert message in result["errors"][0]["message"]
    assert result["errors"][0]["extensions"]["code"] in ("BAD_REQUEST", "NOT_FOUND")
    after = await counts(hub)
    assert after[0] == before[0] and after[1] == before[1]


async def test_admin_operations_need_the_admin_token(hub: HubProcess) -> None:
    token = owner(hub)
    result = await graphql(
        hub, 'mutation { unspotUpsertDisplay(input: {name: "x", status: "online"}) { id } }', token
    )
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    failed = grpc_error(hub, "CreateUser", pb.CreateUserRequest(role="owner"), token)
    assert failed.code().name == "UNAUTHENTICATED"
    failed = grpc_error(hub, "GetMonitoring", pb.GetMonitoringRequest(), "nope")
    assert failed.code().name == "UNAUTHENTICATED" and failed.details() == "Invalid API token"


async def test_upsert_changes_only_what_is_sent(hub: HubProcess) -> None:
    made = grpc_call(hub, "UpsertDisplay", pb.UpsertDisplayRequest(name="Hall", status="offline"))
    assert len(made.id) == 12 and made.id.isalnum()
    renamed = await graphql_ok(
        hub,
        'mutation($id: ID!) { unspotUpsertDisplay(input: {id: $id, name: "Hall 2"}) '
        "{ id name status } }",
        id=made.id,
    )
    assert renamed["unspotUpsertDisplay"] == {"id": made.id, "name": "Hall 2", "status": "offline"}
    grpc_call(hub, "DeleteDisplay", pb.DeleteRequest(id=made.id))
    assert grpc_error(hub, "DeleteDisplay", pb.DeleteRequest(id=made.id), ADMIN).code().name == (
        "NOT_FOUND"
    )


# -- the subscription ------------------------------------------------------------------------
async def _subscribers(hub: HubProcess) -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}  # probe details are the admin's
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.url + "/readyz", headers=headers) as resp,
    ):
        ready = await resp.json()
    (probe,) = [p for p in ready["probes"] if p["plugin"] == "unspot"]
    return str(probe["detail"]).split("subscribers: ")[1]


async def test_display_status_subscription_over_websocket(hub: HubProcess) -> None:
    grpc_call(
        hub, "UpsertDisplay", pb.UpsertDisplayRequest(id="ws-1", name="Door", status="online")
    )
    async with acknowledged(hub.url, bearer(owner(hub))) as ws:
        await subscribe(
            ws, "subscription { unspotDisplayStatusChanged { id name status previousStatus } }"
        )
        deadline = time.monotonic() + 10
        while await _subscribers(hub) != "1":  # the server does not acknowledge a subscribe
            assert time.monotonic() < deadline, "the subscription never started"
            await asyncio.sleep(0.05)
        # an upsert that keeps the status is not a change; the status change is
        grpc_call(hub, "UpsertDisplay", pb.UpsertDisplayRequest(id="ws-1", name="Front door"))
        grpc_call(hub, "SetDisplayStatus", pb.SetStatusRequest(id="ws-1", status="offline"))
        message = await next_message(ws)
        assert message["type"] == "next" and message["id"] == "1"
        assert message["payload"]["data"]["unspotDisplayStatusChanged"] == {
            "id": "ws-1",
            "name": "Front door",
            "status": "offline",
            "previousStatus": "online",
        }
        await graphql_ok(
            hub, 'mutation { unspotSetDisplayStatus(id: "ws-1", status: "online") { id } }'
        )
        change = (await next_message(ws))["payload"]["data"]["unspotDisplayStatusChanged"]
        assert (change["status"], change["previousStatus"]) == ("online", "offline")
        await ws.send_json({"id": "1", "type": "complete"})


async def test_a_subscription_ends_at_its_next_change_once_its_user_is_deleted(
    hub: HubProcess,
) -> None:
    issued = grpc_call(hub, "CreateUser", pb.CreateUserRequest(role="owner"))
    async with acknowledged(hub.url, bearer(issued.token)) as ws:
        await subscribe(ws, "subscription { unspotDisplayStatusChanged { id status } }")
        deadline = time.monotonic() + 10
        while await _subscribers(hub) != "1":
            assert time.monotonic() < deadline, "the subscription never started"
            await asyncio.sleep(0.05)
        appeared = pb.UpsertDisplayRequest(id="gone-1", name="Hall", status="online")
        grpc_call(hub, "UpsertDisplay", appeared)
        change = (await next_message(ws))["payload"]["data"]["unspotDisplayStatusChanged"]
        assert change == {"id": "gone-1", "status": "online"}
        grpc_call(hub, "DeleteUser", pb.DeleteUserRequest(user_id=issued.user_id))
        grpc_call(hub, "SetDisplayStatus", pb.SetStatusRequest(id="gone-1", status="offline"))
        message = await next_message(ws)
        assert message["type"] == "next" and message["payload"]["data"] is None, message
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        deadline = time.monotonic() + 10
        while await _subscribers(hub) != "0":
            assert time.monotonic() < deadline, "the subscription outlived its user"
            await asyncio.sleep(0.05)


async def test_subscription_needs_a_reading_role(hub: HubProcess) -> None:
    message = await first_answer(
        hub.url,
        bearer(owner(hub, "employee")),
        "subscription { unspotDisplayStatusChanged { id } }",
    )
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
