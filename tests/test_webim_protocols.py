"""REST, GraphQL and gRPC side by side: the same data and the same errors from one service, and
the admin writes that feed it (rejected ones change nothing)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from hub_webim.v1 import webim_pb2 as pb

from tests.hubproc import HubProcess
from tests.webim_client import (
    ADMIN,
    PREFIX,
    SEED_COUNTERS,
    gql_error,
    graphql,
    issue,
    parse_var_dump,
    rest,
    rpc,
    rpc_error,
    service_login,
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("webim-protocols")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def auth(hub: HubProcess) -> str:
    return service_login(hub)


def url(hub: HubProcess, path: str) -> str:
    return hub.url + PREFIX + path


def snake(camel: dict[str, Any]) -> dict[str, Any]:
    return {re.sub(r"([A-Z])", r"_\1", k).lower(): v for k, v in camel.items()}


async def get(hub: HubProcess, path: str, auth: str) -> Any:
    status, body, _ = await rest(url(hub, path), auth)
    assert status == 200, (path, body)
    return body


async def test_admin_writes_over_grpc_read_everywhere(hub: HubProcess, auth: str) -> None:
    account = await rpc(hub, "UpsertAccount", pb.AccountInput(name="acme", domain="acme.webim.ru"))
    assert (account.name, account.domain, account.blocked) == ("acme", "acme.webim.ru", False)
    account = await rpc(
        hub,
        "SetAccountCounters",
        pb.SetAccountCountersRequest(
            name="acme",
            counters=[
                pb.CounterValue(counter="sessions_cnt", value=7),
                pb.CounterValue(counter="chats_cnt", value=3),
            ],
        ),
    )
    assert (account.counters.sessions_cnt, account.counters.chats_cnt) == (7, 3)
    objects = await rpc(
        hub,
        "SetStoreObjects",
        pb.SetStoreObjectsRequest(
            account="acme",
            collector="collected_to_store",
            objects=[
                pb.ObjectCount(class_name="Chat", count=4),
                pb.ObjectCount(class_name="Visit", count=0),
            ],
        ),
    )
    assert [(o.class_name, o.count) for o in objects.objects] == [("Chat", 4)]
    await rpc(hub, "SetChannelErrors", pb.SetChannelErrorsRequest(channel="telegram", error_cnt=2))
    await rpc(hub, "UpsertEnvironment", pb.Environment(host="s1", env="eta", ip="31.41.158.42"))
    polled = await rpc(hub, "RecordLongPolling", pb.RecordLongPollingRequest(tries=1.5))
    assert (polled.avg_n_tries, polled.n) == (1.5, 1)

    rows = await get(hub, "/l/a/monitor/accounts-stat", auth)
    assert rows[1]["name"] == "acme" and rows[1]["sessions_cnt"] == 7
    assert rows[1]["collected_to_store_objects_cnt"] == 4
    assert (await get(hub, "/l/a/monitor/zabbix/channels", auth)) == {
        "channels": {"telegram": {"error_cnt": 2}}
    }


async def test_the_same_data_over_three_protocols(hub: HubProcess, auth: str) -> None:
    query = """{ webim {
      monitor { host mainInfo { env port multinodeMode nodeName startTs startTime version osName
        osVersion ubuntuVersion branch revision tag avgNTries n storingEnabled } }
      accountsTotal { name sessionsCnt chatsCnt collectedToStoreObjectsCnt
        notBelongsToTornadoInstance }
      accounts { totalCount nodes { name domain sessionsCnt notBelongsToTornadoInstance blocked } }
      tornado { sessionsCnt workingOperatorsCnt chatsCnt accountsCnt failedToStoreObjectsCnt
        collectedToStoreObjectsCnt }
      channels { channel errorCnt }
      instanceId
      tornadoPorts
      environments { host env ip }
      collectedToStoreObjects(accountName: "acme", collectorName: "collected_to_store", num: 10) {
        className count }
      accountState(account: "acme") { blocked }
      info(host: "acme.webim.ru") { tornadoPort agentBackendPort accountName scriptLocation
        tornadoLocation server branch revision version https connections }
    } }"""
    body = await graphql(hub, query, auth)  # a service login works on GraphQL too
    assert "errors" not in body, body
    g = body["data"]["webim"]

    monitor = await get(hub, "/l/a/monitor", auth)
    assert snake(g["monitor"]["mainInfo"]) == snake(monitor["mainInfo"])
    assert g["monitor"]["host"] == monitor["host"]
    grpc_monitor = await rpc(hub, "GetMonitor", pb.Empty(), auth)
    main = MessageToDict(
        grpc_monitor.main_info,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    main["port"], main["n"] = int(main["port"]), int(main["n"])
    assert main == snake(monitor["mainInfo"])

    rows = await get(hub, "/l/a/monitor/accounts-stat", auth)
    total = rows[0]
    assert snake(g["accountsTotal"]) == {k: total[k] for k in snake(g["accountsTotal"])}
    stat = await rpc(hub, "GetAccountsStat", pb.Empty(), auth)
    assert stat.total.counters.sessions_cnt == total["sessions_cnt"]
    assert stat.total.not_belongs_to_tornado_instance == total["not_belongs_to_tornado_instance"]
    assert [a.name for a in stat.accounts] == [r["name"] for r in rows[1:]]
    assert [n["name"] for n in g["accounts"]["nodes"]] == [r["name"] for r in rows[1:]]
    assert g["accounts"]["totalCount"] == len(rows) - 1

    tornado = await get(hub, "/l/a/monitor/zabbix/tornado", auth)
    assert snake(g["tornado"]) == tornado
    grpc_tornado = await rpc(hub, "GetZabbixTornado", pb.Empty(), auth)
    assert MessageToDict(
        grpc_tornado, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    ) == {k: str(v) for k, v in tornado.items()}

    channels = (await get(hub, "/l/a/monitor/zabbix/channels", auth))["channels"]
    assert {c["channel"]: {"error_cnt": c["errorCnt"]} for c in g["channels"]} == channels
    grpc_channels = await rpc(hub, "GetZabbixChannels", pb.Empty(), auth)
    assert {c.channel: {"error_cnt": c.error_cnt} for c in grpc_channels.channels} == channels

    ident = await get(hub, "/l/i/instance-id", auth)
    assert (
        g["instanceId"] == ident == (await rpc(hub, "GetInstanceId", pb.Empty(), auth)).instance_id
    )

    ports = await get(hub, "/webim/service/monitor/get-tornado-ports.php", auth)
    assert (
        g["tornadoPorts"]
        == ports
        == list((await rpc(hub, "GetTornadoPorts", pb.Empty(), auth)).ports)
    )

    envs = await get(hub, "/webim/service/monitor/get-all-env-list.php", auth)
    assert g["environments"] == envs
    grpc_envs = await rpc(hub, "ListEnvironments", pb.Empty(), auth)
    assert [
        MessageToDict(e, preserving_proto_field_name=True) for e in grpc_envs.environments
    ] == envs

    objects = await get(
        hub,
        "/l/a/monitor/collected-to-store-objects?mode=stats&account_name=acme"
        "&collector_name=collected_to_store&num=10",
        auth,
    )
    assert {o["className"]: o["count"] for o in g["collectedToStoreObjects"]} == objects

    state = await get(hub, "/l/i/account-state?action=get_state&account=acme", auth)
    assert g["accountState"] == state
    grpc_state = await rpc(
        hub,
        "GetAccountState",
        pb.AccountStateRequest(action="get_state", host="acme.webim.ru"),
        auth,
    )
    assert grpc_state.blocked is state["blocked"]

    _status, text, _ = await rest(
        url(hub, "/webim/service/info.php"), auth, headers={"Host": "acme.webim.ru"}
    )
    php = parse_var_dump(text)
    assert {k.replace(" ", "_"): v for k, v in php.items() if k != "uptime"} == {
        k: v for k, v in snake(g["info"]).items()
    }
    grpc_info = await rpc(hub, "GetInfo", pb.InfoRequest(host="acme.webim.ru"), auth)
    entries = {e.key: (e.value if e.HasField("value") else None) for e in grpc_info.entries}
    assert list(entries) == list(php)
    assert {k: v for k, v in entries.items() if k != "uptime"} == {
        k: v for k, v in php.items() if k != "uptime"
    }


async def test_timer_stats_and_object_stats_over_grpc(hub: HubProcess, auth: str) -> None:
    stats = await rpc(hub, "GetTimerStats", pb.Empty(), auth)
    rest_stats = await get(hub, "/l/a/monitor/timer-stats", auth)
    assert {t.timer for t in stats.last_min} == set(rest_stats["last_min"])
    for timer in stats.last_min:
        assert timer.func_name == rest_stats["last_min"][timer.timer]["func_name"]
    objects = await rpc(hub, "GetObjectStats", pb.Empty(), auth)
    assert len(objects.objects) == 50 and objects.objects[0].count >= objects.objects[-1].count


async def test_the_same_errors_over_three_protocols(hub: HubProcess, auth: str) -> None:
    # 401: no credentials
    status, body, _ = await rest(url(hub, "/l/a/monitor"))
    assert status == 401
    assert (
        gql_error(await graphql(hub, "{ webim { instanceId } }", None))["code"] == "UNAUTHENTICATED"
    )
    code, trailers = await rpc_error(hub, "GetInstanceId", pb.Empty(), None)
    assert code == grpc.StatusCode.UNAUTHENTICATED and trailers["hub-plugin"] == "webim"

    # 400: a bad num, with the same message
    status, body, _ = await rest(
        url(
            hub,
            "/l/a/monitor/collected-to-store-objects?mode=stats"
            "&account_name=acme&collector_name=collected_to_store&num=0",
        ),
        auth,
    )
    message = "num: expected an integer between 1 and 10000, got '0'"
    assert (status, body["e"]) == (400, message)
    body = await graphql(
        hub,
        '{ webim { collectedToStoreObjects(accountName: "acme",'
        ' collectorName: "collected_to_store", num: 0) { count } } }',
        auth,
    )
    assert gql_error(body)["code"] == "BAD_REQUEST" and body["errors"][0]["message"] == message
    code, trailers = await rpc_error(
        hub,
        "GetCollectedToStoreObjects",
        pb.CollectedRequest(
            mode="stats", account_name="acme", collector_name="collected_to_store", num="0"
        ),
        auth,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and trailers["hub-status"] == "400"

    # 400: set-log-level with a level Webim does not have
    status, body, _ = await rest(url(hub, "/l/a/monitor/set-log-level?name=auth&level=LOUD"), auth)
    assert status == 400
    body = await graphql(
        hub, 'mutation { webimSetLogLevel(name: "auth", level: "LOUD") { level } }', auth
    )
    assert gql_error(body)["status"] == 400
    code, _ = await rpc_error(
        hub, "SetLogLevel", pb.SetLogLevelRequest(name="auth", level="LOUD"), auth
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT

    # 404: an account that does not exist
    status, body, _ = await rest(
        url(hub, "/l/i/account-state?action=get_state&account=ghost"), auth
    )
    assert (status, body["e"]) == (404, "account: no account 'ghost'")
    body = await graphql(hub, '{ webim { accountState(account: "ghost") { blocked } } }', auth)
    assert gql_error(body)["code"] == "NOT_FOUND"
    code, _ = await rpc_error(
        hub, "GetAccountState", pb.AccountStateRequest(action="get_state", account="ghost"), auth
    )
    assert code == grpc.StatusCode.NOT_FOUND


async def test_account_state_is_one_rule_on_every_protocol(hub: HubProcess, auth: str) -> None:
    """No ``action`` means get_state, and with exactly one account (a hosted install) that
    account answers the seed's verbatim request, whose Host (127.0.0.1 here) names none."""
    rows = await get(hub, "/l/a/monitor/accounts-stat", auth)
    (acme,) = [r for r in rows if r["name"] != "TOTAL"]
    want = {"blocked": False}
    assert await get(hub, "/l/i/account-state?action=get_state", auth) == want  # the seed's
    assert await get(hub, "/l/i/account-state", auth) == want
    body = await graphql(hub, "{ webim { accountState { blocked } } }", auth)
    assert body["data"]["webim"]["accountState"] == want
    state = await rpc(hub, "GetAccountState", pb.AccountStateRequest(), auth)  # no action
    assert MessageToDict(state, always_print_fields_with_no_presence=True) == want
    php = parse_var_dump((await rest(url(hub, "/webim/service/info.php"), auth))[1])
    assert php["account name"] == acme["name"] == "acme"

    await rpc(hub, "UpsertAccount", pb.AccountInput(name="second"))
    try:  # two accounts: the request must name one
        status, body, _ = await rest(url(hub, "/l/i/account-state?action=get_state"), auth)
        assert status == 400 and body["e"].startswith("account: required"), body
        code, _ = await rpc_error(hub, "GetAccountState", pb.AccountStateRequest(), auth)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        body = await graphql(hub, "{ webim { accountState { blocked } } }", auth)
        assert gql_error(body)["status"] == 400
    finally:
        await rpc(hub, "DeleteAccount", pb.DeleteAccountRequest(name="second"))


