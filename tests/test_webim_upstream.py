"""webim in upstream mode, hub in front of hub: hub A (local mode, a real process) plays the
Webim deployment, its state written through its admin mutations; hub B (upstream mode, in this
test's process) fronts A's webim REST root with A's service login and operator token. B's
clients use B's own credentials, and get A's data over REST, GraphQL and gRPC, with freshness."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from aiohttp import web
from hub_webim.phpdump import parse_var_dump
from hub_webim.records import RESTART_TOPIC
from hub_webim.upstream import PING, PING_QUERY
from hub_webim.v1 import webim_pb2 as pb
from hub_webim.v1 import webim_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from hub.config import ConfigError
from hub.testing.inprocess import RunningHub, running_hub
from hub.upstream import Target
from tests.hubproc import HubProcess
from tests.webim_client import PREFIX, basic, gql_error, graphql, issue, rest, rpc_error
from tests.ws_client import acknowledged, next_message, subscribe

SEED = """mutation {
  a: webimUpsertAccount(input: {name: "acme", domain: "acme.webim.ru"}) { name }
  b: webimUpsertAccount(input: {name: "globex", domain: "globex.webim.ru", blocked: true}) {
    name
  }
  c: webimSetAccountCounters(
    name: "acme", counters: {sessionsCnt: 13, chatsCnt: 1, offlineChatsCnt: 1, inQueueCnt: 2}
  ) { name }
  d: webimSetStoreObjects(
    account: "acme", collector: "collected_to_store", objects: {Chat: 4, Visit: 2}
  ) { className }
  e: webimSetChannelErrors(channel: "telegram", errorCnt: 1) { channel }
  f: webimUpsertEnvironment(input: {host: "s1", env: "eta", ip: "31.41.158.42"}) { host }
  g: webimRecordLongPolling(tries: 2) { n }
}"""

COLLECTED = (
    ("mode", "stats"),
    ("account_name", "acme"),
    ("collector_name", "collected_to_store"),
    ("num", "10"),
)
SAME_AS_THE_VENDOR = [  # answers that do not change between two reads of A
    ("/l/a/monitor", ()),
    ("/l/a/monitor/connect-to-db", ()),
    ("/l/a/monitor/accounts-stat", ()),
    ("/l/a/monitor/zabbix/tornado", ()),
    ("/l/a/monitor/zabbix/channels", ()),
    ("/l/a/monitor/collected-to-store-objects", COLLECTED),
    ("/l/i/instance-id", ()),
    ("/l/i/account-state", (("action", "get_state"), ("account", "globex"))),
    ("/webim/service/monitor/get-tornado-ports.php", ()),
    ("/webim/service/monitor/get-all-env-list.php", ()),
]
AS_FETCHED = [  # answers that change with A's clock: B's equals what B fetched
    ("/l/a/monitor/timer-stats", ()),
    ("/l/a/object-stats", ()),
    ("/webim/service/info.php", ()),
]
QUICK = {"HUB_WEBIM_UPSTREAM_BUDGET": "20/1s"}  # no test here is about the budget


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Vendor:
    """Hub A on a fixed port (so that a restart keeps B's URL) and the credentials B uses."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        env = {"HUB_PLUGINS": "webim"}
        self.process = HubProcess(data_dir, env, args=["--http", f"127.0.0.1:{self.port}"])
        self.root = f"http://127.0.0.1:{self.port}{PREFIX}"
        self.service: dict[str, Any] = {}
        self.operator: dict[str, Any] = {}

    @property
    def auth(self) -> str:
        return basic(self.service["login"], self.service["password"])

    async def seed(self) -> None:
        assert "errors" not in await graphql(self.process, SEED)
        self.service = await issue(self.process, kind="service", login="hub-b")
        self.operator = await issue(self.process, kind="operator")

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "HUB_PLUGINS": "webim",
            "HUB_WEBIM_MODE": "upstream",
            "HUB_WEBIM_UPSTREAM_URL": self.root,
            "HUB_WEBIM_UPSTREAM_LOGIN": self.service["login"],
            "HUB_WEBIM_UPSTREAM_PASSWORD": self.service["password"],
            "HUB_WEBIM_UPSTREAM_AUTH_TOKEN": self.operator["auth_token"],
            **QUICK,
            **extra,
        }


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    vendor = Vendor(tmp_path_factory.mktemp("webim-vendor"))
    vendor.process.start()
    asyncio.run(vendor.seed())
    yield vendor
    vendor.process.stop()


