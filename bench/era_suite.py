"""The ``era`` suite of ``bench.py``: realistic channels seeded over REST, the requests of the
performance table (REST, GraphQL and gRPC lists, a create with a fresh code per request) and its
rows: the hub's GraphQL against its REST, REST and gRPC against bare servers, GraphQL against
stock strawberry, Mesh and yoga. ``workers_bench.py``, ``scale_bench.py`` and the scripts of
the performance work seed and ask the hub with the same."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import node_peers
from answers import snake_case
from hub_handle import HubHandle
from scenario_model import Baseline, Request, Scenario, graphql_request, grpc_request

ERA_LIMIT = 20  # the short page
ERA_ROWS = 1000  # the channels bench.py seeds, and the long page
ERA_PATH = "/era/rest/v1/service/integration_points"
ERA_FIELDS = (
    "id code type tokenLocal tokenRemote tokenRemote2 url"
    " recvSvcscriptcode recvSvcscriptcodeWs sendSvcscriptcode sendSvcscriptcodeWs"
    " opts { title comment allowFilesApi issync } ext { ct lwt }"
)
ERA_GRAPHQL_QUERY = (
    "{ era { integrationPoints(first: "
    + str(ERA_LIMIT)
    + ") { edges { node { "
    + ERA_FIELDS
    + " } } totalCount } } }"
)
UNIQUE = "@@bench-unique@@"
ERA_SITES = [
    ("BUD", "Budapest"),
    ("DEB", "Debrecen"),
    ("SZE", "Szeged"),
    ("PEC", "Pécs"),
    ("GYO", "Győr"),
    ("NYI", "Nyíregyháza"),
    ("KEC", "Kecskemét"),
    ("SZF", "Székesfehérvár"),
    ("SZO", "Szombathely"),
    ("SZL", "Szolnok"),
]
ERA_TYPES = ["webshop", "pos", "erp", "crm"]


def era_seed(i: int) -> dict[str, Any]:
    """A realistic channel: codes, remote tokens, callback URLs, script codes, accents."""
    site, city = ERA_SITES[i % len(ERA_SITES)]
    kind = ERA_TYPES[i % len(ERA_TYPES)]
    n = i + 1
    return {
        "code": f"{site}-{kind.upper()}-{n:03d}",
        "type": kind,
        "token_remote": os.urandom(16).hex(),
        "token_remote2": os.urandom(8).hex() if i % 3 == 0 else "",
        "url": f"https://{kind}{n:02d}.{site.lower()}.example.hu/era/api/v2/callback",
        "recv_svcscriptcode": f"ERA_RECV_{kind.upper()}_ORDER",
        "recv_svcscriptcode_ws": f"ERA_RECV_{kind.upper()}_ORDER_WS" if i % 2 else "",
        "send_svcscriptcode": f"ERA_SEND_{kind.upper()}_STATUS",
        "send_svcscriptcode_ws": f"ERA_SEND_{kind.upper()}_STATUS_WS" if i % 2 else "",
        "opts": {
            "title": f"{city} {kind} #{n}",
            "comment": f"Éles csatorna ({city}): rendelések és státuszok szinkronizálása",
            "allow_files_api": i % 4 == 0,
            "issync": i % 2 == 1,
        },
    }


def era_seeded(hub: HubHandle, count: int) -> tuple[str, list[dict[str, Any]]]:
    """An era token and ``count`` channels created over REST, as the hub lists them."""
    token = hub.creds("era")["token"]
    for i in range(count):
        hub.http("POST", ERA_PATH, era_seed(i), token)
    points = hub.http("GET", f"{ERA_PATH}?limit={count}", token=token)
    if len(points) != count:
        raise RuntimeError(f"expected {count} integration points, the hub lists {len(points)}")
    return token, points


def era_rest(token: str, limit: int) -> Request:
    auth = {"Authorization": f"Bearer {token}"}
    return Request("http", {"method": "GET", "path": f"{ERA_PATH}?limit={limit}", "headers": auth})


def era_graphql(token: str, limit: int) -> Request:
    return graphql_request(
        token, ERA_GRAPHQL_QUERY.replace(f"first: {ERA_LIMIT}", f"first: {limit}")
    )


def era_grpc(token: str, limit: int) -> Request:
    stub, request = "hub_era.v1.era_pb2_grpc:EraStub", "hub_era.v1.era_pb2:ListRequest"
    return grpc_request(token, stub, "List", request, {"limit": limit})


def era_create(token: str) -> Request:
    """POST of a realistic channel whose code is new on every request."""
    body = {**era_seed(7), "code": f"NEW-{UNIQUE}"}
    return Request(
        "http",
        {
            "method": "POST",
            "path": ERA_PATH,
            "body": json.dumps(body, ensure_ascii=False),
            "unique": UNIQUE,
            "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        },
    )


def mesh_request(token: str, limit: int) -> Request:
    """Mesh's list of ``limit`` channels with the hub query's fields in REST's names, which
    Mesh keeps."""
    fields = re.sub(r"\w+", lambda m: snake_case(m.group()), ERA_FIELDS)
    return graphql_request(token, node_peers.mesh_query(limit, fields))


# -- the rows: each kind of comparison once, over ``n`` channels -------------------------------


def graphql_over_rest(token: str, n: int) -> Scenario:
    return Scenario(
        f"GraphQL/REST CPU per request, {n} era channels",
        era_graphql(token, n),
        Baseline("the hub's REST", "hub", None, era_rest(token, n)),
        target=2.0,
        compare="rows",
        metric="cpu",
    )


def _same_request(
    name: str,
    request: Request,
    baseline: tuple[str, str, Any],
    target: float,
    compare: str = "bytes",
) -> Scenario:
    """A row whose other side (``label``, ``server``, ``data``) is asked the hub's request."""
    label, server, data = baseline
    return Scenario(name, request, Baseline(label, server, data, request), target, compare)


