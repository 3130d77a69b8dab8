"""Completing plain subtrees without graphql-core's per-field machinery.

graphql-core spends about 10 µs per field (resolve info, awaitable checks, path objects). Most
of a typical hub response is *plain*: strawberry fields without a resolver, arguments or
directives, read straight off a dataclass. For those subtrees we compile, once per document,
a function that builds the response with attribute reads and scalar serialisation. Anything
unusual (a null where the schema forbids one, a value a scalar rejects, an abstract type, a
resolver) falls back to graphql-core, so errors and null propagation stay exactly its own.

On ``/graphql`` (whose answers orjson serializes) a stored row (:mod:`hub.graphql.stored`) is
completed once per plan and row and kept as serialized JSON (:mod:`hub.rendered`), spliced into
later answers as it is; so is an object holding nothing but one such row (a Relay edge whose
cursor is not asked for).

Both paths count the fields they complete against the request's budget
(``graphql.max_resolved_fields``): past it, the remaining fields fail with one error whose
reason is ``execution_limit``, however the document's lists multiply. Within the budget, every
thousandth field lets the event loop run other requests first, so a large answer never holds
the loop for long."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from enum import Enum
from itertools import repeat
from operator import attrgetter
from types import CodeType
from typing import Any

import orjson
from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    Undefined,
    VariableNode,
    get_argument_values,
    is_leaf_type,
)
from graphql.execution.collect_fields import collect_subfields
from graphql.execution.executor import Executor

from hub.graphql.limits import request_error_extensions
from hub.graphql.stored import Stored, StoredRows
from hub.graphql.types import Edges
from hub.rendered import renderings

Completer = Callable[[Any], Any]
YIELD_EVERY = 500  # fields one request resolves in a turn of the event loop (about 10 ms)
# values completed by compiled plans; a plan runs synchronously, so the executor that calls it
# reads its own share as the difference before and after
_completed = [0]


class _Fallback(Exception):
    """The fast path met something only graphql-core should judge."""


def _collect(
    object_type: GraphQLObjectType, nodes: Sequence[FieldNode], fragments: dict[str, Any]
) -> dict[str, list[FieldNode]] | None:
    """Response key -> field nodes for the sub-selection, or None if it is not plain."""
    grouped: dict[str, list[FieldNode]] = {}
    visited: set[str] = set()  # like graphql-core, a fragment is collected once

    def walk(selections: Sequence[Any]) -> bool:
        for selection in selections:
            if selection.directives:
                return False
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode | FragmentSpreadNode):
                if isinstance(selection, FragmentSpreadNode):
                    if selection.name.value in visited:
                        continue
                    visited.add(selection.name.value)
                fragment = (
                    selection
                    if isinstance(selection, InlineFragmentNode)
                    # graphql-core 3.3 keeps FragmentDetails(definition, ...) by name
                    else getattr(fragments.get(selection.name.value), "definition", None)
                )
                if fragment is None:
                    return False
                condition = fragment.type_condition
                if condition is not None and condition.name.value != object_type.name:
                    return False
                if not walk(fragment.selection_set.selections):
                    return False
            else:
                return False
        return True

    for node in nodes:
        if node.selection_set is None or not walk(node.selection_set.selections):
            return None
    return grouped


def _leaf(serialize: Callable[[Any], Any]) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        try:
            return serialize(value)
        except Exception:
            raise _Fallback from None

    return complete


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        result = inner(value)
        if result is None:
            raise _Fallback
        return result

    return complete


def _list(inner: Completer, non_null_items: bool = False) -> Completer:
    edge = getattr(inner, "edge", None)
    if edge is not None:
        attribute, kept, kept_ids, fields = edge
        return _edge_list(inner, attribute, kept, kept_ids, fields, non_null_items)

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple | Edges | StoredRows):
            raise _Fallback
        _completed[0] += len(value)
        items = [inner(item) for item in value]
        if non_null_items and None in items:  # one scan, not a call per item
            raise _Fallback
        return items

    return complete


_NO_ROW = object()  # an item that is not an edge holding a row: ``inner`` answers it


def _edge_list(
    inner: Completer,
    attribute: str,
    kept: Callable[[Any], Any],
    kept_ids: Callable[[Any], Any],
    fields: int,
    non_null_items: bool = False,
) -> Completer:
    """A list of edges (objects holding one stored row, :func:`_wrapped_row`): each edge whose
    row's rendering is kept is answered here with it, as ``inner`` would answer it, without a
    call per row; any other item goes to ``inner``. A connection's :class:`Edges` is answered
    from its rows, without making the edge of a row that is answered so."""
    row_of = attrgetter(attribute)
    by_node = attribute == "node"  # what an Edges' edge wraps

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is Edges and by_node:
            nodes = value.nodes
            if type(nodes) is StoredRows:  # the rows as they are: no object made for a hit
                return answered(nodes.rows, nodes.ids, value.__getitem__, len(value))
            rows: Sequence[Any] = nodes
        elif isinstance(value, list | tuple):
            try:
                rows = [
                    _NO_ROW if item is None or type(item) is Stored else row_of(item)
                    for item in value
                ]
            except AttributeError:
                raise _Fallback from None
        else:
            raise _Fallback
        keys: list[Any] = []
        ids: list[Any] = []
        for row in rows:
            stored = type(row) is Stored
            keys.append(row._stored_key if stored else _NO_ROW)
            ids.append(row._stored_ident if stored else None)
        return answered(keys, ids, value.__getitem__, len(value))

    def answered(
        keys: Sequence[Any],
        ids: Sequence[Any] | None,
        item_at: Callable[[int], Any],
        length: int,
    ) -> list[Any]:
        """Each row's kept rendering by its id (confirmed by its content) or its content;
        ``item_at(index)`` for the rest (``_NO_ROW``: no stored row there)."""
        items: list[Any] = []
        append = items.append
        counted = length
        idents = repeat(None) if ids is None else ids  # endless: zip stops at the keys' end
        for index, (key, ident) in enumerate(zip(keys, idents, strict=False)):
            if key is not _NO_ROW:  # Memo.entry, inlined: not a call per row
                try:
                    found = kept(key) if ident is None else kept_ids(ident)
                except TypeError:  # a row that cannot be hashed: ``inner`` renders it
                    found = None
                if found is not None and (ident is None or found[0] == key):
                    counted += fields + found[2]
                    append(found[1])
                    continue
            append(inner(item_at(index)))
        _completed[0] += counted
        if non_null_items and None in items:
            raise _Fallback
        return items

    return complete


def _plain_field_name(field: Any) -> str | None:
    """The Python attribute behind a field that strawberry would just read, else None."""
    definition = field.extensions.get("strawberry-definition") if field.extensions else None
    if definition is None or field.args:
        return None
    if (
        definition.base_resolver is not None
        or definition.extensions
        or definition.permission_classes
    ):
        return None
    return str(definition.python_name)


def compile_completer(
    return_type: GraphQLOutputType,
    nodes: Sequence[FieldNode],
    fragments: dict[str, Any],
    splice: bool = False,
) -> Completer | None:
    """The completer of a plain subtree, or None. ``splice``: the answer is serialized with
    orjson, so :class:`Stored` rows may be answered with their serialized rendering."""
    if isinstance(return_type, GraphQLNonNull):
        inner = compile_completer(return_type.of_type, nodes, fragments, splice)
        return _non_null(inner) if inner else None
    if isinstance(return_type, GraphQLList):
        item_type = return_type.of_type
        non_null_items = isinstance(item_type, GraphQLNonNull)
        if non_null_items:
            item_type = item_type.of_type
        inner = compile_completer(item_type, nodes, fragments, splice)
        return _list(inner, non_null_items) if inner else None
    if is_leaf_type(return_type):
        return _leaf(return_type.serialize)  # type: ignore[union-attr]
    if not isinstance(return_type, GraphQLObjectType):
        return None
    check = return_type.is_type_of
    if check is not None and not _generated_check(check):
        return None  # a type's own is_type_of may read the resolve info, which plans lack
    grouped = _collect(return_type, nodes, fragments)
    if grouped is None:
        return None
    fields: list[_FieldPlan] = []
    for key, field_nodes in grouped.items():
        name = field_nodes[0].name.value
        if name == "__typename":
            fields.append(_FieldPlan(key, None, None, False))
            continue
        field = return_type.fields.get(name)
        attribute = _plain_field_name(field) if field is not None else None
        if attribute is None or any(n.arguments for n in field_nodes):
            return None
        field_type = field.type  # type: ignore[union-attr]
        non_null = isinstance(field_type, GraphQLNonNull)
        inner_type = field_type.of_type if non_null else field_type
        sub = compile_completer(inner_type, field_nodes, fragments, splice)
        if sub is None:
            return None
        fields.append(_FieldPlan(key, attribute, sub, non_null))
    return _object_completer(return_type.name, fields, splice, check)


def _generated_check(check: Callable[..., Any]) -> bool:
    """Whether ``is_type_of`` is the one strawberry gives a type that implements an interface
    (an ``isinstance`` of the object, or of what it was cast to; the resolve info unread)."""
    return check.__qualname__.endswith("_get_is_type_of.<locals>.is_type_of") and (
        check.__module__ == "strawberry.schema.schema_converter"
    )


class _FieldPlan:
    """One response key of an object: the attribute it reads (None: ``__typename``), how its
    value completes and whether a null there is graphql-core's to propagate."""

    def __init__(self, key: str, attribute: str | None, sub: Completer | None, non_null: bool):
        self.key, self.attribute, self.sub, self.non_null = key, attribute, sub, non_null