class Front:
    """Hub B and a service login of its own."""

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.url = hub.url
        self.grpc = hub.grpc
        cred = hub.creds("webim", kind="service")
        self.auth = basic(cred["login"], cred["password"])

    def rest_url(self, path: str) -> str:
        return self.hub.rest_url("webim") + path

    def cached(self, path: str, query: tuple[tuple[str, str], ...] = ()) -> bytes:
        entry = self.hub.hub.upstreams["webim"].cache.get(Target.of(path, query))
        assert entry is not None, path
        return entry.body


@asynccontextmanager
async def front(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Front]:
    async with running_hub(tmp_path / "front", env) as hub:
        yield Front(hub)


async def call_with_trailers(b: Front, method: str, request: Any) -> tuple[Any, dict[str, str]]:
    async with grpc.aio.insecure_channel(b.grpc) as channel:
        call = getattr(webim_pb2_grpc.WebimStub(channel), method)(
            request, metadata=(("authorization", b.auth),)
        )
        response = await call
        return response, dict(await call.trailing_metadata())


# -- REST ---------------------------------------------------------------------------------------
async def test_every_endpoint_over_rest_is_the_vendors(vendor: Vendor, tmp_path: Path) -> None:
    async with front(tmp_path, vendor.env()) as b:
        for path, query in SAME_AS_THE_VENDOR:
            status, body, headers = await rest(b.rest_url(path), b.auth, params=query)
            assert status == 200, (path, body)
            direct = await rest(vendor.root + path, vendor.auth, params=query)
            assert (direct[0], direct[1]) == (200, body), path
            assert int(headers["Age"]) >= 0 and "Hub-Upstream-Stale" not in headers
        for path, query in AS_FETCHED:
            status, body, headers = await rest(b.rest_url(path), b.auth, params=query)
            assert status == 200 and "Age" in headers, (path, body)
            fetched = b.cached(path, query)
            if isinstance(body, str):
                assert body.encode() == fetched, path  # info.php: the same var_dump, re-rendered
            else:
                assert body == orjson.loads(fetched), path
        info = parse_var_dump(b.cached("/webim/service/info.php"))
        assert info["tornado port"] == str(vendor.port) and info["connections"] is None

        operator = b.hub.creds("webim", kind="operator")["auth_token"]
        status, body, _ = await rest(
            b.rest_url("/l/o/pingservice?pinger-id=17595&ts=123"),
            headers={"Cookie": f"WEBIM_AUTH_TOKEN={operator}"},
        )
        assert (status, body) == (200, {"result": "ok"})
        assert orjson.loads(b.cached(PING, PING_QUERY)) == {"result": "ok"}  # one key for all

        # the hub's own credentials guard B; A's are never needed nor accepted by B
        status, _, headers = await rest(b.rest_url("/l/a/monitor"), vendor.auth)
        assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="webim"'


