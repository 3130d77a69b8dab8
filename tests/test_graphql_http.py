"""GraphQL over HTTP against a real hub: graphql-http's server audit (every MUST and SHOULD, run
by node from .ci/audit) and the endpoint's own behaviour, checked with a plain HTTP client."""

from __future__ import annotations

import functools
import http.client
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.hubproc import HubProcess

AUDIT_DIR = Path(__file__).resolve().parent.parent / ".ci" / "audit"
AUDIT_SCRIPT = AUDIT_DIR / "audit.mjs"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
EXTENSION_KEYS = {"code", "plugin", "status", "reason"}
RESULT_LINE = re.compile(r"^(ok|notice|warn|error)\s+(\S+)\s+(.*)$")
SUMMARY = re.compile(r"^summary: ok=(\d+) notice=(\d+) warn=(\d+) error=(\d+) total=(\d+)$")


# --- helpers ---------------------------------------------------------------------------------


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.status} {self.content_type} {self.body[:500]!r}>"


def call(
    hub: HubProcess,
    method: str,
    *,
    params: dict[str, str] | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request to /graphql, with exactly the headers given (http.client adds no
    Content-Type of its own, unlike urllib)."""
    host, port = hub.http.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        path = "/graphql" + (f"?{urlencode(params)}" if params else "")
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def post(hub: HubProcess, payload: Any, accept: str | None = JSON) -> Reply:
    headers = {"Content-Type": JSON}
    if accept:
        headers["Accept"] = accept
    return call(hub, "POST", body=json.dumps(payload).encode(), headers=headers)


def assert_error_shape(error: dict[str, Any], *, status: int, reason: str) -> None:
    assert isinstance(error.get("message"), str) and error["message"], error
    extensions = error.get("extensions")
    assert isinstance(extensions, dict), error
    assert set(extensions) == EXTENSION_KEYS, error
    assert extensions["code"] == "BAD_REQUEST", error
    assert extensions["plugin"] == "hub", error
    assert extensions["status"] == status, error
    assert extensions["reason"] == reason, error


def errors_with_reason(reply: Reply, reason: str) -> list[dict[str, Any]]:
    return [e for e in reply.json().get("errors", []) if e["extensions"]["reason"] == reason]


def nested(depth: int) -> str:
    """A selection ``depth`` fields deep (the fields need not exist: depth is checked on the
    document's shape)."""
    return "{ " + "f { " * (depth - 1) + "leaf" + " }" * (depth - 1) + " }"


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


@functools.cache
def node_binary() -> str:
    """node, with graphql-http installed next to the audit script (``npm ci`` on first use).
    Without Node.js the audit is skipped, so the README's test command works on a machine with only
    Python; CI sets HUB_REQUIRE_NODE=1, which makes a missing Node.js a failure."""
    node = shutil.which("node")
    if node is None:
        if not os.environ.get("HUB_REQUIRE_NODE"):
            pytest.skip("Node.js is not installed; the graphql-http audit runs in CI")
        pytest.fail(
            "node is not on PATH: the graphql-http audit needs Node.js >= 18 "
            f"(install it; the test then runs `npm ci` in {AUDIT_DIR} itself)",
            pytrace=False,
        )
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(
                f"graphql-http is not installed and npm is not on PATH: run `npm ci` in "
                f"{AUDIT_DIR}",
                pytrace=False,
            )
        install = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=AUDIT_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if install.returncode != 0:
            pytest.fail(
                f"`npm ci` in {AUDIT_DIR} failed:\n{install.stdout}\n{install.stderr}",
                pytrace=False,
            )
    return node


def run_audit(url: str) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, str, str]]]:
    proc = subprocess.run(
        [node_binary(), str(AUDIT_SCRIPT), url],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    results = [
        m.groups() for m in map(RESULT_LINE.match, proc.stdout.splitlines()) if m is not None
    ]
    return proc, results


# --- the graphql-http audit -----------------------------------------------------------------


def test_graphql_http_server_audit_has_no_warnings_or_errors(hub_process: HubProcess) -> None:
    proc, results = run_audit(f"{hub_process.url}/graphql")
    report = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    summary = [m for m in map(SUMMARY.match, proc.stdout.splitlines()) if m is not None]
    assert len(summary) == 1, report
    ok, notice, warn, error, total = map(int, summary[0].groups())
    failed = [r for r in results if r[0] in ("warn", "error")]
    assert failed == [], report
    assert (warn, error) == (0, 0), report
    assert proc.returncode == 0, report
    # the audit really ran: graphql-http 1.22+ has 61 server audits, every one printed
    assert total == len(results) >= 60, report
    assert ok + notice == total, report
    assert {"22EB", "4655", "74FF", "86EE", "9C48"} <= {r[1] for r in results}, report


def test_audit_script_fails_on_a_non_conforming_server(hub_process: HubProcess) -> None:
    """The audit is only worth running if it can fail: /healthz is no GraphQL endpoint."""
    proc, results = run_audit(f"{hub_process.url}/healthz")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert any(r[0] == "error" for r in results), proc.stdout
    assert re.search(r"^summary: .* error=[1-9]", proc.stdout, re.M), proc.stdout


# --- the endpoint's behaviour ---------------------------------------------------------------


def test_browser_get_serves_graphiql(hub_process: HubProcess) -> None:
    reply = call(hub_process, "GET", headers={"Accept": BROWSER_ACCEPT})
    assert reply.status == 200, reply
    assert reply.content_type.startswith("text/html"), reply
    assert b"graphiql" in reply.body.lower(), reply


def test_browser_get_with_a_query_executes_it(hub_process: HubProcess) -> None:
    reply = call(
        hub_process, "GET", params={"query": "{ __typename }"}, headers={"Accept": BROWSER_ACCEPT}
    )
    assert reply.status == 200, reply
    assert reply.content_type.startswith(JSON), reply
    assert reply.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
def test_get_query_with_variables(hub_process: HubProcess, accept: str) -> None:
    reply = call(
        hub_process,
        "GET",
        params={
            "query": "query Q($n: String!) { __type(name: $n) { name } }",
            "variables": json.dumps({"n": "Query"}),
            "operationName": "Q",
        },
        headers={"Accept": accept},
    )
    assert reply.status == 200, reply
    assert reply.content_type.startswith(accept), reply
    assert reply.json() == {"data": {"__type": {"name": "Query"}}}


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
def test_mutation_over_get_is_405_with_allow(hub_process: HubProcess, accept: str) -> None:
    reply = call(
        hub_process, "GET", params={"query": "mutation { __typename }"}, headers={"Accept": accept}
    )
    assert reply.status == 405, reply
    assert [m.strip() for m in reply.headers["Allow"].split(",")] == ["POST"], reply
    assert "data" not in reply.json(), reply
    assert_error_shape(reply.json()["errors"][0], status=405, reason="method_not_allowed")
    # the same mutation over POST is fine
    posted = post(hub_process, {"query": "mutation { __typename }"}, accept)
    assert posted.status == 200, posted
    assert posted.json() == {"data": {"__typename": "Mutation"}}


def test_other_methods_are_405_with_allow(hub_process: HubProcess) -> None:
    reply = call(
        hub_process, "PUT", body=b'{"query": "{ __typename }"}', headers={"Content-Type": JSON}
    )
    assert reply.status == 405, reply
    assert {m.strip() for m in reply.headers["Allow"].split(",")} == {"GET", "POST"}, reply
    assert_error_shape(reply.json()["errors"][0], status=405, reason="method_not_allowed")


def test_post_without_content_type_is_415(hub_process: HubProcess) -> None:
    reply = call(hub_process, "POST", body=b'{"query": "{ __typename }"}')
    assert reply.status == 415, reply
    assert_error_shape(reply.json()["errors"][0], status=415, reason="unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", f"{JSON}; charset=latin1"]
)
def test_post_with_another_content_type_is_415(hub_process: HubProcess, content_type: str) -> None:
    reply = call(
        hub_process,
        "POST",
        body=b'{"query": "{ __typename }"}',
        headers={"Content-Type": content_type},
    )
    assert reply.status == 415, reply
    assert_error_shape(reply.json()["errors"][0], status=415, reason="unsupported_media_type")


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
@pytest.mark.parametrize("body", [b'{ "not a JSON', b"", b"\xff\xfe"])
def test_bad_json_body_is_400(hub_process: HubProcess, accept: str, body: bytes) -> None:
    reply = call(hub_process, "POST", body=body, headers={"Content-Type": JSON, "Accept": accept})
    assert reply.status == 400, reply
    assert "data" not in reply.json(), reply
    assert_error_shape(reply.json()["errors"][0], status=400, reason="bad_json")


