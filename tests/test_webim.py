"""webim's REST surface against the seed: the curl examples, every field and type of its tables,
auth, the 4xx answers, info.php as PHP var_dump, /webim/metrics through promtool."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.promtool import promtool_check
from tests.webim_client import (
    ADMIN,
    PREFIX,
    SEED_COUNTERS,
    basic,
    curl,
    graphql,
    issue,
    parse_var_dump,
    rest,
    service_login,
)

BRANCH = "релиз-10.7"  # Cyrillic: info.php must count its UTF-8 bytes
ENDPOINTS = [
    "/metrics",
    "/l/a/monitor",
    "/l/a/monitor/connect-to-db",
    "/l/a/monitor/timer-stats",
    "/l/a/monitor/accounts-stat",
    "/l/a/monitor/zabbix/tornado",
    "/l/a/monitor/zabbix/channels",
    "/l/a/monitor/collected-to-store-objects?mode=stats&account_name=wmtest107"
    "&collector_name=collected_to_store&num=100",
    "/l/a/monitor/set-log-level?name=webim&level=INFO",
    "/l/a/object-stats",
    "/l/i/instance-id",
    "/l/i/account-state?action=get_state&account=wmtest107",
    "/webim/service/monitor/get-tornado-ports.php",
    "/webim/service/monitor/get-all-env-list.php",
    "/webim/service/info.php",
]

SEED_ACCOUNTS = """
mutation {
  a: webimUpsertAccount(input: {name: "wmtest107", domain: "wmtest107.webim.ru"}) { name }
  b: webimSetAccountCounters(name: "wmtest107", counters: {sessionsCnt: 13, visibleSessionsCnt: 13,
     aliveSessionsCnt: 13, pagesCnt: 12, alivePagesCnt: 0, onlineOperatorsCnt: 2,
     workingOperatorsCnt: 2, chatsCnt: 1, offlineChatsCnt: 1, inQueueCnt: 2}) { name }
  c: webimUpsertAccount(input: {name: "blocked1", domain: "blocked1.webim.ru", blocked: true,
     notBelongsToTornadoInstance: true}) { name }
  d: webimSetAccountCounters(name: "blocked1", counters: {sessionsCnt: 5, workingOperatorsCnt: 1,
     chatsCnt: 3, offlineChatsCnt: 4}) { name }
  e: webimUpsertAccount(input: {name: "ignored", notBelongsToTornadoInstance: true,
     ignoreNotBelongsToTornadoInstance: true}) { name }
  f: webimSetStoreObjects(account: "wmtest107", collector: "collected_to_store",
     objects: {VisitSession: 3, Chat: 5, Message: 1}) { className }
  g: webimSetStoreObjects(account: "blocked1", collector: "failed_to_store_1",
     objects: {Chat: 2}) { className }
  h: webimSetChannelErrors(channel: "telegram", errorCnt: 1) { channel }
  i: webimSetChannelErrors(channel: "vk", errorCnt: 1) { channel }
  j: webimSetChannelErrors(channel: "email", errorCnt: 0) { channel }
  k: webimUpsertEnvironment(input: {host: "s1", env: "eta", ip: "31.41.158.42"}) { env }
  l: webimUpsertEnvironment(input: {host: "s1", env: "epsilon", ip: "31.41.158.42"}) { env }
  m: webimRecordLongPolling(tries: 2) { n }
  n: webimRecordLongPolling(tries: 4) { n }
}
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    env = {
        "HUB_WEBIM_STORAGER_INTERVAL": "0.2",
        "HUB_WEBIM_BRANCH": BRANCH,
        "HUB_WEBIM_REVISION": "09523fed398a6351c595df37d6f5b1a2904952b7",
        "HUB_WEBIM_ENV": "wmtest107",
        "HUB_WEBIM_HOST": "wmtest107.webim.ru",
    }
    process = HubProcess(tmp_path_factory.mktemp("webim"), env=env).start()
    seeded = asyncio.run(graphql(process, SEED_ACCOUNTS))
    assert "errors" not in seeded, seeded
    yield process
    process.stop()


@pytest.fixture(scope="module")
def auth(hub: HubProcess) -> str:
    return service_login(hub, "monitoring")  # not "zabbix": test_creds_parameters reissues it


def url(hub: HubProcess, path: str) -> str:
    return hub.url + PREFIX + path