async def test_vendor_metrics_joined_with_an_upstream_label(vendor: Vendor, tmp_path: Path) -> None:
    async with front(tmp_path, vendor.env()) as b:
        status, text, headers = await rest(b.rest_url("/metrics"), b.auth)
    assert status == 200 and "Age" in headers
    families = list(text_string_to_metric_families(text))
    declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(declared) == len(set(declared)), "one family per name"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples
    }
    upstream = ("upstream", vendor.root)
    assert samples[("webim_accounts", (upstream,))] == 1.0  # globex is blocked
    channel = ("webim_channel_errors", (("channel", "telegram"), upstream))
    assert samples[channel] == 1.0
    assert samples[("webim_database_up", (upstream,))] == 1.0
    assert ("webim_database_up", ()) not in samples  # B's own webim.db is not the system
    # a family both hubs have holds B's samples and A's, told apart by the label
    cpu = [s for f in families if f.name == "process_cpu_seconds" for s in f.samples]
    assert {s.labels.get("upstream") for s in cpu} == {None, vendor.root}


# -- GraphQL and gRPC ---------------------------------------------------------------------------
GQL = """{ webim {
  monitor { host mainInfo { env port startTs n avgNTries storingEnabled } }
  tornado { sessionsCnt chatsCnt accountsCnt }
  channels { channel errorCnt }
  instanceId
  accountsTotal { name sessionsCnt notBelongsToTornadoInstance }
  accounts(first: 1) {
    totalCount nodes { name domain sessionsCnt blocked } pageInfo { hasNextPage }
  }
  account(name: "globex") { name blocked }
  accountState(account: "globex") { blocked }
  environments { host env ip }
  tornadoPorts
  info { tornadoPort accountName connections }
  collectedToStoreObjects(accountName: "acme", collectorName: "collected_to_store", num: 10) {
    className count
  }
} }"""


async def test_graphql_and_grpc_give_the_same_data_with_freshness(
    vendor: Vendor, tmp_path: Path
) -> None:
    async with front(tmp_path, vendor.env()) as b:
        body = await graphql(b, GQL, b.auth)
        assert "errors" not in body, body
        webim = body["data"]["webim"]
        freshness = body["extensions"]["upstream"]["webim"]
        assert freshness["stale"] is False and freshness["ageSeconds"] >= 0
        assert freshness["fetchedAt"].endswith("+00:00")

        _, monitor, _ = await rest(vendor.root + "/l/a/monitor", vendor.auth)
        assert webim["monitor"]["host"] == monitor["host"]
        assert webim["monitor"]["mainInfo"] == {
            k: monitor["mainInfo"][k]
            for k in ("env", "port", "startTs", "n", "avgNTries", "storingEnabled")
        }
        assert webim["tornado"] == {"sessionsCnt": 13, "chatsCnt": 2, "accountsCnt": 1}
        assert webim["channels"] == [{"channel": "telegram", "errorCnt": 1}]
        assert webim["accountsTotal"] == {
            "name": "TOTAL",
            "sessionsCnt": 13,
            "notBelongsToTornadoInstance": 0,
        }
        assert webim["accounts"] == {
            "totalCount": 2,
            "nodes": [
                {"name": "acme", "domain": "acme.webim.ru", "sessionsCnt": 13, "blocked": None}
            ],
            "pageInfo": {"hasNextPage": True},
        }
        assert webim["account"] == {"name": "globex", "blocked": None}  # accounts-stat's row
        assert webim["accountState"] == {"blocked": True}
        assert webim["environments"] == [{"host": "s1", "env": "eta", "ip": "31.41.158.42"}]
        assert webim["tornadoPorts"] == [str(vendor.port)]
        assert webim["info"] == {
            "tornadoPort": str(vendor.port),
            "accountName": None,
            "connections": None,
        }
        assert webim["collectedToStoreObjects"] == [
            {"className": "Chat", "count": 4},
            {"className": "Visit", "count": 2},
        ]

        message, trailers = await call_with_trailers(b, "GetMonitor", pb.Empty())
        assert message.host == monitor["host"] and message.main_info.port == vendor.port
        assert int(trailers["hub-upstream-age"]) >= 0 and trailers["hub-upstream-stale"] == "0"
        stat, trailers = await call_with_trailers(b, "GetAccountsStat", pb.Empty())
        assert [a.name for a in stat.accounts] == ["acme", "globex"]
        assert not stat.accounts[0].HasField("blocked")  # not known from accounts-stat
        assert stat.total.counters.sessions_cnt == 13 and "hub-upstream-age" in trailers
        instance, _ = await call_with_trailers(b, "GetInstanceId", pb.Empty())
        assert instance.instance_id == webim["instanceId"]
        info, _ = await call_with_trailers(b, "GetInfo", pb.InfoRequest())
        assert {e.key: e.value for e in info.entries}["tornado port"] == str(vendor.port)


