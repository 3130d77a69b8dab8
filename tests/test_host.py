"""The host against real hubs: plugin loading, config, the admin token and credentials, the hub's
own GraphQL/gRPC/HTTP surfaces, graceful shutdown, schema conflicts, and the shared rate limiter
and timer registry on real SQLite files and a real event loop."""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from click.testing import CliRunner
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from prometheus_client import generate_latest

from hub import __version__ as HUB_VERSION
from hub.cli import cli as hub_cli
from hub.credentials import sha256
from hub.metrics import HubMetrics
from hub.storage import Database, Engine
from hub.timers import TimerRegistry
from hub.v1 import hub_pb2, hub_pb2_grpc
from tests.hub_command import finish
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.ratelimit_worker import hammer, limiter
from tests.test_graphql_ws import over_websocket

ERA = "/era/rest/v1/service/integration_points"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ERA_HOOKS = {
    "register_credential_types",
    "register_graphql",
    "register_grpc",
    "register_health_probes",
    "register_migrations",
    "register_rest",
}

# A single-file plugin: REST (one slow route, one that needs its own credential), settings read
# from [plugins.slowpoke] and HUB_SLOWPOKE_*, a GraphQL root field, a periodic job.
SLOWPOKE = """
import asyncio
import dataclasses

import strawberry
from aiohttp import web

from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, PeriodicJob, RestApi


@dataclasses.dataclass
class Settings:
    delay: float = 1.0
    greeting: str = "hello"


@hookimpl
def register_settings(register):
    register(Settings)


@hookimpl
def register_credential_types(register):
    register(CredentialType())


@hookimpl
def register_rest(hub, register):
    async def slow(request):
        print("slow request started", flush=True)
        await asyncio.sleep(hub.settings_for("slowpoke").delay)
        return web.json_response({"slept": hub.settings_for("slowpoke").delay})

    async def whoami(request):
        cred = hub.credentials.require("slowpoke", request.headers.get("Authorization"))
        return web.json_response({"admin": cred.is_admin, "plugin": cred.plugin})

    register(RestApi(routes=[web.get("/slow", slow), web.get("/whoami", whoami)]))


@strawberry.type(name="SlowpokeQuery")
class Query:
    @strawberry.field
    def greeting(self, info: strawberry.Info) -> str:
        return info.context.hub.settings_for("slowpoke").greeting


@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=Query))


@hookimpl
def register_jobs(hub, register):
    register(PeriodicJob("tick", 0.05, lambda: None))
"""


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``hub --data-dir DATA ARGS`` (without waiting: the slow part is Python's start-up)."""
    full_env = {
        **os.environ,
        "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
        "HUB_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "--data-dir", str(data_dir), *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(
    data_dir: Path, *args: str, env: dict[str, str | None] | None = None
) -> tuple[int, str]:
    """The ``hub`` command run in this process by click's runner, for commands that end (or
    fail) without serving; ``None`` in ``env`` unsets a variable."""
    result = CliRunner().invoke(
        hub_cli,
        ["--data-dir", str(data_dir), *args],
        obj={},
        env={"HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_PLUGINS": None, **(env or {})},
    )
    assert not isinstance(result.exception, AssertionError | TypeError | AttributeError), (
        result.output
    )
    return result.exit_code, result.output


def serve_args() -> list[str]:
    return ["serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]


@pytest.fixture(scope="module")
def plugins_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "slowpoke.py").write_text(SLOWPOKE)
    return folder


@pytest.fixture(scope="module")
def custom_hub(tmp_path_factory: pytest.TempPathFactory, plugins_dir: Path) -> Iterator[HubProcess]:
    """A hub whose config file loads the plugins dir, with HUB_* env overriding some keys."""
    root = tmp_path_factory.mktemp("custom")
    config = root / "hub.toml"
    config.write_text(
        textwrap.dedent(f"""
        plugins_dir = "{plugins_dir}"
        max_body = 1000

        [graphql]
        max_depth = 2

        [plugins.slowpoke]
        delay = 0.1
        greeting = "from-toml"
    """)
    )
    env = {
        "HUB_CONFIG": str(config),
        "HUB_MAX_BODY": "4000",
        "HUB_GRAPHQL_MAX_DEPTH": "3",
        "HUB_SLOWPOKE_GREETING": "from-env",
    }
    hub = HubProcess(root / "data", env=env).start()
    yield hub
    hub.stop()


@pytest.fixture
async def http(hub_process: HubProcess) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=hub_process.url) as session:
        yield session


