"""The graphql-transport-ws path (strawberry's own execution) enforces the same cost limits as
the HTTP view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.ws_client import acknowledged, next_message, subscribe

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
    async with acknowledged(hub.url, {"Authorization": f"Bearer {ADMIN_TOKEN}"}) as ws:
        await subscribe(ws, query)
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


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("subscription { hubStatus { nope } }", None),  # validation: a field the type lacks
        ("{ hub { nope } }", None),
        ("query($n: Int!) { __typename }", {"n": "not a number"}),  # variables do not coerce
        ("query($n: Int!) { __typename }", None),  # a required variable missing
    ],
)
async def test_a_refused_document_carries_the_error_tables_extensions_as_over_http(
    strict_hub: HubProcess, query: str, variables: dict[str, Any] | None
) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as session:
        posted = {"query": query, "variables": variables}
        async with session.post(f"{strict_hub.url}/graphql", json=posted, headers=auth) as response:
            over_http = (await response.json())["errors"]
    async with acknowledged(strict_hub.url, auth) as ws:
        payload = {"query": query, "variables": variables}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        answer = await next_message(ws)
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    assert [e["extensions"] for e in errors] == [e["extensions"] for e in over_http], answer
    assert {e["extensions"]["reason"] for e in errors} <= {"graphql_invalid", "bad_variables"}