def _object_completer(
    type_name: str,
    fields: list[_FieldPlan],
    splice: bool,
    check: Callable[[Any, Any], Any] | None = None,
) -> Completer:
    """An object's completer as one generated function: attribute reads and a dict display,
    without a loop or a call per field beyond the field's own completer (a list page of
    thousands of rows calls this once per row). ``check``: the type's generated ``is_type_of``,
    asked of every object completed (a stored row's object when it is rendered: its kept
    rendering is of an object that passed); one that fails is graphql-core's to report."""
    namespace: dict[str, Any] = {
        "Stored": Stored,
        "Fallback": _Fallback,
        "done": _completed,
        "name": type_name,
        "check": check,
    }
    reads, items = [], []
    for i, field in enumerate(fields):
        namespace[f"k{i}"] = field.key  # the document's names stay out of the source
        if field.attribute is None:
            items.append(f"k{i}: name")
            continue
        namespace[f"c{i}"] = field.sub
        reads.append(f"v{i} = c{i}(value.{field.attribute})")
        if field.non_null:
            reads.append(f"if v{i} is None: raise Fallback")
        items.append(f"k{i}: v{i}")
    wrapper = _wrapped_row(fields) if splice else None
    stored = "return render(value)" if splice else "value = value._stored_built()"
    lines = [
        "def complete(value):",
        "    if value is None: return None",
        f"    if type(value) is Stored: {stored}",
        *(["    if not check(value, None): raise Fallback"] if check is not None else []),
        f"    done[0] += {len(fields)}",
        "    try:",
    ]
    if wrapper is not None:  # an edge: its one row is answered with the edge's rendering
        lines += [
            f"        row = value.{wrapper.attribute}",
            "        if type(row) is Stored: return wrap(row)",
        ]
        reads = [line.replace(f"value.{wrapper.attribute}", "row") for line in reads]
    lines += [
        *(f"        {line}" for line in reads or ["pass"]),
        "    except AttributeError:",
        "        raise Fallback from None",
        f"    return {{{', '.join(items)}}}",
    ]
    if wrapper is not None:
        lines += [
            "def wrapped(row):",
            *(f"    {line.replace(f'value.{wrapper.attribute}', 'row')}" for line in reads),
            f"    return {{{', '.join(items)}}}",
        ]
    exec(_compiled("\n".join(lines)), namespace)
    complete: Completer = namespace["complete"]
    if splice:
        namespace["render"] = _renderer(complete)
    if wrapper is not None:
        namespace["wrap"] = wrap = _renderer(namespace["wrapped"], built=False)
        memo = wrap.memo  # type: ignore[attr-defined]  # cleared in place, never replaced
        if check is None:  # a list of them may be answered without completing each edge
            complete.edge = (wrapper.attribute, memo.rows.get, memo.ids.get, len(fields))  # type: ignore[attr-defined]
    complete.renders_rows = True  # type: ignore[attr-defined]
    return complete


