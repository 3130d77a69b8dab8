"""The compiled completion of plain subtrees must answer exactly as graphql-core does."""

from __future__ import annotations

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


def item_list_plan() -> Any:
    plans = [plan for key, (_, plan) in fast._plans.items() if key[0] == "[Item!]!"]
    assert len(plans) == 1
    return plans[0]


def test_plain_subtrees_are_compiled_and_others_are_not() -> None:
    fast._plans.clear()
    run(QUERIES[0], PlainSubtreeExecutor)
    assert item_list_plan() is not None, "the plain list of items should be compiled"
    fast._plans.clear()
    run(QUERIES[2], PlainSubtreeExecutor)  # `shout` has a resolver and arguments
    assert item_list_plan() is None
    fast._plans.clear()
    run(QUERIES[3], PlainSubtreeExecutor)  # a directive depends on variables
    assert item_list_plan() is None
