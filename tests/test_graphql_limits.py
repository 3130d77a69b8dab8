"""Hostile GraphQL documents against a real hub: every cost limit is linear in the document, an
expensive document is refused before graphql-core's own rules run, execution has a budget, the
document cache is bounded in bytes, and the hub keeps answering other clients meanwhile."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from graphql import build_schema

from hub.config import GraphQLLimits
from hub.graphql.documents import DocumentCache
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.ws_client import acknowledged

GRAPHQL_RESPONSE = "application/graphql-response+json"


def fragment_bomb(levels: int, leaf: str = "__typename") -> str:
    """Each fragment spreads the next one twice: 2**levels fields from about 40 bytes a level."""
    spreads = " ".join(f"fragment F{i} on Query{{...F{i + 1} ...F{i + 1}}}" for i in range(levels))
    return f"query{{...F0}} {spreads} fragment F{levels} on Query{{{leaf}}}"


# within every validation limit (introspection fields do not count towards depth, graphql-core
# allows two levels of `fields`), 5 kB that resolve over 120,000 fields
_TYPE_REF = "type { name ofType { name ofType { name %s } } }"
_SCHEMA_WALK = (
    "__schema { types { name fields { name args { name } "
    + _TYPE_REF % ("fields { name args { name } " + _TYPE_REF % "" + " }")
    + " } } }"
)
INTROSPECTION_FAN_OUT = "{ " + " ".join(f"a{i}: {_SCHEMA_WALK}" for i in range(30)) + " }"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(Path(tmp_path_factory.mktemp("limits")) / "data").start()
    yield process
    process.stop()


async def post(
    session: aiohttp.ClientSession, hub: HubProcess, payload: Any, **headers: str
) -> tuple[int, dict[str, Any]]:
    async with session.post(
        f"{hub.url}/graphql",
        data=json.dumps(payload),
        headers={"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE, **headers},
    ) as response:
        return response.status, await response.json(content_type=None)


def reasons(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["reason"] for e in body.get("errors", [])]


async def while_healthz_answers(hub: HubProcess, hostile: list[Any]) -> list[Any]:
    """Send ``hostile`` bodies and /healthz requests together; the health checks must all answer
    while the hostile ones are being served (the bound only catches a stalled event loop)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def healthz() -> float:
            started = time.monotonic()
            async with session.get(f"{hub.url}/healthz") as response:
                assert response.status == 200
            return time.monotonic() - started

        answers = asyncio.gather(*(post(session, hub, body) for body in hostile))
        checks = asyncio.gather(*(healthz() for _ in range(20)))
        replies, latencies = await asyncio.gather(answers, checks)
    assert max(latencies) < 5, latencies
    return list(replies)


async def test_fragment_bomb_is_refused_at_once_and_the_hub_keeps_answering(
    hub: HubProcess,
) -> None:
    bomb = {"query": fragment_bomb(30)}
    started = time.monotonic()
    replies = await while_healthz_answers(hub, [bomb] * 4)
    assert time.monotonic() - started < 10  # hours without memoisation
    for status, body in replies:
        assert status == 400, body
        assert reasons(body) == ["field_limit"], body
        assert "data" not in body


async def test_cost_rules_run_before_the_standard_rules(hub: HubProcess) -> None:
    """An unknown field under the bomb would be reported by graphql-core's rules; it is not,
    because they never see a document the cost rules refused."""
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, hub, {"query": fragment_bomb(30, "noSuchField")})
    assert status == 400
    assert reasons(body) == ["field_limit"], body


async def test_fields_within_the_limit_still_run(hub: HubProcess) -> None:
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, hub, {"query": fragment_bomb(9)})  # 512 fields
    assert status == 200, body
    assert body["data"] == {"__typename": "Query"}


async def test_execution_budget_stops_a_fan_out_through_introspection(hub: HubProcess) -> None:
    started = time.monotonic()
    replies = await while_healthz_answers(hub, [{"query": INTROSPECTION_FAN_OUT}] * 2)
    assert time.monotonic() - started < 20
    for status, body in replies:
        assert status == 400, body  # what was resolved is no answer: none of it is given
        assert reasons(body) == ["execution_limit"], body
        assert "data" not in body
        assert "50000" in body["errors"][0]["message"]