_CODE: dict[str, CodeType] = {}
CODE_CACHE_SIZE = 4096


def _compiled(source: str) -> CodeType:
    """``source`` compiled once: it holds only the shape of a selection (how many fields, the
    attributes they read, which may not be null), never a name from the document, so documents
    that differ only in aliases or inlined arguments (a client that writes its values into the
    query) share the code, and a new document costs no compilation for a known shape."""
    code = _CODE.get(source)
    if code is None:
        if len(_CODE) >= CODE_CACHE_SIZE:
            del _CODE[next(iter(_CODE))]
        code = _CODE[source] = compile(source, "<hub.graphql.fast completer>", "exec")
    return code


def _wrapped_row(fields: list[_FieldPlan]) -> _FieldPlan | None:
    """The one field of an object that holds all of what it shows besides ``__typename`` (a
    Relay edge whose cursor is not asked for: ``{ node { ... } }``), when that field is an
    object that may be a stored row: then the whole object renders once per row."""
    read = [field for field in fields if field.attribute is not None]
    if len(read) == 1 and getattr(read[0].sub, "renders_rows", False):
        return read[0]
    return None


def _renderer(complete: Completer, built: bool = True) -> Completer:
    """A :class:`Stored` row's rendering as serialized JSON by ``complete`` (of the object
    built from the row, or with ``built=False`` of the row itself), made once per row and
    counted as the fields it completed then."""
    memo = renderings.new()

    def render(value: Stored) -> Any:
        key, ident = value._stored_key, value._stored_ident
        try:
            found = memo.entry(key, ident)
        except TypeError:  # a row that cannot be hashed: rendered each time
            return complete(value._stored_built() if built else value)
        if found is not None:
            _completed[0] += found[2]
            return found[1]
        before = _completed[0]
        data = orjson.dumps(complete(value._stored_built() if built else value))
        rendered = orjson.Fragment(data)
        entry = (key, rendered, _completed[0] - before)
        renderings.keep(memo, key if ident is None else ident, entry, len(data), ident is not None)
        return rendered

    render.memo = memo  # type: ignore[attr-defined]
    return render


