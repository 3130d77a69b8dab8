"""Property-based fuzzing of one real hub: arbitrary bodies, query strings, ids, headers,
GraphQL variables and gRPC bytes against the ``era`` plugin and the host around it.

The properties are the contract's: bad input never yields a 500 (gRPC INTERNAL/UNKNOWN, GraphQL
``INTERNAL``) or a traceback, every era REST answer is JSON in the documented shape, and a
rejected request leaves what is stored exactly as it was (a full list compared before and after).
Hypothesis runs derandomized with bounded examples, so CI sees the same inputs every time.

Accepted as they are: what the HTTP parser refuses before any handler runs (a request line over
8190 bytes, header bytes it does not allow, a chunk size that is not hex) is a 400 in the hub's
error shape (``reason`` ``bad_request``), not the plugin's: no route has been chosen yet."""

from __future__ import annotations

import base64
import gzip
import http.client
import itertools
import json
import math
import os
import re
import socket
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import grpc
import pytest
from google.protobuf import struct_pb2
from hub_era.v1 import era_pb2, era_pb2_grpc
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.hubproc import ADMIN_TOKEN, HubProcess

BASE = "/era/rest/v1/service/integration_points"
TOKENS = "/era/rest/v1/service/integration_tokens"
CT = "application/json; charset=utf-8"
ERA_METHODS = ("Create", "List", "Get", "Update", "Delete", "Lookup")
# what the hub logs when a request failed inside it (500, INTERNAL, a resolver that raised)
INTERNAL_LOG = re.compile(r"unhandled error|resolver failed")
GRPC_BAD_INPUT_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.UNAUTHENTICATED,
}

# HUB_FUZZ_SCALE=10 runs ten times the examples, randomly seeded: a longer hunt, off CI
SCALE = int(os.environ.get("HUB_FUZZ_SCALE", "1"))
FUZZ = settings(
    deadline=None,
    derandomize=SCALE == 1,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(max_examples: int) -> Callable[[Any], Any]:
    return settings(FUZZ, max_examples=max_examples * SCALE)


# == clients =====================================================================================
class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.status} {self.headers.get('Content-Type')} {self.body[:300]!r}>"


class Http:
    """A kept-alive ``http.client`` connection that sends exactly what it is given (raw header
    bytes, extension methods, any path), reconnecting when the hub closed it."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.conn: http.client.HTTPConnection | None = None

    def fresh(self) -> None:
        """Drop the connection: the next request starts on aiohttp's fast parser again."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str | bytes] | None = None,
    ) -> Reply:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=20)
            try:
                self.conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    self.conn.putheader(name, value)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.fresh()
                return Reply(response.status, response.headers, data)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.fresh()  # the hub closed a kept-alive connection: once more on a new one
                if attempt == 2:
                    raise
            except BaseException:
                self.fresh()  # never leave http.client half-way through a request
                raise
        raise AssertionError("unreachable")


class Fuzz:
    """The module's hub, its clients and the checks every property shares."""

    def __init__(self, hub: HubProcess, token: str) -> None:
        self.hub = hub
        self.token = token
        self.http = Http(hub.http)
        self.channel = grpc.insecure_channel(hub.grpc)
        self.stub = era_pb2_grpc.EraStub(self.channel)
        self.auth = {"Authorization": f"Bearer {token}"}
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.seeds: list[dict[str, Any]] = []

    # -- era REST ----------------------------------------------------------------------------
    def rest(
        self,
        method: str,
        path: str = "",
        body: bytes | None = None,
        headers: dict[str, str | bytes] | None = None,
        *,
        base: str = BASE,
    ) -> Reply:
        reply = self.http.request(method, base + path, body, {**self.auth, **(headers or {})})
        check_era_reply(reply)
        return reply

    def snapshot(self) -> bytes:
        """Everything stored, as one list (the fuzz never stores anywhere near 1000)."""
        reply = self.http.request("GET", BASE + "?limit=1000", None, self.auth)
        assert reply.status == 200, reply
        assert len(reply.json()) < 1000
        return reply.body

    def create(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("code", "fz-" + uuid.uuid4().hex[:12])
        fields.setdefault("type", "fuzz")
        reply = self.rest("POST", body=json.dumps(fields).encode(), headers={"Content-Type": CT})
        assert reply.status == 200, reply
        return reply.json()  # type: ignore[no-any-return]

    # -- GraphQL -----------------------------------------------------------------------------
    def graphql(self, body: bytes, headers: dict[str, str | bytes] | None = None) -> Reply:
        reply = self.http.request(
            "POST",
            "/graphql",
            body,
            {"Content-Type": "application/json", **self.auth, **(headers or {})},
        )
        check_graphql_reply(reply)
        return reply

    def gql(self, query: str, variables: Any) -> dict[str, Any]:
        reply = self.graphql(json.dumps({"query": query, "variables": variables}).encode())
        return reply.json()  # type: ignore[no-any-return]

    # -- gRPC --------------------------------------------------------------------------------
    def raw_rpc(self, method: str, payload: bytes) -> tuple[grpc.StatusCode, bytes | None]:
        call = self.channel.unary_unary(
            f"/hub.era.v1.Era/{method}",
            request_serializer=lambda raw: raw,
            response_deserializer=lambda raw: raw,
        )
        try:
            return grpc.StatusCode.OK, call(payload, metadata=self.metadata, timeout=20)
        except grpc.RpcError as exc:
            check_rpc_error(exc)
            return exc.code(), None

    def rpc(self, method: str, request: Any) -> tuple[grpc.StatusCode, Any]:
        try:
            return grpc.StatusCode.OK, getattr(self.stub, method)(
                request, metadata=self.metadata, timeout=20
            )
        except grpc.RpcError as exc:
            check_rpc_error(exc)
            return exc.code(), None


def check_era_reply(reply: Reply) -> None:
    """Never a 5xx; 204 is empty; anything else is JSON, and an error is exactly the era shape."""
    assert reply.status < 500, reply
    if reply.status == 204:
        assert reply.body == b"", reply
        return
    assert reply.headers.get("Content-Type") == CT, reply
    body = reply.json()
    if reply.status >= 400:
        assert isinstance(body, dict) and list(body) == ["error_code", "error_message"], reply
        assert body["error_code"] == 1000 + reply.status, reply
        assert isinstance(body["error_message"], str) and body["error_message"], reply
        assert "Traceback" not in body["error_message"], reply


def check_graphql_reply(reply: Reply) -> None:
    """GraphQL over HTTP: JSON with ``data`` and/or ``errors``; no error is INTERNAL."""
    assert reply.status < 500, reply
    assert reply.headers.get("Content-Type", "").startswith("application/"), reply
    body = reply.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), reply
    for error in body.get("errors", []):
        assert isinstance(error["message"], str), reply
        code = (error.get("extensions") or {}).get("code")
        assert code and code != "INTERNAL", reply
        assert "Traceback" not in error["message"], reply


