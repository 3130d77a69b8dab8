"""Differential test of the hub's fast paths: every answer must be the one the plain machinery
gives, whatever the query's shape.

The hub under test serves on real loopback sockets (:func:`hub.testing.inprocess.running_hub`)
with every plugin loaded (era, monitorozas, unspot, webim, rop, hub-notes, and a small plugin of
this test's own, ``probe``, for what no built-in plugin has: a resolver failing for one row,
values graphql-core refuses, rows changed in place, fields named like a stored row's
attributes) and seeded with varied rows (nulls, empty strings, unicode, nested JSON, big and
small numbers, booleans). Each query is asked over HTTP (``/graphql``: stored rows spliced as
kept JSON, compiled completers, the hub's executor, resolvers without strawberry's wrapper).

Why the reference is trustworthy: it runs the same document in the same process against the
same ``Hub`` (the same rows, caller and services) through none of that code: graphql-core's
own ``graphql.validate`` and ``graphql.execute`` with its default executor, on a schema built
from the same plugins' parts without :func:`hub.graphql.resolvers.lighten` (strawberry's own
resolvers run), and a middleware that turns every stored row a resolver returns into the
object built from it (:func:`built_objects`), so graphql-core completes built objects exactly
as for a plugin that never heard of stored rows. Its errors are put as the hub puts them
(:func:`hub.graphql.view.format_error`: a resolver's exception is an "internal error"). Only the
plugins' resolvers are shared, so the two agreeing byte for byte (data and key order; errors'
messages, paths, locations and order) means the fast paths answer what graphql-core would.

gRPC lists are held to the messages the same server builds one at a time, unspliced: each
item's get method (``to_message`` of its record, serialized by protobuf). The list must decode
to those messages, and its bytes must be those messages assembled as protobuf lays out a
repeated field (re-serializing the decoded list would not do: a ``Struct``'s map entries need
not come out in the order they went in)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import graphql
import grpc
import orjson
import pytest
from graphql import parse

import hub.graphql.schema as hub_schema
from hub.graphql.context import HubContext
from hub.graphql.stored import Stored, StoredRows
from hub.graphql.view import format_error
from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.process import ADMIN_TOKEN
from tests.rop_fixtures import audio_fixture
from tests.rop_servers import AudioServer
from tests.test_example_plugin import notes_installed  # noqa: F401  (a fixture)

AUTH = f"Bearer {ADMIN_TOKEN}"
PLUGINS = "era,monitorozas,unspot,webim,rop,notes,probe"
ENV = {"HUB_PLUGINS": PLUGINS, "HUB_ROP_PROBE_TIMEOUT": "1", "HUB_ROP_INTAKE_INTERVAL": "0.05"}
# a budget of renderings so small that they are dropped again and again mid-answer
TINY_BUDGET = {"HUB_RENDERED_ROWS_BYTES": "6000"}

# A plugin of the test's own, next to the real ones: stored rows (tuples, found by id) whose
# type has fields named like a stored row's own attributes (key, ident, built), and resolver
# fields that fail for one row only (a non-null one, a nullable one), which no built-in plugin
# has. probeSetRow changes a row in place, as an update would.
PROBE = """
from __future__ import annotations

import strawberry

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from hub_rop.v1 import rop_pb2

from hub.graphql.stored import stored_objects
from hub.grpc.wire import RenderedRows, spliced
from hub.graphql.types import Connection, connection
from hub.hookspecs import hookimpl
from hub.paging import Page
from hub.registrations import GraphQLPart, GrpcService

ROWS = [
    ("k-0", 0, True, "first", 1.5),
    ("", 1, False, "bad", -2.0),
    ("ключ ✓", 2, True, None, 1e300),
    ("k-3", 3, False, "", 0.0),
]

# rows a value of which graphql-core cannot give (a null key, an Int past 32 bits, an infinite
# Float), among good ones
BAD_ROWS = ROWS[:2] + [
    (None, 10, True, "x", 1.0),
    ("k-11", 2**40, False, None, 2.0),
    ("k-12", 12, True, "ok", float("inf")),
    ("k-13", 13, False, "fine", 3.0),
]
# rows a plugin keeps as dicts, which it may change in place: they cannot be hashed, so no
# rendering of them may be kept
MUTABLE = [{"key": f"m-{i}", "ident": i, "built": False, "title": None, "weight": i / 3}
           for i in range(3)]


def record(row):
    key, ident, built, title, weight = row
    return {"key": key, "ident": ident, "built": built, "title": title, "weight": weight}


@strawberry.type(name="ProbeTag")
class Tag:
    key: str
    weight: float
    label: str = "tag"


@strawberry.type(name="ProbeItem")
class Item:
    key: str
    ident: int
    built: bool
    title: str | None
    weight: float

    @strawberry.field
    def checked(self) -> str:
        if self.title == "bad":
            raise ValueError(f"row {self.ident} is bad")
        return self.title or "-"

    @strawberry.field
    def maybe(self) -> str | None:
        if self.title == "bad":
            raise ValueError(f"row {self.ident} has no maybe")
        return self.key

    @strawberry.field
    def tag(self) -> Tag:
        return Tag(key=self.key, weight=self.weight)


