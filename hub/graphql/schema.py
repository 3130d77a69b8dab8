"""One strawberry schema from every plugin's :class:`~hub.registrations.GraphQLPart`.

strawberry's ``merge_types`` only warns on a duplicate field, so the host checks names itself and
refuses to start, naming both plugins."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

import strawberry
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, get_operation_ast
from strawberry.extensions import MaxTokensLimiter
from strawberry.tools import create_type
from strawberry.types import ExecutionContext
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from hub.config import GraphQLLimits
from hub.errors import HubError, StartupError
from hub.graphql.documents import CachedDocuments, DocumentCache
from hub.graphql.fast import PlainSubtreeExecutor
from hub.graphql.faults import is_internal, log_internal
from hub.graphql.limits import INTERNAL, request_error_extensions
from hub.graphql.resolvers import lighten
from hub.graphql.types import SHARED_TYPES
from hub.registrations import GraphQLPart

log = logging.getLogger("hub.graphql")
BUILTIN = {"String", "Int", "Float", "Boolean", "ID", "Query", "Mutation", "Subscription"}


class SchemaConflict(StartupError):
    """Two plugins (or one plugin and the host's conventions) disagree about a name."""


class HubSchema(strawberry.Schema):
    """The schema, with the document cache that the HTTP view and websockets share."""

    def __init__(
        self,
        *args: Any,
        documents: DocumentCache,
        owners: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.documents = documents
        self.owners = owners or {}  # root field -> the plugin that registered it

    def attribute(self, error: GraphQLError, operation: OperationDefinitionNode | None) -> None:
        """A :class:`HubError` that names no plugin (the host's: the database unavailable)
        names the plugin whose root field failed, as REST and gRPC do; an error with no path
        (a subscription that failed to start) the one plugin of the operation's root fields."""
        original = error.original_error
        if not isinstance(original, HubError) or original.plugin is not None:
            return
        fields = {  # response key (an alias, or the name) -> the root field's name
            (node.alias or node.name).value: node.name.value
            for node in (operation.selection_set.selections if operation else ())
            if isinstance(node, FieldNode)
        }
        if error.path:
            key = str(error.path[0])
            owners = {self.owners.get(fields.get(key, key))}
        else:
            owners = {self.owners.get(name) for name in fields.values()}
        if len(owners) == 1 and None not in owners:
            original.plugin = owners.pop()
            error.extensions = original.extensions

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log what the HTTP view logs: an unexpected exception, not a refused request or a
        HubError (strawberry would log each with a traceback and the whole document). The
        unexpected one is masked in place, as the HTTP view masks it: its text (an SQL error,
        a path) is for the log, not the client. A request error of graphql-core's own gets the
        error table's extensions the HTTP view gives it (``graphql_invalid`` for a document that
        does not parse or validate, ``bad_variables`` for variables that do not coerce)."""
        operation = None
        refused: list[GraphQLError] = []
        if execution_context is not None:
            refused = execution_context.pre_execution_errors or []
            if execution_context.graphql_document is not None:
                operation = get_operation_ast(
                    execution_context.graphql_document, execution_context.operation_name
                )
        for error in errors:
            self.attribute(error, operation)
            if is_internal(error):
                log_internal(error)
                error.message = "internal error"
                error.extensions = dict(INTERNAL)
            elif error.original_error is None and "code" not in (error.extensions or {}):
                invalid = any(error is e for e in refused)
                reason = "graphql_invalid" if invalid else "bad_variables"
                error.extensions = request_error_extensions(reason)


def pascal(plugin: str) -> str:
    return "".join(part.capitalize() for part in plugin.split("_"))


def _graphql_name(field: StrawberryField) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


def _root_field(plugin: str, query_type: type) -> StrawberryField:
    def resolve() -> Any:
        return query_type()

    resolve.__name__ = f"resolve_{plugin}"
    resolve.__annotations__["return"] = query_type
    return strawberry.field(resolver=resolve, name=to_camel_case(plugin))  # type: ignore[return-value]


def _type_names(plugin: str, part: GraphQLPart) -> set[str]:
    """The names of the types one plugin's part brings, found by building it alone."""

    @strawberry.type
    class Query:
        placeholder: int = 0

    query = create_type("Query", [_root_field(plugin, part.query)]) if part.query else Query
    schema = strawberry.Schema(
        query=query, mutation=part.mutation, subscription=part.subscription, types=list(part.types)
    )
    return {
        name
        for name in schema._schema.type_map
        if not name.startswith("__") and name not in BUILTIN and name not in SHARED_TYPES
    }


def _fields(kind: str, plugin: str, cls: type) -> Iterable[StrawberryField]:
    definition = get_object_definition(cls, strict=True)
    prefix = to_camel_case(plugin)
    for field in definition.fields:
        name = _graphql_name(field)
        if not name.startswith(prefix) or name == prefix:
            raise SchemaConflict(
                f"plugin {plugin}: {kind} field {name!r} must be prefixed with {prefix!r}"
            )
        yield field


def build_schema(parts: dict[str, GraphQLPart], limits: GraphQLLimits | None = None) -> HubSchema:
    """The schema; strawberry's own execution (websockets) goes through the same document cache,
    cost limits and executor as the HTTP view."""
    limits = limits or GraphQLLimits()
    owners: dict[str, str] = {}
    for plugin, part in parts.items():
        for name in _type_names(plugin, part):
            if not name.startswith(pascal(plugin)):
                raise SchemaConflict(
                    f"plugin {plugin}: type {name!r} must be prefixed with {pascal(plugin)!r}"
                )
            if name in owners and owners[name] != plugin:
                raise SchemaConflict(
                    f"type {name!r} is registered by both {owners[name]} and {plugin}"
                )
            owners[name] = plugin

    roots: dict[str, dict[str, tuple[str, StrawberryField]]] = {
        "Query": {},
        "Mutation": {},
        "Subscription": {},
    }

    def add(root: str, plugin: str, field: StrawberryField) -> None:
        name = _graphql_name(field)
        if name in roots[root]:
            other = roots[root][name][0]
            raise SchemaConflict(f"{root}.{name} is registered by both {other} and {plugin}")
        roots[root][name] = (plugin, field)

    extra_types: list[type] = []
    for plugin, part in parts.items():
        if part.query is not None:
            add("Query", plugin, _root_field(plugin, part.query))
        if part.mutation is not None:
            for field in _fields("mutation", plugin, part.mutation):
                add("Mutation", plugin, field)
        if part.subscription is not None:
            for field in _fields("subscription", plugin, part.subscription):
                add("Subscription", plugin, field)
        extra_types.extend(part.types)

    def root_type(name: str) -> type | None:
        fields = [f for _, f in sorted(roots[name].values(), key=lambda pf: _graphql_name(pf[1]))]
        return create_type(name, fields) if fields else None

    documents = DocumentCache(limits)
    schema = HubSchema(
        query=root_type("Query"),  # type: ignore[arg-type]
        mutation=root_type("Mutation"),
        subscription=root_type("Subscription"),
        types=extra_types,
        extensions=[
            # parsing stops at the same place when strawberry parses a document itself
            partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
            partial(CachedDocuments, documents=documents),
        ],
        execution_context_class=PlainSubtreeExecutor.limited(limits.max_resolved_fields),
        documents=documents,
        owners={name: plugin for root in roots.values() for name, (plugin, _) in root.items()},
    )
    lighten(schema._schema, schema.config, schema.schema_converter.scalar_registry)
    return schema