def _types(row: dict[str, Any], expected: dict[str, type]) -> None:
    assert set(row) == set(expected), set(row) ^ set(expected)
    for key, kind in expected.items():
        value = row[key]
        if kind is int:
            assert type(value) is int, (key, value)
        else:
            assert isinstance(value, kind), (key, value)


# -- auth ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ENDPOINTS)
async def test_every_service_endpoint_wants_basic(hub: HubProcess, auth: str, path: str) -> None:
    wrong = basic("zabbix", "not-the-password")
    for authorization in (None, wrong, "Basic !!!", "Bearer nope"):
        status, body, headers = await rest(url(hub, path), authorization)
        assert status == 401, (path, authorization)
        assert headers["WWW-Authenticate"] == 'Basic realm="webim"'
        assert body == {
            "result": "error",
            "e": "send Authorization: Basic <service login:password>",
        }
    status, _, _ = await rest(url(hub, path), auth)
    assert status == 200, path
    status, _, _ = await rest(url(hub, path), ADMIN)  # the admin token works everywhere
    assert status == 200, path


async def test_an_operator_token_is_not_a_service_login(hub: HubProcess) -> None:
    token = (await issue(hub, kind="operator"))["auth_token"]
    status, _, _ = await rest(url(hub, "/l/a/monitor"), f"Bearer {token}")
    assert status == 401


async def test_creds_parameters(hub: HubProcess, auth: str) -> None:
    default = hub.creds("webim", kind="service")  # the CLI, as documented
    assert default["login"] == "zabbix" and set(default) == {"login", "password"}
    status, _, _ = await rest(url(hub, "/l/a/monitor"), basic("zabbix", default["password"]))
    assert status == 200
    assert set(await issue(hub, kind="operator")) == {"auth_token"}
    chosen = await issue(hub, kind="service", login="nagios", password="s3cret-enough")
    assert chosen == {"login": "nagios", "password": "s3cret-enough"}
    bad = {
        (("kind", "admin"),): "kind: expected service or operator, got 'admin'",
        (("kind", "operator"), ("login", "x")): "login: operator credentials are tokens",
        (("color", "red"),): "color: unknown parameter",
        (("login", "no spaces"),): "login: 1-63 letters",
    }
    for params, message in bad.items():
        with pytest.raises(ValueError, match=re.escape(message)):
            await issue(hub, **dict(params))
    result = hub.cli("creds", "add", "webim", "--param", "kind=admin", check=False)
    assert result.returncode != 0 and result.stdout == "" and "kind:" in result.stderr


# -- the seed's curl examples -------------------------------------------------------------
def test_the_seed_curl_examples(hub: HubProcess, auth: str) -> None:
    base = hub.url + PREFIX
    header = f"Authorization: {auth}"
    php_cookie = "WEBIM_LOCALE=ru; PHPSESSID=asur94kg5skdnm5kdg7sukc7f4"
    for path in (
        "/l/a/monitor?=",
        "/l/a/monitor/timer-stats?=",
        "/l/a/monitor/accounts-stat?=",
        "/l/a/monitor/zabbix/tornado?=",
        "/l/a/monitor/zabbix/channels?=",
        "/l/a/monitor/connect-to-db",
    ):
        status, body = curl("--request", "GET", "--url", base + path, "--header", header)
        assert status == 200, (path, body)
    status, body = curl(
        "--request",
        "GET",
        "--url",
        base + "/l/a/monitor/collected-to-store-objects?mode=stats&account_name=wmtest107"
        "&collector_name=collected_to_store&num=100",
        "--header",
        header,
    )
    assert (status, body) == (200, '{"Chat":5,"VisitSession":3,"Message":1}')
    status, body = curl("--request", "GET", "--url", base + "/l/i/instance-id", "--header", header)
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", body)
    status, body = curl(
        "--request",
        "GET",
        "--url",
        base + "/l/i/account-state?action=get_state&account=wmtest107",
        "--header",
        header,
    )
    assert (status, body) == (200, '{"blocked":false}')
    for php in (
        "/webim/service/monitor/get-tornado-ports.php",
        "/webim/service/monitor/get-all-env-list.php",
        "/webim/service/info.php",
    ):
        status, body = curl(
            "--request", "GET", "--url", base + php, "--header", header, "--cookie", php_cookie
        )
        assert status == 200, (php, body)
    status, body = curl(
        "--request",
        "GET",
        "--url",
        base + "/l/a/monitor/set-log-level?name=auth&level=DEBUG&current_node_only=true",
        "--header",
        header,
    )
    assert status == 200, body
    token = hub.creds("webim", kind="operator")["auth_token"]
    cookie = (
        f"Cookie: WEBIM_LOCALE=ru; WEBIM_AUTH_TOKEN={token}; WEBIM_ONLINE=true; "
        "WEBIM_URL=https%3A%2F%2Fcompanyname.webim.ru%2Fwebim; WEBIM_STATUS=online"
    )
    status, body = curl(
        "--request",
        "GET",
        "--url",
        base + "/l/o/pingservice?pinger-id=17595&ts=123",
        "--header",
        "Connection: keep-alive",
        "--header",
        cookie,
    )
    assert (status, body) == (200, '{"result":"ok"}')


