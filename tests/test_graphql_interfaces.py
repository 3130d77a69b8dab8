"""Types that implement an interface (strawberry gives them an ``is_type_of``) are completed by
the compiled plans too, stored rows included, and answer exactly as graphql-core does: an
object of another type is graphql-core's error."""

from __future__ import annotations

from typing import Any

import graphql
import orjson
import pytest
import strawberry

from hub.graphql import fast
from hub.graphql.fast import PlainSubtreeExecutor
from hub.graphql.stored import stored_objects
from hub.graphql.types import Connection, connection
from hub.paging import Page
from hub.records import to_graphql


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Pet(Named):
    age: int | None


@strawberry.type
class Robot(Named):
    serial: str


@strawberry.type
class Plain:  # no interface: no Pet
    name: str


ROWS: list[bytes] = []


def row(i: int, name: str | None = None) -> bytes:
    return orjson.dumps({"name": f"pet{i}" if name is None else name, "age": i or None})


def decode(raw: bytes) -> dict[str, Any]:
    return orjson.loads(raw)  # type: ignore[no-any-return]


@strawberry.type
class Query:
    @strawberry.field
    def built(self) -> list[Pet]:
        return [to_graphql(Pet, decode(raw)) for raw in ROWS]

    @strawberry.field
    def stored(self) -> list[Pet]:
        return stored_objects(Pet, ROWS, decode, list(range(len(ROWS))))

    @strawberry.field
    def built_page(self) -> Connection[Pet]:
        return connection([to_graphql(Pet, decode(raw)) for raw in ROWS], len(ROWS), Page())

    @strawberry.field
    def stored_page(self) -> Connection[Pet]:
        return connection(stored_objects(Pet, ROWS, decode), len(ROWS), Page())

    @strawberry.field
    def wrong(self) -> list[Pet]:  # a resolver's mistake: objects of another type
        return [Plain(name="p2")]  # type: ignore[list-item]

    @strawberry.field
    def everyone(self) -> list[Named]:
        return [Pet(name="p", age=1), Robot(name="r", serial="s")]


schema = strawberry.Schema(query=Query, types=[Pet, Robot])
DOCUMENTS: dict[str, graphql.DocumentNode] = {}  # kept, as the hub's cache keeps documents


def run(query: str, executor: Any = None) -> tuple[bytes, list[Any]]:
    document = DOCUMENTS.setdefault(query, graphql.parse(query))
    result = graphql.execute(schema._schema, document, executor_class=executor)
    return orjson.dumps(result.data), [e.formatted for e in result.errors or []]


SELECTIONS = [
    "{ name age }",
    "{ __typename ... on Named { name } n: name }",
    "{ ... on Pet { age } }",
]
EXECUTORS = [PlainSubtreeExecutor, PlainSubtreeExecutor.limited(10_000, splice=True)]


@pytest.fixture(autouse=True)
def rows() -> None:
    ROWS[:] = [row(i) for i in range(4)]


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_rows_of_an_interface_type_answer_as_built(selection: str, executor: Any) -> None:
    pages = f"{{ edges {{ node {selection} }} nodes {selection} totalCount }}"
    shapes = (("built", "stored", selection), ("builtPage", "storedPage", pages))
    for built, stored, shape in shapes:
        expected = run(f"{{ {built} {shape} }}")
        for _ in range(3):  # then from kept renderings
            data, errors = run(f"{{ {stored} {shape} }}", executor)
            assert (data.replace(stored.encode(), built.encode()), errors) == expected
        ROWS[1] = row(1, name="renamed")
        data, errors = run(f"{{ {stored} {shape} }}", executor)
        assert (b"renamed" in data) is ("name" in selection)
        assert (data.replace(stored.encode(), built.encode()), errors) == run(
            f"{{ {built} {shape} }}"
        )
        ROWS[1] = row(1)


def test_the_plan_of_an_interface_type_is_compiled() -> None:
    document = graphql.parse("{ built { name age } }")
    graphql.execute(schema._schema, document, executor_class=PlainSubtreeExecutor)
    plans = fast._plans[id(document.definitions[0])]
    assert [plan for kind, _, plan in plans.values() if str(kind) == "[Pet!]!"] != [None]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_object_of_another_type_is_graphql_cores_error(executor: Any) -> None:
    expected = run("{ wrong { name } }")
    assert expected[1] and "Expected value of type 'Pet'" in expected[1][0]["message"]
    assert run("{ wrong { name } }", executor) == expected
    assert run("{ everyone { __typename name } }", executor) == run(
        "{ everyone { __typename name } }"
    )
