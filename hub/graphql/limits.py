"""Validation rules that bound the cost of a query: nesting depth, aliases and the number of fields
the document expands to once its fragments are inlined (the token count is bounded by the parser).

Every rule costs time linear in the document: each fragment is measured once, however often it
is spread, so a document whose fragments spread each other twice over (``...F1 ...F1`` thirty
levels deep: a billion fields from a kilobyte) is measured in microseconds and refused. These
rules run on their own, before graphql-core's, so an expensive document never reaches the
costlier standard rules. The HTTP view and the websocket path use the same rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationContext,
)
from graphql.validation import ASTValidationContext

if TYPE_CHECKING:
    from hub.config import GraphQLLimits


INTERNAL = {"code": "INTERNAL", "plugin": None, "status": 500, "reason": "internal"}
"""The extensions of an unexpected failure, whose own text stays in the log."""


def request_error_extensions(reason: str, status: int = 400) -> dict[str, Any]:
    """The error table's extensions for a request the hub refuses before executing it."""
    return {"code": "BAD_REQUEST", "plugin": "hub", "status": status, "reason": reason}


class DocumentCost:
    """Depth and expanded field count of a document's selections, each fragment measured once.

    Depth does not count introspection fields (the schema bounds them, and GraphiQL's own
    introspection query is deeper than most limits); the field count does. A fragment that is
    unknown or spreads itself counts as empty: the standard rules refuse such a document."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, tuple[int, int]] = {}
        self.measuring: set[str] = set()

    def measure(self, node: Any) -> tuple[int, int]:
        """``(depth, fields)`` of the selections under ``node``."""
        selection_set = getattr(node, "selection_set", None)
        if selection_set is None:
            return 0, 0
        deepest, fields = 0, 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                depth, below = self.measure(selection)
                fields += 1 + below
                if not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + depth)
            else:
                depth, below = (
                    self.fragment(selection.name.value)
                    if isinstance(selection, FragmentSpreadNode)
                    else self.measure(selection)
                )
                fields += below
                deepest = max(deepest, depth)
        return deepest, fields

    def fragment(self, name: str) -> tuple[int, int]:
        if name in self.measured:
            return self.measured[name]
        if name not in self.fragments or name in self.measuring:
            return 0, 0
        self.measuring.add(name)
        self.measured[name] = self.measure(self.fragments[name])
        self.measuring.discard(name)
        return self.measured[name]


def _cost(context: ASTValidationContext) -> DocumentCost:
    """One measurement per document, shared by the rules that read it."""
    document = context.document
    cost = getattr(context, "hub_cost", None)
    if cost is None:
        cost = DocumentCost(document)
        context.hub_cost = cost  # type: ignore[attr-defined]
    return cost


def depth_limit(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth, _fields = _cost(self.context).measure(node)
            if depth > max_depth:
                self.report_error(
                    GraphQLError(f"query depth {depth} exceeds the limit of {max_depth}", node)
                )

    return DepthLimit


def field_limit(max_fields: int) -> type[ASTValidationRule]:
    class FieldLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            _depth, fields = _cost(self.context).measure(node)
            if fields > max_fields:
                shown = f"{fields}" if fields < 10**9 else f"about 10^{len(str(fields)) - 1}"
                self.report_error(
                    GraphQLError(
                        f"the operation expands to {shown} fields once its fragments are"
                        f" inlined; the limit is {max_fields}",
                        node,
                    )
                )

    return FieldLimit


def alias_limit(max_aliases: int) -> type[ASTValidationRule]:
    class AliasLimit(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self.count += 1
                if self.count == max_aliases + 1:
                    self.report_error(
                        GraphQLError(f"more than {max_aliases} aliases in one document", node)
                    )

    return AliasLimit


def _with_reason(rule: type[ASTValidationRule], reason: str) -> type[ASTValidationRule]:
    """``rule`` with its errors tagged by ``reason``, so a client can tell a cost limit from an
    ordinary validation error."""

    class Tagged(rule):  # type: ignore[valid-type,misc]
        def report_error(self, error: GraphQLError) -> None:
            error.extensions = request_error_extensions(reason)
            super().report_error(error)

    Tagged.__name__ = rule.__name__
    return Tagged


def cost_rules(limits: GraphQLLimits) -> list[type[ASTValidationRule]]:
    return [
        _with_reason(depth_limit(limits.max_depth), "depth_limit"),
        _with_reason(field_limit(limits.max_fields), "field_limit"),
        _with_reason(alias_limit(limits.max_aliases), "alias_limit"),
    ]