@pytest.mark.parametrize(
    "payload",
    [
        ["{ __typename }"],
        {"qeury": "{ __typename }"},
        {"query": 1},
        {"query": "{ __typename }", "variables": "{}"},
        {"query": "{ __typename }", "operationName": 0},
        {"query": "{ __typename }", "extensions": []},
    ],
)
def test_bad_parameters_are_400(hub_process: HubProcess, payload: Any) -> None:
    reply = post(hub_process, payload)
    assert reply.status == 400, reply
    assert_error_shape(reply.json()["errors"][0], status=400, reason="bad_params")


def test_unacceptable_accept_is_406(hub_process: HubProcess) -> None:
    reply = post(hub_process, {"query": "{ __typename }"}, accept="text/plain")
    assert reply.status == 406, reply
    assert_error_shape(reply.json()["errors"][0], status=406, reason="not_acceptable")


def test_validation_error_status_follows_the_media_type(hub_process: HubProcess) -> None:
    payload = {"query": "{ noSuchField }"}
    strict = post(hub_process, payload, GRAPHQL_RESPONSE)
    assert strict.status == 400, strict
    assert strict.content_type.startswith(GRAPHQL_RESPONSE), strict
    assert "data" not in strict.json(), strict
    assert "noSuchField" in strict.json()["errors"][0]["message"], strict
    assert_error_shape(strict.json()["errors"][0], status=400, reason="graphql_invalid")

    legacy = post(hub_process, payload, JSON)
    assert legacy.status == 200, legacy
    assert legacy.content_type.startswith(JSON), legacy
    assert "data" not in legacy.json(), legacy
    assert_error_shape(legacy.json()["errors"][0], status=400, reason="graphql_invalid")