def rest_vs_bare(token: str, points: list[dict[str, Any]], n: int, target: float) -> Scenario:
    bare = ("bare aiohttp", "era-rest", points)
    return _same_request(f"REST list {n} era channels", era_rest(token, n), bare, target)


def grpc_vs_bare(token: str, points: list[dict[str, Any]], n: int) -> Scenario:
    bare = ("bare grpc.aio", "era-grpc", points)
    return _same_request(f"gRPC Era/List {n} channels", era_grpc(token, n), bare, 0.9)


def graphql_vs_strawberry(token: str, points: list[dict[str, Any]], n: int) -> Scenario:
    stock = ("stock strawberry", "era-graphql", points)
    name = f"GraphQL list {n} era channels"
    return _same_request(name, era_graphql(token, n), stock, 4.0, compare="json")


def graphql_vs_mesh(token: str, hub_url: str, n: int) -> Scenario:
    return Scenario(
        f"GraphQL {n} era channels vs Mesh",
        era_graphql(token, n),
        Baseline("GraphQL Mesh", "mesh", {"hub": hub_url}, mesh_request(token, n)),
        target=5.0,
        compare="rows",
    )


def graphql_vs_yoga(token: str, points: list[dict[str, Any]], n: int) -> Scenario:
    yoga = ("graphql-yoga", "yoga", points)
    name = f"GraphQL {n} era channels vs yoga"
    return _same_request(name, era_graphql(token, n), yoga, 1.0, compare="json")


def rest_create(token: str) -> Scenario:
    sqlite = ("aiohttp + SQLite", "era-create", None)
    name = "REST create era channel"
    return _same_request(name, era_create(token), sqlite, 0.8, compare="created")


# -- the suites --------------------------------------------------------------------------------


def era_setup(hub: HubHandle) -> list[Scenario]:
    """20 channels and their REST, GraphQL and gRPC lists against the bare Python baselines
    (the set ``workers_bench.py`` loads, in that order)."""
    token, points = era_seeded(hub, ERA_LIMIT)
    return [
        rest_vs_bare(token, points, ERA_LIMIT, target=0.6),
        graphql_vs_strawberry(token, points, ERA_LIMIT),
        grpc_vs_bare(token, points, ERA_LIMIT),
    ]


def era_table_setup(hub: HubHandle) -> list[Scenario]:
    """The rows of the performance table over ``rows`` channels (1,000 by default): the
    hub's GraphQL against its REST, REST and gRPC against bare servers, GraphQL against stock
    strawberry, Mesh and yoga, and last (it adds channels) REST create."""
    rows = hub.options.get("rows", ERA_ROWS)
    short = min(ERA_LIMIT, rows)
    token, points = era_seeded(hub, rows)
    return [
        *(graphql_over_rest(token, n) for n in (rows, short)),
        *(rest_vs_bare(token, points, n, target=0.6 if n == short else 0.5) for n in (short, rows)),
        grpc_vs_bare(token, points, short),
        graphql_vs_strawberry(token, points, short),
        *(graphql_vs_mesh(token, hub.url, n) for n in (short, rows)),
        graphql_vs_yoga(token, points, short),
        rest_create(token),
    ]