def stored():
    return stored_objects(Item, list(ROWS), record, [row[1] for row in ROWS])


@strawberry.type(name="ProbeQuery")
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return stored()

    @strawberry.field
    def maybe_items(self) -> list[Item | None]:
        return stored()

    @strawberry.field
    def page(self) -> Connection[Item]:
        return connection(stored(), len(ROWS), Page(0, len(ROWS)))

    @strawberry.field
    def bad_items(self) -> list[Item]:
        return stored_objects(Item, BAD_ROWS, record, [row[1] for row in BAD_ROWS])

    @strawberry.field
    def bad_maybe_items(self) -> list[Item | None]:
        return stored_objects(Item, BAD_ROWS, record, [row[1] for row in BAD_ROWS])

    @strawberry.field
    def bad_page(self) -> Connection[Item] | None:
        rows = stored_objects(Item, BAD_ROWS, record, [row[1] for row in BAD_ROWS])
        return connection(rows, len(BAD_ROWS), Page(0, len(BAD_ROWS)))

    @strawberry.field
    def mixed(self) -> list[Item | Tag]:
        rows = stored()
        return [rows[0], Tag(key="t", weight=0.5), rows[1], rows[3]]

    @strawberry.field
    def mutable(self) -> list[Item]:
        return stored_objects(Item, MUTABLE, None, [row["ident"] for row in MUTABLE])

    @strawberry.field
    def mutable_page(self) -> Connection[Item]:
        rows = stored_objects(Item, MUTABLE, None, [row["ident"] for row in MUTABLE])
        return connection(rows, len(MUTABLE), Page(0, len(MUTABLE)))


@strawberry.type(name="ProbeMutation")
class Mutation:
    @strawberry.mutation
    def probe_set_row(self, ident: int, key: str, title: str | None) -> int:
        old = ROWS[ident]
        ROWS[ident] = (key, ident, not old[2], title, old[4] * 2)
        return ident

    @strawberry.mutation
    def probe_edit_mutable(self, ident: int, key: str) -> int:
        MUTABLE[ident]["key"] = key  # in place: the same dict, new content
        MUTABLE[ident]["weight"] += 1
        return ident


def manager(row):
    return rop_pb2.Manager(manager_id=row["key"], name=repr(row["weight"]), surname="✓")


class Servicer:
    \"\"\"hub.probe.v1.Probe: MUTABLE as rop's managers, spliced (Listed) and built (Built).\"\"\"

    def __init__(self):
        self.rows = RenderedRows(manager)

    async def Listed(self, request, context):
        rendered = self.rows.many(MUTABLE, [row["ident"] for row in MUTABLE])
        return spliced(rop_pb2.ListManagersResponse, {"managers": rendered}, total_count=3)

    async def Built(self, request, context):
        managers = [manager(row) for row in MUTABLE]
        return rop_pb2.ListManagersResponse(managers=managers, total_count=3)


def describe():
    \"\"\"The service in the default pool, its messages rop's.\"\"\"
    file = descriptor_pb2.FileDescriptorProto(
        name="hub/probe/v1/probe.proto",
        package="hub.probe.v1",
        dependency=[rop_pb2.DESCRIPTOR.name],
    )
    service = file.service.add(name="Probe")
    for name in ("Listed", "Built"):
        method = service.method.add(name=name)
        method.input_type = ".hub.rop.v1.ListManagersRequest"
        method.output_type = ".hub.rop.v1.ListManagersResponse"
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(file.name)
    except KeyError:
        pool.AddSerializedFile(file.SerializeToString())


def add_to_server(servicer, server):
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            method,
            request_deserializer=rop_pb2.ListManagersRequest.FromString,
            response_serializer=rop_pb2.ListManagersResponse.SerializeToString,
        )
        for name, method in (("Listed", servicer.Listed), ("Built", servicer.Built))
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("hub.probe.v1.Probe", handlers),)
    )


@hookimpl
def register_graphql(hub, register):
    register(GraphQLPart(query=Query, mutation=Mutation))


@hookimpl
def register_grpc(hub, register):
    describe()
    register(GrpcService("hub.probe.v1.Probe", Servicer(), add_to_server))