Plans = dict[
    tuple[int, tuple[int, ...], bool],
    tuple[GraphQLOutputType, list[FieldNode], Completer | None],
]
# plans by the id of their operation, as long as it lives: a document the cache dropped (or never
# kept) takes its plans along. Not a WeakKeyDictionary: nodes compare by content, and two equal
# documents must not share plans keyed by the ids of one's nodes.
_plans: dict[int, Plans] = {}


def _plans_of(operation: OperationDefinitionNode) -> Plans:
    plans = _plans.get(id(operation))
    if plans is None:
        plans = _plans[id(operation)] = {}
        weakref.finalize(operation, _plans.pop, id(operation), None)
    return plans


def plan_for(
    operation: OperationDefinitionNode,
    return_type: GraphQLOutputType,
    nodes: list[FieldNode],
    fragments: dict[str, Any],
    splice: bool = False,
) -> Completer | None:
    """Plans are cached by the identity of the return type and the field nodes, per operation;
    the plan keeps them alive so an id is never reused while its plan exists."""
    plans = _plans_of(operation)
    key = (id(return_type), tuple(map(id, nodes)), splice)
    cached = plans.get(key)
    if cached is not None:
        return cached[2]
    try:
        plan = compile_completer(return_type, nodes, fragments, splice)
    except Exception:  # a shape this compiler does not know: graphql-core handles it
        plan = None
    plans[key] = (return_type, nodes, plan)
    return plan