async def test_the_introspection_query_fits_the_limits(hub: HubProcess) -> None:
    """GraphiQL's own introspection query is deeper than most, and must still run."""
    from graphql import get_introspection_query

    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, hub, {"query": query})
    assert status == 200, body
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_graphql_body_limit_is_64_kib(hub: HubProcess) -> None:
    padding = "x" * (64 * 1024)
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, hub, {"query": "{ __typename } #" + padding})
        assert status == 413, body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE", body
        assert error["extensions"]["reason"] == "payload_too_large", body
        assert "65536" in error["message"]

        async def chunks() -> Any:  # no Content-Length: the limit holds as the body arrives
            yield b'{"query": "{ __typename } #'
            for _ in range(80):
                yield b"x" * 1024
            yield b'"}'

        async with session.post(
            f"{hub.url}/graphql",
            data=chunks(),
            headers={"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE},
        ) as response:
            assert response.status == 413
            assert (await response.json())["errors"][0]["extensions"]["reason"] == (
                "payload_too_large"
            )
        status, body = await post(session, hub, {"query": "{ __typename } #" + "x" * 60_000})
        assert status == 200, body


def test_graphql_body_limit_is_configurable(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_GRAPHQL_MAX_BODY": "200"}).start()
    try:

        async def run() -> None:
            async with aiohttp.ClientSession() as session:
                status, body = await post(session, hub, {"query": "{ __typename } #" + "x" * 200})
                assert status == 413, body
                status, body = await post(session, hub, {"query": "{ __typename }"})
                assert status == 200, body

        asyncio.run(run())
    finally:
        hub.stop()


# --- the document cache ----------------------------------------------------------------------

SCHEMA = build_schema("type Query { a: Int }")


def padded(n: int, size: int = 60_000) -> str:
    return f"{{ a }} # {n} " + "x" * size


def test_a_document_is_cached_only_when_seen_again() -> None:
    cache = DocumentCache(GraphQLLimits())
    for n in range(200):
        document, errors = cache.get(SCHEMA, padded(n))
        assert document is not None and not errors
    assert len(cache.entries) == 0 and cache.size == 0
    assert len(cache.seen_once) == 200
    cache.get(SCHEMA, padded(7))
    assert len(cache.entries) == 1


def test_the_cache_is_bounded_in_bytes() -> None:
    limits = GraphQLLimits(document_cache_bytes=1024 * 1024)
    cache = DocumentCache(limits)
    for n in range(100):
        for _ in range(2):
            cache.get(SCHEMA, padded(n))
        assert cache.size <= limits.document_cache_bytes
    assert 1 <= len(cache.entries) < 10  # each padded document costs over 120 kB
    cache.get(SCHEMA, "{ a }")
    cache.get(SCHEMA, "{ a }")
    assert len(cache.entries) >= 2  # small documents still fit


def test_first_sightings_are_bounded_too() -> None:
    cache = DocumentCache(GraphQLLimits())
    for n in range(10_000):
        cache.get(SCHEMA, f"{{ a }} # {n}")
    assert len(cache.seen_once) <= 4096


def rss_kib(hub: HubProcess) -> int:
    assert hub.proc is not None
    status = Path(f"/proc/{hub.proc.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


def test_padded_anonymous_documents_do_not_pin_memory(tmp_path: Path) -> None:
    """Distinct padded documents, each sent twice, from a client with no credential: the hub's
    memory stays within the cache's byte bound (4 MiB here) plus slack, where the old cache of
    512 entries would have kept every one of them (about 100 MiB)."""
    env = {"HUB_GRAPHQL_DOCUMENT_CACHE_BYTES": str(4 * 1024 * 1024)}
    hub = HubProcess(tmp_path / "data", env=env).start()
    try:

        async def send(session: aiohttp.ClientSession, first: int, count: int) -> None:
            for n in range(first, first + count):
                for _ in range(2):
                    query = f"{{ hub {{ plugins {{ name }} }} }} # {n} " + "x" * 60_000
                    status, body = await post(session, hub, {"query": query})
                    assert status == 200, body

        async def run() -> tuple[int, int]:
            async with aiohttp.ClientSession() as session:
                await send(session, 0, 100)  # warm up: allocator arenas, plan caches, imports
                before = rss_kib(hub)
                await send(session, 100, 700)
                return before, rss_kib(hub)

        before, after = asyncio.run(run())
        assert after - before < 30 * 1024, (before, after)
    finally:
        hub.stop()


# --- websockets --------------------------------------------------------------------------------


async def ws_first_answer(hub: HubProcess, message: Any) -> aiohttp.WSMessage:
    async with acknowledged(hub.url, {"Authorization": f"Bearer {ADMIN_TOKEN}"}) as ws:
        await ws.send_str(json.dumps(message))
        return await ws.receive(timeout=30)


async def test_fragment_bomb_over_websockets(hub: HubProcess) -> None:
    message = {"id": "1", "type": "subscribe", "payload": {"query": fragment_bomb(30)}}
    answer = await ws_first_answer(hub, message)
    assert answer.type == aiohttp.WSMsgType.TEXT, answer
    body = answer.json()
    assert body["type"] == "error", body
    assert [e["extensions"]["reason"] for e in body["payload"]] == ["field_limit"], body


async def test_execution_budget_over_websockets(hub: HubProcess) -> None:
    message = {"id": "1", "type": "subscribe", "payload": {"query": INTROSPECTION_FAN_OUT}}
    answer = await ws_first_answer(hub, message)
    body = answer.json()
    assert body["type"] == "next", body
    reasons_seen = [e["extensions"]["reason"] for e in body["payload"]["errors"]]
    assert reasons_seen == ["execution_limit"], body


@pytest.mark.parametrize(
    "message",
    [
        {"id": "1", "type": "subscribe", "payload": None},
        {"id": "1", "type": "subscribe", "payload": "{ __typename }"},
        {"id": "1", "type": "subscribe"},
        {"id": "1", "type": "subscribe", "payload": {"query": 5}},
        {"id": "1", "type": "subscribe", "payload": {"query": "{ a }", "variables": [1]}},
        {"id": "1", "type": "subscribe", "payload": {"query": "{ a }", "operationName": 1}},
        {"id": 1, "type": "subscribe", "payload": {"query": "{ __typename }"}},
        {"id": ["x"], "type": "complete"},
        {"type": None},
        [1, 2],
        "subscribe",
        None,
    ],
)
async def test_malformed_messages_close_with_4400(hub: HubProcess, message: Any) -> None:
    answer = await ws_first_answer(hub, message)
    assert answer.type == aiohttp.WSMsgType.CLOSE, answer
    assert answer.data == 4400, answer
    assert answer.extra, answer  # the reason says what was wrong
    async with aiohttp.ClientSession() as session, session.get(f"{hub.url}/healthz") as reply:
        assert reply.status == 200
    assert not [line for line in hub.output if "Traceback" in line or " 500 " in line]