def check_rpc_error(exc: grpc.RpcError) -> None:
    code = exc.code()  # type: ignore[attr-defined]
    details = exc.details() or ""  # type: ignore[attr-defined]
    assert code in GRPC_BAD_INPUT_CODES, (code, details)
    assert "Traceback" not in details and "<class" not in details, details


# == fixtures ====================================================================================
@pytest.fixture(scope="module")
def fz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    hub = HubProcess(tmp_path_factory.mktemp("fuzz-hub")).start()
    fuzz = Fuzz(hub, str(hub.creds("era")["token"]))
    # a few channels so filters, orders, look-ups and patches have something to meet
    fuzz.seeds = [
        fuzz.create(code=f"seed-{i}", type=["webhook", "telegram"][i % 2], opts={"title": f"t{i}"})
        for i in range(3)
    ]
    try:
        yield fuzz
    finally:
        fuzz.channel.close()
        fuzz.http.fresh()
        hub.stop()
        logged = "".join(hub.output)
        found = INTERNAL_LOG.search(logged)
        assert found is None, logged[found.start() : found.start() + 4000]


@pytest.fixture(scope="module")
def target(fz: Fuzz) -> dict[str, Any]:
    """The channel the PATCH properties aim at."""
    return fz.create(code="patch-target", type="webhook")


# == strategies ==================================================================================
STRING_FIELDS = [
    "code",
    "type",
    "token_remote",
    "token_remote2",
    "url",
    "recv_svcscriptcode",
    "recv_svcscriptcode_ws",
    "send_svcscriptcode",
    "send_svcscriptcode_ws",
]
OPTS_FIELDS = ["title", "comment", "allow_files_api", "issync"]
KNOWN_NAMES = [
    *STRING_FIELDS,
    "opts",
    "id",
    "token_local",
    "tokenlocal",
    "tokenremote",
    "ext",
    *(f"opts.{k}" for k in OPTS_FIELDS),
    "ext.ct",
    "ext.lwt",
]
# any code point, lone surrogates included (JSON-escaped, so the hub meets "\ud800")
any_text = st.text(st.characters(exclude_categories=()), max_size=24)
names = st.sampled_from(KNOWN_NAMES) | any_text
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
    | st.sampled_from(["", " ", "seed-0", "webhook", "telegram", "\x00", "a" * 300, "u" * 2100])
)


def containers(keys: st.SearchStrategy[str]) -> Callable[[st.SearchStrategy[Any]], Any]:
    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5)

    return extend


json_values = st.recursive(scalars, containers(names), max_leaves=12)
opts_values = st.dictionaries(
    st.sampled_from(OPTS_FIELDS) | any_text, st.booleans() | any_text | json_values, max_size=4
)
# bodies shaped like an entity, so validation is met past its first check
entity_like = st.dictionaries(
    st.sampled_from([*STRING_FIELDS, "opts", "id", "token_local", "ext", "tokenremote"]),
    any_text | json_values,
    max_size=6,
).flatmap(
    lambda d: st.one_of(
        st.just(d),
        opts_values.map(lambda o: {**d, "opts": o}),
        st.builds(lambda c, t: {"code": c, "type": t, **d}, any_text, any_text),
    )
)
json_bodies = json_values | entity_like