@pytest.fixture
async def channel(hub_process: HubProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(hub_process.grpc) as chan:
        yield chan


async def graphql(
    session: aiohttp.ClientSession,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    async with session.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()  # type: ignore[no-any-return]


# == plugins =====================================================================================
def test_plugins_command_prints_json(tmp_path: Path) -> None:
    code, out, err = finish(cli(tmp_path, "plugins"))
    assert code == 0, err
    plugins = {p["name"]: p for p in json.loads(out)}
    assert {"hub", "era"} <= set(plugins)
    assert plugins["hub"]["version"] == HUB_VERSION
    assert plugins["era"]["version"] == "0.1.0"
    assert set(plugins["era"]["hooks"]) >= ERA_HOOKS
    assert {"register_graphql", "register_grpc", "register_health_probes"} <= set(
        plugins["hub"]["hooks"]
    )
    assert "hub_era.plugin" in plugins["era"]["source"]
    for info in plugins.values():
        assert set(info) == {"name", "version", "source", "hooks"}
        assert info["hooks"] == sorted(info["hooks"])


def test_hub_plugins_limits_what_loads(tmp_path: Path, plugins_dir: Path) -> None:
    env = {"HUB_PLUGINS_DIR": str(plugins_dir)}
    found = {}
    for key, limit in (("all", None), ("era", "era"), ("slowpoke", " slowpoke "), ("none", "")):
        code, out = run_cli(tmp_path / key, "plugins", env={**env, "HUB_PLUGINS": limit})
        assert code == 0, (key, out)
        found[key] = {p["name"]: p for p in json.loads(out)}
    assert {"hub", "era", "slowpoke"} <= set(found["all"])
    assert set(found["era"]) == {"hub", "era"}
    assert set(found["slowpoke"]) == {"hub", "slowpoke"}
    assert set(found["none"]) == {"hub"}
    slowpoke = found["all"]["slowpoke"]
    assert slowpoke["source"] == str(plugins_dir / "slowpoke.py")
    hooks = {"register_rest", "register_graphql", "register_jobs", "register_settings"}
    assert hooks <= set(slowpoke["hooks"])


def test_unknown_plugin_in_hub_plugins_fails_at_start(tmp_path: Path) -> None:
    code, out, err = finish(cli(tmp_path, *serve_args(), env={"HUB_PLUGINS": "era,no_such_plugin"}))
    assert code != 0
    assert "no_such_plugin" in err and "HUB_PLUGINS" in err
    assert "Traceback" not in err
    assert "listening" not in out


async def test_single_file_plugin_from_config_plugins_dir(custom_hub: HubProcess) -> None:
    token = custom_hub.creds("slowpoke")["token"]
    async with aiohttp.ClientSession(base_url=custom_hub.url) as session:
        added = await graphql(
            session, 'mutation { hubAddCredential(plugin: "era") }', headers=ADMIN
        )
    era_token = added["data"]["hubAddCredential"]["token"]
    async with aiohttp.ClientSession(base_url=custom_hub.url) as session:
        async with session.get("/slowpoke/slow") as r:
            assert r.status == 200 and await r.json() == {"slept": 0.1}  # [plugins.slowpoke] delay
        for headers, status in (
            ({"Authorization": f"Bearer {token}"}, 200),
            (ADMIN, 200),
            ({}, 401),
            ({"Authorization": f"Bearer {era_token}"}, 401),  # another plugin's credential
        ):
            async with session.get("/slowpoke/whoami", headers=headers) as r:
                assert r.status == status, headers
        async with session.get(ERA, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 401
            assert (await r.json())["error_code"] == 1401
        async with session.get(ERA, headers={"Authorization": f"Bearer {era_token}"}) as r:
            assert r.status == 200
        result = await graphql(session, "{ slowpoke { greeting } }")
        assert result == {"data": {"slowpoke": {"greeting": "from-env"}}}  # HUB_SLOWPOKE_GREETING
        result = await graphql(session, "{ hub { plugins { name source } } }", headers=ADMIN)
        sources = {p["name"]: p["source"] for p in result["data"]["hub"]["plugins"]}
        assert sources["slowpoke"].endswith("slowpoke.py")
        async with session.get("/metrics") as r:
            text = await r.text()
        assert 'hub_timer_runs_total{timer="slowpoke.tick"}' in text


# == config ======================================================================================
BAD_CONFIGS = [
    ("nonsense = 1\n", {}, "nonsense"),
    ('[graphql]\nmax_depth = "x"\n', {}, "graphql.max_depth"),
    ("[graphql]\nbogus = 1\n", {}, "graphql.bogus"),
    ("max_body = true\n", {}, "max_body"),
    ('shutdown_timeout = "later"\n', {}, "shutdown_timeout"),
    ("[plugins.era]\nfoo = 1\n", {}, "plugins.era.foo"),
    ("[plugins.no_such]\nfoo = 1\n", {}, "plugins.no_such"),
    ("this is not toml\n", {}, "config file"),
    ("", {"HUB_MAX_BODY": "abc"}, "max_body"),
    ("", {"HUB_GRAPHQL_MAX_DEPTH": "deep"}, "graphql.max_depth"),
]


def test_bad_config_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    # two as real processes, as a supervisor would see them ...
    real = []
    for i, (toml, env, key) in enumerate((BAD_CONFIGS[1], BAD_CONFIGS[-2])):
        config = tmp_path / f"real{i}.toml"
        config.write_text(toml)
        args = ("--config", str(config), *serve_args())
        real.append((key, cli(tmp_path / f"real{i}", *args, env=env)))
    for key, proc in real:
        code, out, err = finish(proc, timeout=30)
        assert code != 0, key
        assert f"bad config: {key}" in err, (key, err)
        assert "Traceback" not in err and "listening" not in out, key
    # ... and every case through the same command in this process (no Python start-up each)
    for i, (toml, env, key) in enumerate(BAD_CONFIGS):
        config = tmp_path / f"bad{i}.toml"
        config.write_text(toml)
        code, out = run_cli(tmp_path / f"d{i}", "--config", str(config), *serve_args(), env=env)
        assert code != 0, key
        assert f"bad config: {key}" in out, (key, out)
        assert "listening" not in out, key


async def test_env_overrides_the_config_file(custom_hub: HubProcess) -> None:
    headers = {**ADMIN, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(base_url=custom_hub.url) as session:
        # max_body = 1000 in the file, HUB_MAX_BODY=4000 in the env
        body = json.dumps({"code": "c", "type": "t", "url": "u" * 2500})
        async with session.post(ERA, data=body, headers=headers) as r:
            assert r.status == 400 and "url" in (await r.json())["error_message"]
        body = json.dumps({"code": "c", "type": "t", "url": "u" * 4500})
        async with session.post(ERA, data=body, headers=headers) as r:
            assert r.status == 413
            assert await r.json() == {
                "error_code": 1413,
                "error_message": "request body is larger than 4000 bytes",
            }
        # graphql.max_depth = 2 in the file, HUB_GRAPHQL_MAX_DEPTH=3 in the env
        result = await graphql(session, "{ hub { plugins { name } } }")
        assert "errors" not in result, result
        result = await graphql(
            session, "{ era { integrationPoints { pageInfo { hasNextPage } } } }", headers=ADMIN
        )
        assert "data" not in result or result["data"] is None
        assert "depth" in result["errors"][0]["message"] and "3" in result["errors"][0]["message"]


# == admin token and credentials ==================================================================
def test_admin_token_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = HubProcess(data)
    first.env.pop("HUB_ADMIN_TOKEN")
    first.start()
    try:
        path = data / "admin-token"
        token = path.read_text().strip()
        assert len(token) >= 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        announced = [line for line in first.output if token in line]
        assert len(announced) == 1 and "admin token" in announced[0]
        assert adds_credential(first.url, token)
        assert not adds_credential(first.url, ADMIN_TOKEN)
    finally:
        assert first.stop() == 0
    second = HubProcess(data)
    second.env.pop("HUB_ADMIN_TOKEN")
    second.start()
    try:
        time.sleep(0.2)
        assert not any(token in line or "admin token" in line for line in second.output), (
            second.output
        )
        assert path.read_text().strip() == token
        assert adds_credential(second.url, token)
    finally:
        second.stop()


def test_creds_add_before_the_first_start_shows_the_new_admin_token(tmp_path: Path) -> None:
    """Whichever command generates the admin token shows it once, on stderr for a command whose
    stdout is data; `hub serve` later does not repeat it."""
    env = {k: v for k, v in os.environ.items() if k != "HUB_ADMIN_TOKEN"}
    command = [sys.executable, "-m", "hub.cli", "--data-dir", str(tmp_path), "creds", "add", "era"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=True)
    token = (tmp_path / "admin-token").read_text().strip()
    assert list(json.loads(first.stdout)) == ["token"]
    assert token in first.stderr and token not in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert token not in again.stderr + again.stdout


def database_of(hub: HubProcess, name: str) -> Database:
    """``hub``'s database ``name``, on the engine the hub runs on (a file or a schema)."""
    return Engine(hub.data_dir, hub.env.get("HUB_DATABASE_URL", "")).open(name)


def adds_credential(url: str, token: str) -> bool:
    """Whether ``token`` may add an era credential, over GraphQL (urllib: no event loop here)."""
    import urllib.request

    request = urllib.request.Request(
        url + "/graphql",
        method="POST",
        data=json.dumps({"query": 'mutation { hubAddCredential(plugin: "era") }'}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.loads(response.read())
    if result.get("errors"):
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        return False
    return "token" in result["data"]["hubAddCredential"]


def test_hub_admin_token_env_is_used_and_nothing_is_written(hub_process: HubProcess) -> None:
    assert not (hub_process.data_dir / "admin-token").exists()
    assert not any("admin token" in line for line in hub_process.output)
    assert adds_credential(hub_process.url, ADMIN_TOKEN)


def _files_contain(folder: Path, needle: bytes) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_file() and needle in p.read_bytes()]


async def test_creds_add_prints_a_token_stored_only_hashed(
    hub_process: HubProcess, http: aiohttp.ClientSession
) -> None:
    issued = hub_process.creds("era")
    assert list(issued) == ["token"]
    token = issued["token"]
    assert isinstance(token, str) and len(token) >= 32
    async with http.get(ERA, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
    with closing(database_of(hub_process, "hub")) as db:
        rows = db.execute(
            "SELECT plugin, secret_hash FROM credentials WHERE secret_hash = ?", (sha256(token),)
        ).fetchall()
    assert rows == [("era", sha256(token))]
    assert _files_contain(hub_process.data_dir, token.encode()) == []
    # bad requests of the command
    code, out = run_cli(hub_process.data_dir, "creds", "add", "no_such_plugin")
    assert code == 1 and "no_such_plugin" in out and "token" not in out
    code, out = run_cli(hub_process.data_dir, "creds", "add", "era", "--param", "colour=red")
    assert code == 1 and "colour" in out and "token" not in out
    code, out = run_cli(hub_process.data_dir, "creds", "add", "era", "--param", "novalue")
    assert code == 2 and "KEY=VALUE" in out


async def test_graphql_add_credential_is_admin_only(
    hub_process: HubProcess, http: aiohttp.ClientSession
) -> None:
    mutation = 'mutation { hubAddCredential(plugin: "era") }'
    result = await graphql(http, mutation, headers=ADMIN)
    token = result["data"]["hubAddCredential"]["token"]
    async with http.get(ERA, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
    assert _files_contain(hub_process.data_dir, token.encode()) == []
    for headers in ({}, {"Authorization": f"Bearer {token}"}, {"Authorization": "Bearer nope"}):
        result = await graphql(http, mutation, headers=headers)
        assert result["data"] is None
        (error,) = result["errors"]
        assert (
            error["extensions"]["code"] == "UNAUTHENTICATED"
            and error["extensions"]["status"] == 401
        )
    result = await graphql(http, 'mutation { hubAddCredential(plugin: "no_such") }', headers=ADMIN)
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    result = await graphql(
        http,
        'mutation { hubAddCredential(plugin: "era", params: [{key: "x", value: "y"}]) }',
        headers=ADMIN,
    )
    assert (
        result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        and "x" in result["errors"][0]["message"]
    )


async def test_grpc_add_credential_is_admin_only(
    channel: grpc.aio.Channel, http: aiohttp.ClientSession
) -> None:
    stub = hub_pb2_grpc.HubStub(channel)
    response = await stub.AddCredential(
        hub_pb2.AddCredentialRequest(plugin="era"),
        metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),),
    )
    issued = json_format.MessageToDict(response.credential)
    assert list(issued) == ["token"]
    async with http.get(ERA, headers={"Authorization": f"Bearer {issued['token']}"}) as r:
        assert r.status == 200
    for metadata in (
        (),
        (("authorization", f"Bearer {issued['token']}"),),
        (("authorization", "Bearer x"),),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.AddCredential(hub_pb2.AddCredentialRequest(plugin="era"), metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.AddCredential(
            hub_pb2.AddCredentialRequest(plugin="no_such"),
            metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),),
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


# == the hub's own surfaces ========================================================================
async def test_graphql_hub_root(http: aiohttp.ClientSession) -> None:
    result = await graphql(
        http, "{ hub { plugins { name version } health { plugin status detail } } }", headers=ADMIN
    )
    assert "errors" not in result, result
    plugins = {p["name"]: p["version"] for p in result["data"]["hub"]["plugins"]}
    assert plugins["hub"] == HUB_VERSION and plugins["era"] == "0.1.0"
    health = {h["plugin"]: h for h in result["data"]["hub"]["health"]}
    assert set(health) == set(plugins)
    assert health["era"]["status"] == "ok" and "integration points" in health["era"]["detail"]
    assert health["hub"]["status"] == "ok"


async def test_healthz_readyz_metrics(http: aiohttp.ClientSession, hub_process: HubProcess) -> None:
    async with http.get("/healthz") as r:
        assert r.status == 200 and await r.json() == {"status": "ok"}
    async with http.get("/readyz") as r:
        assert r.status == 200
        body = await r.json()
    assert body["status"] == "ready" and body["plugins"]["era"] == "ok"
    assert {(p["plugin"], p["name"]) for p in body["probes"]} >= {
        ("era", "database"),
        ("hub", "database"),
        ("hub", "data_dir"),
    }
    async with http.get(ERA + "/missing", headers=ADMIN) as r:
        assert r.status == 404
    async with grpc.aio.insecure_channel(hub_process.grpc) as chan:
        await hub_pb2_grpc.HubStub(chan).ListPlugins(hub_pb2.ListPluginsRequest())
    await asyncio.sleep(0)
    async with http.get("/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(samples['hub_http_requests_total{method="GET",plugin="era",status="404"}']) >= 1
    assert float(samples['hub_http_requests_total{method="GET",plugin="hub",status="200"}']) >= 2
    assert float(samples['hub_timer_runs_total{timer="hub.grpc_health"}']) >= 1
    assert not [name for name in samples if "_created" in name]  # no timestamps kept as series
    assert 'hub_timer_failures_total{timer="hub.grpc_health"}' in samples
    assert 'hub_timer_last_duration_seconds{timer="hub.grpc_health"}' in samples
    assert float(samples['hub_grpc_calls_total{code="OK",method="/hub.v1.Hub/ListPlugins"}']) >= 1
    assert any(k.startswith("hub_http_request_duration_seconds_bucket") for k in samples)


async def test_readyz_is_503_when_a_critical_probe_is_down(fresh_hub: HubProcess) -> None:
    fresh_hub.start()
    async with aiohttp.ClientSession(base_url=fresh_hub.url) as session:
        async with session.get("/readyz") as r:
            assert r.status == 200
        with closing(database_of(fresh_hub, "era")) as db:
            db.execute("DROP TABLE integration_points")  # era's storage is gone
        async with session.get("/readyz") as r:  # an orchestrator needs no token to see it
            assert r.status == 503
            body = await r.json()
        assert body["status"] == "not ready" and body["plugins"]["era"] == "down"
        (probe,) = [p for p in body["probes"] if p["plugin"] == "era"]
        assert probe["status"] == "down" and probe["critical"] and probe["detail"] is None
        async with session.get("/readyz", headers=ADMIN) as r:  # the admin learns why
            assert r.status == 503
            body = await r.json()
        (probe,) = [p for p in body["probes"] if p["plugin"] == "era"]
        assert probe["status"] == "down" and "integration_points" in probe["detail"]
        async with session.get("/healthz") as r:  # alive, just not ready
            assert r.status == 200
        result = await graphql(session, "{ hub { health { plugin status } } }")
        assert {h["plugin"]: h["status"] for h in result["data"]["hub"]["health"]}["era"] == "down"
        # the failure's own text (an SQL error naming the table) stays in the log, on every path
        failing = "{ era { integrationPoints { totalCount } } }"
        over_http = (await graphql(session, failing, headers=ADMIN))["errors"][0]
        over_ws = (await over_websocket(fresh_hub, failing))["payload"]["errors"][0]
        for error in (over_http, over_ws):
            assert error["message"] == "internal error", error
            assert error["extensions"]["code"] == "INTERNAL", error
        async with session.get(ERA, headers=ADMIN) as r:  # the era surface fails in its own shape
            assert r.status == 500
            assert await r.json() == {"error_code": 1500, "error_message": "internal error"}
    async with grpc.aio.insecure_channel(fresh_hub.grpc) as chan:
        health = await hub_pb2_grpc.HubStub(chan).Health(hub_pb2.HealthRequest())
    assert health.status == "not ready"
    assert {p.plugin: p.status for p in health.plugins}["era"] == "down"


async def test_grpc_hub_service(channel: grpc.aio.Channel) -> None:
    stub = hub_pb2_grpc.HubStub(channel)
    admin = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
    listed = await stub.ListPlugins(hub_pb2.ListPluginsRequest(), metadata=admin)
    plugins = {p.name: p for p in listed.plugins}
    assert plugins["era"].version == "0.1.0" and set(plugins["era"].hooks) >= ERA_HOOKS
    assert plugins["hub"].version == HUB_VERSION
    health = await stub.Health(hub_pb2.HealthRequest())
    assert health.status == "ready"
    statuses = {p.plugin: p.status for p in health.plugins}
    assert set(statuses) == set(plugins) and statuses["era"] == statuses["hub"] == "ok"
    assert {(p.plugin, p.name, p.status) for p in health.probes} >= {
        ("era", "database", "ok"),
        ("hub", "data_dir", "ok"),
    }


async def test_grpc_standard_health_service(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "hub.era.v1.Era", "hub.v1.Hub"):
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Check(health_pb2.HealthCheckRequest(service="hub.nothing.v1.Nothing"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_grpc_server_reflection(hub_process: HubProcess) -> None:
    with grpc.insecure_channel(hub_process.grpc) as chan:
        database = ProtoReflectionDescriptorDatabase(chan)
        services = set(database.get_services())
        assert {"hub.era.v1.Era", "hub.v1.Hub", "grpc.health.v1.Health"} <= services
        assert any(s.startswith("grpc.reflection.") for s in services)
        from google.protobuf.descriptor_pool import DescriptorPool

        pool = DescriptorPool(database)
        era = pool.FindServiceByName("hub.era.v1.Era")
        assert {m.name for m in era.methods} == {
            "Create",
            "List",
            "Get",
            "Update",
            "Delete",
            "Lookup",
        }
        assert (
            pool.FindMessageTypeByName("hub.era.v1.IntegrationPoint")
            .fields_by_name["token_local"]
            .number
            == 4
        )


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_grpc_reflection_answers_both_protocol_versions(
    hub_process: HubProcess, version: str
) -> None:
    """grpcurl and newer clients ask for grpc.reflection.v1 first; older ones for v1alpha."""
    from google.protobuf import descriptor_pb2
    from grpc_reflection.v1alpha import reflection_pb2

    with grpc.insecure_channel(hub_process.grpc) as chan:
        call = chan.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="hub.era.v1.Era"),
        ]
        listed, described = list(call(iter(requests), timeout=10))
    names = {service.name for service in listed.list_services_response.service}
    assert {"hub.era.v1.Era", "hub.v1.Hub", f"grpc.reflection.{version}.ServerReflection"} <= names
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in described.file_descriptor_response.file_descriptor_proto
    ]
    assert "hub/era/v1/era.proto" in {f.name for f in files}


# == graceful shutdown =============================================================================
async def test_sigterm_lets_the_in_flight_request_finish(tmp_path: Path, plugins_dir: Path) -> None:
    hub = HubProcess(
        tmp_path / "data", env={"HUB_PLUGINS_DIR": str(plugins_dir), "HUB_SLOWPOKE_DELAY": "1"}
    )
    hub.start()
    try:
        async with aiohttp.ClientSession(base_url=hub.url) as session:

            async def slow() -> tuple[int, Any]:
                async with session.get("/slowpoke/slow") as r:
                    return r.status, await r.json()

            request = asyncio.create_task(slow())
            deadline = time.monotonic() + 10
            while not any("slow request started" in line for line in hub.output):
                assert time.monotonic() < deadline, hub.output
                await asyncio.sleep(0.02)
            assert hub.proc is not None
            assert not request.done()  # the request is in flight when the signal arrives
            hub.proc.send_signal(signal.SIGTERM)
            assert await request == (200, {"slept": 1.0})
        # and new connections are no longer accepted
        host, port = hub.http.rsplit(":", 1)
        with pytest.raises(OSError):
            await asyncio.open_connection(host, int(port))
        assert await asyncio.to_thread(hub.proc.wait, 15) == 0
    finally:
        hub.stop()


# == GraphQL schema conflicts ======================================================================
CONFLICT_A = """
import strawberry
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart

@strawberry.type(name="AbCThing")
class Thing:
    name: str

@strawberry.type(name="AbQuery")
class Query:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(name="a")

@strawberry.type
class Mutation:
    @strawberry.mutation
    def ab_c_do(self) -> int:
        return 1

@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=Query if "{kind}" == "type" else None,
                         mutation=Mutation if "{kind}" == "field" else None))
"""
CONFLICT_B = """
import strawberry
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart

@strawberry.type(name="AbCThing")
class Thing:
    name: str

@strawberry.type(name="AbCQuery")
class Query:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(name="b")

@strawberry.type
class Mutation:
    @strawberry.mutation
    def ab_c_do(self) -> int:
        return 2

@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=Query if "{kind}" == "type" else None,
                         mutation=Mutation if "{kind}" == "field" else None))
"""


@pytest.mark.parametrize(("kind", "clash"), [("type", "AbCThing"), ("field", "abCDo")])
def test_duplicate_graphql_names_from_two_plugins_stop_the_start(
    tmp_path: Path, kind: str, clash: str
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "ab.py").write_text(CONFLICT_A.replace("{kind}", kind))
    (folder / "ab_c.py").write_text(CONFLICT_B.replace("{kind}", kind))
    code, out, err = finish(
        cli(tmp_path / "data", *serve_args(), env={"HUB_PLUGINS_DIR": str(folder)})
    )
    assert code != 0
    assert "listening" not in out
    message = [line for line in err.splitlines() if clash in line]
    assert message, err
    assert "ab " in message[-1] + " " and "ab_c" in message[-1], message
    assert "Traceback" not in err


def test_a_plugin_that_fails_to_import_stops_the_start_with_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "broken.py").write_text("import no_such_module_anywhere\n")
    for args in (serve_args(), ["plugins"], ["schema", "export"]):
        code, out, err = finish(cli(tmp_path / "data", *args, env={"HUB_PLUGINS_DIR": str(folder)}))
        assert code != 0, args
        assert "plugin broken" in err and "no_such_module_anywhere" in err, err
        assert "Traceback" not in err and "listening" not in out


@pytest.mark.parametrize("taken", ["http", "grpc"])
def test_a_port_in_use_stops_the_start_cleanly(
    tmp_path: Path, hub_process: HubProcess, taken: str
) -> None:
    """Even against another hub's gRPC port (grpc would share it with SO_REUSEPORT)."""
    address = hub_process.http if taken == "http" else hub_process.grpc
    other = "--grpc" if taken == "http" else "--http"
    code, out, err = finish(
        cli(tmp_path / "data", "serve", f"--{taken}", address, other, "127.0.0.1:0")
    )
    assert code != 0
    assert "listening" not in out
    assert address.rsplit(":", 1)[1] in err and "Traceback" not in err, err


# == rate limiter ==================================================================================
def test_rate_limiter_allows_limit_then_refuses(tmp_path: Path) -> None:
    now = [1_000_000.0]
    first = limiter(tmp_path / "rl.db", clock=lambda: now[0])
    assert [first.hit("k", 3, 60).allowed for _ in range(3)] == [True, True, True]
    refused = first.hit("k", 3, 60)
    assert not refused.allowed and refused.retry_after == 60  # until the window ends
    # refused hits do not use anything up, and however slowly the window is spent, it
    # lets no more through (GCRA let one more through every 60/3 s)
    for _ in range(10):
        now[0] += 5.9
        assert not first.hit("k", 3, 60).allowed
    now[0] += 0.9  # 59.9 s after the window opened
    decision = first.hit("k", 3, 60)
    assert not decision.allowed and decision.retry_after == 1
    now[0] += 0.1
    # keys are independent, and when the window ends the whole limit is back
    assert first.hit("other", 3, 60).allowed
    assert [first.hit("k", 3, 60).allowed for _ in range(4)] == [True, True, True, False]
    # the state is in the file: a second limiter on it (another worker) sees it
    second = limiter(tmp_path / "rl.db", clock=lambda: now[0])
    assert not second.hit("k", 3, 60).allowed


def test_rate_limit_holds_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    limiter(path)  # create the table once
    ctx = multiprocessing.get_context("spawn")
    workers, attempts, limit = 3, 40, 60
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=hammer, args=(str(path), attempts, limit, barrier, results))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    allowed = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(10)
        assert proc.exitcode == 0
    assert sum(allowed) == limit, allowed
    assert all(a > 0 for a in allowed), allowed  # they really did compete


# == timers ========================================================================================
async def test_timer_registry_runs_jobs_and_records_failures() -> None:
    timers = TimerRegistry()
    calls: list[float] = []

    async def ok() -> None:
        calls.append(time.monotonic())
        await asyncio.sleep(0)

    def broken() -> None:
        raise ValueError("boom")

    good = timers.add("p", "ok", 0.02, ok)
    bad = timers.add("p", "broken", 0.02, broken)
    with pytest.raises(ValueError):
        timers.add("p", "ok", 1, ok)
    with pytest.raises(ValueError):
        timers.add("p", "never", 0, ok)
    timers.start()
    deadline = time.monotonic() + 5
    while good.runs < 4 or bad.runs < 4:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await timers.stop()
    assert good.failures == 0 and good.runs == len(calls) >= 4
    assert all(b - a >= 0.015 for a, b in itertools.pairwise(calls))  # the interval is kept
    assert bad.failures == bad.runs >= 4 and bad.last_error == "ValueError: boom"
    stats = {s["name"]: s for s in timers.stats()}
    assert stats["broken"]["failures"] == bad.runs and stats["ok"]["last_error"] is None
    assert stats["ok"]["average_duration"] is not None and not stats["ok"]["running"]
    runs = good.runs
    await asyncio.sleep(0.1)
    assert good.runs == runs  # stopped means stopped
    text = generate_latest(HubMetrics(timers, lambda: [("x.q", 3)]).registry).decode()
    assert f'hub_timer_runs_total{{timer="p.ok"}} {float(runs)}' in text
    assert f'hub_timer_failures_total{{timer="p.broken"}} {float(bad.failures)}' in text
    assert 'hub_queue_depth{queue="x.q"} 3.0' in text
    minute = {s["name"]: s for s in timers.stats()}
    assert len(minute["ok"]["last_min"]) == runs
    assert minute["ok"]["func_name"].endswith("<locals>.ok")
    failed = minute["broken"]["failed"]
    assert len(failed) == bad.failures and failed[-1]["error"] == "ValueError: boom"


GREETER = """
import click
from hub.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command(name="greeter-hello")
    def hello():
        click.echo("hello from the plugins dir")
"""


def test_a_config_plugins_dir_plugin_adds_commands(tmp_path: Path) -> None:
    """``hub`` adds plugin commands before it parses its options, so it reads ``--config``
    itself to find a ``plugins_dir`` named there."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "greeter.py").write_text(GREETER)
    config = tmp_path / "hub.toml"
    config.write_text(f'plugins_dir = "{folder}"\n')
    command = ["--data-dir", str(tmp_path / "data"), "--config", str(config), "greeter-hello"]
    env = {**os.environ, "HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_PLUGINS": "greeter"}
    env.pop("HUB_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello from the plugins dir"
    assert "warning" not in done.stderr
