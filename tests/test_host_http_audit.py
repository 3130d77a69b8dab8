"""The hub's own HTTP and GraphQL surface under hostile or odd input, against real in-process
hubs: a websocket upgrade that is no handshake, asset names no file has, persisted-query hashes
that are almost right, and a document whose operation over websockets is ambiguous."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.graphql import graphiql
from hub.http import statuspage
from hub.openapi_ui import ASSETS as SWAGGER_ASSETS
from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.process import ADMIN_TOKEN, HubProcess
from tests.test_cli import plugins_dir

PLUGINS = {"HUB_PLUGINS": "unspot"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
QUERY = "{ hub { plugins { name version } } }"


async def fetch(
    hub: RunningHub, path: str, headers: dict[str, str] | None = None, **params: str
) -> tuple[int, str, Any]:
    """``(status, Content-Type, body)``, the body parsed when it is JSON."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{hub.url}{path}", params=params, headers=headers or {}) as response,
    ):
        body = await response.read()
        if response.content_type.endswith("json"):
            return response.status, response.content_type, await response.json()
        return response.status, response.content_type, body


def one_plugin(tmp_path: Path, name: str, source: str) -> dict[str, str]:
    """The environment of a hub that loads only ``source``, as the plugin ``name``."""
    return {"HUB_PLUGINS_DIR": str(plugins_dir(tmp_path, **{name: source})), "HUB_PLUGINS": name}


def extensions(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [error["extensions"] for error in body["errors"]]


# -- a GET with Upgrade: websocket that is no websocket handshake --------------------------------


@pytest.mark.parametrize(
    "handshake",
    [
        {"Upgrade": "websocket"},  # nothing else
        {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"},
        {
            "Upgrade": "WebSocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "not a key",
        },
    ],
)
async def test_an_upgrade_that_is_no_handshake_runs_nothing(
    tmp_path: Path, handshake: dict[str, str]
) -> None:
    """It went to strawberry's view, which answered it as a GET of its own: the query ran past
    the hub's view (``persisted_only`` included) and a browser got strawberry's GraphiQL, which
    loads its scripts from a CDN. It is a 400 in the GraphQL error shape."""
    env = {**PLUGINS, "HUB_GRAPHQL_PERSISTED_ONLY": "true"}
    async with running_hub(tmp_path / "data", env) as hub:
        status, _, body = await fetch(hub, "/graphql", {**ADMIN}, query=QUERY)
        assert extensions(body)[0]["code"] == "PERSISTED_QUERY_NOT_ALLOWED", body  # as before
        for params in ({"query": QUERY}, {"query": "{ __schema { types { name } } }"}, {}):
            status, media, body = await fetch(hub, "/graphql", {**ADMIN, **handshake}, **params)
            assert (status, media) == (400, "application/json"), body
            assert "data" not in body, body
            assert extensions(body) == [
                {
                    "code": "BAD_REQUEST",
                    "plugin": "hub",
                    "status": 400,
                    "reason": "bad_websocket_handshake",
                }
            ], body
            assert "Sec-WebSocket-Key" in body["errors"][0]["message"]


async def test_a_real_handshake_still_opens_the_websocket(tmp_path: Path) -> None:
    async with (
        running_hub(tmp_path / "data", PLUGINS) as hub,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": ADMIN})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
        answer = await ws.receive_json(timeout=10)
        assert answer["type"] == "next", answer
        assert "unspot" in {p["name"] for p in answer["payload"]["data"]["hub"]["plugins"]}


# -- asset names no file has ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "assets", [statuspage.ASSETS, graphiql.ASSETS, SWAGGER_ASSETS], ids=lambda a: a.prefix
)
async def test_asset_names_no_file_has_are_404_and_not_kept(tmp_path: Path, assets: Any) -> None:
    """A name longer than the file system takes was a 500 with a traceback (``File name too
    long``), and every name asked for was cached for the life of the process."""
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        names = ["a" * 300, "b" * 5000, "nothing.js", "%00", "..", "x" * 255]
        names += [f"made-up-{n}.js" for n in range(50)]
        for name in names:
            status, _, body = await fetch(hub, f"{assets.prefix}/{name}")
            assert status == 404, (name[:20], body)
            assert body["error"]["reason"] == "not_found", body
        assert assets._read.cache_info().currsize <= len(assets.names)
        shipped = sorted(assets.names)[0]
        status, _, _ = await fetch(hub, f"{assets.prefix}/{shipped}")
        assert status == 200


# -- persisted-query hashes that are almost right -------------------------------------------------


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def post(hub: RunningHub, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{hub.url}/graphql", json=payload, headers=ADMIN) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        # "$" matched before a trailing newline: told "not found", then "does not match"
        (
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha(QUERY) + "\n"}}},
            "bad_persisted_query",
        ),
        (
            {
                "query": QUERY,
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha(QUERY) + "\n"}},
            },
            "bad_persisted_query",
        ),
        ({"documentId": f"sha256:{sha(QUERY)}\n"}, "bad_persisted_query"),
        # true == 1 in Python: a boolean passed for the version number
        (
            {"extensions": {"persistedQuery": {"version": True, "sha256Hash": sha(QUERY)}}},
            "persisted_query_version",
        ),
    ],
)
async def test_almost_right_persisted_query_parameters_are_refused(
    tmp_path: Path, payload: dict[str, Any], reason: str
) -> None:
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        status, body = await post(hub, payload)
        assert status == 400, body
        assert [e["reason"] for e in extensions(body)] == [reason], body
        assert "data" not in body
        by_hash = {"persistedQuery": {"version": 1, "sha256Hash": sha(QUERY)}}
        _, known = await post(hub, {"extensions": by_hash})
        assert extensions(known)[0]["code"] == "PERSISTED_QUERY_NOT_FOUND"  # nothing was kept