"""

BIG = 2**31 - 1
UNICODE = 'Árvíztűrő тест 日本語 🎉 "q" \\ \u2028'

SEED = """mutation {
  e1: eraCreateIntegrationPoint(input: {code: "alpha", type: "rest", url: "https://a.example/é",
      tokenRemote: "", opts: {title: "%(u)s", comment: "", allowFilesApi: true, issync: false}})
      { id }
  e2: eraCreateIntegrationPoint(input: {code: "beta", type: "ws", tokenRemote2: "x",
      opts: {title: "", comment: "second\\nline", allowFilesApi: false, issync: true}}) { id }
  e3: eraCreateIntegrationPoint(input: {code: "%(u)s", type: "rest"}) { id }
  m1: monitorozasCreateDevice(input: {targetType: "domain", targetValue: "a.example",
      userId: 1, serviceType: "web", scheme: "https", port: 443, hostHeader: "h.example",
      expectStatus: 200, location: "", isEnabled: true}) { id }
  m2: monitorozasCreateDevice(input: {targetType: "ip", targetValue: "192.0.2.1",
      userId: 2, serviceType: "web", scheme: "http", port: 65535, proxyEnabled: true,
      originHost: "o.example", originScheme: "https", originPort: 1, expectStatus: 599,
      isEnabled: false}) { id }
  b1: monitorozasCreateBlacklistMonitor(input: {userId: 2, targetType: "ip",
      targetValue: "192.0.2.9"})
      { id }
  b2: monitorozasCreateBlacklistMonitor(input: {userId: 1, targetType: "domain",
      targetValue: "xn--bcher-kva.example"}) { id }
  u1: unspotCreateUser(role: "admin", name: "%(u)s") { token }
  u2: unspotCreateUser(role: "employee") { token }
  w1: webimUpsertAccount(input: {name: "acme", domain: "acme.webim.ru"}) { name }
  w2: webimSetAccountCounters(name: "acme", counters: {sessionsCnt: %(big)d, chatsCnt: 0,
      inQueueCnt: 1}) { name }
  w3: webimUpsertAccount(input: {name: "globex", domain: "ü.webim.ru", blocked: true,
      notBelongsToTornadoInstance: true}) { name }
  r1: ropUpdateManagers(managers: [{managerId: "m1", name: "%(u)s", surname: "", middlename: ""},
      {managerId: "m2", name: "Ann", surname: "Lee", middlename: "Q"}]) { __typename }
  r2: ropUpdateOffices(offices: [{officeId: "o1", officeTitle: "HQ", leaderIds: ["m1"],
      managersIds: ["m1", "m2"]}, {officeId: "o2", officeTitle: "Ω", leaderIds: [],
      managersIds: []}]) { __typename }
  r3: ropUploadCall(input: {managerId: "m1", callId: "c1", dealId: "d1", dealStageId: "s1",
      audioUrl: "%(audio)s/call.mp3", duration: 2699.999}) { __typename }
  r4: ropUploadCall(input: {managerId: "m2", callId: "c2", dealId: "%(u)s", dealStageId: "ß",
      audioUrl: "%(audio)s/call.wav"}) { __typename }
  n1: notesCreateNote(input: {title: "%(u)s", body: ""}) { id }
  n2: notesCreateNote(input: {title: "plain", body: "b", ttlSeconds: 86400.5}) { id }
}"""
QUOTED = UNICODE.replace("\\", "\\\\").replace('"', '\\"')


def reference_schema(running: RunningHub) -> Any:
    """The hub's schema from the same plugins' parts, its resolvers strawberry's own."""
    lighten = hub_schema.lighten
    hub_schema.lighten = lambda *args: None  # type: ignore[assignment]
    try:
        return hub_schema.build_schema(running.hub.graphql_parts)._schema
    finally:
        hub_schema.lighten = lighten  # type: ignore[assignment]


def shown(error: dict[str, Any]) -> tuple[Any, ...]:
    """What an error says to the client, as :func:`hub.graphql.view.format_error` puts it."""
    return (error["message"], error.get("path"), error.get("locations"))


def plain(value: Any) -> Any:
    """A resolver's value with every stored row as the object built from it."""
    if type(value) is Stored:
        return value._stored_built()
    if type(value) is StoredRows:
        return [plain(item) for item in value]
    return value


def built_objects(resolve: Any, source: Any, info: Any, **arguments: Any) -> Any:
    """The reference's middleware: graphql-core completes built objects, never a stored row
    (no fast path reads them, and neither does graphql-core, whatever the row's attributes)."""
    result = resolve(source, info, **arguments)
    if inspect.isawaitable(result):

        async def awaited() -> Any:
            return plain(await result)

        return awaited()
    return plain(result)