# -- formats --------------------------------------------------------------------------------
async def test_monitor_has_every_field_of_the_seed_table(hub: HubProcess, auth: str) -> None:
    status, body, _ = await rest(url(hub, "/l/a/monitor?="), auth)
    assert status == 200 and set(body) == {"mainInfo", "host"}
    assert body["host"] == "wmtest107.webim.ru"
    info = body["mainInfo"]
    _types(
        info,
        {
            "env": str,
            "port": int,
            "startTs": float,
            "startTime": str,
            "version": str,
            "osName": str,
            "osVersion": str,
            "ubuntuVersion": str,
            "branch": str,
            "revision": str,
            "tag": str,
            "avgNTries": float,
            "n": int,
            "storingEnabled": bool,
            "nodeName": str,
            "multinodeMode": str,
        },
    )
    assert info["env"] == "wmtest107" and info["branch"] == BRANCH
    assert info["port"] == int(hub.http.rsplit(":", 1)[1])
    assert (info["avgNTries"], info["n"]) == (3.0, 2)  # tries 2 then 4
    assert info["storingEnabled"] is True
    assert re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d:\d\d", info["startTime"])
    release = Path("/etc/os-release")
    if release.exists():
        fields = dict(
            line.split("=", 1) for line in release.read_text().splitlines() if "=" in line
        )
        assert info["osName"] == fields["NAME"].strip('"')
        assert info["osVersion"] == fields.get("VERSION_ID", "").strip('"')


COUNTER_FIELDS = dict.fromkeys(SEED_COUNTERS, int)


async def test_accounts_stat_total_and_rows(hub: HubProcess, auth: str) -> None:
    status, rows, _ = await rest(url(hub, "/l/a/monitor/accounts-stat?="), auth)
    assert status == 200
    total, *accounts = rows
    _types(total, {"name": str, **COUNTER_FIELDS, "not_belongs_to_tornado_instance": int})
    for row in accounts:
        _types(
            row,
            {
                "name": str,
                "domain": str,
                **COUNTER_FIELDS,
                "not_belongs_to_tornado_instance": bool,
                "ignore_not_belongs_to_tornado_instance": bool,
            },
        )
    assert [r["name"] for r in rows] == ["TOTAL", "wmtest107", "blocked1", "ignored"]
    wm = accounts[0]
    assert wm["domain"] == "wmtest107.webim.ru"
    assert (wm["sessions_cnt"], wm["pages_cnt"], wm["in_queue_cnt"]) == (13, 12, 2)
    assert wm["collected_to_store_objects_cnt"] == 9  # the sum of its collector's objects
    assert accounts[1]["failed_to_store_objects_cnt_1"] == 2
    for counter in COUNTER_FIELDS:
        assert total[counter] == sum(a[counter] for a in accounts), counter
    # one account marked, one marked but ignored: TOTAL counts the first only
    assert total["not_belongs_to_tornado_instance"] == 1


async def test_zabbix_aggregates(hub: HubProcess, auth: str) -> None:
    status, tornado, _ = await rest(url(hub, "/l/a/monitor/zabbix/tornado?="), auth)
    assert status == 200
    assert tornado == {
        "sessions_cnt": 18,
        "working_operators_cnt": 3,
        "chats_cnt": 1 + 1 + 3 + 4,  # chats and offline chats
        "accounts_cnt": 2,  # blocked1 is blocked
        "failed_to_store_objects_cnt": 2,
        "collected_to_store_objects_cnt": 9,
    }
    status, channels, _ = await rest(url(hub, "/l/a/monitor/zabbix/channels?="), auth)
    assert channels == {"channels": {"telegram": {"error_cnt": 1}, "vk": {"error_cnt": 1}}}