# -- writes -------------------------------------------------------------------------------------
async def a_level(vendor: Vendor) -> str:
    body = await graphql(vendor.process, '{ webim { logLevel(name: "auth") { level } } }')
    return str(body["data"]["webim"]["logLevel"]["level"])


async def test_set_log_level_is_forwarded_every_time(vendor: Vendor, tmp_path: Path) -> None:
    own = logging.getLogger("hub.auth").level
    async with front(tmp_path, vendor.env()) as b:
        query = {"name": "auth", "level": "debug", "current_node_only": "true"}
        status, body, _ = await rest(b.rest_url("/l/a/monitor/set-log-level"), b.auth, params=query)
        assert (status, body["logger"], body["level"]) == (200, "hub.auth", "DEBUG"), body
        assert await a_level(vendor) == "DEBUG"

        mutation = 'mutation { webimSetLogLevel(name: "auth", level: "ERROR") { logger level } }'
        body = await graphql(b, mutation, b.auth)
        assert body["data"]["webimSetLogLevel"] == {"logger": "hub.auth", "level": "ERROR"}
        assert await a_level(vendor) == "ERROR"

        request = pb.SetLogLevelRequest(name="auth", level="WARN")
        level, _ = await call_with_trailers(b, "SetLogLevel", request)
        assert (level.level, level.effective_level) == ("WARN", "WARN")
        assert await a_level(vendor) == "WARN"

        status, body, _ = await rest(
            b.rest_url("/l/a/monitor/set-log-level"), b.auth, params={"name": "auth", "level": "x"}
        )
        assert status == 400 and "level" in body["e"]  # the vendor's 400, passed back
        body = await graphql(b, '{ webim { logLevel(name: "auth") { level } } }', b.auth)
        assert gql_error(body)["reason"] == "upstream_mode"
    assert logging.getLogger("hub.auth").level == own  # B set nothing of its own


async def test_admin_writes_of_local_state_are_refused(vendor: Vendor, tmp_path: Path) -> None:
    async with front(tmp_path, vendor.env()) as b:
        body = await graphql(b, 'mutation { webimUpsertAccount(input: {name: "x"}) { name } }')
        assert (gql_error(body)["status"], gql_error(body)["reason"]) == (409, "upstream_mode")
        body = await graphql(b, "mutation { webimRecordLongPolling(tries: 1) { n } }")
        assert gql_error(body)["reason"] == "upstream_mode"
        code, _ = await rpc_error(
            b, "SetChannelErrors", pb.SetChannelErrorsRequest(channel="vk", error_cnt=1)
        )
        assert code == grpc.StatusCode.ALREADY_EXISTS  # the table's 409
        body = await graphql(
            b, 'mutation { webimUpsertAccount(input: {name: "x"}) { name } }', b.auth
        )
        assert gql_error(body)["status"] == 401  # the admin's, checked first
    body = await graphql(vendor.process, "{ webim { channels { channel } } }")
    assert body["data"]["webim"]["channels"] == [{"channel": "telegram"}]  # A untouched


