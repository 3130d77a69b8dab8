"""ERA in upstream mode, hub in front of hub: hub A (era in local mode) is the vendor, reached
through a counting proxy that forwards any method (ERA's ``LOOKUP`` among them) and can hold or
drop the vendor's answers; hub B (``HUB_ERA_MODE=upstream``) fronts it. Reads through B equal A's
over REST, GraphQL and gRPC; every write through B lands on A exactly once, also when B's answer
is lost or B is SIGKILLed mid-write; with A away, writes are kept (202) and delivered later."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from hub_era.v1 import era_pb2, era_pb2_grpc

from hub.app import Hub
from hub.config import ConfigError, load_settings
from hub.storage import Engine
from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.plugin import PostgresDatabases
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.upstream_support import until

BASE = "/rest/v1/service/integration_points"
TOKENS = "/rest/v1/service/integration_tokens"
POINT = """
fragment P on EraIntegrationPoint {
  id code type tokenLocal tokenRemote tokenRemote2 url recvSvcscriptcode recvSvcscriptcodeWs
  sendSvcscriptcode sendSvcscriptcodeWs opts { title comment allowFilesApi issync } ext { ct lwt }
}
"""
LIST = (
    POINT + "query($f: JSON, $o: [EraOrderInput!], $n: Int, $a: String) { era {"
    " integrationPoints(filter: $f, order: $o, first: $n, after: $a) {"
    " totalCount nodes { ...P } pageInfo { hasNextPage endCursor } } } }"
)
CREATE = (
    POINT
    + "mutation($i: EraIntegrationPointInput!) { eraCreateIntegrationPoint(input: $i) { ...P } }"
)
UPDATE = (
    POINT + "mutation($id: ID!, $i: EraIntegrationPointInput!) {"
    " eraUpdateIntegrationPoint(id: $id, input: $i) { ...P } }"
)
DELETE = "mutation($id: ID!) { eraDeleteIntegrationPoint(id: $id) }"

Hub_ = RunningHub | HubProcess


def code() -> str:
    return "c-" + uuid.uuid4().hex[:10]


# -- a proxy for any method --------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    """A request the vendor answered: what it was and what the vendor said."""

    method: str
    path: str
    status: int
    body: bytes


class Proxy:
    """An HTTP/1.1 proxy on loopback, written on asyncio streams so that any method passes
    (aiohttp's own server refuses ``LOOKUP``). It counts what reached the vendor (``hits``),
    and plays a network that loses answers: ``hold_before``/``hold_after`` seconds around a
    POST's forwarding, ``drop`` (method -> how many answers to lose after the vendor gave
    them). ``stop()`` and ``start()`` take the vendor away and bring it back on the same port;
    ``page`` answers every GET with an HTML page, as a proxy in maintenance does."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.port = 0
        self.hits: list[Hit] = []
        self.arrived: list[bytes] = []  # POST bodies, as they arrive
        self.hold_before = 0.0
        self.hold_after = 0.0
        self.drop: dict[str, int] = {}
        self.page: bytes | None = None  # set: every GET is answered with this HTML page
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Proxy:
        self._session = aiohttp.ClientSession()
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        assert self._session is not None
        await self._session.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def posts(self, code: str, status: int | None = None) -> list[Hit]:
        """The creates of ``code`` that reached the vendor (and it answered ``status``)."""
        return [
            hit
            for hit in self.hits
            if hit.method == "POST"
            and json.loads(hit.body).get("code") == code
            and (status is None or hit.status == status)
        ]

    def count(self, method: str, path_end: str = "") -> int:
        return sum(1 for h in self.hits if h.method == method and h.path.endswith(path_end))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "POST":
                    self.arrived.append(body)
                    await asyncio.sleep(self.hold_before)
                if method == "GET" and self.page is not None:  # a proxy's maintenance page
                    status, content_type, answer = 200, "text/html", self.page
                else:
                    status, content_type, answer = await self._forward(
                        method, target, headers, body
                    )
                self.hits.append(Hit(method, target.partition("?")[0], status, body))
                if method == "POST":
                    await asyncio.sleep(self.hold_after)
                if self.drop.get(method):
                    self.drop[method] -= 1
                    return  # the vendor did it; its answer is lost on the way
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(answer)}\r\n\r\n".encode("latin-1")
                    + answer
                )
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        assert self._session is not None
        sent = {
            k: headers[k.lower()] for k in ("Authorization", "Content-Type") if k.lower() in headers
        }
        async with self._session.request(
            method, self.target + target, headers=sent, data=body or None
        ) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), await answer.read()