class Differ:
    """Asks the hub over HTTP and the reference in process; both answers as comparable JSON."""

    def __init__(self, running: RunningHub, session: aiohttp.ClientSession) -> None:
        self.running = running
        self.session = session
        self.schema = reference_schema(running)

    async def hub(
        self, query: str, variables: dict[str, Any] | None = None, token: str = ADMIN_TOKEN
    ) -> dict[str, Any]:
        payload = {"query": query, "variables": variables or {}}
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.post(
            self.running.url + "/graphql", json=payload, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
            body: dict[str, Any] = orjson.loads(await response.read())
        return {"data": body.get("data"), "errors": [shown(e) for e in body.get("errors", [])]}

    async def reference(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        document = parse(query)
        invalid = graphql.validate(self.schema, document)
        if invalid:
            return {"data": None, "errors": [shown(format_error(e)) for e in invalid]}
        result = graphql.execute(
            self.schema,
            document,
            context_value=HubContext(self.running.hub, AUTH),
            variable_values=variables or {},
            middleware=[built_objects],
        )
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        assert isinstance(result, graphql.ExecutionResult)
        # through JSON as the hub's answer goes: the same types, the same key order
        data = orjson.loads(orjson.dumps(result.data)) if result.data is not None else None
        return {"data": data, "errors": [shown(format_error(e)) for e in result.errors or ()]}

    async def same(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The hub's answer, asked three times (rendered, then spliced), each the reference's."""
        expected = await self.reference(query, variables)
        for _ in range(3):
            got = await self.hub(query, variables)
            assert orjson.dumps(got) == orjson.dumps(expected), (query, variables, got, expected)
        return expected


audio = audio_fixture()


@pytest.fixture
async def differ(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    notes_installed: None,  # noqa: F811
    audio: AudioServer,
) -> AsyncIterator[Differ]:
    """A seeded hub; a test may add settings to its environment (indirect parametrization)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "probe.py").write_text(PROBE)
    env = {**ENV, "HUB_PLUGINS_DIR": str(plugins), **getattr(request, "param", {})}
    async with running_hub(tmp_path / "data", env) as running, aiohttp.ClientSession() as session:
        running.creds("monitorozas", user="ünïcode")
        running.creds("monitorozas", user="bob")
        differ = Differ(running, session)
        seed = SEED % {"u": QUOTED, "big": BIG, "audio": audio.url("")}
        seeded = await differ.hub(seed)
        assert not seeded["errors"], seeded
        await settled_calls(differ)
        await analysed(differ, running.creds("rop", role="analyser")["api_key"])
        yield differ


DEFINITIONS = """mutation {
  c: ropPutChecklist(input: {id: "script", name: "Скрипт", stages: [{id: "greeting",
     name: "Приветствие"}, {id: "closing", name: "Закрытие", criteria: "✓"}]}) { id }
  t: ropPutTable(input: {id: "budget", name: "Бюджет", fields: [{name: "budget"},
     {name: "note", description: ""}, {name: "nested"}, {name: "flags"}]}) { id }
}"""
EXTRACTED = {
    "budget": 150000,
    "note": UNICODE,
    "nested": {"z": [1, 2.5, -0.001, None], "a": {"deep": True, "": ""}, "m": 1e-300},
    "flags": [True, False, None, "", 9007199254740993, -(2**62)],
}


async def analysed(differ: Differ, analyser: str) -> None:
    """Call c1's checklist and table results: nested JSON among a call's fields."""
    defined = await differ.hub(DEFINITIONS)
    assert not defined["errors"], defined
    answer = {
        "callId": "c1",
        "checklists": [
            {
                "checklistId": "script",
                "stages": [
                    {"stageId": "greeting", "status": "completed", "quote": "Добрый день"},
                    {"stageId": "closing", "status": "failed", "comment": ""},
                ],
            }
        ],
        "tables": [{"tableId": "budget", "extractedData": EXTRACTED}],
    }
    submitted = await differ.hub(
        "mutation($i: RopAnalysisInput!) { ropSubmitAnalysis(input: $i) { status } }",
        {"i": answer},
        token=analyser,
    )
    assert not submitted["errors"], submitted


async def settled_calls(differ: Differ) -> None:
    """Until rop's intake has fetched both uploads: their rows change no more on their own."""
    for _ in range(300):
        listed = await differ.hub("{ rop { calls { nodes { status } } } }")
        statuses = {node["status"] for node in listed["data"]["rop"]["calls"]["nodes"]}
        if statuses <= {"awaiting_analysis", "failed"}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"rop calls still {statuses}")


ERA = "id code type tokenLocal tokenRemote url opts { title comment allowFilesApi issync }"
DEVICE = (
    "id userId targetType targetValue serviceType scheme port hostHeader proxyEnabled originHost"
    " originScheme originPort expectStatus location isEnabled lastStatus lastCheckAt"
    " lastResponseMs lastError tlsExpiresAt"
)
ACCOUNT = "name domain sessionsCnt chatsCnt inQueueCnt blocked notBelongsToTornadoInstance"
CALL = (
    "callId managerId dealId dealStageId audioUrl declaredDuration status reason detail format"
    " sizeBytes duration analyzedAt checklistResults { __typename checklistName totalScore"
    " completionPercentage stages { stageId"
    " status comment quote } } tableResults { tableId tableName extractedData processingTime }"
)
PAGE_INFO = "pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }"

# (query, variables): every plugin's lists in the shapes the fast paths special-case
SHAPES: list[tuple[str, dict[str, Any]]] = [
    # plain nodes, edges with and without cursors, totalCount, pageInfo, __typename everywhere
    (
        f"{{ __typename era {{ __typename integrationPoints {{ __typename nodes {{ __typename {ERA}"
        f" ext {{ __typename ct }} }} totalCount {PAGE_INFO} }} }} }}",
        {},
    ),
    (f"{{ era {{ integrationPoints(first: 2) {{ edges {{ cursor node {{ {ERA} }} }} }} }} }}", {}),
    (f"{{ era {{ integrationPoints {{ edges {{ node {{ {ERA} }} }} }} }} }}", {}),
    ("{ era { integrationPoints { edges { __typename node { id } } } } }", {}),
    # the same field twice with different arguments, and the same row under two selections
    (
        "{ era { a: integrationPoints(first: 1) { nodes { id code } }"
        " b: integrationPoints { nodes { code id opts { title } } } } }",
        {},
    ),
    (
        "{ era { integrationPoints { nodes { id } edges { node { code } } } }"
        " again: era { integrationPoints { nodes { i: id c: code id } } } }",
        {},
    ),
    # fragments, inline fragments, one alias naming different fields in different fragments
    (
        "{ era { integrationPoints { nodes { ...A ...B ... on EraIntegrationPoint { x: type } } } }"
        " }"
        " fragment A on EraIntegrationPoint { x: type y: code }"
        " fragment B on EraIntegrationPoint { y: code opts { ... on EraOpts { issync } } }",
        {},
    ),
    (
        "{ era { integrationPoints { nodes { ...A } } } }"
        " fragment A on EraIntegrationPoint { x: code opts { x: title } ...C }"
        " fragment C on EraIntegrationPoint { code }",
        {},
    ),
    # @skip/@include from variables and from literals
    (
        "query($s: Boolean!, $i: Boolean!) { era { integrationPoints { nodes { id"
        " code @skip(if: $s) type @include(if: $i) opts @include(if: $s) { title } } } } }",
        {"s": True, "i": False},
    ),
    (
        "query($s: Boolean!, $i: Boolean!) { era { integrationPoints { nodes { id"
        " code @skip(if: $s) type @include(if: $i) opts @include(if: $s) { title } } } } }",
        {"s": False, "i": True},
    ),
    (
        "{ era { integrationPoints { nodes { id ... @include(if: false) { code }"
        " ... @skip(if: false)"
        " { type } } } } }",
        {},
    ),
    # variables vs inline arguments
    (
        "query($n: Int) { era { integrationPoints(first: $n) { nodes { id } totalCount } } }",
        {"n": 2},
    ),
    ("{ era { integrationPoints(first: 2) { nodes { id } totalCount } } }", {}),
    # arguments strawberry converts (JSON, input types, enums, lists), inline and as variables
    (
        '{ era { integrationPoints(filter: {type: "rest"},'
        ' order: [{field: "code", direction: DESC}])'
        " { nodes { id code } totalCount } } }",
        {},
    ),
    (
        "query($f: JSON, $o: [EraOrderInput!]) { era { integrationPoints(filter: $f, order: $o)"
        " { nodes { code type opts { title } } }"
        ' x: integrationPoints(order: [{field: "opts.title"}])'
        " { nodes { code } } } }",
        {
            "f": {"type": ["rest", "ws"]},
            "o": [{"field": "type"}, {"field": "code", "direction": "DESC"}],
        },
    ),
    (
        '{ era { lookup(key: "alpha") b: lookup(key: "beta", field: "code") } webim {'
        ' account(name: "acme") { name sessionsCnt } accountsTotal { __typename sessionsCnt } } }',
        {},
    ),
    # monitorozas: nullable scalars, a resolver field inside the list (with arguments)
    (
        f"{{ monitorozas {{ devices {{ nodes {{ {DEVICE} }} totalCount }}"
        " blacklistMonitors { nodes { __typename id targetValue } } } }",
        {},
    ),
    (
        f"{{ monitorozas {{ devices {{ edges {{ cursor node {{ {DEVICE} h: history(first: 1)"
        " { __typename } history { __typename } } } } } }",
        {},
    ),
    (
        "query($f: Int) { monitorozas { devices { nodes { id history(first: $f)"
        " { __typename } } } } }",
        {"f": 3},
    ),
    # unspot, webim (an interface's implementation), notes
    (
        "{ unspot { users { nodes { __typename id name role } edges { cursor node { id } }"
        f" totalCount {PAGE_INFO} }} }} }}",
        {},
    ),
    (
        f"{{ webim {{ accounts {{ nodes {{ {ACCOUNT} ... on WebimCounters {{ sessionsCnt }} }}"
        " edges { node { __typename name } } totalCount } } }",
        {},
    ),
    (
        "{ webim { accounts { nodes { ...on WebimAccountStat { n: name } ...K } } } }"
        " fragment K on WebimCounters { n: sessionsCnt }",
        {},
    ),
    (
        "{ notes { notes { nodes { __typename id title body createdAt expiresAt }"
        " edges { cursor node { title } } totalCount } } }",
        {},
    ),
    # rop: calls (nullable numbers, nested lists), managers, offices
    (
        f"{{ rop {{ calls {{ nodes {{ {CALL} }} totalCount }} managers {{ edges {{ node"
        " { managerId name surname middlename } } } offices { officeId officeTitle leaderIds"
        " managersIds } } }",
        {},
    ),
    (
        "{ rop { calls(first: 1) { edges { node { callId } } pageInfo { endCursor } }"
        " managers { nodes { managerId } } m: managers(first: 1) { nodes { name managerId } } } }",
        {},
    ),
]


@pytest.mark.parametrize("index", range(len(SHAPES)))
async def test_every_shape_answers_as_graphql_core(differ: Differ, index: int) -> None:
    query, variables = SHAPES[index]
    answer = await differ.same(query, variables)
    assert answer["data"] is not None or answer["errors"]  # one shape is invalid: both refuse


PROBE_SHAPES: list[tuple[str, dict[str, Any]]] = [
    ("{ probe { items { key ident built title weight } } }", {}),
    ("{ probe { items { key ident built checked } } }", {}),
    ("{ probe { items { key maybe ident } } }", {}),
    ("{ probe { maybeItems { key checked } } }", {}),
    ("{ probe { maybeItems { ident } again: maybeItems { key maybe tag { key weight } } } }", {}),
    ("{ probe { page { edges { node { key ident built } } nodes { checked } } } }", {}),
    ("{ probe { page { edges { cursor node { __typename key tag { __typename key } } } } } }", {}),
    (
        "{ probe { items { ...on ProbeItem { k: key } ...F } } } fragment F on ProbeItem"
        " { k: key i: ident maybe }",
        {},
    ),
    ("{ probe { badMaybeItems { key ident weight } } }", {}),
    ("{ probe { badMaybeItems { title } b: badMaybeItems { ident } } }", {}),
    ("{ probe { badItems { key } } }", {}),
    ("{ probe { badPage { edges { node { title weight } } } p: page { totalCount } } }", {}),
    ("{ probe { badPage { nodes { ident } } } }", {}),
    ("{ probe { mutable { key weight } mutablePage { edges { node { key } } } } }", {}),
    # one alias naming different fields of the types of a union
    (
        "{ probe { mixed { __typename ... on ProbeItem { x: key i: ident } ... on ProbeTag"
        " { x: label w: weight } } } }",
        {},
    ),
    (
        "{ probe { mixed { ...I ...T } } } fragment I on ProbeItem { x: key tag { x: label } }"
        " fragment T on ProbeTag { x: label }",
        {},
    ),
]


@pytest.mark.parametrize("index", range(len(PROBE_SHAPES)))
async def test_stored_rows_with_any_field_names_and_failing_resolvers(
    differ: Differ, index: int
) -> None:
    query, variables = PROBE_SHAPES[index]
    await differ.same(query, variables)


async def test_a_changed_stored_row_found_by_id_is_rendered_again(differ: Differ) -> None:
    for query, variables in PROBE_SHAPES:
        await differ.same(query, variables)
    changed = await differ.hub(
        'mutation { probeSetRow(ident: 0, key: "new", title: "bad") probeEditMutable(ident: 1,'
        ' key: "edited in place") }'
    )
    assert changed["data"] == {"probeSetRow": 0, "probeEditMutable": 1}, changed
    for query, variables in PROBE_SHAPES:
        await differ.same(query, variables)


# field errors inside lists: a resolver failing for every item, null propagating through
# non-null items to the nearest nullable parent, the errors' paths in order
FAILING = [
    "{ monitorozas { devices { nodes { id history(first: -1) { __typename } } } } }",
    "{ monitorozas { devices { edges { node { id h: history(first: -1) { __typename } } } } }"
    " era { integrationPoints { nodes { id } } } }",
    "query($f: Int) { era { integrationPoints { nodes { code } } } monitorozas { devices {"
    " nodes { history(first: $f) { __typename } } } } }",
]


@pytest.mark.parametrize("query", FAILING)
async def test_field_errors_inside_lists_answer_as_graphql_core(differ: Differ, query: str) -> None:
    answer = await differ.same(query, {"f": -5})
    assert answer["errors"]


async def test_a_changed_row_is_never_answered_with_its_old_rendering(differ: Differ) -> None:
    shapes = [SHAPES[0], SHAPES[2], SHAPES[13], SHAPES[16], SHAPES[19], SHAPES[20]]
    for query, variables in shapes:
        await differ.same(query, variables)
    await change_rows(differ)
    for query, variables in shapes:
        await differ.same(query, variables)


async def test_concurrent_selections_over_the_same_rows_answer_as_graphql_core(
    differ: Differ,
) -> None:
    shapes = SHAPES[:8] + SHAPES[13:]
    expected = [await differ.reference(q, v) for q, v in shapes]
    answers = await asyncio.gather(*(differ.hub(q, v) for q, v in shapes * 4))
    for index, answer in enumerate(answers):
        assert orjson.dumps(answer) == orjson.dumps(expected[index % len(shapes)]), shapes[
            index % len(shapes)
        ]


# gRPC: (list method, its requests, the response type, the repeated field, the get method, the
# request of one item, the item's id field); each list's response must be byte for byte the one
# built plainly from the items the get method builds one by one (``to_message``, no splice)
GrpcList = tuple[str, list[Any], Any, str, str, Callable[[Any], Any], str]


def grpc_lists() -> list[GrpcList]:
    from hub_era.v1 import era_pb2
    from hub_monitorozas.v1 import monitorozas_pb2 as mon
    from hub_rop.v1 import rop_pb2

    era_requests = [era_pb2.ListRequest(), era_pb2.ListRequest(offset=1, limit=1)]
    mon_requests = [mon.ListRequest(), mon.ListRequest(offset=1)]
    return [
        (
            "/hub.era.v1.Era/List",
            era_requests,
            era_pb2.ListResponse,
            "integration_points",
            "/hub.era.v1.Era/Get",
            lambda i: era_pb2.GetRequest(id=i),
            "id",
        ),
        (
            "/hub.monitorozas.v1.Monitorozas/ListDevices",
            mon_requests,
            mon.ListDevicesResponse,
            "devices",
            "/hub.monitorozas.v1.Monitorozas/GetDevice",
            lambda i: mon.IdRequest(id=i),
            "id",
        ),
        (
            "/hub.monitorozas.v1.Monitorozas/ListBlacklistMonitors",
            mon_requests,
            mon.ListBlacklistMonitorsResponse,
            "blacklist_monitors",
            "/hub.monitorozas.v1.Monitorozas/GetBlacklistMonitor",
            lambda i: mon.IdRequest(id=i),
            "id",
        ),
        (
            "/hub.rop.v1.Rop/ListCalls",
            [rop_pb2.ListCallsRequest(), rop_pb2.ListCallsRequest(offset=1, limit=5)],
            rop_pb2.ListCallsResponse,
            "calls",
            "/hub.rop.v1.Rop/GetCall",
            lambda i: rop_pb2.GetCallRequest(call_id=i),
            "call_id",
        ),
    ]


async def raw_call(channel: grpc.aio.Channel, method: str, request: Any) -> bytes:
    call = channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString())
    answer: bytes = await call(request, metadata=(("authorization", AUTH),))
    return answer


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def assembled(response: Any, field: str, items: list[bytes], total: int) -> bytes:
    """The list response with ``items`` (each message as protobuf serialized it) as its
    repeated field, the bytes protobuf gives: fields in number order, each entry its tag, its
    length and its bytes. (Re-serializing a decoded message would not do: a Struct's map
    entries need not come out in the order they went in.)"""
    number = response.DESCRIPTOR.fields_by_name[field].number
    tag = varint(number << 3 | 2)
    entries = b"".join(tag + varint(len(item)) + item for item in items)
    rest = response(total_count=total).SerializeToString()
    assert response.DESCRIPTOR.fields_by_name["total_count"].number > number
    return entries + rest