# -- refusals and failures ----------------------------------------------------------------------
async def test_vendor_refusal_is_the_upstreams(vendor: Vendor, tmp_path: Path) -> None:
    env = vendor.env(HUB_WEBIM_UPSTREAM_PASSWORD="not-the-password")
    async with front(tmp_path, env) as b:
        status, body, headers = await rest(b.rest_url("/l/a/monitor"), b.auth)
        assert status == 401 and "refused the hub's request" in body["e"], body
        assert "WWW-Authenticate" not in headers  # B's client is not the one to log in again
        errors = gql_error(await graphql(b, "{ webim { tornado { chatsCnt } } }", b.auth))
        assert (errors["status"], errors["reason"]) == (401, "upstream_unauthorized")
        code, _ = await rpc_error(b, "GetZabbixTornado", pb.Empty(), b.auth)
        assert code == grpc.StatusCode.UNAUTHENTICATED
        status, body, _ = await rest(
            b.rest_url("/l/a/monitor/collected-to-store-objects"), b.auth, params={"mode": "x"}
        )
        assert status == 401  # refused before the parameters are looked at, as A does


@asynccontextmanager
async def garbled_vendor() -> AsyncIterator[str]:
    """A Webim that answers 200 with what the hub cannot read."""
    answers = {
        "/l/a/monitor": web.json_response({"mainInfo": {"env": 1}, "host": "h"}),
        "/l/a/monitor/accounts-stat": web.json_response([{"name": "acme"}]),
        "/l/i/instance-id": web.Response(text="two words"),
        "/webim/service/info.php": web.Response(text='array(1) {\n  ["x"]=>\n  string(9) "x"\n}\n'),
        "/metrics": web.Response(text="<html>not metrics</html>"),
        # an unhealthy backend, as a Zabbix check must see it: no stale "ok" over it
        "/l/a/monitor/connect-to-db": web.json_response(
            {"result": "error", "e": "Failed to connect to database meta"}, status=500
        ),
        "/l/o/pingservice": web.json_response(
            {"result": "error", "e": "chat backend unavailable"}, status=503
        ),
    }

    async def answer(request: web.Request) -> web.StreamResponse:
        return answers[request.path]

    app = web.Application()
    app.add_routes([web.get(path, answer) for path in answers])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/l/a/monitor", "env: expected str"),
        ("/l/a/monitor/accounts-stat", "the first row is not TOTAL"),
        ("/l/i/instance-id", "not an instance id"),
        ("/webim/service/info.php", "x: string(9) is not its byte length"),
        ("/metrics", "invalid metric name"),
    ],
)
async def test_unreadable_answers_are_a_502(
    vendor: Vendor, tmp_path: Path, path: str, what: str
) -> None:
    async with (
        garbled_vendor() as url,
        front(tmp_path, vendor.env(HUB_WEBIM_UPSTREAM_URL=url)) as b,
    ):
        status, body, _ = await rest(b.rest_url(path), b.auth)
        assert status == 502 and what in body["e"], body
        assert body["e"].startswith(f"upstream answered {path} unreadably")


