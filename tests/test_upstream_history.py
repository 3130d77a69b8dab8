"""What an upstream-mode plugin has seen its vendor answer, over GraphQL and gRPC: one version
per content (never one per fetch), newest first, for the admin only; and the settings of upstream
mode read from the environment (``HUB_<PLUGIN>_UPSTREAM_<KEY>``)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from hub_unspot.settings import UnspotSettings

from hub.config import ConfigError, Settings, env_names, plugin_settings
from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.process import ADMIN_TOKEN
from hub.v1 import hub_pb2, hub_pb2_grpc

DISPLAYS = "/api/external/v1/monitoring/displays"
HISTORY = """query($path: String!) { hub { upstreamHistory(plugin: "unspot", path: $path) {
  totalCount nodes { fetchedAt contentType body } } } }"""


async def gql(hub: RunningHub, query: str, token: str, **variables: Any) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        return await response.json()  # type: ignore[no-any-return]


async def test_history_keeps_one_version_per_content(tmp_path: Path) -> None:
    vendor_env = {"HUB_PLUGINS": "unspot", "HUB_UNSPOT_RATE_WINDOW": "0.02"}  # its 1 per 30 s
    async with running_hub(tmp_path / "vendor", vendor_env) as vendor:
        owner = vendor.creds("unspot", role="owner")["token"]
        created = await gql(
            vendor,
            'mutation { unspotUpsertDisplay(input: {name: "Lobby", status: "online"}) { id } }',
            ADMIN_TOKEN,
        )
        display = created["data"]["unspotUpsertDisplay"]["id"]
        env = {
            "HUB_PLUGINS": "unspot",
            "HUB_UNSPOT_MODE": "upstream",
            "HUB_UNSPOT_UPSTREAM_URL": vendor.rest_url("unspot"),
            "HUB_UNSPOT_UPSTREAM_TOKEN": owner,
            "HUB_UNSPOT_UPSTREAM_BUDGET": "50/1s",
            "HUB_UNSPOT_UPSTREAM_FRESH": "0.05",
        }
        async with running_hub(tmp_path / "front", env) as front:
            reader = front.creds("unspot", role="owner")["token"]
            displays = "{ unspot { monitoring { displays { id status } } } }"

            async def seen(status: str) -> None:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    got = await gql(front, displays, reader)
                    if got["data"]["unspot"]["monitoring"]["displays"][0]["status"] == status:
                        return
                    await asyncio.sleep(0.1)
                raise AssertionError(f"the front hub never showed {status}")

            await seen("online")
            await seen("online")  # fetched again, same content: no new version
            await asyncio.sleep(0.2)
            await seen("online")
            await gql(
                vendor,
                f'mutation {{ unspotSetDisplayStatus(id: "{display}", status: "offline")'
                " { id } }",
                ADMIN_TOKEN,
            )
            await seen("offline")

            history = (await gql(front, HISTORY, ADMIN_TOKEN, path=DISPLAYS))["data"]["hub"]
            versions = history["upstreamHistory"]
            assert versions["totalCount"] == 2
            statuses = [
                orjson.loads(v["body"])["body"]["displays"][0]["status"] for v in versions["nodes"]
            ]
            assert statuses == ["offline", "online"]  # newest first
            assert versions["nodes"][0]["fetchedAt"] >= versions["nodes"][1]["fetchedAt"]

            refused = await gql(front, HISTORY, reader, path=DISPLAYS)
            assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            local = await gql(
                front,
                '{ hub { upstreamHistory(plugin: "hub", path: "/") { totalCount } } }',
                ADMIN_TOKEN,
            )
            assert local["errors"][0]["extensions"]["reason"] == "not_upstream"

            async with grpc.aio.insecure_channel(front.grpc) as channel:
                stub = hub_pb2_grpc.HubStub(channel)
                reply = await stub.UpstreamHistory(
                    hub_pb2.UpstreamHistoryRequest(plugin="unspot", path=DISPLAYS, limit=1),
                    metadata=[("authorization", f"Bearer {ADMIN_TOKEN}")],
                )
                assert reply.total_count == 2 and len(reply.versions) == 1
                assert b'"offline"' in reply.versions[0].body.encode()
                with pytest.raises(grpc.aio.AioRpcError) as refused_grpc:
                    await stub.UpstreamHistory(
                        hub_pb2.UpstreamHistoryRequest(plugin="unspot", path=DISPLAYS),
                        metadata=[("authorization", f"Bearer {reader}")],
                    )
                assert refused_grpc.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_upstream_settings_come_from_the_environment() -> None:
    env = {
        "HUB_UNSPOT_MODE": "upstream",
        "HUB_UNSPOT_UPSTREAM_URL": "https://unspot.example.com",
        "HUB_UNSPOT_UPSTREAM_TOKEN": "vendor-token",
        "HUB_UNSPOT_UPSTREAM_MAX_STALE": "60",
    }
    settings = plugin_settings(Settings(), "unspot", UnspotSettings, env)
    assert settings.mode == "upstream"
    assert settings.upstream.url == "https://unspot.example.com"
    assert settings.upstream.token == "vendor-token"
    assert settings.upstream.max_stale == 60.0
    assert settings.upstream.budget == "1/30s"  # UnSpot's documented limit is the default
    assert set(env) <= env_names({"unspot": UnspotSettings})


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"HUB_UNSPOT_MODE": "mirror"}, "plugins.unspot.mode"),
        ({"HUB_UNSPOT_MODE": "upstream"}, "plugins.unspot.upstream.url"),
        (
            {"HUB_UNSPOT_MODE": "upstream", "HUB_UNSPOT_UPSTREAM_URL": "ftp://x"},
            "plugins.unspot.upstream.url",
        ),
        (
            {
                "HUB_UNSPOT_MODE": "upstream",
                "HUB_UNSPOT_UPSTREAM_URL": "https://x",
                "HUB_UNSPOT_UPSTREAM_TOKEN": "t",
                "HUB_UNSPOT_UPSTREAM_BUDGET": "often",
            },
            "plugins.unspot.upstream.budget",
        ),
        (
            {"HUB_UNSPOT_MODE": "upstream", "HUB_UNSPOT_UPSTREAM_URL": "https://x"},
            "plugins.unspot.upstream.token",
        ),
        ({"HUB_UNSPOT_UPSTREAM_TIMEOUT": "soon"}, "plugins.unspot.upstream.timeout"),
        # nan passes every bound check (it compares false): stale served forever
        ({"HUB_UNSPOT_UPSTREAM_MAX_STALE": "nan"}, "plugins.unspot.upstream.max_stale"),
        ({"HUB_UNSPOT_UPSTREAM_FRESH": "inf"}, "plugins.unspot.upstream.fresh"),
    ],
)
def test_a_bad_upstream_setting_names_its_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        plugin_settings(Settings(), "unspot", UnspotSettings, env)


def test_the_cache_and_histories_are_bounded(tmp_path: Path) -> None:
    """Every distinct query a client sends is a key: the cache keeps the most recently read
    ones, each history its newest versions, and a forgotten key's history goes in time."""
    from hub.storage import Engine
    from hub.upstream.cache import Cache, Entry, Target, digest, m001_cache

    # the hub's engine (PostgreSQL when HUB_DATABASE_URL is set): pruning's SQL runs on both
    database = Engine(tmp_path, os.environ.get("HUB_DATABASE_URL", "")).open("_upstream")
    database.migrate("hub", [m001_cache])
    cache = Cache(database, "era")

    def store(key: int, version: int, at: float) -> None:
        body = f"{key}:{version}".encode()
        target = Target.of("/items", [("q", str(key))])
        cache.store(Entry(target, "c", 200, "text/plain", body, digest(body), None, None, at), at)

    for key in range(5):
        for version in range(4):
            store(key, version, at=1000.0 + key)
    cache.prune(max_keys=3, versions=2, forgotten_before=0)
    kept = [row[0] for row in database.execute("SELECT key FROM upstream_cache ORDER BY key")]
    assert kept == ["/items?q=2", "/items?q=3", "/items?q=4"]  # the most recently read
    versions = database.execute(
        "SELECT key, count(*) FROM upstream_history GROUP BY key ORDER BY key"
    ).fetchall()
    assert [n for _, n in versions] == [2] * 5  # the evicted keys' history is still young
    newest = cache.history(Target.of("/items", [("q", "4")]), 0, 10)[0]
    assert [v.body for v in newest] == [b"4:3", b"4:2"]
    cache.prune(max_keys=3, versions=2, forgotten_before=2000)
    left = {row[0] for row in database.execute("SELECT DISTINCT key FROM upstream_history")}
    assert left == set(kept)