async def test_a_value_that_is_set_is_a_gauge(hub: HubProcess, auth: str) -> None:
    """Channel errors are set by the admin and may go down (5 then 2): a gauge. No webim
    counter goes down whatever the admin writes."""

    async def scrape() -> tuple[str, dict[str, float]]:
        _status, text, _ = await rest(url(hub, "/metrics"), auth)
        counters = set(re.findall(r"^# TYPE (webim_\S+) counter$", text, re.M))
        samples = {
            name: float(value)
            for name, value in re.findall(r"^(webim_\S+?)(?:\{.*\})? (\S+)$", text, re.M)
        }
        return text, {n: v for n, v in samples.items() if n.removesuffix("_total") in counters}

    await rpc(hub, "SetChannelErrors", pb.SetChannelErrorsRequest(channel="viber", error_cnt=5))
    _text, before = await scrape()
    await rpc(hub, "SetChannelErrors", pb.SetChannelErrorsRequest(channel="viber", error_cnt=2))
    text, after = await scrape()
    assert "# TYPE webim_channel_errors gauge" in text
    assert 'webim_channel_errors{channel="viber"} 2.0' in text
    assert "webim_channel_errors_total" not in text
    assert all(after[name] >= value for name, value in before.items()), (before, after)
    await rpc(hub, "SetChannelErrors", pb.SetChannelErrorsRequest(channel="viber", error_cnt=0))