async def lists_as_built(channel: grpc.aio.Channel) -> None:
    for listed, requests, response, field, get, one, ident in grpc_lists():
        for request in requests:
            for _ in range(3):  # rendered, then spliced from the kept renderings
                raw = await raw_call(channel, listed, request)
                decoded = response.FromString(raw)
                items = getattr(decoded, field)
                assert items, (listed, request)
                built = [await raw_call(channel, get, one(getattr(item, ident))) for item in items]
                plain = response(total_count=decoded.total_count)
                for each in built:
                    getattr(plain, field).add().MergeFromString(each)
                assert decoded == plain, (listed, request)
                assert raw == assembled(response, field, built, decoded.total_count), listed


CHANGES = """mutation {
  e: eraUpdateIntegrationPoint(id: "%s", input: {code: "changed ✓", opts: {title: "new",
     comment: "", allowFilesApi: false, issync: true}}) { id }
  w: webimSetAccountCounters(name: "acme", counters: {sessionsCnt: 0, chatsCnt: 9}) { name }
  r: ropUpdateManagers(managers: [{managerId: "m1", name: "renamed", surname: "S",
     middlename: ""}]) { __typename }
  m: monitorozasCheckNow(deviceId: 1) { id }
}"""


async def change_rows(differ: Differ) -> None:
    """A row of each kind changed in place (the same id, new content)."""
    listed = await differ.hub("{ era { integrationPoints { nodes { id } } } }")
    first = listed["data"]["era"]["integrationPoints"]["nodes"][0]["id"]
    changed = await differ.hub(CHANGES % first)
    assert changed["data"] is not None, changed