# -- the operation of a document over websockets ---------------------------------------------------


async def subscribe(hub: RunningHub, payload: dict[str, Any]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": ADMIN})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        return await ws.receive_json(timeout=10)  # type: ignore[no-any-return]


async def test_several_operations_and_no_name_over_websockets_is_a_request_error(
    tmp_path: Path,
) -> None:
    """GraphQL's GetOperation: without operationName a document must have one operation.
    strawberry ran the first one (here a mutation); over HTTP it was already a 400."""
    mutation = (
        'mutation B { hubAddCredential(plugin: "unspot", params: [{key: "role", value: "owner"}]) }'
    )
    document = f"{mutation} query A {{ hub {{ plugins {{ name }} }} }}"
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        answer = await subscribe(hub, {"query": document})
        assert answer["type"] == "error", answer
        assert [e["extensions"]["reason"] for e in answer["payload"]] == ["bad_operation"]
        assert "operationName is required" in answer["payload"][0]["message"]
        status, body = await post(hub, {"query": document})
        assert status == 200 and extensions(body)[0]["reason"] == "bad_operation", body
        assert hub.hub.credentials.listing("unspot").total == 0  # the mutation did not run
        answer = await subscribe(hub, {"query": document, "operationName": "A"})
        assert answer["type"] == "next" and "hub" in answer["payload"]["data"], answer
        answer = await subscribe(hub, {"query": "query A { hub { plugins { name } } }"})
        assert answer["type"] == "next", answer


# -- a plugin named as one of the hub's own paths --------------------------------------------------

GREETING = """
from aiohttp import web
from hub.hookspecs import hookimpl
from hub.registrations import RestApi


async def hello(request):
    return web.json_response({"hello": "world"})


@hookimpl
def register_rest(hub, register):
    register(RestApi(routes=[web.get("/hello", hello)]))
"""


@pytest.mark.parametrize(
    ("name", "path"), [("openapi", "/openapi"), ("graphql", "/graphql"), ("static", "/static")]
)
def test_a_plugin_named_as_a_path_of_the_hub_stops_the_start(
    tmp_path: Path, name: str, path: str
) -> None:
    """``openapi`` took the index of the hub's OpenAPI documents over (Swagger UI lost its
    list); ``graphql`` had the GraphQL endpoint's oversized bodies refused in its error shape
    and counted as its requests. One line naming both, at start."""
    env = one_plugin(tmp_path, name, GREETING)
    with pytest.raises(RuntimeError) as refused:
        HubProcess(tmp_path / "data", env).start()
    assert f"Error: cannot start: plugin {name}: its name is taken by the hub's own {path}" in str(
        refused.value
    )
    assert "Traceback" not in str(refused.value)


def test_a_plugin_with_another_name_is_served_under_it(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", one_plugin(tmp_path, "greeting", GREETING))
    try:
        hub.start()
        with urllib.request.urlopen(f"{hub.url}/greeting/hello", timeout=10) as response:
            assert json.loads(response.read()) == {"hello": "world"}
    finally:
        hub.stop()


# -- a status panel whose data JSON cannot carry ---------------------------------------------------

ODD_PANEL = """
from hub.hookspecs import hookimpl
from hub.registrations import StatusPanel


@hookimpl
def register_status_panels(hub, register):
    register(StatusPanel("odd", lambda: {"ids": {1, 2}, "n": 3}, plot=("n",)))
"""


async def test_a_panel_whose_data_is_not_json_shows_its_error_not_a_500(tmp_path: Path) -> None:
    """A set in one plugin's panel made ``{ hub { status } }`` (the status page) a 500 in the
    REST error shape: the answer could not be serialized. The panel shows its error, as one
    whose ``collect`` raises does, and the others still show."""
    env = one_plugin(tmp_path, "oddpanel", ODD_PANEL)
    async with running_hub(tmp_path / "data", env) as hub:
        status, body = await post(hub, {"query": "{ hub { status } }"})
        assert status == 200 and "errors" not in body, body
        panels = {p["name"]: p for p in body["data"]["hub"]["status"]["panels"]}
        assert panels["odd"]["data"] is None
        assert "not JSON serializable" in panels["odd"]["error"], panels["odd"]
        assert panels["timers"]["error"] is None and panels["timers"]["data"]["timers"]


# -- OpenAPI documents of handlers that are not plain functions ------------------------------------

ODD_HANDLERS = '''
import functools

from aiohttp import web
from hub.hookspecs import hookimpl
from hub.registrations import RestApi


async def hello(who, request):
    return web.json_response({"hello": who})


async def blank(request):
    """   """
    return web.json_response({"hello": "blank"})


class Hello:
    async def __call__(self, request):
        return web.json_response({"hello": "object"})


@hookimpl
def register_rest(hub, register):
    routes = [
        web.get("/partial", functools.partial(hello, "partial")),
        web.get("/object", Hello()),
        web.get("/blank", blank),
    ]
    register(RestApi(routes=routes))
'''


@pytest.mark.filterwarnings("ignore:Bare functions are deprecated")  # aiohttp, of the object
async def test_the_openapi_document_of_handlers_aiohttp_takes(tmp_path: Path) -> None:
    """An object with ``__call__`` (no ``__name__``) or a docstring of white space only made
    the plugin's ``openapi.json`` a 500; a ``functools.partial`` was summed up by partial's own
    docstring."""
    env = one_plugin(tmp_path, "odd", ODD_HANDLERS)
    async with running_hub(tmp_path / "data", env) as hub:
        for path, answer in (("/partial", "partial"), ("/object", "object"), ("/blank", "blank")):
            status, _, body = await fetch(hub, f"/odd{path}")
            assert (status, body) == (200, {"hello": answer})
        status, _, document = await fetch(hub, "/odd/openapi.json")
        assert status == 200, document
        summaries = {path: item["get"]["summary"] for path, item in document["paths"].items()}
        assert summaries == {"/partial": "hello", "/object": "Hello", "/blank": "blank"}


# -- a key given twice in the hub's key/value arguments --------------------------------------------


async def test_a_credential_parameter_given_twice_is_refused(tmp_path: Path) -> None:
    """``hubAddCredential`` kept the last value of a key given twice (``hub creds add`` refuses
    it, gRPC's map cannot carry it): a credential could be made with a role the admin did not
    read last. A 400 naming the key, and nothing made."""
    twice = '[{key: "role", value: "owner"}, {key: "role", value: "admin"}]'
    async with running_hub(tmp_path / "data", PLUGINS) as hub:
        status, body = await post(
            hub, {"query": f'mutation {{ hubAddCredential(plugin: "unspot", params: {twice}) }}'}
        )
        assert status == 200 and body["data"] is None, body
        error = body["errors"][0]
        assert error["extensions"]["reason"] == "bad_argument", error
        assert error["message"] == "params: key 'role' is given twice"
        assert hub.hub.credentials.listing("unspot").total == 0
        once = '[{key: "role", value: "owner"}]'
        status, body = await post(
            hub, {"query": f'mutation {{ hubAddCredential(plugin: "unspot", params: {once}) }}'}
        )
        assert body["data"]["hubAddCredential"]["role"] == "owner", body


# -- a GraphQL parameter given twice in a GET ----------------------------------------------------


@pytest.mark.parametrize(
    "query_string",
    [
        "query=%7B__typename%7D&query=%7Bhub%7Bplugins%7Bname%7D%7D%7D",
        "query=query%20A%7B__typename%7D&operationName=A&operationName=B",
        "query=%7B__typename%7D&variables=%7B%7D&variables=%7B%22a%22%3A1%7D",
    ],
)
async def test_a_graphql_parameter_given_twice_in_a_get_is_refused(
    tmp_path: Path, query_string: str
) -> None:
    """The first one ran: a proxy or a log that reads the last saw another request than the
    hub served. Which to run is a guess, so neither runs."""
    name = query_string.rsplit("&", 1)[1].split("=")[0]
    async with (
        running_hub(tmp_path / "data", PLUGINS) as hub,
        aiohttp.ClientSession() as session,
        session.get(f"{hub.url}/graphql?{query_string}", headers=ADMIN) as response,
    ):
        body = await response.json()
        assert response.status == 400, body
        assert "data" not in body
        assert body["errors"][0]["message"] == f"{name}: given more than once"
        assert extensions(body)[0]["reason"] == "bad_params"
    async with (
        running_hub(tmp_path / "data", PLUGINS) as hub,
        aiohttp.ClientSession() as session,
        session.get(f"{hub.url}/graphql?query=%7B__typename%7D&_=1&_=2", headers=ADMIN) as ok,
    ):
        assert (ok.status, await ok.json()) == (200, {"data": {"__typename": "Query"}})


# -- a websocket message past GraphQL's max_body ---------------------------------------------------


async def test_a_websocket_message_past_max_body_closes_the_socket(tmp_path: Path) -> None:
    """GraphQL's ``max_body`` (64 KiB) bounded a POST, while a websocket took messages of up to
    aiohttp's 4 MiB (variables have no token limit). A message past it closes the socket with
    1009 (message too big); one within it is answered."""
    variables = {"name": "x" * 70_000}
    query = "query($name: String) { hub { plugins { name } } }"
    env = {**PLUGINS, "HUB_GRAPHQL_MAX_BODY": "65536"}
    async with (
        running_hub(tmp_path / "data", env) as hub,
        aiohttp.ClientSession() as session,
    ):
        async with session.ws_connect(
            f"{hub.url}/graphql", protocols=["graphql-transport-ws"]
        ) as ws:
            await ws.send_json({"type": "connection_init", "payload": ADMIN})
            assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
            payload = {"query": query, "variables": variables}
            await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
            closing = await ws.receive(timeout=10)
            assert closing.type == aiohttp.WSMsgType.CLOSE, closing
            assert closing.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG, closing
        answer = await subscribe(hub, {"query": query, "variables": {"name": "x" * 60_000}})
        assert answer["type"] in ("next", "error"), answer  # answered, not closed


# -- an answer JSON cannot carry -------------------------------------------------------------------

ODD_FIELD = """
from typing import Any

import strawberry
from strawberry.scalars import JSON

from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart


@strawberry.type
class OddfieldQuery:
    @strawberry.field
    def odd(self) -> JSON:
        return {"ids": {1, 2}}


@hookimpl
def register_graphql(hub: Any, register: Any) -> None:
    register(GraphQLPart(query=OddfieldQuery))
"""


async def test_an_answer_json_cannot_carry_is_an_internal_error_in_graphql_shape(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A resolver's JSON scalar holding a set could not be serialized: the 500 came in the hub's
    REST shape (``{"error": ...}``) with a traceback. It is GraphQL's ``errors`` with the
    table's INTERNAL, and one log line naming the operation."""
    env = one_plugin(tmp_path, "oddfield", ODD_FIELD)
    async with running_hub(tmp_path / "data", env) as hub:
        status, body = await post(hub, {"query": "query Odd { oddfield { odd } }"})
        assert status == 500, body
        assert body == {
            "errors": [
                {
                    "message": "internal error",
                    "extensions": {
                        "code": "INTERNAL",
                        "plugin": None,
                        "status": 500,
                        "reason": "internal",
                    },
                }
            ]
        }
    assert "the answer to Odd cannot be serialized" in caplog.text


async def test_an_unknown_credential_parameter_is_a_bad_argument() -> None:
    """The host's default credential type (a bearer token, no parameters) names the parameter,
    cut short, with the error table's reason."""
    from hub.credentials import CredentialType
    from hub.errors import HubError

    with pytest.raises(HubError) as refused:
        CredentialType().validate({"x" * 300: "y"})
    assert refused.value.reason == "bad_argument" and refused.value.status == 400
    assert (
        refused.value.message.startswith("unknown parameter: 'xxx")
        and len(refused.value.message) < 100
    )


async def test_a_websocket_message_with_a_lone_surrogate_is_refused_as_over_http(
    tmp_path: Path,
) -> None:
    """JSON allows ``\\ud800``; the HTTP view's reader refuses it, and so does the websocket's:
    before, it reached the plugin, whose store failed (a 500 and a traceback)."""
    mutation = 'mutation($t: String!) { notesCreateNote(input: {title: $t, body: "b"}) { id } }'
    async with running_hub(tmp_path, {"HUB_PLUGINS": "notes"}) as hub:
        token = hub.creds("notes")["token"]
        raw = '{"id":"1","type":"subscribe","payload":{"query":%s,"variables":{"t":"x\\ud800"}}}'
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
        ):
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            await ws.send_json(init)
            assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
            await ws.send_str(raw % json.dumps(mutation))
            closed = await ws.receive(timeout=10)
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4400, closed
        async with aiohttp.ClientSession() as session:
            listed = await session.post(
                f"{hub.url}/graphql",
                json={"query": "{ notes { notes { totalCount } } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = await listed.json()
        assert body["data"]["notes"]["notes"]["totalCount"] == 0, body
