"""A plugin's REST surface answers every failure in its own error shape and never with a 5xx:
the host's 404, 405 and 413 under the plugin's prefix, malformed JSON, and every route asked
without a credential or with a wrong one. The reference shape is the plugin's renderer's answer
for the same status: same media type, same JSON keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import ClientSession, web

from hub.errors import HubError
from hub.registrations import RestApi
from hub.testing.conformance.judge import PROBE, WRONG_TOKEN
from hub.testing.process import ADMIN_TOKEN

BODY_METHODS = {"POST", "PUT", "PATCH"}
OTHER_METHODS = ("PATCH", "PUT", "DELETE", "POST", "GET", "OPTIONS")
VARIABLE = re.compile(r"\{[^}]*\}")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"Content-Type": "application/json"}


@dataclass
class Probe:
    what: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    status: int | None = None  # the one status the host gives, where it decides


def _routes(api: RestApi) -> dict[str, set[str]]:
    """Each route template and the methods registered on it."""
    methods: dict[str, set[str]] = {}
    for route in api.routes:
        if isinstance(route, web.RouteDef):
            methods.setdefault(route.path, set()).add(route.method.upper())
    return methods


def probes(api: RestApi, max_body: int) -> Iterator[Probe]:
    yield Probe("GET of an unknown path", "GET", f"/{PROBE}/no/such/path", status=404)
    oversized = b'{"' + PROBE.encode() + b'": "' + b"x" * max_body + b'"}'
    for template, methods in sorted(_routes(api).items()):
        path = VARIABLE.sub(PROBE, template)
        unused = [m for m in OTHER_METHODS if m not in methods]
        if "*" not in methods and unused:
            yield Probe(f"{unused[0]} {template} (not a method of it)", unused[0], path, status=405)
        for method in sorted(methods - {"*", "HEAD"}):
            yield Probe(f"{method} {template} without a credential", method, path)
            wrong = {"Authorization": f"Bearer {WRONG_TOKEN}"}
            yield Probe(f"{method} {template} with a wrong credential", method, path, wrong)
            if method in BODY_METHODS:
                what = f"{method} {template} with malformed JSON"
                yield Probe(what, method, path, {**ADMIN, **JSON}, b'{"' + PROBE.encode())
                what = f"{method} {template} with a body over max_body ({max_body} bytes)"
                yield Probe(what, method, path, {**ADMIN, **JSON}, oversized, status=413)


def _keys(data: Any) -> Any:
    """The shape of a JSON body: its keys, nested; values stand for themselves only by type."""
    if isinstance(data, dict):
        return {key: _keys(value) for key, value in data.items()}
    return type(data).__name__ if data is not None else None


def _shape(content_type: str, body: bytes) -> tuple[str, Any]:
    if "json" not in content_type:
        return content_type, None
    try:
        return content_type, _keys(orjson.loads(body))
    except orjson.JSONDecodeError:
        return content_type, "not JSON"


def _same_keys(got: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(want)
            and all(_same_keys(got[key], value) for key, value in want.items())
        )
    return not isinstance(got, dict) and got != "not JSON"


def judge(probe: Probe, status: int, content_type: str, body: bytes, api: RestApi) -> str | None:
    """What is wrong with one answer, or ``None``."""
    if probe.status is not None and status != probe.status:
        return f"REST {probe.what}: answered {status}, expected {probe.status}"
    if status < 400:
        return None  # a route that needs no credential
    if status >= 500:
        return f"REST {probe.what}: answered {status}; a request's mistake must be a 4xx"
    reference = api.render_error(HubError(status, PROBE, reason=PROBE))
    raw = reference.body if isinstance(reference.body, bytes) else b""
    want = _shape(reference.content_type, raw)
    got = _shape(content_type, body)
    if got[0] != want[0] or not _same_keys(got[1], want[1]):
        return (
            f"REST {probe.what}: answered {status} as {got[0]} {got[1]},"
            f" not in the plugin's error shape ({want[0]} {want[1]})"
        )
    return None


async def problems(session: ClientSession, base: str, api: RestApi, max_body: int) -> list[str]:
    found = []
    for probe in probes(api, max_body):
        async with session.request(
            probe.method, base + probe.path, headers=probe.headers, data=probe.body
        ) as response:
            body = await response.read()
            problem = judge(probe, response.status, response.content_type, body, api)
        if problem:
            found.append(problem)
    return found