@pytest.mark.parametrize("differ", [{}, TINY_BUDGET], indirect=True, ids=["budget", "tiny"])
async def test_grpc_lists_are_the_messages_built_plainly(differ: Differ) -> None:
    async with grpc.aio.insecure_channel(differ.running.grpc) as channel:
        await lists_as_built(channel)
        await change_rows(differ)
        await lists_as_built(channel)


async def test_grpc_rows_changed_in_place_are_rendered_again(differ: Differ) -> None:
    """Rows a plugin holds as dicts (unhashable) and changes in place: a kept rendering would
    be confirmed by comparing the row with itself."""
    from hub_rop.v1 import rop_pb2

    request = rop_pb2.ListManagersRequest()
    async with grpc.aio.insecure_channel(differ.running.grpc) as channel:
        for edit in range(3):
            for _ in range(2):
                listed = await raw_call(channel, "/hub.probe.v1.Probe/Listed", request)
                built = await raw_call(channel, "/hub.probe.v1.Probe/Built", request)
                assert listed == built
            edited = await differ.hub(
                f'mutation {{ probeEditMutable(ident: {edit}, key: "edited {edit}") }}'
            )
            assert not edited["errors"], edited


async def test_grpc_managers_are_the_rows_graphql_core_lists(differ: Differ) -> None:
    """rop's managers have no get method: the spliced list is held to protobuf's own
    serialization of what it decodes to, and to the rows graphql-core lists."""
    from hub_rop.v1 import rop_pb2

    query = "{ rop { managers { nodes { managerId name surname middlename } totalCount } } }"
    expected = (await differ.reference(query))["data"]["rop"]["managers"]
    async with grpc.aio.insecure_channel(differ.running.grpc) as channel:
        for _ in range(3):
            raw = await raw_call(
                channel, "/hub.rop.v1.Rop/ListManagers", rop_pb2.ListManagersRequest()
            )
            decoded = rop_pb2.ListManagersResponse.FromString(raw)
            assert raw == decoded.SerializeToString()
            assert decoded.total_count == expected["totalCount"]
            listed = [[m.manager_id, m.name, m.surname, m.middlename] for m in decoded.managers]
            assert listed == [list(node.values()) for node in expected["nodes"]]