def dump(value: Any) -> bytes:
    """Standard JSON (stdlib: big integers fine, lone surrogates escaped as ``\\udXXX``)."""
    return json.dumps(value).encode()


nested = st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n) | st.integers(1, 3000).map(
    lambda n: b'{"a":' * n + b"1" + b"}" * n
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    nested,
    json_bodies.map(dump).map(lambda b: b"\xef\xbb\xbf" + b),  # BOM
    json_bodies.map(dump).map(lambda b: b.decode().encode("utf-16")),
    st.sampled_from(
        [
            b"",
            b"   ",
            b"NaN",
            b"-Infinity",
            b'{"code": NaN, "type": "x"}',
            b"1e999",
            b"-" + b"9" * 5000,
            b'{"code": "dup", "code": 5, "type": "x"}',
            b'{"code": "a", "type": "b", "opts": {"issync": true, "issync": "x"}}',
            b'"\\ud800"',
            b'{"code": "\\udc00", "type": "x"}',
            b'"\xed\xa0\x80"',
            b'{"code": "\xff", "type": "x"}',
            b"\x00",
            b'{"code": "a"' + b" " * 10_000 + b', "type": "b"}',
            b'{"\\u0000": 1}',
            b'"' + b"\\" * 9 + b'"',
            b"[" + b"1," * 20_000 + b"1]",
        ]
    ),
    json_bodies.map(dump),
)
content_types = st.sampled_from(
    [
        None,
        CT,
        "application/json",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        'application/json; charset="',
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        ";;;",
    ]
)


def pct(text: str) -> str:
    """Percent-encode anything, lone surrogates as the (invalid) UTF-8 bytes they would be."""
    return quote(text, safe="", errors="surrogatepass")


# == era REST: bodies ============================================================================
@fuzz(200)
@given(body=raw_bodies, content_type=content_types, fresh=st.booleans())
@example(body=b"{bad json", content_type=CT, fresh=False)
def test_post_bodies_never_500_and_rejects_store_nothing(
    fz: Fuzz, body: bytes, content_type: str | None, fresh: bool
) -> None:
    if fresh:
        fz.http.fresh()
    before = fz.snapshot()
    headers = {"Content-Type": content_type} if content_type else {}
    reply = fz.rest("POST", body=body, headers=headers)
    assert reply.status in (200, 400, 409, 413), reply
    if reply.status == 200:
        entity = reply.json()
        assert fz.rest("GET", "/" + entity["id"]).json() == entity
    else:
        assert fz.snapshot() == before


@fuzz(150)
@given(body=json_bodies | raw_bodies, wrong_id=st.booleans(), fresh=st.booleans())
def test_patch_bodies_never_500_and_rejects_change_nothing(
    fz: Fuzz, target: dict[str, Any], body: Any, wrong_id: bool, fresh: bool
) -> None:
    if fresh:
        fz.http.fresh()
    raw = body if isinstance(body, bytes) else dump(body)
    before = fz.snapshot()
    ident = uuid.uuid4().hex if wrong_id else target["id"]
    reply = fz.rest("PATCH", "/" + ident, body=raw, headers={"Content-Type": CT})
    assert reply.status in (200, 400, 404, 409), reply
    if reply.status == 200:
        patched = reply.json()
        assert patched["id"] == target["id"]
        assert fz.rest("GET", "/" + ident).json() == patched
    else:
        assert fz.snapshot() == before


@fuzz(150)
@given(body=json_bodies | raw_bodies, fresh=st.booleans())
@example(body={"code": "seed-1"}, fresh=True)
@example(body={"tokenlocal": ["x"]}, fresh=False)
def test_lookup_bodies_never_500_and_change_nothing(fz: Fuzz, body: Any, fresh: bool) -> None:
    if fresh:
        fz.http.fresh()
    raw = body if isinstance(body, bytes) else dump(body)
    before = fz.snapshot()
    reply = fz.rest("LOOKUP", body=raw, headers={"Content-Type": CT})
    assert reply.status in (200, 400, 404), reply
    if reply.status == 200:
        ids = reply.json()
        assert ids and all(isinstance(i, str) for i in ids)
    assert fz.snapshot() == before


# == era REST: query strings, ids, headers =======================================================
param_names = st.sampled_from(["offset", "limit", "mask", "flat", "filter", "order"]) | any_text
param_values = st.one_of(
    any_text,
    json_values.map(json.dumps),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.lists(st.sampled_from(KNOWN_NAMES) | any_text, max_size=5).map(",".join),
    st.dictionaries(st.sampled_from(KNOWN_NAMES), json_values, max_size=3).map(json.dumps),
    st.lists(
        st.sampled_from(KNOWN_NAMES)
        | st.dictionaries(
            st.sampled_from(KNOWN_NAMES),
            st.sampled_from(["asc", "desc", "ASC", "up", 1]),
            max_size=2,
        ),
        max_size=4,
    ).map(json.dumps),
    st.sampled_from(["true", "1", "0", "false", "", "TRUE", "yes", "-0", "+5", " 5", "1_000"]),
)


