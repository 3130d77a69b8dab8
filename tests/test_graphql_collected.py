"""Subfields collected once per document and kept across requests (``fast.collected_subfields``)
only when no request could collect others: a ``@skip``/``@include`` that reads a variable, in
the operation or in a fragment it spreads, is collected per request."""

from __future__ import annotations

import gc
from typing import Any

import graphql
import pytest
import strawberry

from hub.graphql import fast
from hub.graphql.fast import PlainSubtreeExecutor


@strawberry.type
class Inner:
    @strawberry.field
    def x(self) -> int:  # resolvers: graphql-core collects and executes this level itself
        return 1

    @strawberry.field
    def y(self) -> int:
        return 2


@strawberry.type
class Query:
    @strawberry.field
    def obj(self) -> Inner:
        return Inner()


schema = strawberry.Schema(query=Query)


def run(document: graphql.DocumentNode, **variables: Any) -> Any:
    result = graphql.execute(
        schema._schema,
        document,
        variable_values=variables,
        executor_class=PlainSubtreeExecutor,
    )
    assert not isinstance(result, graphql.ExecutionResult) or not result.errors, result
    assert isinstance(result, graphql.ExecutionResult)
    return result.data


def kept(document: graphql.DocumentNode) -> list[Any]:
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    kept = fast._collected.get(id(operation))
    return [] if kept is None else list(kept.entries)


@pytest.mark.parametrize(
    "text",
    [
        "query($v: Boolean!) { obj { x @include(if: $v) y } }",
        "query($v: Boolean!) { obj { ...F } } fragment F on Inner { x @include(if: $v) y }",
        "query($v: Boolean!) { obj { ... @include(if: $v) { x } y } }",
    ],
)
def test_a_condition_read_from_a_variable_is_collected_per_request(text: str) -> None:
    document = graphql.parse(text)
    for v in (True, False, True, False):
        expected = {"x": 1, "y": 2} if v else {"y": 2}
        assert run(document, v=v) == {"obj": expected}
    assert kept(document) == []


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("{ obj { x y } }", {"x": 1, "y": 2}),
        ("{ obj { x @include(if: false) y } }", {"y": 2}),
        ("query($v: Boolean!) { obj { x @skip(if: true) y } a: obj { x } }", {"y": 2}),
        ("{ obj { ...F } } fragment F on Inner { y x @skip(if: false) }", {"y": 2, "x": 1}),
    ],
)
def test_a_document_whose_fields_cannot_differ_keeps_them(text: str, answer: Any) -> None:
    document = graphql.parse(text)
    variables = {"v": True} if "$v" in text else {}
    first = run(document, **variables)
    assert first["obj"] == answer and kept(document)
    assert run(document, **variables) == first  # and answers alike from what it kept


def test_what_was_kept_goes_with_its_document() -> None:
    """A document nothing keeps any more must not stay alive through what was collected."""
    gc.collect()
    before = len(fast._collected)
    document = graphql.parse("{ obj { x y } }")
    run(document)
    assert len(fast._collected) == before + 1
    del document
    gc.collect()
    assert len(fast._collected) == before
