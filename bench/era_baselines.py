"""Bare baselines for the ``era`` scenarios of ``bench.py``: the lists served from memory
exactly as the hub serves them, and a create that stores each channel in SQLite as the hub
does. Loaded only by a baseline's own process (``bench.py _serve era-...``).

The strawberry types live at module level: strawberry resolves annotations in the module's
namespace, so they cannot be defined inside a function."""

import base64
import json
from pathlib import Path
from typing import Any, Generic, TypeVar

import strawberry

T = TypeVar("T")
POINTS: list[dict[str, Any]] = []  # the integration points, as the hub's REST API lists them
_keep: list[Any] = []  # servers and runners, alive as long as the process


async def run_aiohttp(app: Any, host: str) -> str:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    _keep.append(runner)
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    bound_host, port = sock.getsockname()[:2]
    return f"{bound_host}:{port}"


# -- REST: bare aiohttp ------------------------------------------------------------------------


async def serve_rest(data: list[dict[str, Any]], host: str, options: dict[str, Any]) -> str:
    """``GET /era/rest/v1/service/integration_points?limit=N``: the first N dicts encoded per
    request with ``orjson.dumps`` (``rest_baseline=orjson``, the default) or the standard
    library's ``json.dumps`` (``json``), or the same bytes encoded once at start (``bytes``).
    All three give the hub's exact bytes."""
    import orjson
    from aiohttp import web

    encoder = options.get("rest_baseline", "orjson")
    pre_encoded = orjson.dumps(data)
    headers = {"Content-Type": "application/json; charset=utf-8"}

    async def with_orjson(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", 100))
        return web.Response(body=orjson.dumps(data[:limit]), headers=headers)

    async def with_json(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", 100))
        body = json.dumps(data[:limit], separators=(",", ":"), ensure_ascii=False).encode()
        return web.Response(body=body, headers=headers)

    async def fixed(request: web.Request) -> web.Response:
        return web.Response(body=pre_encoded, headers=headers)

    handler = {"orjson": with_orjson, "json": with_json, "bytes": fixed}[encoder]
    app = web.Application()
    app.router.add_get("/era/rest/v1/service/integration_points", handler)
    return await run_aiohttp(app, host)


# -- GraphQL: stock strawberry -----------------------------------------------------------------


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    total_count: int


@strawberry.type(name="EraOpts")
class Opts:
    title: str
    comment: str
    allow_files_api: bool
    issync: bool


@strawberry.type(name="EraExt")
class Ext:
    ct: str
    lwt: str


@strawberry.type(name="EraIntegrationPoint")
class IntegrationPoint:
    id: strawberry.ID
    code: str
    type: str
    token_local: str
    token_remote: str
    token_remote2: str
    url: str
    recv_svcscriptcode: str
    recv_svcscriptcode_ws: str
    send_svcscriptcode: str
    send_svcscriptcode_ws: str
    opts: Opts
    ext: Ext


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


@strawberry.type(name="EraQuery")
class EraQuery:
    @strawberry.field
    def integration_points(self, first: int | None = None) -> Connection[IntegrationPoint]:
        rows = POINTS[: 100 if first is None else first]
        items = []
        for row in rows:
            fields = dict(row)
            fields["opts"] = Opts(**row["opts"])
            fields["ext"] = Ext(**row["ext"])
            items.append(IntegrationPoint(**fields))
        edges = [Edge(cursor=_cursor(i), node=item) for i, item in enumerate(items)]
        return Connection(
            edges=edges,
            nodes=items,
            total_count=len(POINTS),
            page_info=PageInfo(
                has_next_page=len(items) < len(POINTS),
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type
class Query:
    @strawberry.field
    def era(self) -> EraQuery:
        return EraQuery()


async def serve_graphql(data: list[dict[str, Any]], host: str, options: dict[str, Any]) -> str:
    """``POST /graphql`` on strawberry's stock aiohttp view, default settings."""
    from aiohttp import web
    from strawberry.aiohttp.views import GraphQLView

    POINTS[:] = data
    app = web.Application()
    app.router.add_route("*", "/graphql", GraphQLView(schema=strawberry.Schema(query=Query)))
    return await run_aiohttp(app, host)


# -- gRPC: bare grpc.aio -----------------------------------------------------------------------


async def serve_grpc(data: list[dict[str, Any]], host: str, options: dict[str, Any]) -> str:
    """``hub.era.v1.Era/List`` on the hub's generated stubs; the response is built per call."""
    import grpc
    from hub_era.v1 import era_pb2, era_pb2_grpc

    def message(row: dict[str, Any]) -> Any:
        fields = {k: v for k, v in row.items() if k not in ("opts", "ext")}
        return era_pb2.IntegrationPoint(
            **fields, opts=era_pb2.Opts(**row["opts"]), ext=era_pb2.Ext(**row["ext"])
        )

    class Era(era_pb2_grpc.EraServicer):
        async def List(self, request: Any, context: Any) -> Any:
            limit = request.limit if request.HasField("limit") else 100
            return era_pb2.ListResponse(
                integration_points=[message(r) for r in data[:limit]], total_count=len(data)
            )

    server = grpc.aio.server()
    era_pb2_grpc.add_EraServicer_to_server(Era(), server)
    port = server.add_insecure_port(f"{host}:0")
    await server.start()
    _keep.append(server)
    return f"{host}:{port}"


# -- REST create: bare aiohttp and one SQLite WAL insert ----------------------------------------

TEXT_FIELDS = (  # after id, code, type and token_local, in the hub's order
    "token_remote",
    "token_remote2",
    "url",
    "recv_svcscriptcode",
    "recv_svcscriptcode_ws",
    "send_svcscriptcode",
    "send_svcscriptcode_ws",
)
OPTS_DEFAULTS: dict[str, Any] = {
    "title": "",
    "comment": "",
    "allow_files_api": False,
    "issync": False,
}


async def serve_create(data: None, host: str, options: dict[str, Any]) -> str:
    """``POST /era/rest/v1/service/integration_points``: parse the JSON body, fill in what the
    hub fills in (id, local token, defaults, times) and INSERT it into a SQLite database in WAL
    mode (``synchronous = NORMAL``, as the hub's), one commit per request; answer the channel
    as the hub does. The database is a new file in ``options["workdir"]``; a duplicate code
    is a 409."""
    import os
    import sqlite3
    import uuid
    from datetime import UTC, datetime

    import orjson
    from aiohttp import web

    database = Path(options["workdir"]) / f"era-create-{uuid.uuid4().hex}.sqlite"
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS integration_points"
        " (id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)"
    )
    _keep.append(conn)
    headers = {"Content-Type": "application/json; charset=utf-8"}

    async def create(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        point = {
            "id": str(uuid.uuid4()),
            "code": body["code"],
            "type": body.get("type", ""),
            "token_local": os.urandom(16).hex(),
            **{name: body.get(name, "") for name in TEXT_FIELDS},
            "opts": {**OPTS_DEFAULTS, **body.get("opts", {})},
            "ext": {"ct": now, "lwt": now},
        }
        doc = orjson.dumps(point)
        try:
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO integration_points (id, code, doc) VALUES (?, ?, ?)",
                (point["id"], point["code"], doc.decode()),
            )
            conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            return web.Response(status=409, body=b'{"error":"code taken"}', headers=headers)
        return web.Response(body=doc, headers=headers)

    app = web.Application()
    app.router.add_post("/era/rest/v1/service/integration_points", create)
    return await run_aiohttp(app, host)