def refused_by_parser(reply: Reply) -> bool:
    """The parser's 400, before any handler (a request line over 8190 bytes, a header byte it
    does not allow), in the hub's shape."""
    if reply.status != 400 or not reply.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        return False
    body = json.loads(reply.body)
    return isinstance(body.get("error"), dict) and body["error"].get("reason") == "bad_request"


def loosely(text: str) -> str:
    """Encoded as a hand-written curl line would be: JSON punctuation, ``&`` and ``=`` raw, so
    one value can turn into several parameters or none."""
    return quote(text, safe='[]{}",:=&%+', errors="surrogatepass")


@fuzz(200)
@given(
    params=st.lists(st.tuples(param_names, param_values), max_size=5),
    loose=st.booleans(),
    one=st.booleans(),
)
@example(params=[("order", json.dumps(["id"] * 300))], loose=False, one=False)
@example(params=[("mask", "opts,opts.title,tokenlocal"), ("flat", "1")], loose=True, one=True)
@example(params=[("offset", "9" * 19), ("limit", "-0")], loose=False, one=False)
def test_query_strings_never_500(
    fz: Fuzz, params: list[tuple[str, str]], loose: bool, one: bool
) -> None:
    """Lists (and GET by id, which takes mask and flat) with arbitrary, repeated, oddly encoded
    query parameters: a 200 with JSON or a 400 naming something, never a 500."""
    encode = loosely if loose else pct
    query = "&".join(f"{encode(k)}={encode(v)}" for k, v in params)
    path = ("/" + fz.seeds[0]["id"] if one else "") + ("?" + query if query else "")
    if refused_by_parser(reply := fz.http.request("GET", BASE + path, None, fz.auth)):
        return
    check_era_reply(reply)
    assert reply.status in (200, 400), reply
    if reply.status == 200:
        assert isinstance(reply.json(), dict if one else list)


@fuzz(200)
@given(
    ident=any_text.filter(bool)
    | st.sampled_from(["%2F", "..", ".", "%00", "a%2Fb", "%FF", "%ED%A0%80", "%zz", "%"]),
    encode=st.booleans(),
    method=st.sampled_from(["GET", "PATCH", "DELETE", "LOOKUP", "POST", "PUT", "HEAD", "TOKEN"]),
)
@example(ident="x" * 6000, encode=True, method="GET")
def test_weird_ids_in_paths(fz: Fuzz, ident: str, encode: bool, method: str) -> None:
    segment = pct(ident) if encode or not ident.isascii() else quote(ident, safe="%")
    before = fz.snapshot()
    body = b'{"url": "x"}' if method in ("PATCH", "POST", "PUT", "LOOKUP") else None
    if method == "TOKEN":
        reply = fz.rest("GET", "/" + segment, base=TOKENS)
    elif method == "HEAD":
        reply = fz.http.request("HEAD", BASE + "/" + segment, None, fz.auth)
        assert reply.status < 500, reply
        return
    else:
        reply = fz.rest(method, "/" + segment, body=body)
    if reply.status == 200:  # "." and ".." are resolved: the path may name the collection
        assert method == "GET" and isinstance(reply.json(), list), reply
    else:
        assert reply.status in (400, 404, 405), reply
    assert fz.snapshot() == before


def header_safe(value: bytes) -> bytes:
    """Without CR, LF and NUL: http.client refuses to send those (and they would end the line)."""
    return value.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")


header_bytes = st.binary(max_size=40).map(header_safe)
authorizations = st.one_of(
    header_bytes,
    any_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.tuples(
        st.sampled_from([b"Bearer", b"bearer", b"BEARER", b"Basic", b"basic", b"Token", b""]),
        st.sampled_from([b" ", b"  ", b"\t", b""]),
        header_bytes | st.sampled_from([b"\xc3\xa9", b"\xff\xfe", b"=", b"YTpi", b"w6k6w6k="]),
    ).map(b"".join),
).map(header_safe)


@fuzz(150)
@given(
    authorization=authorizations,
    fresh=st.booleans(),
    method=st.sampled_from(["GET", "POST", "LOOKUP"]),
)
@example(authorization="Basic é".encode(), fresh=True, method="GET")
@example(authorization=b"Bearer \xff\xfe", fresh=True, method="POST")
@example(authorization=b"Basic \xff", fresh=False, method="LOOKUP")
def test_authorization_variants_are_401_not_500(
    fz: Fuzz, authorization: bytes, fresh: bool, method: str
) -> None:
    if fresh:
        fz.http.fresh()
    before = fz.snapshot()
    body = None if method == "GET" else b'{"code": "never-stored", "type": "x"}'
    reply = fz.http.request(method, BASE, body, {"Authorization": authorization})
    if refused_by_parser(reply):  # a header the parser refuses, before the hub
        return
    check_era_reply(reply)
    assert reply.status == 401, reply
    assert fz.snapshot() == before
    # GraphQL reads the same header
    graphql = fz.http.request(
        "POST",
        "/graphql",
        b'{"query": "{ era { lookup(key: \\"seed-0\\") } }"}',
        {"Content-Type": "application/json", "Authorization": authorization},
    )
    if not refused_by_parser(graphql):
        check_graphql_reply(graphql)
        assert graphql.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# == raw sockets: framing, encodings =============================================================