async def test_set_log_level_over_graphql_and_grpc(hub: HubProcess, auth: str) -> None:
    body = await graphql(
        hub,
        'mutation { webimSetLogLevel(name: "webim", level: "ERROR") '
        "{ logger level effectiveLevel } }",
        auth,
    )
    assert body["data"]["webimSetLogLevel"] == {
        "logger": "hub_webim",
        "level": "ERROR",
        "effectiveLevel": "ERROR",
    }
    level = await rpc(hub, "SetLogLevel", pb.SetLogLevelRequest(name="webim", level="WARN"), auth)
    assert (level.logger, level.level) == ("hub_webim", "WARN")
    await rest(url(hub, "/l/a/monitor/set-log-level?name=webim&level=INFO"), auth)
    level = await rpc(hub, "GetLogLevel", pb.GetLogLevelRequest(name="webim"), auth)
    assert (level.level, level.effective_level) == ("INFO", "INFO")


async def test_writes_need_the_admin_token(hub: HubProcess, auth: str) -> None:
    body = await graphql(hub, 'mutation { webimUpsertAccount(input: {name: "x"}) { name } }', auth)
    assert gql_error(body)["code"] == "UNAUTHENTICATED"
    code, _ = await rpc_error(hub, "UpsertAccount", pb.AccountInput(name="x"), auth)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert [r["name"] for r in await get(hub, "/l/a/monitor/accounts-stat", auth)].count("x") == 0


