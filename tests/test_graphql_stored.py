"""Stored rows (:func:`hub.graphql.stored.stored_objects`) answer exactly as the objects built
from them would, whatever the selection, on the first request and on every later one."""

from __future__ import annotations

from typing import Any

import graphql
import orjson
import pytest
import strawberry

from hub.graphql import fast
from hub.graphql.fast import PlainSubtreeExecutor
from hub.graphql.stored import Stored, stored_objects
from hub.graphql.types import Connection, connection
from hub.paging import Page
from hub.records import to_graphql
from hub.rendered import Renderings
from tests.test_graphql_fast import Item  # the same types, here listed as stored rows

ROWS: list[bytes] = []  # what the resolvers list, as stored
WITH_IDS = [False]  # whether the resolvers hand each row's id over too (its index)


def ids() -> list[int] | None:
    return list(range(len(ROWS))) if WITH_IDS[0] else None


def decode(raw: bytes) -> dict[str, Any]:
    return orjson.loads(raw)  # type: ignore[no-any-return]


def row(i: int, title: str | None = None, note: str | None = None) -> bytes:
    tags = [{"name": "a", "weight": 1.5}, {"name": "é", "weight": None}]
    data = {"id": str(i), "title": f"t{i}" if title is None else title, "tags": tags, "note": note}
    return orjson.dumps(data)


@strawberry.type
class Edge:
    """A wrapper whose one field is the row, as a Relay edge without its cursor."""

    node: Item
    rank: int


@strawberry.type
class Query:
    @strawberry.field
    def stored(self) -> list[Item]:
        return stored_objects(Item, ROWS, decode, ids())

    @strawberry.field
    def built(self) -> list[Item]:
        return [to_graphql(Item, decode(raw)) for raw in ROWS]

    @strawberry.field
    def stored_edges(self) -> list[Edge]:
        nodes = stored_objects(Item, ROWS, decode, ids())
        return [Edge(node=node, rank=i) for i, node in enumerate(nodes)]

    @strawberry.field
    def stored_page(self) -> Connection[Item]:
        nodes = stored_objects(Item, ROWS, decode, ids())
        return connection(nodes, len(ROWS), Page(0, len(ROWS)))

    @strawberry.field
    def built_page(self) -> Connection[Item]:
        nodes = [to_graphql(Item, decode(raw)) for raw in ROWS]
        return connection(nodes, len(ROWS), Page(0, len(ROWS)))

    @strawberry.field
    def built_edges(self) -> list[Edge]:
        return [Edge(node=to_graphql(Item, decode(raw)), rank=i) for i, raw in enumerate(ROWS)]


schema = strawberry.Schema(query=Query)

SELECTIONS = [
    "{ id title tags { name weight } note }",
    "{ __typename a: title b: title ...F tags { ... on Tag { name } } } fragment F on Item { id }",
    '{ title shout(suffix: "?") }',
    "{ title note @include(if: $s) }",
    "{ id }",
]


DOCUMENTS: dict[str, graphql.DocumentNode] = {}  # renderings live with their document's plans


def answer(field: str, selection: str, executor: Any) -> tuple[bytes, list[Any]]:
    head, _, fragments = selection.partition(" fragment ")
    query = f"query($s: Boolean!) {{ {field} {head} }}" + (
        f" fragment {fragments}" if fragments else ""
    )
    document = DOCUMENTS.setdefault(query, graphql.parse(query))  # as the hub's cache keeps it
    result = graphql.execute(
        schema._schema, document, variable_values={"s": True}, executor_class=executor
    )
    return orjson.dumps(result.data), [e.formatted for e in result.errors or []]


def same_as_built(selection: str, executor: Any, field: str = "") -> None:
    def plain(errors: list[Any]) -> list[Any]:  # the root field's name and column differ
        return [(e["message"], e.get("path", [None])[1:]) for e in errors]

    expected, expected_errors = answer("built" + field, selection, None)
    data, errors = answer("stored" + field, selection, executor)
    assert data.replace(b'"stored', b'"built') == expected
    assert plain(errors) == plain(expected_errors)


@pytest.fixture(autouse=True, params=[False, True], ids=["by content", "by id"])
def rows(request: pytest.FixtureRequest) -> Any:
    """Every test twice: renderings found by the row's content, and by its id (confirmed by
    its content, so a changed row with the same id is rendered again)."""
    WITH_IDS[0] = request.param
    ROWS[:] = [row(i) for i in range(3)]
    yield
    ROWS.clear()
    WITH_IDS[0] = False


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("splice", [True, False])
def test_stored_rows_answer_as_built_objects(selection: str, splice: bool) -> None:
    executor = PlainSubtreeExecutor.limited(10_000, splice=splice)
    for _ in range(3):  # rendered, then answered from the renderings
        same_as_built(selection, executor)


EDGE_SELECTIONS = [
    f"{{ node {SELECTIONS[0]} }}",
    "{ __typename n: node { __typename id } }",
    "{ node { id } rank }",
    '{ node { title shout(suffix: "?") } }',
]


@pytest.mark.parametrize("selection", EDGE_SELECTIONS)
@pytest.mark.parametrize("splice", [True, False])
def test_an_object_holding_one_stored_row_answers_as_built(selection: str, splice: bool) -> None:
    executor = PlainSubtreeExecutor.limited(10_000, splice=splice)
    for _ in range(3):
        same_as_built(selection, executor, "Edges")
    ROWS[0] = row(0, title="changed")
    same_as_built(selection, executor, "Edges")


PAGE_SELECTIONS = [
    "{ edges { node { id title tags { name weight } note } } totalCount }",
    "{ edges { cursor node { id } } pageInfo { hasNextPage startCursor endCursor } }",
    "{ edges { node { id note @include(if: $s) } } }",  # graphql-core reads the edges
    "{ nodes { id } edges { node { title } } }",
    "{ edges { __typename node { __typename id } } }",
]


@pytest.mark.parametrize("selection", PAGE_SELECTIONS)
@pytest.mark.parametrize("splice", [True, False])
def test_a_connection_of_stored_rows_answers_as_built(selection: str, splice: bool) -> None:
    """A connection's edges are made only when read: answered from the rows by the fast
    completer, read as a list by graphql-core and by the completer of an edge with a cursor."""
    executor = PlainSubtreeExecutor.limited(10_000, splice)
    for _ in range(2):  # rendered, then from the renderings
        same_as_built(selection, executor, "Page")
    ROWS[1] = row(1, title="changed")
    same_as_built(selection, executor, "Page")


def test_a_connections_edges_read_as_a_list() -> None:
    (page,) = [connection(stored_objects(Item, ROWS, decode), 3, Page(0, 3))]
    edges = page.edges
    assert len(edges) == 3 and [e.node.id for e in edges] == ["0", "1", "2"]
    assert edges[-1].node.id == "2" and [e.cursor for e in edges[1:]] == [
        edges[1].cursor,
        edges[2].cursor,
    ]
    with pytest.raises(IndexError):
        edges[3]


def test_an_edges_null_row_field_is_graphql_cores_error() -> None:
    ROWS[2] = orjson.dumps({**orjson.loads(row(2)), "title": None})
    executor = PlainSubtreeExecutor.limited(10_000, splice=True)
    for _ in range(2):
        same_as_built("{ node { id title } }", executor, "Edges")
        assert answer("storedEdges", "{ node { id title } }", executor)[0] == b"null"


@pytest.mark.parametrize(
    ("field", "selection"), [("", SELECTIONS[0]), ("Edges", "{ node { id title note } }")]
)
def test_a_changed_row_is_rendered_again(field: str, selection: str) -> None:
    executor = PlainSubtreeExecutor.limited(10_000, splice=True)
    same_as_built(selection, executor, field)
    ROWS[1] = row(1, title="changed", note="new")
    same_as_built(selection, executor, field)
    assert b'"changed"' in answer("stored" + field, selection, executor)[0]


def test_a_null_in_a_non_null_field_is_graphql_cores_error() -> None:
    ROWS[1] = orjson.dumps({**orjson.loads(row(1)), "title": None})
    executor = PlainSubtreeExecutor.limited(10_000, splice=True)
    for _ in range(2):
        data, errors = answer("stored", "{ id title }", executor)
        assert data == b"null"
        assert "Cannot return null for non-nullable field Item.title" in errors[0]["message"]


@pytest.mark.parametrize(
    ("field", "selection"), [("stored", "{ id title }"), ("storedEdges", "{ node { id title } }")]
)
def test_renderings_count_against_the_field_budget_every_time(field: str, selection: str) -> None:
    def fits(budget: int, splice: bool) -> bool:
        executor = PlainSubtreeExecutor.limited(budget, splice)
        errors = answer(field, selection, executor)[1]
        assert errors == [] or errors[0]["extensions"]["reason"] == "execution_limit"
        return not errors

    needed = next(n for n in range(1, 50) if fits(n, splice=False))
    assert needed > 6  # the root field, three rows and their two fields each
    for _ in range(3):  # rendered, then answered from the renderings: counted alike
        assert fits(needed, splice=True)
        assert not fits(needed - 1, splice=True)


def test_renderings_stay_within_their_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    small = Renderings(budget=3 * (2 * len(row(0)) + 100))
    monkeypatch.setattr(fast, "renderings", small)
    executor = PlainSubtreeExecutor.limited(10_000, splice=True)
    ROWS[:] = [row(i) for i in range(5)]
    for _ in range(3):
        same_as_built("{ id title note }", executor)
        assert small.used <= small.budget


def test_a_stored_row_reads_as_its_object() -> None:
    (item,) = stored_objects(Item, [row(7)], decode)
    assert type(item) is Stored and isinstance(item, Item)
    assert item.title == "t7" and item.shout() == "T7!"  # type: ignore[call-arg]