def exchange(fz: Fuzz, raw: bytes, *, half_close: bool) -> bytes:
    """Send ``raw`` on a new connection, read until the hub closes it (or 3 s pass)."""
    with socket.create_connection((fz.http.host, fz.http.port), timeout=3) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")
encodings = st.sampled_from(["gzip", "deflate", "identity", "x-unknown", "gzip, deflate"])


@fuzz(100)
@given(
    body=st.binary(max_size=300) | json_bodies.map(dump),
    declared=st.integers(-1, 400) | st.none(),
    encoding=encodings | st.none(),
    compress=st.booleans(),
    chunked=st.booleans(),
    method=st.sampled_from(["POST", "LOOKUP"]),
)
@example(
    body=b"not gzip", declared=None, encoding="gzip", compress=False, chunked=False, method="POST"
)
@example(
    body=b"nope", declared=None, encoding="deflate", compress=False, chunked=False, method="LOOKUP"
)
@example(body=b"zz", declared=None, encoding="gzip", compress=False, chunked=True, method="POST")
def test_framing_and_encodings_never_500(
    fz: Fuzz,
    body: bytes,
    declared: int | None,
    encoding: str | None,
    compress: bool,
    chunked: bool,
    method: str,
) -> None:
    """Content-Length that lies, broken chunking, Content-Encoding that does not decode: a 4xx
    (or a closed connection while the hub still waits for the promised bytes), never a 5xx,
    and nothing stored by a request that was refused."""
    before = fz.snapshot()
    if compress and encoding == "gzip":
        body = gzip.compress(body)
    elif compress and encoding == "deflate":
        body = zlib.compress(body)
    head = (
        f"{method} {BASE} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
        f"Authorization: Bearer {fz.token}\r\nContent-Type: {CT}\r\n"
    ).encode()
    if encoding:
        head += f"Content-Encoding: {encoding}\r\n".encode()
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n"
        # declared picks a broken chunk-size line now and then
        size = b"%x" % len(body) if declared is None or declared % 3 else b"zz"
        payload = size + b"\r\n" + body + b"\r\n0\r\n\r\n"
    else:
        length = len(body) if declared is None else declared
        head += f"Content-Length: {length}\r\n".encode()
        payload = body
    # a body shorter than announced: say so by closing our side, or the hub waits for the rest
    short = not chunked and declared is not None and declared > len(body)
    received = exchange(fz, head + b"\r\n" + payload, half_close=short)
    statuses = [int(s) for s in STATUS_LINE.findall(received)]
    assert all(s < 500 for s in statuses), received[:1000]
    if not statuses or statuses[0] != 200:
        assert fz.snapshot() == before


# == GraphQL =====================================================================================
GQL_FIELDS = "id code type tokenLocal opts { title allowFilesApi } ext { ct lwt }"
CREATE = (
    "mutation($in: EraIntegrationPointInput!) {"
    f" eraCreateIntegrationPoint(input: $in) {{ {GQL_FIELDS} }} }}"
)
UPDATE = (
    "mutation($id: ID!, $in: EraIntegrationPointInput!) {"
    f" eraUpdateIntegrationPoint(id: $id, input: $in) {{ {GQL_FIELDS} }} }}"
)
DELETE = "mutation($id: ID!) { eraDeleteIntegrationPoint(id: $id) }"
LIST = (
    "query($f: JSON, $o: [EraOrderInput!], $first: Int, $after: String) {"
    " era { integrationPoints(filter: $f, order: $o, first: $first, after: $after) {"
    " totalCount pageInfo { endCursor } nodes { id } } } }"
)
ONE = "query($id: ID!) { era { integrationPoint(id: $id) { id } } }"
LOOKUP = "query($key: String!, $field: String) { era { lookup(key: $key, field: $field) } }"
CAMEL = {
    "token_remote": "tokenRemote",
    "token_remote2": "tokenRemote2",
    "recv_svcscriptcode": "recvSvcscriptcode",
    "recv_svcscriptcode_ws": "recvSvcscriptcodeWs",
    "send_svcscriptcode": "sendSvcscriptcode",
    "send_svcscriptcode_ws": "sendSvcscriptcodeWs",
}
gql_input_names = (
    st.sampled_from([CAMEL.get(f, f) for f in STRING_FIELDS] + ["opts", "tokenLocal", "id", "ext"])
    | any_text
)
gql_opts = st.dictionaries(
    st.sampled_from(["title", "comment", "allowFilesApi", "issync"]) | any_text,
    json_values,
    max_size=4,
)
gql_inputs = json_values | st.dictionaries(
    gql_input_names, any_text | json_values | gql_opts, max_size=6
)
gql_ids = json_values | st.sampled_from(["", "seed", "\x00"]) | any_text
gql_orders = json_values | st.lists(
    st.fixed_dictionaries(
        {"field": st.sampled_from(KNOWN_NAMES) | any_text | json_values},
        optional={"direction": st.sampled_from(["ASC", "DESC", "asc", "UP"]) | json_values},
    ),
    max_size=4,
)
gql_ints = st.none() | st.integers(min_value=-(2**70), max_value=2**70) | json_values


