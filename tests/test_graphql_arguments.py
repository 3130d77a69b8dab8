"""A field's coerced arguments kept with the operation (``fast.argument_values``) only when no
request could get others, and never as an object a resolver could change for the next request:
a variable anywhere in them, or a list or object value, is coerced per request."""

from __future__ import annotations

import gc
from typing import Any, NewType, cast

import graphql
import strawberry
from graphql.utilities import value_from_ast_untyped
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig

from hub.graphql import fast
from hub.graphql.fast import PlainSubtreeExecutor


@strawberry.input
class Span:
    low: int
    high: int = 10


def packed_literal(node: Any, variables: Any = None) -> str:
    return repr(value_from_ast_untyped(node, variables))


# a scalar whose value is immutable however its literal is written (a list, an object)
Packed = NewType("Packed", str)
PACKED = strawberry.scalar(
    name="Packed", serialize=str, parse_value=repr, parse_literal=packed_literal
)


@strawberry.type
class Query:
    @strawberry.field
    def packed(self, value: Packed) -> str:
        return value

    @strawberry.field
    def count(self, n: int, m: int = 7) -> list[int]:
        return [n, m]

    @strawberry.field
    def tags(self, names: list[str]) -> list[str]:
        names.append("changed by the resolver")  # must never reach the next request
        return names

    @strawberry.field
    def data(self, value: JSON) -> JSON:
        cast(dict[str, Any], value)["changed"] = True
        return value

    @strawberry.field
    def span(self, value: Span) -> int:
        value.low = -1
        return value.high

    @strawberry.field
    def fails(self, n: int) -> int:
        raise ValueError(f"bad {n}")


schema = strawberry.Schema(query=Query, config=StrawberryConfig(scalar_map={Packed: PACKED}))


def run(document: graphql.DocumentNode, **variables: Any) -> Any:
    result = PlainSubtreeExecutor.run(schema._schema, document, None, variables, None)
    assert isinstance(result, graphql.ExecutionResult)
    return result.data, [(e.message, e.path) for e in result.errors or []]


def kept(document: graphql.DocumentNode) -> list[dict[str, Any]]:
    operation = document.definitions[0]
    entry = fast._collected.get(id(operation))
    return [] if entry is None else [values for _, _, values in entry.arguments.values()]


def test_literal_scalars_are_kept_and_answer_alike() -> None:
    document = graphql.parse("{ count(n: 3) other: count(n: 4, m: 5) }")
    for _ in range(3):
        assert run(document) == ({"count": [3, 7], "other": [4, 5]}, [])
    assert sorted(kept(document), key=str) == [{"n": 3, "m": 7}, {"n": 4, "m": 5}]


def test_a_variable_is_read_per_request() -> None:
    document = graphql.parse("query($n: Int!) { count(n: $n) }")
    assert [run(document, n=n)[0] for n in (1, 2, 1)] == [{"count": [n, 7]} for n in (1, 2, 1)]
    assert kept(document) == []


def test_a_variable_inside_a_list_or_object_is_read_per_request() -> None:
    document = graphql.parse(
        'query($t: String!, $l: Int!) { tags(names: ["a", $t]) span(value: {low: $l}) }'
    )
    assert run(document, t="b", l=1)[0] == {
        "tags": ["a", "b", "changed by the resolver"],
        "span": 10,
    }
    assert run(document, t="c", l=2)[0] == {
        "tags": ["a", "c", "changed by the resolver"],
        "span": 10,
    }
    assert kept(document) == []


def test_a_variable_deep_in_a_literal_is_read_per_request_whatever_its_value() -> None:
    document = graphql.parse("query($v: Int!) { packed(value: {a: [1, $v]}) }")
    answers = [run(document, v=v)[0] for v in (1, 2)]
    assert answers == [{"packed": "{'a': [1, 1]}"}, {"packed": "{'a': [1, 2]}"}]
    assert kept(document) == []


def test_a_list_or_object_value_is_coerced_per_request_so_no_resolver_changes_the_next() -> None:
    document = graphql.parse('{ tags(names: ["a"]) data(value: {x: 1}) span(value: {low: 2}) }')
    expected = {"tags": ["a", "changed by the resolver"], "data": {"x": 1, "changed": True}}
    for _ in range(3):
        assert run(document) == ({**expected, "span": 10}, [])
    assert kept(document) == []


def test_a_failing_resolver_with_kept_arguments_fails_per_request() -> None:
    document = graphql.parse("{ fails(n: 2) }")
    for _ in range(2):
        assert run(document) == (None, [("bad 2", ["fails"])])


def test_kept_arguments_go_with_their_operation() -> None:
    document = graphql.parse("{ count(n: 9) }")
    run(document)
    key = id(document.definitions[0])
    assert key in fast._collected
    del document
    gc.collect()
    assert key not in fast._collected
