"""The graphql-transport-ws path (strawberry's own execution) enforces the same cost limits as
the HTTP view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess

LIMITS = {
    "HUB_GRAPHQL_MAX_DEPTH": "3",
    "HUB_GRAPHQL_MAX_ALIASES": "1",
    "HUB_GRAPHQL_MAX_TOKENS": "40",
}


@pytest.fixture(scope="module")
def strict_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    hub = HubProcess(Path(tmp_path_factory.mktemp("strict")) / "data", env=LIMITS).start()
    yield hub
    hub.stop()


async def over_websocket(hub: HubProcess, query: str) -> dict[str, Any]:
    """The first answer to ``query`` sent as a graphql-transport-ws operation."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}
        )
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        message = await ws.receive(timeout=10)
        if message.type == aiohttp.WSMsgType.CLOSE:  # strawberry refuses an unparsable document so
            return {"type": "close", "code": message.data, "payload": [{"message": message.extra}]}
        return message.json()  # type: ignore[no-any-return]


def messages(answer: dict[str, Any]) -> str:
    payload = answer["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors", [])
    return " ".join(error["message"] for error in errors)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ era { integrationPoints { edges { node { code } } } } }", "depth"),
        ("{ a: __typename b: __typename }", "aliases"),
        ("{ " + "__typename " * 50 + "}", "tokens"),
    ],
)
async def test_limits_apply_over_websockets(
    strict_hub: HubProcess, query: str, expected: str
) -> None:
    answer = await over_websocket(strict_hub, query)
    assert answer["type"] in ("error", "next", "close"), answer
    assert expected in messages(answer), answer
    assert "data" not in answer["payload"] or answer["payload"]["data"] is None


async def test_a_query_within_the_limits_runs_over_websockets(strict_hub: HubProcess) -> None:
    answer = await over_websocket(strict_hub, "{ hub { plugins { name } } }")
    assert answer["type"] == "next", answer
    assert {"name": "era"} in answer["payload"]["data"]["hub"]["plugins"]