def graphql_rejected(result: dict[str, Any], field: str) -> bool:
    return bool(result.get("errors")) and (result.get("data") or {}).get(field) is None


@fuzz(150)
@given(
    operation=st.sampled_from(["create", "update", "delete"]),
    input_=gql_inputs,
    ident=gql_ids,
    use_target=st.booleans(),
)
def test_graphql_mutations_with_random_variables(
    fz: Fuzz, target: dict[str, Any], operation: str, input_: Any, ident: Any, use_target: bool
) -> None:
    before = fz.snapshot()
    if use_target:
        ident = target["id"] if operation == "update" else uuid.uuid4().hex  # never delete it
    query, field, variables = {
        "create": (CREATE, "eraCreateIntegrationPoint", {"in": input_}),
        "update": (UPDATE, "eraUpdateIntegrationPoint", {"id": ident, "in": input_}),
        "delete": (DELETE, "eraDeleteIntegrationPoint", {"id": ident}),
    }[operation]
    result = fz.gql(query, variables)
    if graphql_rejected(result, field):
        assert fz.snapshot() == before, result


@fuzz(150)
@given(
    filter_=json_values | st.dictionaries(st.sampled_from(KNOWN_NAMES), json_values, max_size=3),
    order=gql_orders,
    first=gql_ints,
    after=st.none()
    | any_text
    | json_values
    | st.integers(0, 2**70).map(
        lambda n: base64.urlsafe_b64encode(f"offset:{n}".encode()).decode()
    ),
    ident=gql_ids,
    key=gql_ids,
    field=st.none() | st.sampled_from(["code", "id", "tokenlocal", "type", ""]) | json_values,
)
def test_graphql_queries_with_random_variables(
    fz: Fuzz, filter_: Any, order: Any, first: Any, after: Any, ident: Any, key: Any, field: Any
) -> None:
    before = fz.snapshot()
    fz.gql(LIST, {"f": filter_, "o": order, "first": first, "after": after})
    fz.gql(ONE, {"id": ident})
    fz.gql(LOOKUP, {"key": key, "field": field})
    assert fz.snapshot() == before


@fuzz(120)
@given(
    body=raw_bodies,
    content_type=content_types | st.sampled_from([b"\xff", b"application/json; charset=\xff"]),
    accept=st.none()
    | st.sampled_from(["*/*", "text/html", "application/graphql-response+json"])
    | header_bytes,
)
@example(body=b'{"query": "{ __typename }"}', content_type=b"\xff", accept=None)
@example(body=b'{"query": "{ __typename }"}', content_type="application/json", accept=b"\xff")
def test_graphql_http_bodies_and_headers(
    fz: Fuzz, body: bytes, content_type: str | bytes | None, accept: bytes | str | None
) -> None:
    headers: dict[str, str | bytes] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    reply = fz.http.request("POST", "/graphql", body, {**fz.auth, **headers})
    if refused_by_parser(reply):  # a header the parser refuses
        return
    check_graphql_reply(reply)


@fuzz(80)
@given(
    params=st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions"]) | any_text,
        st.sampled_from([LIST, ONE, LOOKUP, CREATE, "{ __typename }", "", "{", "null"])
        | json_values.map(json.dumps)
        | any_text,
        max_size=4,
    ),
    loose=st.booleans(),
)
@example(params={"query": CREATE, "variables": '{"in": {"code": "g", "type": "t"}}'}, loose=False)
def test_graphql_get_with_random_parameters(fz: Fuzz, params: dict[str, str], loose: bool) -> None:
    """GET /graphql: queries only (a mutation is a 405), anything else a 4xx in GraphQL's shape."""
    before = fz.snapshot()
    encode = loosely if loose else pct
    query = "&".join(f"{encode(k)}={encode(v)}" for k, v in params.items())
    reply = fz.http.request("GET", "/graphql?" + query, None, fz.auth)
    if refused_by_parser(reply):
        return
    if reply.headers.get("Content-Type", "").startswith("text/html"):
        assert reply.status == 200, reply  # no query at all: GraphiQL
        return
    check_graphql_reply(reply)
    assert fz.snapshot() == before


# == gRPC ========================================================================================
@fuzz(150)
@given(method=st.sampled_from(ERA_METHODS), payload=st.binary(max_size=120))
@example(method="Create", payload=b"\xff\xff\xff")
@example(method="Lookup", payload=b"\x0a\x03\xff\xfe\xfd")
@example(method="Update", payload=b"\x12\x05\x0a\x03\xff\xfe\xfd")
def test_grpc_garbage_bytes(fz: Fuzz, method: str, payload: bytes) -> None:
    """Bytes that are not the request message: INVALID_ARGUMENT (or, when they happen to parse,
    the ordinary answer), never UNKNOWN/INTERNAL with the parser's exception."""
    before = fz.snapshot()
    code, _ = fz.raw_rpc(method, payload)
    if code is not grpc.StatusCode.OK or method in ("List", "Get", "Lookup"):
        assert fz.snapshot() == before


