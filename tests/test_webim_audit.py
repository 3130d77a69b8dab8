"""webim where the acceptance suite does not look: sums of counters past GraphQL's Int, maps
given twice over gRPC, an empty logger name on the read-back, and Host names in another case."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from hub_webim.records import RESTART_TOPIC, InstanceRestart
from hub_webim.v1 import webim_pb2 as pb

from hub.testing.inprocess import running_hub
from tests.hubproc import HubProcess
from tests.webim_client import (
    PREFIX,
    basic,
    gql_error,
    graphql,
    parse_var_dump,
    rest,
    rpc,
    rpc_error,
    service_login,
)
from tests.ws_client import acknowledged, next_message, subscribe

MAX = 2**31 - 1  # GraphQL's Int, the bound of every count


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("webim-audit")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def auth(hub: HubProcess) -> str:
    return service_login(hub)


async def get(hub: HubProcess, path: str, auth: str, **kwargs: Any) -> Any:
    status, body, _ = await rest(hub.url + PREFIX + path, auth, **kwargs)
    assert status == 200, (path, body)
    return body


async def upsert(hub: HubProcess, name: str, *, blocked: bool = False) -> None:
    await rpc(hub, "UpsertAccount", pb.AccountInput(name=name, blocked=blocked))


async def state(hub: HubProcess, auth: str) -> tuple[Any, Any]:
    return (
        await get(hub, "/l/a/monitor/accounts-stat", auth),
        await get(hub, "/l/a/monitor/zabbix/tornado", auth),
    )


READ_SUMS = """{ webim {
  accountsTotal { chatsCnt offlineChatsCnt failedToStoreObjectsCnt }
  tornado { chatsCnt failedToStoreObjectsCnt }
  accounts { nodes { name failedToStoreObjectsCnt } }
} }"""


async def test_no_write_makes_a_reported_sum_pass_graphqls_int(hub: HubProcess, auth: str) -> None:
    """Each counter is at most 2**31 - 1, and so must be the sums accounts-stat and zabbix/tornado
    report: otherwise REST answers a number GraphQL cannot carry, and every GraphQL read of
    them fails (blamed on the caller) while REST and gRPC answer."""
    await upsert(hub, "sums1")
    await upsert(hub, "sums2")
    counters = {"chatsCnt": MAX - 1, "offlineChatsCnt": 1}
    body = await graphql(
        hub,
        'mutation($c: WebimCountersInput!) { webimSetAccountCounters(name: "sums1",'
        " counters: $c) { name } }",
        c=counters,
    )
    assert "errors" not in body, body
    before = await state(hub, auth)

    # one more chat anywhere: zabbix/tornado's chats_cnt (chats + offline chats) would pass it
    body = await graphql(
        hub, 'mutation { webimSetAccountCounters(name: "sums2", counters: {chatsCnt: 1}) { name } }'
    )
    assert gql_error(body)["code"] == "BAD_REQUEST", body
    assert body["errors"][0]["message"] == (
        f"chats_cnt: zabbix/tornado chats_cnt would be {MAX + 1}, above {MAX}"
    )
    code, trailers = await rpc_error(
        hub,
        "SetAccountCounters",
        pb.SetAccountCountersRequest(
            name="sums2", counters=[pb.CounterValue(counter="offline_chats_cnt", value=5)]
        ),
    )
    assert (code, trailers["hub-status"]) == (grpc.StatusCode.INVALID_ARGUMENT, "400")

    # the storagers' counters are sums of objects: an account's, TOTAL's, tornado's
    body = await graphql(
        hub,
        'mutation { webimSetStoreObjects(account: "sums1", collector: "failed_to_store",'
        f" objects: {{Chat: {MAX}, Message: 1}}) {{ count }} }}",
    )
    assert body["errors"][0]["message"].startswith("objects: TOTAL failed_to_store_objects_cnt")
    await rpc(
        hub,
        "SetStoreObjects",
        pb.SetStoreObjectsRequest(
            account="sums1",
            collector="failed_to_store",
            objects=[pb.ObjectCount(class_name="Chat", count=MAX)],
        ),
    )
    code, _ = await rpc_error(
        hub,
        "SetStoreObjects",
        pb.SetStoreObjectsRequest(
            account="sums2",
            collector="failed_to_store_1",
            objects=[pb.ObjectCount(class_name="Chat", count=1)],
        ),
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT

    # nothing refused was stored, and GraphQL still reads every sum
    rows, tornado = await state(hub, auth)
    assert tornado == {**before[1], "failed_to_store_objects_cnt": MAX}
    assert [r for r in rows if r["name"] == "sums2"] == [
        r for r in before[0] if r["name"] == "sums2"
    ]
    got = await graphql(hub, READ_SUMS, auth)
    assert "errors" not in got, got
    assert got["data"]["webim"]["tornado"] == {"chatsCnt": MAX, "failedToStoreObjectsCnt": MAX}
    for name in ("sums1", "sums2"):
        await rpc(hub, "DeleteAccount", pb.DeleteAccountRequest(name=name))


async def test_a_pair_given_twice_over_grpc_is_refused(hub: HubProcess, auth: str) -> None:
    """GraphQL refuses a field given twice; gRPC's repeated pairs must not let the last one win
    in silence."""
    await upsert(hub, "pairs")
    before = await get(hub, "/l/a/monitor/accounts-stat", auth)
    code, _ = await rpc_error(
        hub,
        "SetAccountCounters",
        pb.SetAccountCountersRequest(
            name="pairs",
            counters=[
                pb.CounterValue(counter="sessions_cnt", value=1),
                pb.CounterValue(counter="sessions_cnt", value=7),
            ],
        ),
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, _ = await rpc_error(
        hub,
        "SetStoreObjects",
        pb.SetStoreObjectsRequest(
            account="pairs",
            collector="collected_to_store",
            objects=[
                pb.ObjectCount(class_name="Chat", count=1),
                pb.ObjectCount(class_name="Chat", count=5),
            ],
        ),
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert await get(hub, "/l/a/monitor/accounts-stat", auth) == before
    body = await graphql(
        hub,
        'mutation { webimSetAccountCounters(name: "pairs", counters: {sessionsCnt: 1,'
        " sessionsCnt: 7}) { name } }",
    )
    assert gql_error(body)["code"] == "BAD_REQUEST"
    # a non-admin still hears 401 first
    code, _ = await rpc_error(
        hub,
        "SetAccountCounters",
        pb.SetAccountCountersRequest(
            name="pairs",
            counters=[pb.CounterValue(counter="sessions_cnt", value=1)] * 2,
        ),
        auth,
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    await rpc(hub, "DeleteAccount", pb.DeleteAccountRequest(name="pairs"))


async def test_an_empty_logger_name_is_required_on_every_read(hub: HubProcess, auth: str) -> None:
    status, body, _ = await rest(hub.url + PREFIX + "/l/a/monitor/set-log-level?level=INFO", auth)
    assert (status, body["e"]) == (400, "name: required")
    body = await graphql(hub, '{ webim { logLevel(name: "") { level } } }', auth)
    assert body["errors"][0]["message"] == "name: required"
    code, trailers = await rpc_error(hub, "GetLogLevel", pb.GetLogLevelRequest(name=""), auth)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and trailers["hub-status"] == "400"


async def test_the_host_name_names_an_account_in_any_case(hub: HubProcess, auth: str) -> None:
    """Host names are case-insensitive: ``ACME.webim.ru`` is ``acme``'s host, and
    ``beta.webim.ru`` names ``Beta``; two accounts that differ in case alone are told apart
    only by the exact name."""
    await upsert(hub, "acme")
    await upsert(hub, "Beta", blocked=True)
    try:
        assert await get(hub, "/l/i/account-state", auth, headers={"Host": "ACME.webim.ru"}) == {
            "blocked": False
        }
        assert await get(hub, "/l/i/account-state", auth, headers={"Host": "beta.webim.ru"}) == {
            "blocked": True
        }
        php = await get(hub, "/webim/service/info.php", auth, headers={"Host": "BETA.webim.ru"})
        assert parse_var_dump(php)["account name"] == "Beta"
        body = await graphql(hub, '{ webim { accountState(host: "Beta.Webim.Ru") { blocked } } }')
        assert body["data"]["webim"]["accountState"] == {"blocked": True}
        state = await rpc(hub, "GetAccountState", pb.AccountStateRequest(host="ACME.webim.ru"))
        assert state.blocked is False

        await upsert(hub, "beta")  # now "BETA" could be either: only the exact name counts
        assert await get(hub, "/l/i/account-state", auth, headers={"Host": "beta.webim.ru"}) == {
            "blocked": False
        }
        status, body, _ = await rest(
            hub.url + PREFIX + "/l/i/account-state", auth, headers={"Host": "BETA.webim.ru"}
        )
        assert status == 400 and body["e"].startswith("account: required"), body
    finally:
        for name in ("acme", "Beta", "beta"):
            await graphql(hub, f'mutation {{ webimDeleteAccount(name: "{name}") }}')


async def test_a_restart_subscription_ends_at_its_next_event_once_its_login_is_revoked(
    tmp_path: Path,
) -> None:
    """Restarts reach local mode's subscribers only through the event bus (the fronted Webim's
    restarts in upstream mode): published on the hub's own bus here."""
    async with running_hub(tmp_path, {"HUB_PLUGINS": "webim"}) as running:
        login = running.creds("webim", kind="service")
        (credential,) = [
            c
            for c in running.hub.credentials.listing("webim").items
            if c["login"] == login["login"]
        ]
        query = "subscription { webimInstanceRestarted { instanceId } }"
        async with acknowledged(running.url, {"Authorization": basic(**login)}) as ws:
            await subscribe(ws, query)
            async with asyncio.timeout(10):
                while not running.hub.events.subscribers(RESTART_TOPIC):
                    await asyncio.sleep(0.05)
            seen = datetime.now(UTC)
            running.hub.events.publish(RESTART_TOPIC, InstanceRestart("b" * 32, "a" * 32, seen))
            message = await next_message(ws)
            assert message["payload"]["data"]["webimInstanceRestarted"] == {"instanceId": "b" * 32}
            running.hub.credentials.revoke("webim", credential["id"])
            running.hub.events.publish(RESTART_TOPIC, InstanceRestart("c" * 32, "b" * 32, seen))
            message = await next_message(ws)
            assert message["type"] == "next" and message["payload"]["data"] is None, message
            assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            async with asyncio.timeout(10):
                while running.hub.events.subscribers(RESTART_TOPIC):
                    await asyncio.sleep(0.05)
