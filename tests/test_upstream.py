"""Upstream mode end to end, hub in front of hub: hub A (unspot in local mode) is the vendor,
reached through a counting proxy (tests/upstream_proxy.py) that can misbehave as a vendor does;
hub B fronts it (``HUB_UNSPOT_MODE=upstream``) with a short budget. What the proxy counts is what
the vendor would: at most the budget per category, whatever B's readers do over REST, GraphQL and
gRPC, in one process or two."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
import trustme
from hub_unspot.v1 import unspot_pb2 as pb
from hub_unspot.v1 import unspot_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from hub.testing.inprocess import RunningHub, running_hub
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.unspot_helpers import SEED_401, SEED_NOT_ON_PREMISE
from tests.upstream_proxy import VendorProxy
from tests.upstream_support import until

BASE = "/api/external/v1/monitoring"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DISPLAYS_QUERY = "{ unspot { monitoring { displays { id name status } } } }"
BOTH_QUERY = (
    "{ unspot { monitoring { displays { id name status } calendars { total online offline } } } }"
)
SLACK = 0.3  # seconds: B takes a slot, the proxy sees the request a little later

Hub = RunningHub | HubProcess


# -- the hubs --------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def vendor(
    tmp_path: Path, tls: ssl.SSLContext | None = None, **env: str
) -> AsyncIterator[tuple[RunningHub, VendorProxy, str]]:
    """Hub A in local mode behind the proxy (serving HTTPS with ``tls``), and a vendor token
    made on A. A's own REST limit is short so that it never refuses B, which the budget
    already paces."""
    settings = {"HUB_PLUGINS": "unspot", "HUB_UNSPOT_RATE_WINDOW": "0.1", **env}
    async with (
        running_hub(tmp_path / "vendor", settings) as a,
        VendorProxy(a.url, tls) as proxy,
    ):
        yield a, proxy, str(a.creds("unspot", role="owner")["token"])


def upstream_env(proxy: VendorProxy, token: str, **settings: str) -> dict[str, str]:
    """B's settings: ``budget="1/2s"`` becomes ``HUB_UNSPOT_UPSTREAM_BUDGET``. B's REST limit
    per token is short (one test, which uses a token per request, keeps the seed's 30 s)."""
    env = {
        "HUB_PLUGINS": "unspot",
        "HUB_UNSPOT_MODE": "upstream",
        "HUB_UNSPOT_UPSTREAM_URL": proxy.url + "/unspot",
        "HUB_UNSPOT_UPSTREAM_TOKEN": token,
        "HUB_UNSPOT_UPSTREAM_POLL": "0.2",
        "HUB_UNSPOT_RATE_WINDOW": "0.001",
    }
    env.update({f"HUB_UNSPOT_UPSTREAM_{k.upper()}": v for k, v in settings.items()})
    return env


# -- clients ---------------------------------------------------------------------------------
async def rest(
    hub: Hub, path: str = "/displays", token: str = ADMIN_TOKEN
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            hub.url + "/unspot" + BASE + path, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def gql(hub: Hub, query: str, token: str = ADMIN_TOKEN, **variables: Any) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return await resp.json()


async def gql_ok(hub: Hub, query: str, **variables: Any) -> Any:
    answer = await gql(hub, query, **variables)
    assert "errors" not in answer, answer
    return answer["data"]


async def grpc_monitoring(
    hub: Hub, categories: list[str], token: str = ADMIN_TOKEN
) -> tuple[Any, dict[str, str]]:
    """GetMonitoring's answer and its trailing metadata."""
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        call = unspot_pb2_grpc.UnspotStub(channel).GetMonitoring(
            pb.GetMonitoringRequest(categories=categories),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=20,
        )
        answer = await call
        return answer, dict(await call.trailing_metadata())


async def grpc_failure(hub: Hub, categories: list[str]) -> grpc.aio.AioRpcError:
    try:
        await grpc_monitoring(hub, categories)
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("GetMonitoring succeeded")


def displays_of_grpc(answer: Any) -> list[dict[str, str]]:
    return [{"id": d.id, "name": d.name, "status": d.status} for d in answer.displays.items]


def displays_of_rest(raw: bytes) -> list[dict[str, str]]:
    return orjson.loads(raw)["body"]["displays"]  # type: ignore[no-any-return]


async def add_display(a: RunningHub, name: str, status: str = "online") -> str:
    query = "mutation($i: UnspotDisplayInput!) { unspotUpsertDisplay(input: $i) { id } }"
    data = await gql_ok(a, query, i={"name": name, "status": status})
    return str(data["unspotUpsertDisplay"]["id"])


async def set_display_status(a: RunningHub, ident: str, status: str) -> None:
    query = "mutation($d: ID!, $s: String!) { unspotSetDisplayStatus(id: $d, status: $s) { id } }"
    await gql_ok(a, query, d=ident, s=status)


async def metric(hub: Hub, name: str, **labels: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(hub.url + "/metrics") as resp:
        text = await resp.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def readyz(hub: Hub) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.url + "/readyz", headers=ADMIN) as resp,
    ):
        return resp.status, await resp.json()


def upstream_probe(ready: dict[str, Any]) -> dict[str, Any]:
    (probe,) = [p for p in ready["probes"] if (p["plugin"], p["name"]) == ("unspot", "upstream")]
    return probe  # type: ignore[no-any-return]


def assert_within_budget(proxy: VendorProxy, limit: int, window: float) -> None:
    """At most ``limit`` requests per path (one vendor category each) in any ``window``."""
    sent: dict[str, list[float]] = defaultdict(list)
    for hit in proxy.hits:
        sent[hit.path].append(hit.at)
    for path, times in sent.items():
        times.sort()
        for first, last in zip(times, times[limit:], strict=False):
            assert last - first >= window - SLACK, (path, limit, window, times)


# -- 1. many readers, one budget -------------------------------------------------------------
async def test_many_readers_on_three_protocols_spend_only_the_budget(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        names = {await add_display(a, f"Lobby {i}", "online") for i in range(3)}
        assert len(names) == 3
        env = upstream_env(proxy, token, budget="1/2s")
        del env["HUB_UNSPOT_RATE_WINDOW"]  # the seed's 30 s per token: a token per request
        proxy.delay = 0.2  # readers arriving during a fetch join it
        async with running_hub(tmp_path / "b", env) as b:
            rounds, pause = 8, 0.7  # 8 rounds over more than two 2 s windows
            rest_readers, gql_readers, grpc_readers = 12, 19, 19
            tokens = iter([b.creds("unspot", role="owner")["token"] for _ in range(12 * 8)])
            seen: list[tuple[str, Any]] = []

            async def rest_reader() -> None:
                for _ in range(rounds):
                    status, headers, raw = await rest(b, "/displays", next(tokens))
                    assert status == 200, raw
                    assert "Age" in headers
                    seen.append(("displays", displays_of_rest(raw)))
                    await asyncio.sleep(pause)

            async def gql_reader() -> None:
                for _ in range(rounds):
                    data = (await gql_ok(b, BOTH_QUERY))["unspot"]["monitoring"]
                    seen.append(("displays", data["displays"]))
                    seen.append(("calendars", data["calendars"]))
                    await asyncio.sleep(pause)

            async def grpc_reader() -> None:
                for _ in range(rounds):
                    answer, trailers = await grpc_monitoring(b, ["displays"])
                    assert "hub-upstream-age" in trailers
                    seen.append(("displays", displays_of_grpc(answer)))
                    await asyncio.sleep(pause)

            started = time.monotonic()
            await asyncio.gather(
                *(rest_reader() for _ in range(rest_readers)),
                *(gql_reader() for _ in range(gql_readers)),
                *(grpc_reader() for _ in range(grpc_readers)),
            )
            assert time.monotonic() - started > 2 * 2.0  # more than two budget windows
            readers = rest_readers + gql_readers + grpc_readers
            assert len([s for s in seen if s[0] == "displays"]) == readers * rounds
            displays = {repr(sorted(value, key=repr)) for kind, value in seen if kind == "displays"}
            assert len(displays) == 1  # every reader, every protocol: the same data
            assert {d["name"] for d in seen[0][1]} == {f"Lobby {i}" for i in range(3)}
            assert {repr(v) for k, v in seen if k == "calendars"} == {
                repr({"total": 0, "online": 0, "offline": 0})
            }
            refreshes = proxy.times(f"{BASE}/displays") + proxy.times(BASE)
            assert len(refreshes) >= 2  # refreshed across the windows
            # two hot categories: the poller may refresh both with one full request
            categories = {f"/unspot{BASE}{c}" for c in ("/displays", "/calendars", "")}
            assert proxy.paths() <= categories
            assert_within_budget(proxy, 1, 2.0)
            assert await metric(b, "hub_upstream_coalesced_waiters_total", source="unspot") > 0
            hits = await metric(b, "hub_upstream_cache_total", source="unspot", result="hit")
            assert hits > 0


# -- 2 and 3. freshness, the vendor down, past max_stale, recovery ---------------------------
async def test_vendor_down_marks_stale_then_unavailable_then_recovers(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        await add_display(a, "Hall")
        env = upstream_env(proxy, token, budget="1/1s", max_stale="3")
        async with running_hub(tmp_path / "b", env) as b:
            status, headers, raw = await rest(b)
            assert status == 200 and int(headers["Age"]) <= 1
            assert "Hub-Upstream-Stale" not in headers
            expected = displays_of_rest(raw)
            answer = await gql(b, DISPLAYS_QUERY)
            fresh = answer["extensions"]["upstream"]["unspot"]
            assert set(fresh) == {"fetchedAt", "ageSeconds", "stale"} and fresh["stale"] is False
            assert answer["data"]["unspot"]["monitoring"]["displays"] == expected
            reply, trailers = await grpc_monitoring(b, ["displays"])
            assert trailers["hub-upstream-stale"] == "0" and int(trailers["hub-upstream-age"]) >= 0

            await proxy.stop()

            async def stale_rest() -> Any:
                status, headers, raw = await rest(b)
                assert status == 200, raw
                return headers.get("Hub-Upstream-Stale") == "1" and (headers, raw)

            headers, raw = await until(stale_rest, "REST marked stale")
            assert displays_of_rest(raw) == expected and int(headers["Age"]) >= 1
            answer = await gql(b, DISPLAYS_QUERY)
            assert answer["data"]["unspot"]["monitoring"]["displays"] == expected
            assert answer["extensions"]["upstream"]["unspot"]["stale"] is True
            assert answer["extensions"]["upstream"]["unspot"]["ageSeconds"] >= 1
            reply, trailers = await grpc_monitoring(b, ["displays"])
            assert displays_of_grpc(reply) == expected
            assert trailers["hub-upstream-stale"] == "1"

            status, ready = await readyz(b)
            probe = upstream_probe(ready)
            assert status == 200 and ready["status"] == "ready"
            assert probe["status"] == "degraded" and probe["critical"] is False
            assert "last error" in probe["detail"] and "unreachable" in probe["detail"]

            async def refused() -> Any:
                status, headers, raw = await rest(b)
                return status == 503 and (headers, raw)

            headers, raw = await until(refused, "REST 503 past max_stale")
            gone = orjson.loads(raw)
            assert list(gone) == ["message", "errors"] and gone["errors"] == []
            assert gone["message"].startswith("upstream unavailable")
            assert int(headers["Retry-After"]) >= 1
            error = (await gql(b, DISPLAYS_QUERY))["errors"][0]["extensions"]
            assert error["code"] == "UPSTREAM_UNAVAILABLE" and error["status"] == 503
            assert error["reason"] == "upstream_unavailable" and error["retryAfter"] >= 1
            assert (await grpc_failure(b, ["displays"])).code() == grpc.StatusCode.UNAVAILABLE

            await proxy.start()  # the vendor is back, on the same port

            async def recovered() -> Any:
                status, headers, raw = await rest(b)
                return status == 200 and "Hub-Upstream-Stale" not in headers and raw

            assert displays_of_rest(await until(recovered, "fresh again")) == expected
            answer = await gql(b, DISPLAYS_QUERY)
            assert answer["extensions"]["upstream"]["unspot"]["stale"] is False
            _, trailers = await grpc_monitoring(b, ["displays"])
            assert trailers["hub-upstream-stale"] == "0"

            async def healthy() -> bool:
                return upstream_probe((await readyz(b))[1])["status"] == "ok"

            await until(healthy, "the upstream probe ok again")


# -- 4. a vendor's 429 -----------------------------------------------------------------------
async def test_vendor_429_retry_after_holds_back_that_category(tmp_path: Path) -> None:
    """The vendor refuses the full request (a category of its own) with 429 and
    ``Retry-After: 3``: B asks for it again no sooner, while another category is still
    refreshed within its own budget, and readers are served what B has meanwhile."""
    async with vendor(tmp_path) as (a, proxy, token):
        await add_display(a, "Hall")
        env = upstream_env(proxy, token, budget="1/1s")
        async with running_hub(tmp_path / "b", env) as b:
            statuses: list[int] = []

            async def read_both() -> None:
                statuses.append((await rest(b, ""))[0])
                statuses.append((await rest(b, "/displays"))[0])

            await read_both()
            proxy.retry_after, proxy.throttled = 3, BASE  # the full request only

            async def throttled() -> list[float]:
                await read_both()
                return proxy.times(BASE, 429)

            refused_at = (await until(throttled, "a 429 for the full request"))[0]
            proxy.retry_after = None

            async def next_whole() -> list[float]:
                await read_both()
                return [t for t in proxy.times(BASE) if t > refused_at]

            after = (await until(next_whole, "the full request sent again"))[0]
            assert after - refused_at >= 3 - SLACK
            displays = [t for t in proxy.times("/displays") if refused_at < t < after]
            assert displays  # another category is not held back
            assert set(statuses) == {200}
            assert_within_budget(proxy, 1, 1.0)


# -- 5. validators ---------------------------------------------------------------------------
async def versions(b: RunningHub, path: str = f"{BASE}/displays") -> int:
    query = (
        'query($p: String!) { hub { upstreamHistory(plugin: "unspot", path: $p) { totalCount } } }'
    )
    data = await gql_ok(b, query, p=path)
    return int(data["hub"]["upstreamHistory"]["totalCount"])


async def test_etag_revalidation_keeps_the_answer_and_refreshes_its_age(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        await add_display(a, "Hall")
        proxy.etags = True
        env = upstream_env(proxy, token, budget="1/1s")
        async with running_hub(tmp_path / "b", env) as b:
            first = await gql(b, DISPLAYS_QUERY)
            first_at = first["extensions"]["upstream"]["unspot"]["fetchedAt"]
            (sent,) = proxy.hits
            assert sent.status == 200 and sent.if_none_match is None

            async def revalidated() -> bool:
                await gql(b, DISPLAYS_QUERY)
                return any(h.status == 304 for h in proxy.hits)

            await until(revalidated, "a 304")
            (confirm,) = [h for h in proxy.hits if h.status == 304][:1]
            assert confirm.if_none_match is not None and confirm.if_none_match.startswith('"')

            async def younger() -> Any:
                answer = await gql(b, DISPLAYS_QUERY)
                upstream = answer["extensions"]["upstream"]["unspot"]
                return upstream["fetchedAt"] > first_at and answer

            answer = await until(younger, "the age refreshed by the 304")
            assert answer["data"] == first["data"]
            assert answer["extensions"]["upstream"]["unspot"]["stale"] is False
            assert await versions(b) == 1  # a 304 is the same content: no history row

            await add_display(a, "Annex")  # new content: the validator no longer matches

            async def changed() -> Any:
                data = await gql_ok(b, DISPLAYS_QUERY)
                return len(data["unspot"]["monitoring"]["displays"]) == 2

            await until(changed, "the new content after a 200")
            assert await versions(b) == 2


async def test_a_304_to_the_full_request_refreshes_the_categories_it_holds(
    tmp_path: Path,
) -> None:
    """Two hot categories are kept fresh by one full request; when the vendor confirms that
    answer with a 304, the categories cut from it are as fresh as it is, so they are not
    asked for one by one as well."""
    async with vendor(tmp_path) as (a, proxy, token):
        await add_display(a, "Hall")
        proxy.etags = True
        env = upstream_env(proxy, token, budget="1/1s", revalidate="30")
        async with running_hub(tmp_path / "b", env) as b:
            await gql_ok(b, BOTH_QUERY)  # both categories hot; nobody reads again until below

            async def confirmed() -> list[float]:
                return [h.at for h in proxy.hits if h.path.endswith(BASE) and h.status == 304]

            await until(lambda: _at_least(confirmed, 3), "three 304s to the full request")
            whole = proxy.times(BASE)[0]
            one_by_one = [h for h in proxy.hits if h.at > whole and not h.path.endswith(BASE)]
            assert one_by_one == []
            second = (await confirmed())[1]
            answer = await gql(b, BOTH_QUERY)
            fetched = answer["extensions"]["upstream"]["unspot"]["fetchedAt"]
            assert datetime.fromisoformat(fetched).timestamp() >= int(second - 0.1)
            assert_within_budget(proxy, 1, 1.0)


async def _at_least(check: Callable[[], Awaitable[list[float]]], count: int) -> bool:
    return len(await check()) >= count


# -- 6. two processes, one data directory, one budget ----------------------------------------
async def test_two_processes_on_one_data_directory_share_the_budget(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        await add_display(a, "Hall")
        env = upstream_env(proxy, token, budget="1/2s")
        hubs = [HubProcess(tmp_path / "b", env=env) for _ in range(2)]
        for hub in hubs:  # one after the other: the first makes the data directory
            await asyncio.to_thread(hub.start)
        try:
            answers: list[Any] = []

            async def reader(hub: HubProcess) -> None:
                for _ in range(10):
                    answers.append((await gql_ok(hub, BOTH_QUERY))["unspot"]["monitoring"])
                    await asyncio.sleep(0.5)

            await asyncio.gather(*(reader(hub) for hub in hubs for _ in range(8)))
            assert len(answers) == 2 * 8 * 10
            assert len({repr(answer) for answer in answers}) == 1
            assert len(proxy.times("/displays") + proxy.times(BASE)) >= 2
            assert_within_budget(proxy, 1, 2.0)
        finally:
            for hub in hubs:
                await asyncio.to_thread(hub.stop)


# -- 7. subscriptions see upstream changes ---------------------------------------------------
async def next_message(ws: aiohttp.ClientWebSocketResponse, timeout: float = 20) -> Any:
    message = await ws.receive_json(timeout=timeout)
    assert message["type"] == "next", message
    return message["payload"]["data"]["unspotDisplayStatusChanged"]


@contextlib.asynccontextmanager
async def subscribe(hub: Hub) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A graphql-transport-ws subscription to ``unspotDisplayStatusChanged`` on ``hub``."""
    query = "subscription { unspotDisplayStatusChanged { id name status previousStatus } }"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": ADMIN})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        yield ws


async def test_a_status_changed_upstream_reaches_a_subscriber(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        hall = await add_display(a, "Hall", "online")
        await add_display(a, "Annex", "offline")
        env = upstream_env(proxy, token, budget="1/1s")
        async with running_hub(tmp_path / "b", env) as b, subscribe(b) as ws:

            async def baseline() -> list[float]:
                return proxy.times("/displays", 200)

            await until(baseline, "B polls displays for its subscriber")
            await set_display_status(a, hall, "offline")
            change = await next_message(ws)  # the first event: no burst for the baseline
            assert change == {
                "id": hall,
                "name": "Hall",
                "status": "offline",
                "previousStatus": "online",
            }
            lobby = await add_display(a, "Lobby", "online")
            assert await next_message(ws) == {
                "id": lobby,
                "name": "Lobby",
                "status": "online",
                "previousStatus": None,
            }
            assert_within_budget(proxy, 1, 1.0)


async def test_an_answer_without_displays_fires_no_burst_of_events(tmp_path: Path) -> None:
    """A 200 of JSON that lists no displays (a vendor's bug) between two good answers: against
    it, every display of the next good answer looked new, one event each with no previous
    status. Now such an answer tells no change, and the next event is a real one."""
    async with vendor(tmp_path) as (a, proxy, token):
        hall = await add_display(a, "Hall", "online")
        env = upstream_env(proxy, token, budget="1/1s")
        async with running_hub(tmp_path / "b", env) as b, subscribe(b) as ws:

            async def polled(after: int) -> bool:
                return len(proxy.times("/displays", 200)) > after

            await until(lambda: polled(0), "B polls displays for its subscriber")
            proxy.instead["/displays"] = b'{"body": {}}'
            odd = len(proxy.times("/displays", 200))
            await until(lambda: polled(odd), "B reads the answer without displays")
            proxy.instead.clear()
            good = len(proxy.times("/displays", 200))
            await until(lambda: polled(good + 1), "B reads good answers again")
            await set_display_status(a, hall, "offline")
            assert await next_message(ws) == {
                "id": hall,
                "name": "Hall",
                "status": "offline",
                "previousStatus": "online",
            }


async def test_a_subscriber_sees_changes_another_process_fetched(tmp_path: Path) -> None:
    """B1 and B2 share one data directory and so one cache: when B1's readers keep displays
    fresh, B2 never fetches them itself, yet B2's subscriber hears of each change."""
    async with vendor(tmp_path) as (a, proxy, token):
        hall = await add_display(a, "Hall", "online")
        env = upstream_env(proxy, token, budget="1/1s")
        first = HubProcess(tmp_path / "b", env=env)
        second = HubProcess(tmp_path / "b", env={**env, "HUB_UNSPOT_UPSTREAM_POLL": "0.5"})
        for hub in (first, second):
            await asyncio.to_thread(hub.start)
        reading = True

        async def reader() -> None:
            while reading:
                await gql_ok(first, DISPLAYS_QUERY)
                await asyncio.sleep(0.05)

        readers = asyncio.gather(*(reader() for _ in range(3)))
        try:

            async def fetched() -> list[float]:
                return proxy.times("/displays")

            await until(fetched, "a first fetch of displays")
            async with subscribe(second) as ws:
                await asyncio.sleep(2)  # setup: B2's poller takes what it sees as its baseline
                await set_display_status(a, hall, "offline")
                assert await next_message(ws) == {
                    "id": hall,
                    "name": "Hall",
                    "status": "offline",
                    "previousStatus": "online",
                }
            assert_within_budget(proxy, 1, 1.0)
        finally:
            reading = False
            await readers
            for hub in (first, second):
                await asyncio.to_thread(hub.stop)


# -- 8. the vendor's refusals ----------------------------------------------------------------
async def test_the_vendors_401_comes_back_as_its_own(tmp_path: Path) -> None:
    async with vendor(tmp_path, HUB_UNSPOT_ON_PREMISE="false") as (_, proxy, token):
        wrong = upstream_env(proxy, "not-the-vendor-token", budget="1/1s")
        async with running_hub(tmp_path / "wrong", wrong) as b:
            error = (await gql(b, DISPLAYS_QUERY))["errors"][0]
            assert error["extensions"]["code"] == "UNAUTHENTICATED"
            assert error["extensions"]["status"] == 401
            assert error["extensions"]["reason"] == "upstream_unauthorized"
            assert error["message"] == "Invalid API token"
            failed = await grpc_failure(b, ["displays"])
            assert failed.code() == grpc.StatusCode.UNAUTHENTICATED
        right = upstream_env(proxy, token, budget="1/1s")
        async with running_hub(tmp_path / "right", right) as b:
            status, _, raw = await rest(b, "/system")
            assert (status, raw) == (401, SEED_NOT_ON_PREMISE)
            error = (await gql(b, "{ unspot { monitoring { system { redis } } } }"))["errors"][0]
            assert error["extensions"]["reason"] == "upstream_unauthorized"
            status, _, raw = await rest(b, "")  # the full request: no system off premises
            assert status == 200 and b'"system"' not in raw and b'"displays"' in raw


# -- 9. configuration ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"HUB_UNSPOT_MODE": "bogus"}, "plugins.unspot.mode"),
        (
            {"HUB_UNSPOT_MODE": "upstream", "HUB_UNSPOT_UPSTREAM_TOKEN": "t"},
            "plugins.unspot.upstream.url",
        ),
        (
            {
                "HUB_UNSPOT_MODE": "upstream",
                "HUB_UNSPOT_UPSTREAM_URL": "http://127.0.0.1:9",
                "HUB_UNSPOT_UPSTREAM_TOKEN": "t",
                "HUB_UNSPOT_UPSTREAM_BUDGET": "abc",
            },
            "plugins.unspot.upstream.budget",
        ),
        (
            {"HUB_UNSPOT_MODE": "upstream", "HUB_UNSPOT_UPSTREAM_URL": "http://127.0.0.1:9"},
            "plugins.unspot.upstream.token",
        ),
        *(
            (
                {
                    "HUB_UNSPOT_MODE": "upstream",
                    "HUB_UNSPOT_UPSTREAM_URL": url,
                    "HUB_UNSPOT_UPSTREAM_TOKEN": "t",
                },
                "plugins.unspot.upstream.url",
            )
            for url in ("http://[::1", "http://127.0.0.1:99999", "http://exa mple.org")
        ),
    ],
    ids=["bogus-mode", "no-url", "bad-budget", "no-token", "no-ipv6-end", "big-port", "space"],
)
def test_a_bad_upstream_setting_stops_the_start_naming_it(
    tmp_path: Path, settings: dict[str, str], key: str
) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_PLUGINS": "unspot", **settings})
    serve = [sys.executable, "-m", "hub.cli", "--data-dir", str(hub.data_dir), "serve"]
    ports = ["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]
    done = subprocess.run([*serve, *ports], env=hub.env, capture_output=True, text=True, timeout=60)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if key in line]
    assert len(lines) == 1, output


# -- 10. B's own admin surface ---------------------------------------------------------------
async def test_upstream_mode_refuses_display_changes_but_manages_its_users(
    tmp_path: Path,
) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        hall = await add_display(a, "Hall")
        env = upstream_env(proxy, token, budget="1/1s")
        async with running_hub(tmp_path / "b", env) as b:
            upsert = 'mutation { unspotUpsertDisplay(input: {name: "X"}) { id } }'
            status = (
                'mutation($d: ID!) { unspotSetDisplayStatus(id: $d, status: "offline") { id } }'
            )
            for query, variables in ((upsert, {}), (status, {"d": hall})):
                error = (await gql(b, query, **variables))["errors"][0]["extensions"]
                assert (error["status"], error["reason"]) == (409, "upstream_mode"), error
            async with grpc.aio.insecure_channel(b.grpc) as channel:
                stub = unspot_pb2_grpc.UnspotStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await stub.UpsertDisplay(
                        pb.UpsertDisplayRequest(name="X"),
                        metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),),
                    )
            assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS

            made = await gql_ok(b, 'mutation { unspotCreateUser(role: "owner") { userId token } }')
            user = made["unspotCreateUser"]
            status_, _, raw = await rest(b, "/displays", user["token"])
            assert status_ == 200 and [d["name"] for d in displays_of_rest(raw)] == ["Hall"]
            rotate = "mutation($u: ID!) { unspotIssueToken(userId: $u) { token } }"
            again = (await gql_ok(b, rotate, u=user["userId"]))["unspotIssueToken"]["token"]
            assert (await rest(b, "/displays", user["token"]))[2] == SEED_401
            assert (await rest(b, "/displays", again))[0] == 200
            users = await gql_ok(b, "{ unspot { users(first: 100) { nodes { id } } } }")
            assert {"id": user["userId"]} in users["unspot"]["users"]["nodes"]
            # the vendor saw only the vendor's token, never one of B's
            assert {hit.authorization for hit in proxy.hits} == {f"Bearer {token}"}


# -- 11. the vendor's token stays secret -----------------------------------------------------
async def test_the_vendor_token_never_shows_in_logs_or_answers(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        await add_display(a, "Hall")
        env = {**upstream_env(proxy, token, budget="1/1s", max_stale="1")}
        env["HUB_LOG_LEVEL"] = "DEBUG"
        b = HubProcess(tmp_path / "b", env=env)
        await asyncio.to_thread(b.start)
        answers: list[str] = []
        try:
            for path in ("/displays", "", "/system"):
                answers.append((await rest(b, path))[2].decode())
            answers.append(repr(await gql(b, BOTH_QUERY)))
            answers.append(repr(await grpc_monitoring(b, ["displays", "calendars"])))
            await proxy.stop()

            async def unavailable() -> Any:
                status, headers, raw = await rest(b)
                answers.append(repr(headers) + raw.decode())
                return status == 503

            await until(unavailable, "503 past max_stale")
            answers.append(repr(await gql(b, BOTH_QUERY)))
            answers.append(repr((await grpc_failure(b, ["displays"])).details()))
            answers.append(repr(await readyz(b)))
            answers.append(repr(await gql(b, "{ hub { health { plugin status detail } } }")))
            async with aiohttp.ClientSession() as session, session.get(b.url + "/metrics") as r:
                answers.append(await r.text())
            await proxy.start()
        finally:
            await asyncio.to_thread(b.stop)
        logs = "".join(b.output)
        assert "upstream unspot" in logs and "unreachable" in logs  # the failure was logged
        assert token not in logs
        for answer in answers:
            assert token not in answer


# -- what the vendor's answers look like on the wire -----------------------------------------
async def test_an_answer_that_arrives_in_pieces_is_read_whole(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        for i in range(3):
            await add_display(a, f"Lobby {i}")
        proxy.pieces = 4
        env = upstream_env(proxy, token, budget="1/1s")
        async with running_hub(tmp_path / "b", env) as b:
            status, _, raw = await rest(b)
            assert status == 200, raw
            assert [d["name"] for d in displays_of_rest(raw)] == [f"Lobby {i}" for i in range(3)]
            data = await gql_ok(b, BOTH_QUERY)
            assert data["unspot"]["monitoring"]["calendars"]["total"] == 0


async def test_an_answer_over_max_body_is_a_bad_answer(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        for i in range(3):
            await add_display(a, f"Lobby {i}")
        proxy.pieces = 4
        env = upstream_env(proxy, token, budget="1/1s", max_body="100")
        async with running_hub(tmp_path / "b", env) as b:
            status, _, raw = await rest(b)
            assert status == 502, raw
            assert b"more than 100 bytes" in raw
            error = (await gql(b, DISPLAYS_QUERY))["errors"][0]["extensions"]
            assert (error["code"], error["reason"]) == (
                "UPSTREAM_UNAVAILABLE",
                "upstream_bad_answer",
            )


async def test_a_vendor_too_slow_is_a_timeout_then_recovers(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token):
        await add_display(a, "Hall")
        proxy.delay = 3
        env = upstream_env(proxy, token, budget="1/1s", timeout="0.5", max_wait="3")
        async with running_hub(tmp_path / "b", env) as b:
            status, _, raw = await rest(b)
            assert status == 504 and b"did not answer within 0.5s" in raw, raw
            error = (await gql(b, DISPLAYS_QUERY))["errors"][0]["extensions"]
            assert (error["status"], error["reason"]) == (504, "upstream_timeout")
            assert error["code"] == "UPSTREAM_UNAVAILABLE"
            failed = await grpc_failure(b, ["displays"])
            assert failed.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert await metric(b, "hub_upstream_requests_total", status="timeout") >= 1
            proxy.delay = 0

            async def answered() -> bool:
                return (await rest(b))[0] == 200

            await until(answered, "an answer once the vendor is quick again")


async def test_the_vendors_tls_is_verified_with_ca_file(tmp_path: Path) -> None:
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    ca_file = tmp_path / "vendor-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    async with vendor(tmp_path, served) as (a, proxy, token):
        await add_display(a, "Hall")
        assert proxy.url.startswith("https://")
        untrusted = upstream_env(proxy, token, budget="1/1s", max_wait="1")
        async with running_hub(tmp_path / "untrusted", untrusted) as b:
            answer = await gql(b, DISPLAYS_QUERY)
            error = answer["errors"][0]
            assert (error["extensions"]["status"], error["extensions"]["code"]) == (
                503,
                "UPSTREAM_UNAVAILABLE",
            ), answer
            assert "certificate" in error["message"].lower(), error
        assert proxy.hits == []  # nothing was sent over a connection that was not trusted
        trusted = upstream_env(proxy, token, budget="1/1s", ca_file=str(ca_file))
        async with running_hub(tmp_path / "trusted", trusted) as b:
            data = await gql_ok(b, DISPLAYS_QUERY)
            assert [d["name"] for d in data["unspot"]["monitoring"]["displays"]] == ["Hall"]


async def test_categories_read_apart_are_refreshed_by_one_full_request(tmp_path: Path) -> None:
    """Two categories first read at different moments fall due in different polls; while both
    are read, one due is enough for the poller to send the full request, which answers both,
    instead of asking for each on its own forever."""
    async with vendor(tmp_path) as (_a, proxy, token):
        env = upstream_env(proxy, token, budget="1/1s", revalidate="30")
        async with running_hub(tmp_path / "b", env) as b:
            displays = "{ unspot { monitoring { displays { id } } } }"
            calendars = "{ unspot { monitoring { calendars { total } } } }"
            await gql_ok(b, displays)
            await asyncio.sleep(0.5)  # the other category half a window later
            await gql_ok(b, calendars)
            started = time.time()

            async def whole_requests() -> list[float]:
                return [t for t in proxy.times(BASE) if t > started]

            await until(lambda: _at_least(whole_requests, 2), "two full requests")
            assert_within_budget(proxy, 1, 1.0)