NUM = "num: expected an integer between 1 and 10000,"


async def test_collected_to_store_objects(hub: HubProcess, auth: str) -> None:
    base = "/l/a/monitor/collected-to-store-objects?mode=stats&account_name=wmtest107"
    status, body, _ = await rest(url(hub, base + "&collector_name=collected_to_store&num=2"), auth)
    assert (status, body) == (200, {"Chat": 5, "VisitSession": 3})
    bad = {
        "&collector_name=collected_to_store": "num: required",
        "&collector_name=collected_to_store&num=0": f"{NUM} got '0'",
        "&collector_name=collected_to_store&num=x": f"{NUM} got 'x'",
        "&collector_name=nope&num=1": "collector_name: expected one of",
        "&num=1": "collector_name: required",
    }
    for suffix, message in bad.items():
        status, body, _ = await rest(url(hub, base + suffix), auth)
        assert status == 400 and body["e"].startswith(message), (suffix, body)
    status, body, _ = await rest(
        url(
            hub,
            "/l/a/monitor/collected-to-store-objects?account_name=wmtest107&collector_name=collected_to_store&num=1",
        ),
        auth,
    )
    assert (status, body["e"]) == (400, "mode: required")
    status, body, _ = await rest(
        url(hub, base.replace("wmtest107", "ghost") + "&collector_name=collected_to_store&num=1"),
        auth,
    )
    assert (status, body) == (404, {"result": "error", "e": "account_name: no account 'ghost'"})
    long_name = "g" * 5000  # an error echoes what was sent cut, not kilobytes of it
    status, body, _ = await rest(
        url(hub, base.replace("wmtest107", long_name) + "&collector_name=collected_to_store&num=1"),
        auth,
    )
    assert (status, body["e"]) == (
        404,
        f"account_name: no account {'g' * 40!r}... (5000 characters)",
    )


async def test_object_stats_are_the_hub_process_objects(hub: HubProcess, auth: str) -> None:
    status, body, _ = await rest(url(hub, "/l/a/object-stats"), auth)
    assert status == 200 and len(body) == 50
    counts = list(body.values())
    assert counts == sorted(counts, reverse=True) and all(type(c) is int for c in counts)
    # classes only the hub process has: its aiohttp server and its SQLite connections
    assert "dict" in body and "function" in body
    assert body["function"] > 1000


async def test_instance_id_is_plain_hex(hub: HubProcess, auth: str) -> None:
    status, body, headers = await rest(url(hub, "/l/i/instance-id"), auth)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert re.fullmatch(r"[0-9a-f]{32}", body)


async def test_account_state(hub: HubProcess, auth: str) -> None:
    state = "/l/i/account-state?action=get_state"
    assert (await rest(url(hub, state + "&account=blocked1"), auth))[1] == {"blocked": True}
    # the account from the Host name, as on {account}.webim.ru
    status, body, _ = await rest(url(hub, state), auth, headers={"Host": "blocked1.webim.ru"})
    assert (status, body) == (200, {"blocked": True})
    status, body, _ = await rest(url(hub, state), auth)  # 127.0.0.1, no default, 3 accounts
    assert status == 400 and body["e"].startswith("account: required")
    status, body, _ = await rest(url(hub, "/l/i/account-state?action=set_state"), auth)
    assert (status, body["e"]) == (400, "action: expected get_state, got 'set_state'")
    for query in ("?account=blocked1", "?action=&account=blocked1"):  # get_state, the only one
        status, body, _ = await rest(url(hub, "/l/i/account-state" + query), auth)
        assert (status, body) == (200, {"blocked": True}), query
    status, body, _ = await rest(url(hub, state + "&account=ghost"), auth)
    assert status == 404


async def test_php_endpoints(hub: HubProcess, auth: str) -> None:
    cookies = {"PHPSESSID": "asur94kg5skdnm5kdg7sukc7f4", "WEBIM_LOCALE": "ru"}
    status, ports, _ = await rest(
        url(hub, "/webim/service/monitor/get-tornado-ports.php"), auth, cookies=cookies
    )
    assert status == 200
    assert ports == [hub.http.rsplit(":", 1)[1]]  # where webim answers: not the gRPC port
    status, envs, _ = await rest(
        url(hub, "/webim/service/monitor/get-all-env-list.php"), auth, cookies=cookies
    )
    assert envs == [
        {"host": "s1", "env": "eta", "ip": "31.41.158.42"},
        {"host": "s1", "env": "epsilon", "ip": "31.41.158.42"},
    ]