async def many_points(differ: Differ, count: int) -> None:
    """``count`` more ERA channels, each a little different (many rows: answers long enough
    that the hub lets other requests run in the middle of one)."""
    for start in range(0, count, 25):
        made = " ".join(
            f'p{i}: eraCreateIntegrationPoint(input: {{code: "c{i}-{QUOTED}", type: "t{i % 3}",'
            f' url: "{"" if i % 2 else "https://x/" + str(i)}", opts: {{title: "{i}",'
            f" issync: {'true' if i % 5 else 'false'}}}}}) {{ id }}"
            for i in range(start, min(start + 25, count))
        )
        answer = await differ.hub(f"mutation {{ {made} }}")
        assert not answer["errors"], answer


BIG_SHAPES: list[tuple[str, dict[str, Any]]] = [
    (f"{{ era {{ integrationPoints {{ nodes {{ {ERA} }} totalCount }} }} }}", {}),
    ("{ era { integrationPoints { edges { node { id code } } } } }", {}),
    ("{ era { integrationPoints { edges { cursor node { code } } } } }", {}),
    (
        "{ era { a: integrationPoints { nodes { id } } b: integrationPoints"
        " { edges { node { id opts { title } } } } } }",
        {},
    ),
    (
        "query($s: Boolean!) { era { integrationPoints { nodes { id code @skip(if: $s) } } } }",
        {"s": False},
    ),
    (
        "{ era { integrationPoints { nodes { __typename ...F } } } }"
        " fragment F on EraIntegrationPoint { type x: url }",
        {},
    ),
]