def _depends_on_variables(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
    """Whether a ``@skip``/``@include`` of the operation (or of a fragment it may spread) takes
    its condition from a variable: then which fields are collected differs per request."""
    if any(fragment.variable_signatures for fragment in fragments.values()):
        return True  # fragment arguments: values per spread
    for node in (operation, *(fragment.definition for fragment in fragments.values())):
        for directive in _directives(node):
            if directive.name.value in ("skip", "include") and any(
                isinstance(argument.value, VariableNode) for argument in directive.arguments
            ):
                return True
    return False


def _directives(node: Any) -> Any:
    yield from getattr(node, "directives", None) or ()
    selection_set = getattr(node, "selection_set", None)
    for selection in selection_set.selections if selection_set else ():
        yield from _directives(selection)


class Collected:
    """An operation's subfields collected by :func:`collected_subfields`, by the identity of the
    return type and the field nodes (each kept alive with its entry, so no id is reused),
    whether the operation's collection can be kept at all, and its fields' constant arguments
    (:func:`argument_values`)."""

    __slots__ = ("__weakref__", "arguments", "entries", "static")

    def __init__(self, static: bool) -> None:
        self.static = static
        self.entries: dict[tuple[int, ...], tuple[Any, list[FieldNode], Any]] = {}
        self.arguments: dict[tuple[int, int], tuple[Any, FieldNode, dict[str, Any]]] = {}


_collected: dict[int, Collected] = {}  # by the id of their operation, as long as it lives


def _kept(executor: Executor[Any]) -> Collected:
    operation = executor.operation
    kept = _collected.get(id(operation))
    if kept is None:
        kept = Collected(not _depends_on_variables(operation, executor.fragments))
        _collected[id(operation)] = kept
        weakref.finalize(operation, _collected.pop, id(operation), None)
    return kept


IMMUTABLE = (str, int, float, bool, type(None), Enum)


def argument_values(executor: Executor[Any], field_def: Any, details: Any) -> dict[str, Any]:
    """graphql-core's coerced arguments of a field, kept with the operation when they cannot
    differ between requests: written in the document without a variable, and each value
    immutable (a list or a JSON object would be one object every request's resolver gets, and
    one could change it). Resolvers get them as keywords, so the kept dict is never theirs."""
    node = details.node
    if not (field_def.args or node.arguments):
        return {}
    key = (id(node), id(field_def))
    arguments = _kept(executor).arguments
    found = arguments.get(key)
    if found is not None:
        return found[2]
    values = get_argument_values(
        field_def,
        node,
        executor.variable_values,
        details.fragment_variable_values,
        executor.hide_suggestions,
    )
    if (
        details.fragment_variable_values is None
        and not any(_has_variable(argument.value) for argument in node.arguments or ())
        and all(isinstance(value, IMMUTABLE) for value in values.values())
    ):
        arguments[key] = (field_def, node, values)
    return values


def _has_variable(value: Any) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(field.value) for field in value.fields)
    return False


def collected_subfields(executor: Executor[Any], return_type: Any, details: Any) -> Any:
    """graphql-core's subfield collection for ``details`` (the field's collected nodes), kept
    with the operation across requests when it cannot differ between them: no ``@skip`` or
    ``@include`` of the document reads a variable, and no ``@defer`` or fragment variables
    apply. Keyed by the identity of the nodes (which the operation holds), so the lists it
    returns are found again one level down on the next request. ``None``: not kept."""
    kept = _kept(executor)
    if not kept.static:
        return None
    for detail in details:
        if detail.defer_usage is not None or detail.fragment_variable_values is not None:
            return None
    key = (id(return_type), *[id(detail.node) for detail in details])
    found = kept.entries.get(key)
    if found is None:
        collected = collect_subfields(
            executor.schema,
            executor.fragments,
            executor.variable_values,
            executor.operation,
            return_type,
            details,
            executor.hide_suggestions,
        )
        found = kept.entries[key] = (return_type, [d.node for d in details], collected)
    return found[2]