async def test_info_php_is_a_php_var_dump(hub: HubProcess, auth: str) -> None:
    status, text, _headers = await rest(
        url(hub, "/webim/service/info.php"), auth, headers={"Host": "wmtest107.webim.ru"}
    )
    assert status == 200 and text.startswith("array(12) {\n")
    info = parse_var_dump(text)
    assert list(info) == [
        "tornado port",
        "agent backend port",
        "account name",
        "script location",
        "tornado location",
        "server",
        "branch",
        "revision",
        "version",
        "https",
        "uptime",
        "connections",
    ]
    port = hub.http.rsplit(":", 1)[1]
    assert info["tornado port"] == info["agent backend port"] == port
    assert info["account name"] == "wmtest107" and info["script location"] == "wmtest107"
    assert info["branch"] == BRANCH + "\n"
    assert f'string({len(BRANCH.encode()) + 1}) "{BRANCH}' in text  # bytes, not characters
    assert info["revision"] == "09523fed398a6351c595df37d6f5b1a2904952b7\n"
    assert info["https"] == "http://" and info["connections"] is None
    uptime = re.fullmatch(
        r" \d\d:\d\d:\d\d up .+, +\d+ users?, +load average: ([\d.]+), ([\d.]+), ([\d.]+)\n",
        info["uptime"],
    )
    assert uptime, info["uptime"]
    load = os.getloadavg()
    assert abs(float(uptime.group(3)) - load[2]) < 1.0  # the machine's load, not a canned one
    assert info["server"] == os.uname().nodename.split(".")[0] + "\n"


LEVELS = "DEBUG, INFO, WARN, ERROR, FATAL"


async def test_set_log_level_validation(hub: HubProcess, auth: str) -> None:
    base = "/l/a/monitor/set-log-level"
    cases = {
        "?level=DEBUG": "name: required",
        "?name=auth": "level: required",
        "?name=auth&level=TRACE": f"level: expected one of {LEVELS}, got 'TRACE'",
        "?name=no_such_thing&level=INFO": "name: no component 'no_such_thing' in this hub",
        "?name=auth&level=INFO&current_node_only=maybe": (
            "current_node_only: expected true or false, got 'maybe'"
        ),
    }
    for query, message in cases.items():
        status, body, _ = await rest(url(hub, base + query), auth)
        assert (status, body) == (400, {"result": "error", "e": message}), query
    status, body, _ = await rest(
        url(hub, base + "?name=auth&level=FATAL&current_node_only=true"), auth
    )
    assert (status, body) == (
        200,
        {
            "result": "ok",
            "name": "auth",
            "logger": "hub.auth",
            "loggers": ["hub.auth"],
            "level": "FATAL",
        },
    )
    level = await graphql(
        hub, '{ webim { logLevel(name: "auth") { logger level effectiveLevel } } }'
    )
    assert level["data"]["webim"]["logLevel"] == {
        "logger": "hub.auth",
        "level": "FATAL",
        "effectiveLevel": "FATAL",
    }  # CRITICAL
    await rest(url(hub, base + "?name=auth&level=WARN"), auth)


async def test_pingservice(hub: HubProcess) -> None:
    token = (await issue(hub, kind="operator"))["auth_token"]
    ping = url(hub, "/l/o/pingservice")
    cookie = {"WEBIM_AUTH_TOKEN": token}
    status, body, _ = await rest(ping + "?pinger-id=17595&ts=123", cookies=cookie)
    assert (status, body) == (200, {"result": "ok"})
    for query, message in (
        ("?ts=123", "pinger-id: required"),
        ("?pinger-id=1", "ts: required"),
        ("?pinger-id=x&ts=1", "pinger-id: expected an integer, got 'x'"),
        ("?pinger-id=1&ts=soon", "ts: expected a number, got 'soon'"),
    ):
        status, body, _ = await rest(ping + query, cookies=cookie)
        assert (status, body["e"]) == (400, message)
    for bad in ({}, {"WEBIM_AUTH_TOKEN": "nope"}):
        status, body, headers = await rest(ping + "?pinger-id=1&ts=1", cookies=bad)
        assert status == 401 and "WWW-Authenticate" not in headers
    service = service_login(hub, "cookie-test")  # a service password is not an operator session
    status, _, _ = await rest(
        ping + "?pinger-id=1&ts=1", cookies={"WEBIM_AUTH_TOKEN": service.split()[1]}
    )
    assert status == 401