def test_syntax_error_status_follows_the_media_type(hub_process: HubProcess) -> None:
    strict = post(hub_process, {"query": "{"}, GRAPHQL_RESPONSE)
    assert strict.status == 400, strict
    assert "data" not in strict.json(), strict
    assert_error_shape(strict.json()["errors"][0], status=400, reason="graphql_syntax")
    legacy = post(hub_process, {"query": "{"}, JSON)
    assert legacy.status == 200, legacy
    assert_error_shape(legacy.json()["errors"][0], status=400, reason="graphql_syntax")


def test_variable_coercion_failure(hub_process: HubProcess) -> None:
    payload = {"query": "query ($n: String!) { __type(name: $n) { name } }", "variables": {"n": 5}}
    strict = post(hub_process, payload, GRAPHQL_RESPONSE)
    assert strict.status == 400, strict
    assert "data" not in strict.json(), strict
    assert_error_shape(strict.json()["errors"][0], status=400, reason="bad_variables")
    legacy = post(hub_process, payload, JSON)
    assert legacy.status == 200, legacy
    assert_error_shape(legacy.json()["errors"][0], status=400, reason="bad_variables")


def test_depth_limit(hub_process: HubProcess) -> None:
    # hub/config.py GraphQLLimits.max_depth defaults to 15
    too_deep = post(hub_process, {"query": nested(16)}, GRAPHQL_RESPONSE)
    assert too_deep.status == 400, too_deep
    limited = errors_with_reason(too_deep, "depth_limit")
    assert len(limited) == 1, too_deep
    assert_error_shape(limited[0], status=400, reason="depth_limit")
    assert "16" in limited[0]["message"] and "15" in limited[0]["message"], limited
    # at the limit the document is only wrong for its unknown fields
    at_limit = post(hub_process, {"query": nested(15)}, GRAPHQL_RESPONSE)
    assert at_limit.status == 400, at_limit
    assert errors_with_reason(at_limit, "depth_limit") == [], at_limit
    assert errors_with_reason(at_limit, "graphql_invalid"), at_limit


def test_alias_limit(hub_process: HubProcess) -> None:
    # hub/config.py GraphQLLimits.max_aliases defaults to 30
    at_limit = post(hub_process, {"query": aliases(30)}, GRAPHQL_RESPONSE)
    assert at_limit.status == 200, at_limit
    assert len(at_limit.json()["data"]) == 30, at_limit
    too_many = post(hub_process, {"query": aliases(31)}, GRAPHQL_RESPONSE)
    assert too_many.status == 400, too_many
    assert "data" not in too_many.json(), too_many
    errors = too_many.json()["errors"]
    assert len(errors) == 1, too_many
    assert_error_shape(errors[0], status=400, reason="alias_limit")
    legacy = post(hub_process, {"query": aliases(31)}, JSON)
    assert legacy.status == 200, legacy
    assert_error_shape(legacy.json()["errors"][0], status=400, reason="alias_limit")