grpc_text = st.text(max_size=24)  # protobuf strings are UTF-8: no lone surrogates on the wire
grpc_opts = st.builds(
    era_pb2.OptsInput,
    **{f: st.none() | grpc_text for f in ("title", "comment")},
    **{f: st.none() | st.booleans() for f in ("allow_files_api", "issync")},
)


@st.composite
def grpc_inputs(draw: st.DrawFn) -> era_pb2.IntegrationPointInput:
    fields = {
        name: draw(st.none() | grpc_text | st.sampled_from(["seed-0", "x" * 3000]))
        for name in STRING_FIELDS
    }
    message = era_pb2.IntegrationPointInput(**{k: v for k, v in fields.items() if v is not None})
    if draw(st.booleans()):
        message.opts.CopyFrom(draw(grpc_opts))
    return message


def struct_of(value: Any) -> struct_pb2.Struct | None:
    if not isinstance(value, dict):
        return None
    message = struct_pb2.Struct()
    message.update(value)
    return message


struct_json = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.sampled_from([math.inf, -math.inf, math.nan, 0.0, 1e308])
    | grpc_text,
    containers(grpc_text),
    max_leaves=10,
)
int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


@fuzz(150)
@given(
    method=st.sampled_from(["Create", "Update", "List", "Lookup", "Get", "Delete"]),
    point=grpc_inputs(),
    ident=grpc_text | st.sampled_from(["", "\x00", "seed-0"]),
    filter_=st.dictionaries(st.sampled_from(KNOWN_NAMES) | grpc_text, struct_json, max_size=3),
    order=st.lists(
        st.builds(
            era_pb2.Order, field=st.sampled_from(KNOWN_NAMES) | grpc_text, desc=st.booleans()
        ),
        max_size=4,
    ),
    offset=int32,
    limit=st.none() | int32,
    use_target=st.booleans(),
)
@example(
    method="List",
    point=era_pb2.IntegrationPointInput(),
    ident="",
    filter_={"code": [math.inf]},
    order=[era_pb2.Order(field="code")] * 2500,
    offset=0,
    limit=None,
    use_target=False,
)
def test_grpc_messages_with_random_fields(
    fz: Fuzz,
    target: dict[str, Any],
    method: str,
    point: Any,
    ident: str,
    filter_: dict[str, Any],
    order: list[Any],
    offset: int,
    limit: int | None,
    use_target: bool,
) -> None:
    before = fz.snapshot()
    if use_target and method == "Update":
        ident = target["id"]
    request = {
        "Create": lambda: era_pb2.CreateRequest(integration_point=point),
        "Update": lambda: era_pb2.UpdateRequest(id=ident, integration_point=point),
        "List": lambda: era_pb2.ListRequest(
            filter=struct_of(filter_), order=order, offset=offset, limit=limit
        ),
        "Lookup": lambda: era_pb2.LookupRequest(key=ident, field=point.code),
        "Get": lambda: era_pb2.GetRequest(id=ident),
        "Delete": lambda: era_pb2.DeleteRequest(id=ident),
    }[method]()
    code, _ = fz.rpc(method, request)
    if code is not grpc.StatusCode.OK or method in ("List", "Get", "Lookup"):
        assert fz.snapshot() == before


# == regressions: what the fuzzing found, pinned =================================================
def test_regression_authorization_that_is_not_utf8_or_ascii_is_401(fz: Fuzz) -> None:
    """Was a 500: ``sha256`` encoded the surrogate-escaped header strictly; ``Basic`` with a
    non-ASCII value raised the ValueError ``b64decode`` gives for that."""
    for value in ("Basic é".encode(), b"Bearer \xff\xfe", b"Basic \xff"):
        fz.http.fresh()
        reply = fz.http.request("GET", BASE, None, {"Authorization": value})
        check_era_reply(reply)
        assert reply.status == 401, (value, reply)
        graphql = fz.http.request(
            "POST",
            "/graphql",
            b'{"query": "{ era { lookup(key: \\"x\\") } }"}',
            {"Content-Type": "application/json", "Authorization": value},
        )
        check_graphql_reply(graphql)
        assert graphql.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_regression_body_that_does_not_decompress_is_400(fz: Fuzz) -> None:
    """Was a 500: aiohttp's payload error escaped ``read_body``."""
    before = fz.snapshot()
    for encoding in ("gzip", "deflate"):
        reply = fz.http.request(
            "POST",
            BASE,
            b"this is not compressed",
            {**fz.auth, "Content-Type": CT, "Content-Encoding": encoding},
        )
        check_era_reply(reply)
        assert reply.status == 400, reply
        assert encoding in reply.json()["error_message"]
        fz.http.fresh()
    # a good one is read as before
    body = gzip.compress(b'{"code": "gzipped-ok", "type": "x"}')
    reply = fz.http.request(
        "POST", BASE, body, {**fz.auth, "Content-Type": CT, "Content-Encoding": "gzip"}
    )
    assert reply.status == 200 and reply.json()["code"] == "gzipped-ok", reply
    assert fz.rest("DELETE", "/" + reply.json()["id"]).status == 204
    assert fz.snapshot() == before