@pytest.mark.parametrize(
    ("path", "status", "what"),
    [
        ("/l/a/monitor/connect-to-db", 500, "Failed to connect to database meta"),
        ("/l/o/pingservice?pinger-id=1&ts=1", 503, "chat backend unavailable"),
    ],
)
async def test_an_unhealthy_vendor_is_passed_on_not_served_stale(
    vendor: Vendor, tmp_path: Path, path: str, status: int, what: str
) -> None:
    async with (
        garbled_vendor() as url,
        front(tmp_path, vendor.env(HUB_WEBIM_UPSTREAM_URL=url)) as b,
    ):
        operator = b.hub.creds("webim", kind="operator")["auth_token"]
        cookies = {"WEBIM_AUTH_TOKEN": operator} if "ping" in path else None
        got, body, headers = await rest(b.rest_url(path), b.auth, cookies=cookies)
        assert got == status and what in body["e"], body
        assert "Hub-Upstream-Stale" not in headers


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"HUB_WEBIM_UPSTREAM_LOGIN": ""},
            "plugins.webim.upstream.login: the vendor's service login",
        ),
        ({"HUB_WEBIM_UPSTREAM_PASSWORD": ""}, "plugins.webim.upstream.password"),
        ({"HUB_WEBIM_UPSTREAM_URL": "chat.example.com"}, "plugins.webim.upstream.url"),
        ({"HUB_WEBIM_UPSTREAM_BUDGET": "fast"}, "plugins.webim.upstream.budget"),
        ({"HUB_WEBIM_MODE": "remote"}, "plugins.webim.mode: expected local or upstream"),
    ],
)
async def test_config_errors_name_the_key(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    base = {
        "HUB_PLUGINS": "webim",
        "HUB_WEBIM_MODE": "upstream",
        "HUB_WEBIM_UPSTREAM_URL": "https://chat.example.com",
        "HUB_WEBIM_UPSTREAM_LOGIN": "zabbix",
        "HUB_WEBIM_UPSTREAM_PASSWORD": "secret",
    }
    with pytest.raises(ConfigError, match=message):
        async with running_hub(tmp_path, {**base, **env}):
            pass


def test_a_missing_login_stops_hub_serve_with_one_line(tmp_path: Path) -> None:
    env = {
        "HUB_PLUGINS": "webim",
        "HUB_WEBIM_MODE": "upstream",
        "HUB_WEBIM_UPSTREAM_URL": "https://chat.example.com",
    }
    with pytest.raises(RuntimeError) as failed:
        HubProcess(tmp_path, env).start()
    output = str(failed.value)
    assert "plugins.webim.upstream.login" in output and "Traceback" not in output


# -- a restart of the vendor --------------------------------------------------------------------
async def test_vendor_down_then_restarted(vendor: Vendor, tmp_path: Path) -> None:
    """Down: stale answers, then past max_stale UPSTREAM_UNAVAILABLE; up again with a new
    instance-id: a subscriber of B hears of the restart."""
    # a hub's graceful stop takes a second or two on a loaded machine: max_stale outlasts it
    async with front(tmp_path, vendor.env(HUB_WEBIM_UPSTREAM_MAX_STALE="5")) as b:
        instance = b.rest_url("/l/i/instance-id")
        status, before, _ = await rest(instance, b.auth)
        assert status == 200
        async with acknowledged(b.url, {"Authorization": b.auth}) as ws:
            await subscribe(
                ws,
                "subscription { webimInstanceRestarted { instanceId previousInstanceId seenAt } }",
            )
            deadline = time.monotonic() + 10
            while not b.hub.hub.events.subscribers(RESTART_TOPIC):
                assert time.monotonic() < deadline, "the subscription never started"
                await asyncio.sleep(0.05)

            await asyncio.to_thread(vendor.process.stop)
            await asyncio.sleep(0.2)  # past fresh and revalidate (0.05 s each at 20/1s)
            status, body, headers = await rest(instance, b.auth)
            assert (status, body, headers.get("Hub-Upstream-Stale")) == (200, before, "1")
            last = b.hub.hub.upstreams["webim"].cache.get(Target.of("/l/i/instance-id", ()))
            assert last is not None
            await asyncio.sleep(last.fetched_at + 0.05 + 5 + 0.3 - time.time())  # past max_stale
            status, body, headers = await rest(instance, b.auth)
            assert status == 503 and "Retry-After" in headers, body
            errors = gql_error(await graphql(b, "{ webim { instanceId } }", b.auth))
            assert (errors["status"], errors["reason"]) == (503, "upstream_unavailable")

            await asyncio.to_thread(vendor.process.start)  # same port and data, a new instance
            message = await next_message(ws, 15)
            assert message["type"] == "next", message
            restart = message["payload"]["data"]["webimInstanceRestarted"]
            assert restart["previousInstanceId"] == before
            assert restart["instanceId"] != before and len(restart["instanceId"]) == 32
        status, after, headers = await rest(instance, b.auth)
        assert (status, after) == (
            200,
            restart["instanceId"],
        ) and "Hub-Upstream-Stale" not in headers
