"""Every GraphQL field a plugin registers, asked without a credential and with a wrong one,
answers with data or with errors per the error table: ``extensions.code`` matching
``extensions.status``, never INTERNAL, owned by the plugin or the host. Required arguments get
made-up values of their type (a value the plugin refuses is a BAD_REQUEST, also per the table).

Queries and mutations are posted to ``/graphql``. Each subscription is subscribed to over the
hub's websocket (graphql-transport-ws), the credential in the ``connection_init`` payload, and
its first answer judged the same way: an ``error`` message or a ``next`` whose errors follow the
table (every built-in plugin refuses a missing or wrong credential at once, with a ``next``
holding its 401, then ``complete``), a ``next`` with data, or ``complete``. A subscription that
stays silent for ``STREAM_WAIT`` seconds is waiting for events and passes, as a gRPC stream
does: the check judges how refusals look, not which subscriptions need a credential. The hub
closing the socket instead is a breach."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInputType,
    GraphQLSchema,
    get_named_type,
    is_composite_type,
    is_enum_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    is_required_argument,
    is_required_input_field,
)
from strawberry.utils.str_converters import to_camel_case

from hub.testing.clients import HubClient
from hub.testing.conformance.judge import (
    PROBE,
    STREAM_WAIT,
    WRONG_TOKEN,
    graphql_code,
    owned_by,
    table_status,
)

SCALARS: dict[str, Any] = {"Int": 0, "Float": 0.0, "Boolean": False}
CALLERS = (("without a credential", None), ("with a wrong credential", WRONG_TOKEN))


def made_up(kind: GraphQLInputType) -> Any:
    """A value of ``kind`` as a variable: required input fields only, lists empty."""
    if is_non_null_type(kind):
        return made_up(kind.of_type)  # type: ignore[union-attr]
    if is_list_type(kind):
        return []
    if is_enum_type(kind):
        return next(iter(kind.values))  # type: ignore[union-attr]
    if is_input_object_type(kind):
        return {
            name: made_up(f.type)
            for name, f in kind.fields.items()  # type: ignore[union-attr]
            if is_required_input_field(f)
        }
    return SCALARS.get(getattr(kind, "name", ""), PROBE)


def document(operation: str, root: str | None, name: str, field: GraphQLField) -> tuple[str, dict]:
    """``query ($a0: T!) { root { name(arg: $a0) { __typename } } }`` and its variables."""
    required = [(arg, a) for arg, a in field.args.items() if is_required_argument(a)]
    declared = ", ".join(f"$a{i}: {a.type}" for i, (_, a) in enumerate(required))
    passed = ", ".join(f"{arg}: $a{i}" for i, (arg, _) in enumerate(required))
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    call = f"{name}({passed}){selection}" if passed else f"{name}{selection}"
    body = f"{root} {{ {call} }}" if root else call
    header = f"{operation} Conformance({declared})" if declared else f"{operation} Conformance"
    variables = {f"a{i}": made_up(a.type) for i, (_, a) in enumerate(required)}
    return f"{header} {{ {body} }}", variables


def _own(fields: dict[str, GraphQLField], prefix: str) -> Iterator[tuple[str, GraphQLField]]:
    """The plugin's root fields of a mutation or subscription type: named with its prefix."""
    for name, field in fields.items():
        if name.startswith(prefix) and name != prefix:
            yield name, field


def operations(schema: GraphQLSchema, plugin: str) -> Iterator[tuple[str, str, dict]]:
    """``(label, document, variables)`` for each field of the plugin's query type and each of
    its mutations."""
    prefix = to_camel_case(plugin)
    root = schema.query_type.fields.get(prefix) if schema.query_type else None
    if root is not None:
        query_type = get_named_type(root.type)
        for name, field in getattr(query_type, "fields", {}).items():
            yield (f"query {prefix}.{name}", *document("query", prefix, name, field))
    mutations = schema.mutation_type.fields if schema.mutation_type else {}
    for name, field in _own(mutations, prefix):
        yield (f"mutation {name}", *document("mutation", None, name, field))


def subscriptions(schema: GraphQLSchema, plugin: str) -> Iterator[tuple[str, str, dict]]:
    """``(label, document, variables)`` for each of the plugin's subscriptions."""
    fields = schema.subscription_type.fields if schema.subscription_type else {}
    for name, field in _own(fields, to_camel_case(plugin)):
        yield (f"subscription {name}", *document("subscription", None, name, field))


def judge(what: str, answer: dict[str, Any], plugin: str) -> list[str]:
    found = []
    for error in answer.get("errors") or []:
        ext = error.get("extensions") or {}
        status = table_status(ext.get("status"))
        if status is None or ext.get("code") != graphql_code(status):
            found.append(f"GraphQL {what}: extensions {ext} do not follow the error table")
        elif status >= 500:
            found.append(f"GraphQL {what}: {ext.get('code')} ({error.get('message')!r})")
        elif not owned_by(plugin, ext.get("plugin")):
            found.append(f"GraphQL {what}: extensions.plugin is {ext.get('plugin')!r}")
    return found


async def subscribed(
    client: HubClient, what: str, query: str, variables: dict, token: str | None, plugin: str
) -> list[str]:
    """What is wrong with a subscription's first answer; none within ``STREAM_WAIT`` is fine."""
    async with client.subscription(query, variables, token) as answers:
        try:
            async with asyncio.timeout(STREAM_WAIT):
                first = await anext(answers)
        except TimeoutError:
            return []  # waiting for events
    kind = first.get("type")
    if kind == "error":
        return judge(what, {"errors": first.get("payload")}, plugin)
    if kind == "next":
        return judge(what, first.get("payload") or {}, plugin)
    if kind == "close":
        return [f"GraphQL {what}: the hub closed the socket ({first['code']} {first['reason']!r})"]
    return []  # complete: the stream ended without an event


async def problems(client: HubClient, schema: GraphQLSchema, plugin: str) -> list[str]:
    found = []
    for label, query, variables in operations(schema, plugin):
        for who, token in CALLERS:
            answer = await client.graphql(query, variables, token)
            found += judge(f"{label} {who}", answer, plugin)
    for label, query, variables in subscriptions(schema, plugin):
        for who, token in CALLERS:
            found += await subscribed(client, f"{label} {who}", query, variables, token, plugin)
    return found