# -- the hubs ----------------------------------------------------------------------------------
VENDOR_DATABASE = ""  # hub A's own state on PostgreSQL, apart from B's (set for each test)


@pytest.fixture(autouse=True)
def vendor_database(hub_database: PostgresDatabases, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub A is another system than hub B: on PostgreSQL it gets a namespace of its own
    (``""`` on SQLite, where A's data directory is its own already)."""
    monkeypatch.setattr(sys.modules[__name__], "VENDOR_DATABASE", hub_database.new())


def front_env(proxy: Proxy, token: str, **settings: str) -> dict[str, str]:
    env = {
        "HUB_PLUGINS": "era",
        "HUB_ERA_MODE": "upstream",
        "HUB_ERA_UPSTREAM_URL": proxy.url + "/era",
        "HUB_ERA_UPSTREAM_TOKEN": token,
        "HUB_ERA_UPSTREAM_BUDGET": "50/s",
        "HUB_ERA_UPSTREAM_FRESH": "1",  # longer than a vendor request takes on a busy machine
        "HUB_ERA_UPSTREAM_POLL": "0.1",
        "HUB_ERA_UPSTREAM_WRITE_LEASE": "1",
        "HUB_ERA_UPSTREAM_WRITE_WAIT": "5",
    }
    env.update({f"HUB_ERA_UPSTREAM_{k.upper()}": v for k, v in settings.items()})
    return env


@contextlib.asynccontextmanager
async def vendor(tmp_path: Path) -> AsyncIterator[tuple[Client, Proxy, str]]:
    """Hub A with a client of its own, the proxy in front of it, and a vendor token made on A."""
    async with (
        running_hub(
            tmp_path / "vendor", {"HUB_PLUGINS": "era", "HUB_DATABASE_URL": VENDOR_DATABASE}
        ) as a,
        Proxy(a.url) as proxy,
        Client(a, str(a.creds("era")["token"])) as client,
    ):
        yield client, proxy, client.token


@contextlib.asynccontextmanager
async def front(tmp_path: Path, proxy: Proxy, token: str, **settings: str) -> AsyncIterator[Client]:
    async with (
        running_hub(tmp_path / "front", front_env(proxy, token, **settings)) as b,
        Client(b, str(b.creds("era")["token"])) as client,
    ):
        yield client


# -- clients -----------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """REST, GraphQL and gRPC of one hub with one era token."""

    def __init__(self, hub: Hub_, token: str) -> None:
        self.hub = hub
        self.token = token
        self.auth = {"Authorization": f"Bearer {token}"}

    async def __aenter__(self) -> Client:
        self.session = aiohttp.ClientSession(base_url=self.hub.url)
        self.channel = grpc.aio.insecure_channel(self.hub.grpc)
        self.stub = era_pb2_grpc.EraStub(self.channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        await self.channel.close()

    async def rest(self, method: str, path: str = "", body: Any = None, **params: str) -> Answer:
        data = None if body is None else json.dumps(body)
        async with self.session.request(
            method, "/era" + BASE + path, data=data, params=params, headers=self.auth
        ) as r:
            return Answer(r.status, r.headers, await r.read())

    async def tokens(self, token: str) -> Answer:
        async with self.session.get(f"/era{TOKENS}/{token}", headers=self.auth) as r:
            return Answer(r.status, r.headers, await r.read())

    async def create(self, **fields: Any) -> dict[str, Any]:
        answer = await self.rest("POST", body={"type": "public", **fields})
        assert answer.status == 200, answer
        return answer.json()  # type: ignore[no-any-return]

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        async with self.session.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.auth
        ) as r:
            assert r.status == 200, await r.text()
            return await r.json()  # type: ignore[no-any-return]

    async def gql_data(self, query: str, **variables: Any) -> Any:
        answer = await self.gql(query, **variables)
        assert "errors" not in answer, answer
        return answer["data"]

    async def gql_error(self, query: str, **variables: Any) -> dict[str, Any]:
        answer = await self.gql(query, **variables)
        (error,) = answer["errors"]
        return error["extensions"]  # type: ignore[no-any-return]

    async def rpc(self, method: str, request: Any) -> Any:
        call = getattr(self.stub, method)(
            request, metadata=(("authorization", f"Bearer {self.token}"),), timeout=20
        )
        return json_format.MessageToDict(await call, preserving_proto_field_name=True)

    async def rpc_error(self, method: str, request: Any) -> tuple[grpc.StatusCode, dict[str, str]]:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await self.rpc(method, request)
        return info.value.code(), dict(info.value.trailing_metadata() or ())

    async def write_state(self, write_id: str) -> dict[str, Any]:
        async with self.session.get(f"/hub/upstream/writes/{write_id}", headers=self.auth) as r:
            assert r.status == 200, await r.text()
            return await r.json()  # type: ignore[no-any-return]

    async def settled(self, write_id: str, timeout: float = 20) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            state = await self.write_state(write_id)
            return state if state["status"] == "done" else None

        return await until(done, f"write {write_id} done", timeout)  # type: ignore[no-any-return]


def nodes(data: Any) -> Any:
    page = data["era"]["integrationPoints"]
    return page["totalCount"], page["nodes"], page["pageInfo"]["hasNextPage"]


# -- 1. reads ----------------------------------------------------------------------------------
async def test_reads_through_the_front_equal_the_vendors_on_three_protocols(
    tmp_path: Path,
) -> None:
    async with vendor(tmp_path) as (a, proxy, token), front(tmp_path, proxy, token) as b:
        made = [
            await a.create(code=code(), type=kind, opts={"title": f"T{i}"})
            for i, kind in enumerate(["public", "telegram", "public", "telegram", "public"])
        ]
        # REST: the vendor's own answers, for every list parameter, one channel, LOOKUP, tokens
        queries: list[dict[str, str]] = [
            {},
            {"filter": '{"type": "telegram"}'},
            {"order": '[{"opts.title": "desc"}, "code"]', "offset": "1", "limit": "2"},
            {"mask": "id,opts.title,tokenlocal", "flat": "1"},
            {"filter": '{"type": ["public"]}', "mask": "code", "limit": "2"},
            {"filter": "[]"},  # the same 400, checked before the vendor is asked
            {"limit": "5000"},
        ]
        for query in queries:
            mine, theirs = await b.rest("GET", **query), await a.rest("GET", **query)
            assert (mine.status, mine.body) == (theirs.status, theirs.body), query
        before = len(proxy.hits)
        assert (await b.rest("GET", filter="[]")).status == 400
        assert len(proxy.hits) == before  # a bad request costs the vendor nothing
        first = made[0]
        for path, query in [("/" + first["id"], {}), ("/" + first["id"], {"mask": "opts"})]:
            mine, theirs = await b.rest("GET", path, **query), await a.rest("GET", path, **query)
            assert (mine.status, mine.body) == (theirs.status, theirs.body)
            assert "Age" in mine.headers
        for key in [first["token_local"], {"code": made[1]["code"]}, "no-such-key", 42]:
            mine, theirs = await b.rest("LOOKUP", body=key), await a.rest("LOOKUP", body=key)
            assert (mine.status, mine.body) == (theirs.status, theirs.body), key
        assert proxy.count("LOOKUP") == 3  # the vendor's own method; a bad key is not sent
        for token_local in [first["token_local"], "0" * 32]:
            mine, theirs = await b.tokens(token_local), await a.tokens(token_local)
            assert (mine.status, mine.body) == (theirs.status, theirs.body)
        # the vendor's error bodies pass through as they are
        missing = await b.rest("GET", "/no-such-id")
        assert missing.status == 404 and missing.json() == {
            "error_code": 1404,
            "error_message": "Not found",
        }

        # GraphQL: the same channels, page by page (offset cursors at the front)
        order = [{"field": "opts.title", "direction": "DESC"}]
        for variables in [{}, {"f": {"type": "public"}, "o": order, "n": 2}, {"n": 0}]:
            mine = await b.gql_data(LIST, **variables)
            assert nodes(mine) == nodes(await a.gql_data(LIST, **variables)), variables
        second_a = await a.gql_data(LIST, o=order, n=2)
        second_b = await b.gql_data(LIST, o=order, n=2)
        after_a = second_a["era"]["integrationPoints"]["pageInfo"]["endCursor"]
        after_b = second_b["era"]["integrationPoints"]["pageInfo"]["endCursor"]
        assert nodes(await b.gql_data(LIST, o=order, n=2, a=after_b)) == nodes(
            await a.gql_data(LIST, o=order, n=2, a=after_a)
        )
        one = POINT + (
            "query($id: ID!, $k: String!) {"
            " era { integrationPoint(id: $id) { ...P } lookup(key: $k) } }"
        )
        ident = first["id"]
        assert await b.gql_data(one, id=ident, k=ident) == await a.gql_data(one, id=ident, k=ident)
        answer = await b.gql(one, id=ident, k=ident)
        assert answer["extensions"]["upstream"]["era"]["stale"] is False
        missing_one = "query($id: ID!) { era { integrationPoint(id: $id) { id } } }"
        assert await b.gql_error(missing_one, id="nope") == await a.gql_error(
            missing_one, id="nope"
        )

        # gRPC
        where = struct_pb2.Struct()
        where.update({"type": "telegram"})
        lists = [
            era_pb2.ListRequest(),
            era_pb2.ListRequest(filter=where, order=[era_pb2.Order(field="code", desc=True)]),
            era_pb2.ListRequest(offset=1, limit=2),
        ]
        for request in lists:
            assert await b.rpc("List", request) == await a.rpc("List", request)
        get = era_pb2.GetRequest(id=first["id"])
        assert await b.rpc("Get", get) == await a.rpc("Get", get)
        lookup = era_pb2.LookupRequest(key=made[2]["code"], field="code")
        assert await b.rpc("Lookup", lookup) == await a.rpc("Lookup", lookup)
        status, trailers = await b.rpc_error("Get", era_pb2.GetRequest(id="nope"))
        assert (status, trailers["hub-reason"]) == (grpc.StatusCode.NOT_FOUND, "1404")


async def test_the_vendor_refusing_the_hubs_token_says_it_was_the_upstream(
    tmp_path: Path,
) -> None:
    async with vendor(tmp_path) as (a, proxy, _), front(tmp_path, proxy, "not-a-token") as b:
        refused = await b.rest("GET")
        async with Client(a.hub, "not-a-token") as stranger:
            theirs = await stranger.rest("GET")
        assert (refused.status, refused.body) == (401, theirs.body)  # the vendor's, as it is
        assert refused.json()["error_code"] == 1401
        extensions = await b.gql_error(LIST)
        assert (extensions["code"], extensions["reason"]) == (
            "UNAUTHENTICATED",
            "upstream_unauthorized",
        )


# -- 2. writes ---------------------------------------------------------------------------------
async def test_writes_land_on_the_vendor_once_and_a_read_after_sees_them(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, token), front(tmp_path, proxy, token) as b:
        assert (await b.rest("GET")).json() == []  # cached now: the writes must make it stale
        rest_code, gql_code, rpc_code = code(), code(), code()
        made = await b.create(code=rest_code, opts={"title": "rest"})
        assert (await a.rest("GET", "/" + made["id"])).json() == made
        gql_made = (await b.gql_data(CREATE, i={"code": gql_code, "type": "telegram"}))[
            "eraCreateIntegrationPoint"
        ]
        rpc_made = await b.rpc(
            "Create",
            era_pb2.CreateRequest(
                integration_point=era_pb2.IntegrationPointInput(code=rpc_code, type="public")
            ),
        )
        for one in (rest_code, gql_code, rpc_code):
            assert len(proxy.posts(one)) == 1
        listed = (await b.rest("GET")).json()
        assert [p["code"] for p in listed] == [rest_code, gql_code, rpc_code]
        assert listed == (await a.rest("GET")).json()

        # PATCH over each protocol: applied once, seen by the next read of the channel
        assert (await b.rest("GET", "/" + made["id"])).json()["opts"]["title"] == "rest"
        patched = await b.rest("PATCH", "/" + made["id"], {"opts": {"comment": "c"}})
        assert patched.status == 200 and patched.json()["opts"] == {
            "title": "rest",
            "comment": "c",
            "allow_files_api": False,
            "issync": False,
        }
        assert (await b.rest("GET", "/" + made["id"])).body == patched.body
        updated = await b.gql_data(UPDATE, id=gql_made["id"], i={"url": "https://x.example"})
        assert updated["eraUpdateIntegrationPoint"]["url"] == "https://x.example"
        await b.rpc(
            "Update",
            era_pb2.UpdateRequest(
                id=rpc_made["id"],
                integration_point=era_pb2.IntegrationPointInput(token_remote="r"),
            ),
        )
        assert (await a.rest("GET", "/" + rpc_made["id"])).json()["token_remote"] == "r"
        assert proxy.count("PATCH") == 3

        # the vendor's refusals: REST passes its body through, GraphQL and gRPC map its code
        duplicate = await b.rest("POST", body={"code": rest_code, "type": "t"})
        theirs = await a.rest("POST", body={"code": rest_code, "type": "t"})
        assert (duplicate.status, duplicate.body) == (409, theirs.body)
        extensions = await b.gql_error(CREATE, i={"code": rest_code, "type": "t"})
        assert (extensions["code"], extensions["reason"]) == ("CONFLICT", 1409)
        status, trailers = await b.rpc_error(
            "Create",
            era_pb2.CreateRequest(
                integration_point=era_pb2.IntegrationPointInput(code=rest_code, type="t")
            ),
        )
        assert (status, trailers["hub-reason"]) == (grpc.StatusCode.ALREADY_EXISTS, "1409")
        assert len(proxy.posts(rest_code, 200)) == 1
        invalid = await b.rest("POST", body={"code": "x", "type": "t", "id": "mine"})
        assert invalid.status == 400 and len(proxy.posts("x")) == 0  # checked before sending

        # DELETE over each protocol: gone at the vendor, and a read after says so
        token_local = made["token_local"]
        assert (await b.tokens(token_local)).status == 200
        assert (await b.rest("DELETE", "/" + made["id"])).status == 204
        assert (await b.rest("GET", "/" + made["id"])).status == 404
        assert (await b.tokens(token_local)).status == 404
        deleted = await b.gql_data(DELETE, id=gql_made["id"])
        assert deleted == {"eraDeleteIntegrationPoint": gql_made["id"]}
        await b.rpc("Delete", era_pb2.DeleteRequest(id=rpc_made["id"]))
        assert (await b.rest("GET")).json() == [] == (await a.rest("GET")).json()
        gone = await b.rest("DELETE", "/" + made["id"])
        assert (gone.status, gone.json()["error_code"]) == (404, 1404)
        assert proxy.count("DELETE") == 4


async def test_writes_whose_answer_was_lost_are_settled_without_a_second_object(
    tmp_path: Path,
) -> None:
    async with vendor(tmp_path) as (a, proxy, token), front(tmp_path, proxy, token) as b:
        lost = code()
        proxy.drop["POST"] = 1  # the vendor makes it; its answer never comes back
        pending = await b.rest("POST", body={"code": lost, "type": "public"})
        assert pending.status == 202, pending
        write_id = pending.json()["write_id"]
        assert pending.headers["Location"] == f"/hub/upstream/writes/{write_id}"
        state = await b.settled(write_id)
        assert state["reply_status"] == 200
        channel = json.loads(state["reply_body"])
        assert channel["code"] == lost
        assert (await a.rest("GET", "/" + channel["id"])).json() == channel
        assert len(proxy.posts(lost)) == 1  # found by its code (LOOKUP), never sent again
        assert proxy.count("LOOKUP") >= 1

        proxy.drop["PATCH"] = 1  # PATCH merges the same fields again: sent again
        pending = await b.rest("PATCH", "/" + channel["id"], {"url": "u"})
        state = await b.settled(pending.json()["write_id"])
        assert (state["reply_status"], json.loads(state["reply_body"])["url"]) == (200, "u")

        # a read first, so that the delete goes out on a kept-alive connection, which aiohttp
        # would resend on by itself when it drops: only the queue may resend a write
        assert (await b.rest("GET", "/" + channel["id"])).status == 200
        proxy.drop["DELETE"] = 1  # the retry finds nothing: the vendor's 204 it was
        pending = await b.rest("DELETE", "/" + channel["id"])
        assert pending.status == 202, pending
        state = await b.settled(pending.json()["write_id"])
        assert (state["reply_status"], state["reply_body"]) == (204, "")
        assert proxy.count("DELETE") == 2
        assert (await a.rest("GET")).json() == []


# -- 3. SIGKILL mid-write ----------------------------------------------------------------------
async def test_sigkill_mid_write_repeatedly_lands_each_create_once(tmp_path: Path) -> None:
    """Each round kills B while a create is on its way: held before the vendor has it (the
    create still reaches it afterwards, as a packet in flight does), or after the vendor made
    it and before its answer comes back. The next B takes each write up when its lease ends."""
    async with vendor(tmp_path) as (a, proxy, token):
        env = front_env(proxy, token, write_wait="30")
        b = HubProcess(tmp_path / "front", env)
        b_token = str(b.creds("era")["token"])
        codes: list[str] = []
        landed: list[str] = []  # killed after the vendor made it: found, never sent again
        try:
            for round in range(4):
                b = HubProcess(tmp_path / "front", env)  # the same data, new addresses
                await asyncio.to_thread(b.start)
                async with Client(b, b_token) as client:
                    one = code()
                    codes.append(one)
                    before = round % 2 == 0
                    if not before:
                        landed.append(one)
                    proxy.hold_before, proxy.hold_after = (1.5, 0.0) if before else (0.0, 5.0)
                    task = asyncio.ensure_future(
                        client.rest("POST", body={"code": one, "type": "public"})
                    )

                    async def on_its_way(one: str = one, before: bool = before) -> bool:
                        if before:
                            return any(json.loads(body)["code"] == one for body in proxy.arrived)
                        return bool(proxy.posts(one))

                    await until(on_its_way, f"the create of {one} on its way")
                    await asyncio.to_thread(b.stop, signal.SIGKILL)
                    with contextlib.suppress(aiohttp.ClientError):
                        await task
            proxy.hold_before = proxy.hold_after = 0.0
            b = HubProcess(tmp_path / "front", env)
            await asyncio.to_thread(b.start)
            await until(lambda: all_done(b), "every write done", 30)
        finally:
            await asyncio.to_thread(b.stop)
        for one in codes:
            found = await a.rest("LOOKUP", body={"code": one})
            assert found.status == 200 and len(found.json()) == 1, one
            assert len(proxy.posts(one, 200)) == 1, one  # made once; any other try was a 409
        for one in landed:
            assert len(proxy.posts(one)) == 1, one
        rows = write_rows(b)
        assert len(rows) == len(codes)
        for status, reply_status, body in rows:
            assert (status, reply_status) == ("done", 200)
            assert json.loads(body)["code"] in codes


def write_rows(hub: HubProcess) -> list[tuple[str, int, bytes]]:
    """B's upstream writes, as B's engine keeps them (its data directory or PostgreSQL)."""
    url = hub.env.get("HUB_DATABASE_URL", "")
    with contextlib.closing(Engine(hub.data_dir, url).open("_upstream")) as db:
        return db.execute("SELECT status, reply_status, reply_body FROM upstream_writes").fetchall()


async def all_done(hub: HubProcess) -> bool:
    rows = write_rows(hub)
    return bool(rows) and all(status == "done" for status, _, _ in rows)


async def test_a_proxys_html_page_is_no_answer_and_the_cached_one_is_served_stale(
    tmp_path: Path,
) -> None:
    """A page of HTML (a proxy's login or maintenance page, sent as ``text/html`` with a 200)
    was cached as the vendor's list and every read of it failed; ERA answers JSON only, so
    it is the table's 502, and the list cached before is served marked stale."""
    async with (
        vendor(tmp_path) as (a, proxy, token),
        front(tmp_path, proxy, token, fresh="0.1", max_stale="60") as b,
    ):
        await a.create(code=code())
        listed = await b.rest("GET")
        assert listed.status == 200
        proxy.page = b"<html><body>Down for maintenance</body></html>"

        async def stale() -> Answer | None:
            answer = await b.rest("GET")
            assert answer.status == 200, answer.body
            return answer if answer.headers.get("Hub-Upstream-Stale") == "1" else None

        assert (await until(stale, "the list served stale")).body == listed.body
        proxy.page = None

        async def fresh() -> Answer | None:
            answer = await b.rest("GET")
            return answer if answer.headers.get("Hub-Upstream-Stale") != "1" else None

        assert (await until(fresh, "the list fresh again")).body == listed.body


# -- 4. the vendor away ------------------------------------------------------------------------
async def test_vendor_down_writes_wait_then_arrive_once_and_reads_go_stale_then_503(
    tmp_path: Path,
) -> None:
    settings = {"write_wait": "1", "max_stale": "1", "fresh": "0.1"}
    async with (
        vendor(tmp_path) as (a, proxy, token),
        front(tmp_path, proxy, token, **settings) as b,
    ):
        await a.create(code=code())
        listed = await b.rest("GET")
        await proxy.stop()

        async def stale() -> Answer | None:
            answer = await b.rest("GET")
            return answer if answer.headers.get("Hub-Upstream-Stale") == "1" else None

        assert (await until(stale, "a stale answer")).body == listed.body

        async def unavailable() -> Answer | None:
            answer = await b.rest("GET")
            return answer if answer.status == 503 else None

        refused = await until(unavailable, "503 past max_stale")
        assert refused.json()["error_code"] == 1503

        rest_code, gql_code, rpc_code = code(), code(), code()
        pending = await b.rest("POST", body={"code": rest_code, "type": "public"})
        assert (pending.status, pending.json()["status"]) == (202, "pending")
        ids = [pending.json()["write_id"]]
        extensions = await b.gql_error(CREATE, i={"code": gql_code, "type": "public"})
        assert extensions["code"] == "WRITE_PENDING"
        ids.append(extensions["writeId"])
        status, trailers = await b.rpc_error(
            "Create",
            era_pb2.CreateRequest(
                integration_point=era_pb2.IntegrationPointInput(code=rpc_code, type="public")
            ),
        )
        assert status == grpc.StatusCode.DEADLINE_EXCEEDED
        ids.append(trailers["hub-write-id"])
        assert (await b.write_state(ids[0]))["status"] == "pending"

        await proxy.start()
        for write_id, one in zip(ids, (rest_code, gql_code, rpc_code), strict=True):
            state = await b.settled(write_id, timeout=30)
            assert (state["reply_status"], json.loads(state["reply_body"])["code"]) == (200, one)
            assert len(proxy.posts(one)) == 1
        assert len((await b.rest("GET")).json()) == 4


# -- 5. configuration --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"HUB_ERA_MODE": "upstream", "HUB_ERA_UPSTREAM_URL": "http://x"}, "era.upstream.token"),
        ({"HUB_ERA_MODE": "remote"}, "plugins.era.mode"),
        ({"HUB_ERA_MODE": "upstream", "HUB_ERA_UPSTREAM_TOKEN": "t"}, "era.upstream.url"),
        (
            {
                "HUB_ERA_MODE": "upstream",
                "HUB_ERA_UPSTREAM_URL": "http://x",
                "HUB_ERA_UPSTREAM_TOKEN": "t",
                "HUB_ERA_UPSTREAM_BUDGET": "often",
            },
            "plugins.era.upstream.budget",
        ),
    ],
)
def test_a_bad_upstream_setting_stops_the_start_naming_it(
    tmp_path: Path, env: dict[str, str], key: str
) -> None:
    environ = {"HUB_PLUGINS": "era", "HUB_ADMIN_TOKEN": ADMIN_TOKEN, **env}
    settings = load_settings(overrides={"data_dir": str(tmp_path)}, env=environ)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        Hub(settings, env=environ)