async def test_the_admin_token_pings_in_authorization_too(hub: HubProcess) -> None:
    """The admin token works everywhere: as the cookie and as ``Authorization: Bearer``."""
    ping = url(hub, "/l/o/pingservice?pinger-id=1&ts=1")
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    status, body, _ = await rest(ping, headers=admin)
    assert (status, body) == (200, {"result": "ok"})
    status, body, _ = await rest(ping, cookies={"WEBIM_AUTH_TOKEN": ADMIN_TOKEN})
    assert (status, body) == (200, {"result": "ok"})
    status, _, _ = await rest(ping, headers={"Authorization": "Bearer nope"})
    assert status == 401


async def test_the_operator_cookie_is_read_as_a_bearer_token(hub: HubProcess) -> None:
    """Spaces around the token (a quoted cookie keeps them) are ignored, as in a Bearer value."""
    token = (await issue(hub, kind="operator"))["auth_token"]
    ping = url(hub, "/l/o/pingservice?pinger-id=1&ts=1")
    status, body, _ = await rest(ping, headers={"Cookie": f'WEBIM_AUTH_TOKEN=" {token} "'})
    assert (status, body) == (200, {"result": "ok"})
    status, _, _ = await rest(ping, headers={"Cookie": f'WEBIM_AUTH_TOKEN="{token}x"'})
    assert status == 401


async def test_unknown_paths_and_methods_answer_in_webim_shape(hub: HubProcess, auth: str) -> None:
    status, body, _ = await rest(url(hub, "/l/a/nope"), auth)
    assert (status, body) == (404, {"result": "error", "e": "Not found"})
    import aiohttp

    headers = {"Authorization": auth}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url(hub, "/l/a/monitor"), headers=headers) as resp,
    ):
        assert resp.status == 405 and "GET" in resp.headers["Allow"]
        assert (await resp.json())["result"] == "error"


async def test_timer_stats_report_the_hubs_timers(hub: HubProcess, auth: str) -> None:
    status, body, _ = await rest(url(hub, "/l/a/monitor/timer-stats?="), auth)
    assert status == 200 and set(body) == {"last_min", "failed"}
    storager = body["last_min"]["timer: webim.storager"]
    assert set(storager) == {"count", "execution_times", "func_name"}
    assert storager["func_name"] == "hub_webim.service.WebimService.storager_run"
    assert storager["count"] == len(storager["execution_times"]) >= 1
    assert all(isinstance(t, float) and t >= 0 for t in storager["execution_times"])
    assert "timer: hub.grpc_health" in body["last_min"]  # the host's own timer too
    graphql_keys = await graphql(hub, "{ webim { timerStats { lastMin { timer } } } }")
    names = {t["timer"] for t in graphql_keys["data"]["webim"]["timerStats"]["lastMin"]}
    assert names == set(body["last_min"])
    assert body["failed"] == []


# -- metrics ----------------------------------------------------------------------------------
async def test_metrics_pass_promtool(hub: HubProcess, auth: str) -> None:
    status, text, headers = await rest(url(hub, "/metrics"), auth)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert 'webim_account_sessions_cnt{account="wmtest107"} 13.0' in text
    assert "# TYPE webim_channel_errors gauge" in text  # set by the admin: it can go down
    assert 'webim_channel_errors{channel="telegram"} 1.0' in text
    assert "webim_long_polling_cycles_total 2.0" in text
    assert "\nwebim_database_up 1.0\n" in text
    assert "process_resident_memory_bytes" in text and "hub_timer_runs_total" in text
    names = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(names) == len(set(names))
    promtool_check(text)
    status, hub_text, _ = await rest(f"{hub.url}/metrics")  # the hub's own: webim is there too
    assert status == 200 and "\nwebim_accounts 2.0\n" in hub_text
    for family in ("process_resident_memory_bytes", "process_start_time_seconds", "python_info"):
        assert f"\n{family}" in hub_text, family  # the hub process, on the hub's own /metrics
    promtool_check(hub_text)
    with pytest.raises(AssertionError):  # the check can fail
        promtool_check(text + "bad metric{\n")
