"""gRPC answers assembled from serialized parts (``hub.grpc.wire``): the same bytes as the
message built field by field, for every query shape of era's ``List``, and each stored row
rendered once however often it is listed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from hub_era.records import IntegrationPoint
from hub_era.v1 import era_pb2

from hub.grpc import wire
from hub.grpc.wire import RenderedRows, Serialized, delimited, spliced, varint
from hub.records import to_message
from hub.rendered import Renderings
from hub.testing import HubProcess
from hub.testing.inprocess import running_hub
from hub.v1 import hub_pb2

LIST = "/hub.era.v1.Era/List"
REST = "/era/rest/v1/service/integration_points"


# -- the wire format, without a hub -------------------------------------------------------------
def plugin(name: str) -> hub_pb2.PluginHealth:
    return hub_pb2.PluginHealth(plugin=name, status="up")


@pytest.mark.parametrize("count", [0, 1, 2, 30])
def test_spliced_is_serialize_to_string(count: int) -> None:
    points = [
        era_pb2.IntegrationPoint(id=str(i), code="é" * i * 9, opts=era_pb2.Opts(issync=i % 2 == 1))
        for i in range(count)
    ]
    for total in (0, 1, 300, 2**31 - 1):
        expected = era_pb2.ListResponse(integration_points=points, total_count=total)
        got = spliced(
            era_pb2.ListResponse,
            {"integration_points": [delimited(p) for p in points]},
            total_count=total,
        )
        assert isinstance(got, Serialized) and got.data == expected.SerializeToString()


def test_spliced_keeps_field_order_around_several_repeated_fields() -> None:
    """A plain field before the spliced ones; both spliced, or either one."""
    plugins = [plugin("a"), plugin("b" * 200)]
    probes = [hub_pb2.Probe(name="db", status="up"), hub_pb2.Probe(name="x")]
    expected = hub_pb2.HealthResponse(status="up", plugins=plugins, probes=probes)
    for entries, fields in (
        ({"plugins": plugins, "probes": probes}, {}),
        ({"plugins": plugins}, {"probes": probes}),
        ({"probes": probes}, {"plugins": plugins}),
    ):
        got = spliced(
            hub_pb2.HealthResponse,
            {name: [delimited(m) for m in ms] for name, ms in entries.items()},
            status="up",
            **fields,
        )
        assert got.data == expected.SerializeToString()
        assert hub_pb2.HealthResponse.FromString(got.data) == expected


def test_spliced_refuses_fields_it_cannot_place() -> None:
    with pytest.raises(ValueError, match="total_count"):
        spliced(era_pb2.ListResponse, {"total_count": [b""]})
    with pytest.raises(ValueError, match="no_such_field"):
        spliced(era_pb2.ListResponse, {}, no_such_field=1)
    with pytest.raises(ValueError, match="integration_points"):
        spliced(era_pb2.ListResponse, {"integration_points": []}, integration_points=[])


def test_varint() -> None:
    for value in (1, 127, 128, 300, 16383, 16384, 2**31 - 1):
        serialized = era_pb2.ListResponse(total_count=value).SerializeToString()
        assert serialized == b"\x10" + varint(value)
    assert varint(0) == b"\x00" and varint(300) == b"\xac\x02"


def test_rendered_rows_renders_each_stored_row_once_and_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[bytes] = []

    def render(stored: bytes) -> era_pb2.IntegrationPoint:
        rendered.append(stored)
        return era_pb2.IntegrationPoint(id=stored.decode())

    entry = len(delimited(era_pb2.IntegrationPoint(id="a")))
    small = Renderings(budget=3 * (2 * entry + 200))  # room for three rows
    monkeypatch.setattr(wire, "renderings", small)
    rows = RenderedRows(render)
    first = rows.many([b"a", b"b", b"a", memoryview(b"b")])
    assert rendered == [b"a", b"b"]
    assert first[0] == first[2] == delimited(era_pb2.IntegrationPoint(id="a"))
    rows.many([b"c", b"d"])  # past the budget: every rendering dropped, d kept
    assert list(rows.memo.rows) == [b"d"] and small.used <= small.budget
    rows(b"a")
    assert rendered == [b"a", b"b", b"c", b"d", b"a"]


def test_rendered_rows_by_id_are_confirmed_by_the_row() -> None:
    rendered: list[bytes] = []

    def render(stored: bytes) -> era_pb2.IntegrationPoint:
        rendered.append(stored)
        return era_pb2.IntegrationPoint(id=stored.decode())

    rows = RenderedRows(render)
    assert rows.many([b"a", b"b"], [1, 2]) == rows.many([b"a", b"b"], [1, 2])
    assert rendered == [b"a", b"b"]
    changed = rows.many([b"a", b"B"], [1, 2])  # row 2 edited: its id alone is no hit
    assert changed[1] == delimited(era_pb2.IntegrationPoint(id="B"))
    assert rendered == [b"a", b"b", b"B"]


def test_rendered_rows_take_any_row_and_render_an_unhashable_one_each_time() -> None:
    rendered: list[Any] = []

    def render(row: Any) -> era_pb2.IntegrationPoint:
        rendered.append(row)
        return era_pb2.IntegrationPoint(id=str(row[0]), code=str(row[1]))

    rows = RenderedRows(render)
    assert rows.many([("a", 1), ("b", 2)]) == rows.many([("a", 1), ("b", 2)])  # column tuples
    assert rendered == [("a", 1), ("b", 2)]
    assert rows.many([("a", 1), ("b", 3)], [1, 2])[1] == delimited(
        era_pb2.IntegrationPoint(id="b", code="3")
    )
    unhashable = ("c", [1])
    assert rows(unhashable) == rows(unhashable) == delimited(render(unhashable))
    assert rendered.count(unhashable) == 3  # never kept


# -- era's List through a hub -------------------------------------------------------------------
@pytest.fixture(scope="module")
def token(hub_process: HubProcess) -> str:
    return str(hub_process.creds("era")["token"])


@pytest.fixture
async def clients(
    hub_process: HubProcess, token: str
) -> AsyncIterator[tuple[aiohttp.ClientSession, grpc.aio.Channel]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(base_url=hub_process.url, headers=headers) as session,
        grpc.aio.insecure_channel(hub_process.grpc) as channel,
    ):
        yield session, channel


async def rest_list(session: aiohttp.ClientSession, **params: Any) -> list[dict[str, Any]]:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with session.get(REST, params=query) as reply:
        assert reply.status == 200, await reply.text()
        return await reply.json()  # type: ignore[no-any-return]


def expected_answer(rows: list[dict[str, Any]], total: int) -> bytes:
    """The answer built the way every other message is: a record per row, ``to_message``."""
    points = [to_message(era_pb2.IntegrationPoint, IntegrationPoint.of(row)) for row in rows]
    return era_pb2.ListResponse(integration_points=points, total_count=total).SerializeToString()


async def raw_list(channel: grpc.aio.Channel, token: str, request: era_pb2.ListRequest) -> bytes:
    call = channel.unary_unary(LIST)  # no deserializer: the bytes as sent
    metadata = (("authorization", f"Bearer {token}"),)
    answer: bytes = await call(request.SerializeToString(), metadata=metadata, timeout=10)
    return answer


def shapes(kind: str) -> list[tuple[dict[str, Any] | None, list[tuple[str, bool]]]]:
    """(filter, order) pairs: none, one field, any-of and booleans; orders of each direction."""
    return [
        (None, []),
        ({"type": kind}, []),
        ({"type": kind, "opts.issync": True}, [("code", True)]),
        ({"type": kind, "opts.title": ["t0", "t2"]}, [("opts.title", False), ("code", True)]),
        ({"type": kind}, [("ext.ct", True), ("opts.allow_files_api", False)]),
        ({"type": kind, "code": "no such code"}, []),
    ]


async def test_list_answers_are_the_messages_built_field_by_field(
    clients: tuple[aiohttp.ClientSession, grpc.aio.Channel], token: str
) -> None:
    session, channel = clients
    kind = "wire-" + uuid.uuid4().hex[:8]
    for i in range(11):
        body = {
            "code": f"{kind}-{i:02d}",
            "type": kind,
            "url": f"https://{i}.example.hu/é",
            "opts": {"title": f"t{i % 3}", "issync": i % 2 == 0, "allow_files_api": i % 4 == 0},
        }
        async with session.post(REST, json=body) as reply:
            assert reply.status == 200, await reply.text()

    windows = [(0, None), (0, 0), (0, 3), (3, 3), (9, 3), (10, 5), (11, 5), (40, 5), (2, 1000)]
    for flt, order in shapes(kind):
        rest_order = [{field: "desc" if desc else "asc"} for field, desc in order]
        params: dict[str, Any] = {"limit": "1000"}
        if flt is not None:
            params["filter"] = flt
        if rest_order:
            params["order"] = rest_order
        every = await rest_list(session, **params)
        for offset, limit in windows:
            request = era_pb2.ListRequest(
                offset=offset, order=[era_pb2.Order(field=f, desc=d) for f, d in order]
            )
            if limit is not None:
                request.limit = limit
            if flt is not None:
                request.filter.update(flt)
            window = every[offset : offset + (100 if limit is None else limit)]
            answer = await raw_list(channel, token, request)
            assert answer == expected_answer(window, len(every)), (flt, order, offset, limit)
            # twice: the second answer comes from rows already rendered
            assert await raw_list(channel, token, request) == answer


async def test_an_edited_row_is_listed_as_edited(
    clients: tuple[aiohttp.ClientSession, grpc.aio.Channel], token: str
) -> None:
    session, channel = clients
    kind = "edit-" + uuid.uuid4().hex[:8]
    async with session.post(REST, json={"code": kind, "type": kind}) as reply:
        created = await reply.json()
    request = era_pb2.ListRequest()
    request.filter.update({"type": kind})
    before = era_pb2.ListResponse.FromString(await raw_list(channel, token, request))
    assert before.integration_points[0].opts.title == ""
    async with session.patch(f"{REST}/{created['id']}", json={"opts": {"title": "új"}}) as reply:
        assert reply.status == 200, await reply.text()
    answer = await raw_list(channel, token, request)
    after = era_pb2.ListResponse.FromString(answer)
    assert after.integration_points[0].opts.title == "új" and after.total_count == 1
    assert answer == expected_answer(await rest_list(session, filter={"type": kind}), 1)


async def test_each_stored_row_is_rendered_once_however_often_it_is_listed(
    tmp_path: Path,
) -> None:
    async with running_hub(tmp_path, {"HUB_PLUGINS": "era"}) as running:
        servicer = next(s.servicer for p, s in running.hub.grpc_services if p == "era")
        rendered: list[bytes] = []
        render = servicer.stored_points.render

        def counted(stored: bytes) -> Any:
            rendered.append(stored)
            return render(stored)

        servicer.stored_points.render = counted
        token = running.creds("era")["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base_url=running.url, headers=headers) as session:
            for i in range(5):
                async with session.post(REST, json={"code": f"c{i}", "type": "t"}) as reply:
                    assert reply.status == 200, await reply.text()
        async with grpc.aio.insecure_channel(running.grpc) as channel:
            answers = {await raw_list(channel, token, era_pb2.ListRequest()) for _ in range(4)}
        assert len(answers) == 1 and era_pb2.ListResponse.FromString(answers.pop()).total_count == 5
        assert len(rendered) == 5 == len(set(rendered))
