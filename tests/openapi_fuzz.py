"""Schemathesis against a running hub's OpenAPI documents: every operation of a plugin gets
generated requests (valid and invalid), and every answer must be no 5xx, carry a documented
status and content type, and conform to the documented schema. The checks are chosen here once
for every plugin (see ``CHECKS``); a plugin's test names the operations it leaves out, and why."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# what "no 5xx and responses that conform" means; "schema-valid requests are accepted" is left
# out: a JSON Schema cannot say every rule a vendor documents (a unique code, an existing id)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(
    base_url: str,
    plugin: str,
    headers: dict[str, str],
    *,
    max_examples: int = 25,
    skip: Iterable[str] = (),
    params: dict[str, str] | None = None,
    gateway_statuses: Iterable[int] = (),
    prepare: Callable[[Any], None] | None = None,
) -> list[str]:
    """Fuzz every operation of ``plugin`` (its document at ``<base_url>/<plugin>/openapi.json``,
    or ``<base_url>/openapi.json`` when ``plugin`` is empty); the failures, one string each.
    ``skip``: ``"METHOD /path"`` of operations left out; ``params``: query parameters sent with
    every request (a credential presented in the query string); ``gateway_statuses``: 5xx
    that are not the plugin's failure but its report of a system behind it failing (rop's
    502/503/504 for the host behind ``audio_url``), allowed where the document declares them;
    ``prepare(case)``: changes a generated request before it is sent (a URL the hub would fetch
    pointed at loopback: tests never reach the public internet)."""
    root = f"{base_url}/{plugin}" if plugin else base_url
    document: dict[str, Any] = requests.get(f"{root}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    server_error = schema.config.checks.not_a_server_error
    server_error.expected_statuses = ["2xx", "3xx", "4xx", *map(str, gateway_statuses)]
    skipped = set(skip)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        if name in skipped:
            continue

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            if prepare is not None:
                prepare(case)
            case.call_and_validate(base_url=root, headers=headers, params=params, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # one line per operation: the first failure hypothesis kept
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:2000]}")
    return failures
