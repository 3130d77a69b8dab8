"""The compiled completion of plain subtrees must answer exactly as graphql-core does."""

from __future__ import annotations

import gc
from typing import Any

import graphql
import pytest
import strawberry

from hub.graphql import fast
from hub.graphql.fast import PlainSubtreeExecutor


@strawberry.type
class Tag:
    name: str
    weight: float | None


@strawberry.type
class Item:
    id: strawberry.ID
    title: str
    tags: list[Tag]
    note: str | None

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        return self.title.upper() + suffix


def make_items(*, broken: bool = False) -> list[Item]:
    items = [
        Item(id=strawberry.ID(str(i)), title=f"t{i}", tags=[Tag(name="a", weight=1.5)], note=None)
        for i in range(3)
    ]
    if broken:
        items[1].title = None  # type: ignore[assignment]  # breaks a non-null field
    return items


@strawberry.type
class Query:
    @strawberry.field
    def items(self, broken: bool = False) -> list[Item]:
        return make_items(broken=broken)


schema = strawberry.Schema(query=Query)

QUERIES = [
    "{ items { id title tags { name weight } note } }",
    "{ items { __typename a: title b: title ...F tags { ... on Tag { name } } } }"
    " fragment F on Item { id }",
    '{ items { title shout(suffix: "?") } }',
    "query($s: Boolean!) { items { title note @include(if: $s) } }",
    "{ items(broken: true) { id title } }",
]


def run(query: str, executor: Any = None) -> Any:
    result = graphql.execute(
        schema._schema, graphql.parse(query), variable_values={"s": True}, executor_class=executor
    )
    return result.data, [e.formatted for e in result.errors or []]


@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_as_graphql_core(query: str) -> None:
    assert run(query, PlainSubtreeExecutor) == run(query)


def test_null_in_non_null_field_is_reported_like_graphql_core() -> None:
    data, errors = run(QUERIES[-1], PlainSubtreeExecutor)
    assert data is None
    assert errors and "Cannot return null for non-nullable field Item.title" in errors[0]["message"]


def item_list_plan(query: str) -> Any:
    """The plan compiled for the list of items while running ``query``; plans live as long as
    their operation, so the document is kept until they are read."""
    document = graphql.parse(query)
    graphql.execute(
        schema._schema, document, variable_values={"s": True}, executor_class=PlainSubtreeExecutor
    )
    plans = fast._plans[id(document.definitions[0])]
    found = [plan for kind, _, plan in plans.values() if str(kind) == "[Item!]!"]
    assert len(found) == 1
    return found[0]


def test_plain_subtrees_are_compiled_and_others_are_not() -> None:
    assert item_list_plan(QUERIES[0]) is not None, "the plain list of items should be compiled"
    assert item_list_plan(QUERIES[2]) is None  # `shout` has a resolver and arguments
    assert item_list_plan(QUERIES[3]) is None  # a directive depends on variables


def test_plans_go_with_their_document() -> None:
    """A document that nothing keeps any more (the cache dropped it, or it was never cached)
    must not stay alive through its plans. (Hubs other tests keep running hold documents
    of their own: count only what this run adds.)"""
    gc.collect()
    before = len(fast._plans)
    run(QUERIES[0], PlainSubtreeExecutor)
    gc.collect()
    assert len(fast._plans) == before


@strawberry.type
class ManyQuery:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(id=strawberry.ID(str(i)), title="t", tags=[], note=None) for i in range(1000)]

    @strawberry.field
    def item(self) -> Item:  # graphql-core's own path: a resolver per field
        return Item(id=strawberry.ID("1"), title="t", tags=[], note=None)


many_schema = strawberry.Schema(query=ManyQuery)


@pytest.mark.parametrize(
    ("query", "budget"),
    [
        ("{ items { id title } a: items { id } }", 2500),  # compiled plans
        ("{ " + " ".join(f"i{n}: item {{ shout }}" for n in range(30)) + " }", 40),
    ],
)
def test_a_spent_field_budget_stops_execution_with_one_error(query: str, budget: int) -> None:
    document = graphql.parse(query)
    within = graphql.execute(
        many_schema._schema, document, executor_class=PlainSubtreeExecutor.limited(10**6)
    )
    assert within.errors is None
    result = graphql.execute(
        many_schema._schema, document, executor_class=PlainSubtreeExecutor.limited(budget)
    )
    assert result.errors is not None and len(result.errors) == 1, result.errors
    assert result.errors[0].extensions["reason"] == "execution_limit"


def test_documents_of_one_shape_share_code_and_keep_their_names() -> None:
    """The generated code holds no name from the document: two documents that differ only in
    their aliases run the same code, each answering with its own keys."""
    fast._CODE.clear()
    first = run("{ items { a: title b: id } }", PlainSubtreeExecutor)
    compiled = len(fast._CODE)
    second = run("{ items { x: title y: id } }", PlainSubtreeExecutor)
    assert len(fast._CODE) == compiled > 0
    assert first[0] == {"items": [{"a": f"t{i}", "b": str(i)} for i in range(3)]}
    assert second[0] == {"items": [{"x": f"t{i}", "y": str(i)} for i in range(3)]}
