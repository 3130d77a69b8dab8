"""A plugin served at the root of a listener of its own (``[plugins.<name>] listen``), for
clients that only let you set a host: the documented paths, unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
POINTS = "/rest/v1/service/integration_points"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = Path(tmp_path_factory.mktemp("own-listener"))
    (root / "hub.toml").write_text('[plugins.era]\nlisten = "127.0.0.1:0"\n')
    process = HubProcess(root / "data", env={"HUB_CONFIG": str(root / "hub.toml")}).start()
    yield process
    process.stop()


def test_the_listener_is_announced(hub: HubProcess) -> None:
    assert set(hub.listeners) == {"era"}
    assert hub.listeners["era"] != hub.http
    assert any(line.startswith("era http listening on ") for line in hub.output)


async def test_era_answers_at_the_root_of_its_listener(hub: HubProcess) -> None:
    base = f"http://{hub.listeners['era']}"
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.post(base + POINTS, json={"code": "OWN", "type": "public"}) as created:
            assert created.status == 200
            ident = (await created.json())["id"]
        async with http.request("LOOKUP", base + POINTS, json="OWN") as found:
            assert (found.status, await found.json()) == (200, [ident])
        async with http.get(base + POINTS + "/" + ident) as one:
            assert (await one.json())["code"] == "OWN"
        async with http.get(base + POINTS + "/" + ident) as one:
            token = (await one.json())["token_local"]
        async with http.get(f"{base}/rest/v1/service/integration_tokens/{token}") as found:
            href = (await found.json())["integration_point"]["_links"]["self"]["href"]
        assert href == f"{POINTS}/{ident}"  # no /era: the link is followable where era is served
        async with http.get(base + href) as followed:
            assert (followed.status, (await followed.json())["id"]) == (200, ident)
        async with http.get(base + "/era" + POINTS) as prefixed:  # no prefix on its own listener
            assert prefixed.status == 404
            assert await prefixed.json() == {"error_code": 1404, "error_message": "Not found"}


async def test_the_main_listener_no_longer_serves_the_plugin(hub: HubProcess) -> None:
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.get(f"{hub.url}/era{POINTS}") as response:
            assert response.status == 404
        async with http.get(f"{hub.url}/healthz") as health:
            assert health.status == 200
        query = {"query": "{ era { integrationPoints { totalCount } } }"}
        async with http.post(f"{hub.url}/graphql", json=query) as graphql:
            body = await graphql.json()
            assert body["data"]["era"]["integrationPoints"]["totalCount"] >= 1, body
