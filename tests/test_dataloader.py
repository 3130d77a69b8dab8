"""DataLoaders from ``info.context.loader``: one batch per request, nothing cached across
requests. Exercised through a single-file plugin on a real hub."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess

PLUGIN = """
import strawberry
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart

BATCHES = []


async def load_squares(keys):
    BATCHES.append(list(keys))
    return [key * key for key in keys]


@strawberry.type(name="LoadyItem")
class Item:
    n: int

    @strawberry.field
    async def square(self, info: strawberry.Info) -> int:
        return await info.context.loader("loady.squares", load_squares).load(self.n)


@strawberry.type(name="LoadyQuery")
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(n=n) for n in (1, 2, 3, 2)]

    @strawberry.field
    def batches(self) -> list[list[int]]:
        return BATCHES


@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=Query))
"""


@pytest.fixture(scope="module")
def loady_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("loady")
    (root / "plugins").mkdir()
    (root / "plugins" / "loady.py").write_text(PLUGIN)
    hub = HubProcess(root / "data", env={"HUB_PLUGINS_DIR": str(root / "plugins")}).start()
    yield hub
    hub.stop()


async def query(hub: HubProcess, text: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{hub.url}/graphql",
            json={"query": text},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response,
    ):
        body = await response.json()
        assert "errors" not in body, body
        return body["data"]["loady"]


async def test_loads_in_one_request_are_batched_and_not_shared_between_requests(
    loady_hub: HubProcess,
) -> None:
    first = await query(loady_hub, "{ loady { items { square } } }")
    assert [item["square"] for item in first["items"]] == [1, 4, 9, 4]
    assert (await query(loady_hub, "{ loady { batches } }"))["batches"] == [[1, 2, 3]]
    await query(loady_hub, "{ loady { items { square } } }")
    batches = (await query(loady_hub, "{ loady { batches } }"))["batches"]
    assert batches == [[1, 2, 3], [1, 2, 3]], "a second request must not reuse the first's cache"