def test_token_limit(hub_process: HubProcess) -> None:
    # hub/config.py GraphQLLimits.max_tokens defaults to 2000; the query has 19 tokens besides
    # the list's items (a list, not repeated fields: graphql-core gives up comparing thousands
    # of fields with each other before the token limit is reached)
    def query(items: int) -> str:
        return "{ era { integrationPoints(filter: {a: [" + " 1" * items + "]}) { totalCount } } }"

    fits = post(hub_process, {"query": query(1950)}, GRAPHQL_RESPONSE)
    assert fits.status == 200, fits  # executed: era answers with its own 401 field error
    assert fits.json()["errors"][0]["extensions"]["plugin"] == "era", fits
    too_long = post(hub_process, {"query": query(2000)}, GRAPHQL_RESPONSE)
    assert too_long.status == 400, too_long
    assert "data" not in too_long.json(), too_long
    assert_error_shape(too_long.json()["errors"][0], status=400, reason="token_limit")
    assert "2000" in too_long.json()["errors"][0]["message"], too_long


def test_validation_budget(hub_process: HubProcess) -> None:
    """Thousands of fields to compare with each other would cost validation (quadratic in
    graphql-core) far more than parsing: the token limit refuses them before validation."""
    reply = post(hub_process, {"query": "{" + " __typename" * 4000 + " }"}, GRAPHQL_RESPONSE)
    assert reply.status == 400, reply
    assert_error_shape(reply.json()["errors"][-1], status=400, reason="token_limit")


def test_field_errors_keep_data_and_status_200(hub_process: HubProcess) -> None:
    """A resolver's error is no request error: 200 with data, the plugin's extensions."""
    reply = post(
        hub_process, {"query": "{ era { integrationPoints { totalCount } } }"}, GRAPHQL_RESPONSE
    )
    assert reply.status == 200, reply
    body = reply.json()
    assert "data" in body, reply
    extensions = body["errors"][0]["extensions"]
    assert set(extensions) >= EXTENSION_KEYS, reply
    assert (extensions["code"], extensions["plugin"], extensions["status"]) == (
        "UNAUTHENTICATED",
        "era",
        401,
    ), reply


def test_empty_operation_name_means_none(hub_process: HubProcess) -> None:
    reply = post(hub_process, {"query": "{ __typename }", "operationName": ""})
    assert reply.status == 200, reply
    assert reply.json() == {"data": {"__typename": "Query"}}


def test_ambiguous_operation(hub_process: HubProcess) -> None:
    query = "query A { __typename } query B { __typename }"
    strict = post(hub_process, {"query": query}, GRAPHQL_RESPONSE)
    assert strict.status == 400, strict
    assert_error_shape(strict.json()["errors"][0], status=400, reason="bad_operation")
    chosen = post(hub_process, {"query": query, "operationName": "B"}, GRAPHQL_RESPONSE)
    assert chosen.status == 200, chosen


async def test_websocket_is_served_by_strawberry(hub_process: HubProcess) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{hub_process.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        assert ws.protocol == "graphql-transport-ws"
        await ws.send_json({"type": "connection_init"})
        message = await ws.receive_json(timeout=10)
        assert message["type"] == "connection_ack", message


@pytest.mark.parametrize("account", ["nulled-new", "nulled-known"])
def test_an_explicit_null_for_a_not_null_column_is_a_bad_request(
    hub_process: HubProcess, account: str
) -> None:
    """`domain` may be left out but is never null in storage: null, written in the document or
    sent as a variable, is a 400 naming the field, for a new account and a known one alike. (A
    sweep of every nullable input field of every plugin found this the only one to reach a NOT
    NULL column; the others refuse null with a 400 or document it as their default.)"""
    from tests.hubproc import ADMIN_TOKEN

    headers = {
        "Content-Type": JSON,
        "Accept": GRAPHQL_RESPONSE,
        "Authorization": f"Bearer {ADMIN_TOKEN}",
    }

    def send(query: str, variables: dict[str, Any] | None = None) -> Reply:
        body = json.dumps({"query": query, "variables": variables}).encode()
        return call(hub_process, "POST", body=body, headers=headers)

    if account == "nulled-known":
        upsert = f'mutation {{ webimUpsertAccount(input: {{name: "{account}"}}) {{ name }} }}'
        created = send(upsert)
        assert created.status == 200 and "errors" not in created.json(), created
    literal = send(
        f'mutation {{ webimUpsertAccount(input: {{name: "{account}", domain: null}}) {{ name }} }}'
    )
    variable = send(
        "mutation($i: WebimAccountInput!) { webimUpsertAccount(input: $i) { name } }",
        {"i": {"name": account, "domain": None}},
    )
    for reply in (literal, variable):
        (error,) = reply.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST", reply
        assert error["message"].startswith("domain:"), reply