def test_regression_graphql_echoes_undecodable_headers_without_failing(fz: Fuzz) -> None:
    """Was a 500: a Content-Type or Accept that is not UTF-8 was echoed into the message as lone
    surrogates, which the JSON encoder refuses."""
    query = b'{"query": "{ __typename }"}'
    reply = fz.http.request("POST", "/graphql", query, {"Content-Type": b"\xff"})
    check_graphql_reply(reply)
    assert reply.status == 415 and "\ufffd" in reply.json()["errors"][0]["message"]
    reply = fz.http.request(
        "POST", "/graphql", query, {"Content-Type": "application/json", "Accept": b"x/\xff"}
    )
    check_graphql_reply(reply)
    assert reply.status == 406


def test_regression_grpc_bytes_that_are_not_the_message_are_invalid_argument(fz: Fuzz) -> None:
    """Was UNKNOWN with ``Unexpected <class 'google.protobuf.message.DecodeError'>``."""
    for method in ERA_METHODS:
        call = fz.channel.unary_unary(
            f"/hub.era.v1.Era/{method}",
            request_serializer=lambda raw: raw,
            response_deserializer=lambda raw: raw,
        )
        with pytest.raises(grpc.RpcError) as info:
            call(b"\x0a\x03\xff\xfe\xfd", metadata=fz.metadata, timeout=10)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert "not a valid message" in info.value.details()  # type: ignore[attr-defined]
        trailers = dict(info.value.trailing_metadata())  # type: ignore[attr-defined]
        assert trailers["hub-status"] == "400"
    # a well-formed request on the same channel still works
    assert fz.rpc("List", era_pb2.ListRequest(limit=1))[0] is grpc.StatusCode.OK


def test_regression_many_order_terms_and_filter_values(fz: Fuzz) -> None:
    """Was INTERNAL: 3000 ``order`` terms passed SQLite's 2000-term ORDER BY limit, and a filter
    list longer than its 250000 bound parameters failed in SQL."""
    code, page = fz.rpc(
        "List", era_pb2.ListRequest(order=[era_pb2.Order(field="code", desc=True)] * 3000)
    )
    assert code is grpc.StatusCode.OK and page.total_count >= 3
    result = fz.gql(LIST, {"o": [{"field": "ext.ct"}] * 3000, "first": 1})
    assert "errors" not in result, result
    many = [""] * 250_001 + ["seed-1"]  # three bytes a value
    body = json.dumps({"query": LIST, "variables": {"f": {"code": many}}}).encode()
    reply = fz.http.request(
        "POST", "/graphql", body, {**fz.auth, "Content-Type": "application/json"}
    )
    check_graphql_reply(reply)  # over GraphQL's 64 KiB body limit: refused before parsing
    assert reply.status == 413, reply
    assert reply.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE", reply
    struct = struct_pb2.Struct()
    struct.update({"code": many})
    code, page = fz.rpc("List", era_pb2.ListRequest(filter=struct))
    assert code is grpc.StatusCode.OK
    assert [p.code for p in page.integration_points] == ["seed-1"]
    # a repeated field keeps its first direction, as it always did
    code, page = fz.rpc(
        "List",
        era_pb2.ListRequest(
            filter=struct_of({"code": ["seed-0", "seed-1", "seed-2"]}),
            order=[era_pb2.Order(field="code", desc=True), era_pb2.Order(field="code")],
        ),
    )
    assert [p.code for p in page.integration_points] == ["seed-2", "seed-1", "seed-0"]


def test_regression_grpc_filter_numbers_that_json_cannot_hold(fz: Fuzz) -> None:
    """Was INTERNAL: json_format refuses a Struct number that is infinite or NaN."""
    for value in (math.inf, -math.inf, math.nan, [math.inf], {"a": math.nan}):
        code, _ = fz.rpc("List", era_pb2.ListRequest(filter=struct_of({"code": value})))
        assert code is grpc.StatusCode.INVALID_ARGUMENT, value
    code, page = fz.rpc("List", era_pb2.ListRequest(filter=struct_of({"code": ["seed-2", True]})))
    assert code is grpc.StatusCode.OK and [p.code for p in page.integration_points] == ["seed-2"]
    code, page = fz.rpc("List", era_pb2.ListRequest(filter=struct_of({"opts.issync": False})))
    assert code is grpc.StatusCode.OK and page.total_count >= 3


def test_hub_is_still_answering(fz: Fuzz) -> None:
    """After everything above, the hub serves ordinary requests (no wedged worker, no leak of
    half-open state across connections)."""
    fz.http.fresh()
    started = time.monotonic()
    for _ in itertools.repeat(None, 20):
        assert fz.rest("GET", "?limit=1").status == 200
    assert time.monotonic() - started < 10
    reply = fz.http.request("GET", "/healthz", None, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert reply.status == 200