async def test_rejected_writes_change_nothing(hub: HubProcess, auth: str) -> None:
    before = await get(hub, "/l/a/monitor/accounts-stat", auth)
    envs = await get(hub, "/webim/service/monitor/get-all-env-list.php", auth)
    cases = [
        ('webimUpsertAccount(input: {name: "bad name"}) { name }', "name: 1-63 letters"),
        (
            'webimSetAccountCounters(name: "acme", counters: {sessionsCnt: 1, chatsCnt: -1})'
            " { name }",
            "chats_cnt: expected an integer between 0 and 2147483647",
        ),
        (
            'webimSetAccountCounters(name: "ghost", counters: {sessionsCnt: 1}) { name }',
            "name: no account 'ghost'",
        ),
        (
            'webimSetStoreObjects(account: "acme", collector: "collected_to_store",'
            ' objects: {Chat: "many"}) { count }',
            "objects.Chat: expected an integer",
        ),
        (
            'webimSetStoreObjects(account: "acme", collector: "bin", objects: {}) { count }',
            "collector: expected one of",
        ),
        (
            'webimUpsertEnvironment(input: {host: "s2", env: "eta", ip: "999.1.1.1"}) { ip }',
            "ip: not an IP address: '999.1.1.1'",
        ),
        ('webimSetChannelErrors(channel: "", errorCnt: 1) { channel }', "channel: required"),
        ("webimRecordLongPolling(tries: -1) { n }", "tries: expected a number"),
        ('webimDeleteEnvironment(host: "s9", env: "x")', "host/env: no environment"),
    ]
    for field, message in cases:
        mutation = f"mutation {{ {field} }}"
        body = await graphql(hub, mutation)
        assert body.get("errors"), mutation
        assert body["errors"][0]["message"].startswith(message), (mutation, body)
        assert body["errors"][0]["extensions"]["status"] in (400, 404)
    code, _trailers = await rpc_error(
        hub,
        "SetAccountCounters",
        pb.SetAccountCountersRequest(
            name="acme",
            counters=[
                pb.CounterValue(counter="sessions_cnt", value=99),
                pb.CounterValue(counter="collected_to_store_objects_cnt", value=1),
            ],
        ),
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert await get(hub, "/l/a/monitor/accounts-stat", auth) == before
    assert await get(hub, "/webim/service/monitor/get-all-env-list.php", auth) == envs
    monitor = await get(hub, "/l/a/monitor", auth)
    assert monitor["mainInfo"]["n"] == 1


async def test_delete_and_ping_over_grpc(hub: HubProcess, auth: str) -> None:
    await rpc(hub, "UpsertAccount", pb.AccountInput(name="gone"))
    await rpc(hub, "DeleteAccount", pb.DeleteAccountRequest(name="gone"))
    code, _ = await rpc_error(hub, "DeleteAccount", pb.DeleteAccountRequest(name="gone"))
    assert code == grpc.StatusCode.NOT_FOUND
    token = (await issue(hub, kind="operator"))["auth_token"]
    ok = await rpc(hub, "Ping", pb.PingRequest(auth_token=token, pinger_id="1", ts="2"), None)
    assert ok.result == "ok"
    code, _ = await rpc_error(
        hub, "Ping", pb.PingRequest(auth_token="nope", pinger_id="1", ts="2"), None
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    body = await graphql(
        hub, '{ webim { ping(pingerId: "1", ts: "x") { result } } }', f"Bearer {token}"
    )
    assert body["errors"][0]["message"] == "ts: expected a number, got 'x'"
    assert ADMIN


async def test_rest_bodies_keep_webims_key_order(hub: HubProcess, auth: str) -> None:
    """Zabbix reads keys, but a diff of two answers reads lines: the order is the seed's."""
    rows = await get(hub, "/l/a/monitor/accounts-stat", auth)
    assert list(rows[0]) == ["name", *SEED_COUNTERS, "not_belongs_to_tornado_instance"]
    assert list(rows[1]) == [
        "name",
        "domain",
        *SEED_COUNTERS,
        "not_belongs_to_tornado_instance",
        "ignore_not_belongs_to_tornado_instance",
    ]
    monitor = await get(hub, "/l/a/monitor", auth)
    assert list(monitor) == ["mainInfo", "host"]
    assert list(monitor["mainInfo"]) == [
        "env",
        "port",
        "multinodeMode",
        "nodeName",
        "startTs",
        "startTime",
        "version",
        "osName",
        "osVersion",
        "ubuntuVersion",
        "branch",
        "revision",
        "tag",
        "avgNTries",
        "n",
        "storingEnabled",
    ]
    stats = await get(hub, "/l/a/monitor/timer-stats", auth)
    assert list(stats) == ["last_min", "failed"]
    assert list(stats["last_min"]["timer: webim.storager"]) == [
        "count",
        "execution_times",
        "func_name",
    ]
    level = await get(hub, "/l/a/monitor/set-log-level?name=timers&level=WARN", auth)
    assert list(level) == ["result", "name", "logger", "loggers", "level"]


async def test_the_accounts_connection_pages_in_creation_order(hub: HubProcess, auth: str) -> None:
    for n in range(5):
        await rpc(hub, "UpsertAccount", pb.AccountInput(name=f"paged-{n}"))
    expected = [row["name"] for row in (await get(hub, "/l/a/monitor/accounts-stat", auth))[1:]]
    query = """query($first: Int, $after: String) { webim { accounts(first: $first, after: $after)
      { totalCount nodes { name sessionsCnt } pageInfo { hasNextPage endCursor } } } }"""
    names: list[str] = []
    after = None
    while True:
        body = await graphql(hub, query, auth, first=2, after=after)
        assert "errors" not in body, body
        page = body["data"]["webim"]["accounts"]
        assert page["totalCount"] == len(expected)
        assert len(page["nodes"]) <= 2
        names += [node["name"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == expected and len(names) >= 5
    body = await graphql(hub, query, auth, first=0)
    assert body["data"]["webim"]["accounts"]["nodes"] == []
    assert body["data"]["webim"]["accounts"]["totalCount"] == len(expected)
    body = await graphql(hub, query, None, first=2)
    assert gql_error(body)["code"] == "UNAUTHENTICATED"