@pytest.mark.parametrize("differ", [{}, TINY_BUDGET], indirect=True, ids=["budget", "tiny"])
async def test_long_answers_asked_together_answer_as_graphql_core(differ: Differ) -> None:
    await many_points(differ, 400)
    expected = [await differ.reference(q, v) for q, v in BIG_SHAPES]
    for _ in range(2):  # rendered, then spliced, while the others' turns interleave
        answers = await asyncio.gather(*(differ.hub(q, v) for q, v in BIG_SHAPES * 2))
        for index, answer in enumerate(answers):
            shape = index % len(BIG_SHAPES)
            assert orjson.dumps(answer) == orjson.dumps(expected[shape]), BIG_SHAPES[shape]


async def many_devices(differ: Differ, count: int) -> None:
    for start in range(0, count, 25):
        made = " ".join(
            f'd{i}: monitorozasCreateDevice(input: {{userId: {1 + i % 2}, targetType: "ip",'
            f' targetValue: "198.51.100.{i % 250}", serviceType: "web", port: {1 + i},'
            f" isEnabled: {'true' if i % 3 else 'false'}}}) {{ id }}"
            for i in range(start, min(start + 25, count))
        )
        answer = await differ.hub(f"mutation {{ {made} }}")
        assert not answer["errors"], answer


LONG_FAILING = [
    "{ era { integrationPoints { nodes { id code } } } monitorozas { devices { nodes { id"
    " history(first: -1) { __typename } } } } }",
    "{ monitorozas { devices { edges { node { id port } } } d: devices { edges { node {"
    " history(first: -2) { __typename } } } } }"
    " era { integrationPoints { edges { node { id } } } } }",
]


async def test_field_errors_in_long_answers_answer_as_graphql_core(differ: Differ) -> None:
    await many_points(differ, 300)
    await many_devices(differ, 100)
    for query in LONG_FAILING:
        answer = await differ.same(query)
        assert answer["errors"]


VARYING = (
    "query($s: Boolean!, $i: Boolean!, $n: Int) { t: __typename era { integrationPoints(first: $n)"
    " { nodes { id ...A @include(if: $i) ... on EraIntegrationPoint @skip(if: $s) { code opts"
    " { t: __typename title } } } edges @include(if: $s) { node { id type } }"
    " e: edges @skip(if: $i) { cursor node { url } } } } probe { items { key ...P @skip(if: $s) }"
    " page { edges @include(if: $i) { node { ident } } } } }"
    " fragment A on EraIntegrationPoint { type t: __typename opts { issync } }"
    " fragment P on ProbeItem { weight built }"
)


async def test_one_document_with_varying_variables_answers_as_graphql_core(
    differ: Differ,
) -> None:
    """The same document (cached after its second sighting, with its plans, collections and
    arguments) asked with each combination of variables, round after round."""
    combinations = [
        {"s": s, "i": i, "n": n} for s in (False, True) for i in (False, True) for n in (None, 1)
    ]
    for _ in range(3):
        for variables in combinations:
            await differ.same(VARYING, variables)
