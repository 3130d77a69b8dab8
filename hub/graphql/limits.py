"""Validation rules that bound the cost of a query: nesting depth and aliases (the token count is
bounded by the parser). The HTTP view and the websocket path use the same rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationContext,
)

if TYPE_CHECKING:
    from hub.config import GraphQLLimits


def request_error_extensions(reason: str, status: int = 400) -> dict[str, Any]:
    """The error table's extensions for a request the hub refuses before executing it."""
    return {"code": "BAD_REQUEST", "plugin": "hub", "status": status, "reason": reason}


def _depth(node: Any, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]) -> int:
    selection_set = getattr(node, "selection_set", None)
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue  # introspection is bounded by the schema itself
            deepest = max(deepest, 1 + _depth(selection, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                deepest = max(deepest, _depth(fragments[name], fragments, seen | {name}))
    return deepest


def depth_limit(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            depth = _depth(node, fragments, frozenset())
            if depth > max_depth:
                self.report_error(
                    GraphQLError(f"query depth {depth} exceeds the limit of {max_depth}", node)
                )

    return DepthLimit


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
        _with_reason(alias_limit(limits.max_aliases), "alias_limit"),
    ]