class ResolvedFieldLimit(GraphQLError):
    """The request resolved more fields than ``graphql.max_resolved_fields`` allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request resolves more than {limit} fields (list items count); ask for fewer"
            " fields or smaller pages",
            extensions=request_error_extensions("execution_limit"),
        )


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _over_limit(error: GraphQLError) -> bool:
    return isinstance(error, ResolvedFieldLimit) or isinstance(
        error.original_error, ResolvedFieldLimit
    )


class PlainSubtreeExecutor(Executor[Any]):
    """graphql-core's plain executor (the schema has no ``@defer``/``@stream``, so its
    incremental executor's bookkeeping would be spent for nothing on every request) with the
    fast completer, the field budget and a turn of the event loop every ``YIELD_EVERY`` fields."""

    max_resolved_fields: int | None = None  # set by :meth:`limited`
    splice = False  # the answer is serialized with orjson (set by :meth:`limited`)

    def __init__(self, *args: Any, operation_extensions: Any = None, **kwargs: Any) -> None:
        # strawberry hands a custom executor the request's "extensions"; nothing here reads them
        super().__init__(*args, **kwargs)
        self.resolved_fields = 0
        self.since_yield = 0
        self.spent = False
        self.waiting: deque[asyncio.Future[None]] = deque()

    @classmethod
    def limited(cls, max_resolved_fields: int, splice: bool = False) -> type[PlainSubtreeExecutor]:
        """The executor with a budget of fields per request; ``splice``: its answers are
        serialized with orjson, which takes stored rows' renderings as they are."""
        attributes = {"max_resolved_fields": max_resolved_fields, "splice": splice}
        return type(cls.__name__, (cls,), attributes)

    @classmethod
    def run(
        cls,
        schema: Any,
        document: Any,
        context: Any,
        variables: dict[str, Any] | None,
        operation: str | None,
    ) -> Any:
        """graphql-core's ``execute`` with this executor, without its wrappers: the schema has
        no ``@defer``/``@stream`` (strawberry adds them only when asked), so the answer is one
        :class:`ExecutionResult` (or an awaitable of it)."""
        executor = cls.build(
            schema,
            document,
            context_value=context,
            raw_variable_values=variables,
            operation_name=operation,
        )
        if isinstance(executor, list):  # variables that cannot be coerced, no such operation
            return ExecutionResult(None, errors=executor)
        return executor.execute_operation()

    def spend(self, fields: int) -> None:
        self.resolved_fields += fields
        limit = self.max_resolved_fields
        if limit is not None and self.resolved_fields > limit and not self.spent:
            self.spent = True
            raise ResolvedFieldLimit(limit)

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        if self.spent:  # past the budget nothing is resolved, and no error is made per field
            return Undefined
        self.spend(1)
        self.since_yield += 1
        if self.since_yield >= YIELD_EVERY and _in_event_loop():
            return self._after_other_tasks(*args, **kwargs)
        return self._resolve_field(*args, **kwargs)

    async def _after_other_tasks(self, *args: Any, **kwargs: Any) -> Any:
        """The field, in its turn. graphql-core goes on with the fields it has in hand and
        awaits this one later; every field met until then is put off the same way, and the
        put-off fields resume one per turn of the event loop, so a turn resolves at most
        YIELD_EVERY fields of this request whatever else is waiting."""
        await self._turn()
        if self.spent:
            return None
        self.since_yield = 0
        result = self._resolve_field(*args, **kwargs)
        return await result if self.is_awaitable(result) else result

    def _resolve_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_field`` (3.3), its arguments from :func:`argument_values`;
        with middleware (strawberry's extensions may add some), graphql-core's own."""
        if self.middleware_manager is not None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        first = field_details_list[0]
        field_def = self.schema.get_field(parent_type, first.node.name.value)
        if not field_def:
            return Undefined
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        info = self.build_resolve_info(
            field_def, [d.node for d in field_details_list], parent_type, path
        )
        try:
            result = resolve_fn(source, info, **argument_values(self, field_def, first))
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if self.is_awaitable(completed):
                return self._await_completed(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    async def _await_completed(
        self, completed: Any, return_type: Any, field_details_list: Any, path: Any
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    async def _turn(self) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append(future)
        if len(self.waiting) == 1:
            loop.call_soon(self._release_one)
        await future

    def _release_one(self) -> None:
        self.waiting.popleft().set_result(None)
        if self.waiting:
            asyncio.get_running_loop().call_soon(self._release_one)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        if self.spent:  # what was resolved is a fragment of the answer: give none of it
            errors = self.collected_errors.errors
            errors[:] = [e for e in errors if not _over_limit(e)]
            errors.append(ResolvedFieldLimit(self.max_resolved_fields or 0))
            data = None
        return super().build_response(data)

    def collect_subfields(self, return_type: Any, field_details_list: Any) -> Any:
        kept = collected_subfields(self, return_type, field_details_list)
        if kept is not None:
            return kept
        return super().collect_subfields(return_type, field_details_list)

    def complete_value(  # type: ignore[override]
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self.spent:
            return None
        if not isinstance(result, Exception):
            nodes = [d.node for d in field_details_list]
            plan = plan_for(self.operation, return_type, nodes, self.fragments, self.splice)
            if plan is not None:
                before = _completed[0]
                try:
                    completed = plan(result)
                except _Fallback:
                    pass
                else:
                    self.spend(_completed[0] - before)
                    return completed
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )
