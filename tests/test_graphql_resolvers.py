"""The lean resolvers (:func:`hub.graphql.resolvers.lighten`) answer exactly as strawberry's own:
the same arguments in the same Python types, the same source and info, the same errors."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any

import graphql
import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.scalars import JSON

from hub.graphql.resolvers import lighten


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Range:
    low: int
    high: int = 10
    color: Color | None = strawberry.UNSET


class Deny(BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Box:
    size: int

    @strawberry.field
    def grown(self, by: int = 1) -> int:
        return self.size + by

    @strawberry.field
    def parent_size(self, root: Box) -> int:
        return root.size


def shown(value: Any) -> Any:
    """A value as plain data with its Python types named, to compare conversions."""
    if isinstance(value, list):
        return [shown(v) for v in value]
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    if hasattr(value, "__strawberry_definition__"):
        return {type(value).__name__: {k: shown(v) for k, v in vars(value).items()}}
    if value is strawberry.UNSET:
        return "UNSET"
    return value


@strawberry.type
class Query:
    @strawberry.field
    def echo(
        self,
        info: strawberry.Info,
        text: str,
        count: int | None = None,
        color: Color = Color.RED,
        ranges: list[Range] | None = None,
        data: JSON | None = None,
        ident: strawberry.ID | None = None,
    ) -> JSON:
        return {
            "field": info.field_name,
            "path": list(info.path.as_list()),
            "args": shown([text, count, color, ranges, data, ident]),
        }

    @strawberry.field
    async def later(self, n: int) -> int:
        return n * 2

    @strawberry.field
    async def slept(self, n: int) -> int:
        await asyncio.sleep(0)  # suspends: the rest runs when the event loop resumes it
        return n + 1

    @strawberry.field
    async def fails_later(self, n: int) -> int:
        await asyncio.sleep(0)
        raise ValueError(f"late n {n}")

    @strawberry.field
    async def fails_at_once(self, n: int) -> int:
        raise ValueError(f"early n {n}")

    @strawberry.field
    async def shared(self, n: int) -> int:
        return n + await SHARED[0]  # one future for every field, as a DataLoader key gives

    @strawberry.field
    async def waits(self) -> int:
        try:
            await WAITING.wait()
        finally:
            WAITING_ENDED.append(True)
        return 1

    @strawberry.field
    def box(self) -> Box:
        return Box(size=3)

    @strawberry.field
    def maybe(self, value: strawberry.Maybe[Range | None] = None) -> str:
        return repr(value)  # absent, Some(None) for an explicit null, Some(Range(...))

    @strawberry.field(permission_classes=[Deny])
    def secret(self) -> str:
        return "s"

    @strawberry.field
    def fails(self, n: int) -> int:
        raise ValueError(f"bad n {n}")


QUERIES = [
    '{ echo(text: "a") }',
    '{ echo(text: "a", count: 2, color: BLUE, ranges: [{low: 1}, {low: 2, high: 3, color: RED}],'
    ' data: {x: [1, "y"]}, ident: "7") }',
    'query($r: [Range!], $c: Color!) { a: echo(text: "v", ranges: $r, color: $c) }',
    "{ later(n: 4) box { size grown g2: grown(by: 5) parentSize } }",
    "{ secret }",
    "{ fails(n: 3) }",
    "{ slept(n: 1) later(n: 2) again: slept(n: 5) }",
    "{ failsLater(n: 1) failsAtOnce(n: 2) later(n: 3) }",
    '{ echo(text: "a", count: null) }',
    '{ echo(text: "a", ranges: null, data: null, ident: null) }',
    "{ maybe none: maybe(value: null) some: maybe(value: {low: 1}) }",
    "query($r: Range) { maybe(value: $r) }",
]
SHARED: list[asyncio.Future[int]] = []
WAITING = asyncio.Event()
WAITING_ENDED: list[bool] = []
VARIABLES = {"r": [{"low": 5, "color": "BLUE"}], "c": "BLUE"}


async def run(schema: strawberry.Schema, query: str) -> Any:
    result = await graphql.graphql(schema._schema, query, variable_values=VARIABLES)
    return result.data, [(e.message, e.path) for e in result.errors or []]


def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    stock, lean = strawberry.Schema(query=Query), strawberry.Schema(query=Query)
    lighten(lean._schema, lean.config, lean.schema_converter.scalar_registry)
    return stock, lean


@pytest.mark.parametrize("query", QUERIES)
async def test_lean_resolvers_answer_as_strawberrys(query: str) -> None:
    stock, lean = schemas()
    assert await run(lean, query) == await run(stock, query)


def test_only_plain_resolver_fields_are_replaced() -> None:
    stock, lean = schemas()
    fields = lean._schema.query_type.fields  # type: ignore[union-attr]
    originals = stock._schema.query_type.fields  # type: ignore[union-attr]
    for name in ("echo", "later", "box", "fails"):
        assert fields[name].resolve.__module__ == "hub.graphql.resolvers", name
    assert fields["secret"].resolve.__module__ == originals["secret"].resolve.__module__
    assert fields["secret"].resolve.__module__ != "hub.graphql.resolvers"
    box = lean._schema.type_map["Box"].fields  # type: ignore[union-attr]
    assert box["grown"].resolve.__module__ == "hub.graphql.resolvers"
    assert getattr(box["size"].resolve, "_is_default", False)  # a basic field keeps its own


async def test_a_suspended_resolver_is_cancelled_where_it_waits() -> None:
    _, lean = schemas()
    WAITING.clear()
    WAITING_ENDED.clear()
    running = graphql.execute(lean._schema, graphql.parse("{ waits }"))
    task = asyncio.ensure_future(running)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert not task.done() and not WAITING_ENDED
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert WAITING_ENDED == [True]  # the resolver's own finally ran, in the resolver


async def test_resolvers_awaiting_one_future_all_get_its_value() -> None:
    """Several resolvers wait on the same future (a DataLoader hands every load of one key the
    same future): each gets its value."""
    _, lean = schemas()
    SHARED[:] = [asyncio.get_running_loop().create_future()]
    asyncio.get_running_loop().call_soon(SHARED[0].set_result, 10)
    result = graphql.execute(lean._schema, graphql.parse("{ a: shared(n: 1) b: shared(n: 2) }"))
    assert (await result).data == {"a": 11, "b": 12}  # type: ignore[misc]
