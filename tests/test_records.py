"""The host's typed-record conversions (hub.records), the one error factory, and Retry-After
set by the host on every plugin's 429 whatever its error renderer."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import strawberry
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from hub_monitorozas.v1 import monitorozas_pb2
from hub_unspot.v1 import unspot_pb2

from hub.errors import ErrorFactory, HubError
from hub.records import (
    ISO_OFFSET,
    ISO_Z,
    Instant,
    as_flag,
    camel,
    flag,
    from_timestamp,
    iso8601,
    json_array,
    parse_iso8601,
    sent_fields,
    snake,
    spec,
    to_graphql,
    to_json,
    to_message,
    to_timestamp,
)
from tests.hubproc import HubProcess

MOMENT = datetime(2026, 2, 4, 11, 41, 39, 427_900, tzinfo=UTC)


# -- names, flags, instants ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("snake_name", "camel_name"),
    [
        ("last_sync_date", "lastSyncDate"),
        ("avg_n_tries", "avgNTries"),
        ("id", "id"),
        ("user_id2", "userId2"),
    ],
)
def test_names_convert_both_ways(snake_name: str, camel_name: str) -> None:
    assert camel(snake_name) == camel_name
    assert snake(camel_name) == snake_name


def test_flags_convert_both_ways() -> None:
    assert [flag(1), flag(0), flag(None), flag(True)] == [True, False, None, True]
    assert [as_flag(True), as_flag(False), as_flag(None)] == [1, 0, None]


def test_instants_render_as_each_contract_writes_them() -> None:
    epoch = MOMENT.timestamp()
    assert iso8601(MOMENT) == "2026-02-04T11:41:39Z"
    assert iso8601(epoch, zulu=False) == "2026-02-04T11:41:39+00:00"
    assert iso8601(MOMENT, timespec="centiseconds") == "2026-02-04T11:41:39.42Z"
    assert iso8601(MOMENT, timespec="milliseconds") == "2026-02-04T11:41:39.427Z"
    assert ISO_OFFSET.format(MOMENT) == "2026-02-04T11:41:39+00:00"
    assert Instant("seconds").format(MOMENT) == ISO_Z.format(MOMENT)
    # another offset comes out in UTC
    eastern = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert iso8601(eastern) == "2026-02-04T11:41:39Z"


def test_instants_parse_only_with_an_offset() -> None:
    assert parse_iso8601("2026-02-04T13:41:39+02:00") == MOMENT.replace(microsecond=0)
    assert parse_iso8601("2026-02-04T11:41:39Z").tzinfo is UTC
    with pytest.raises(ValueError, match="needs an offset"):
        parse_iso8601("2026-02-04T11:41:39")
    with pytest.raises(ValueError, match="not an ISO 8601 date-time"):
        parse_iso8601("yesterday")
    with pytest.raises(ValueError, match="out of range"):
        parse_iso8601("0001-01-01T00:00:00+01:00")


def test_timestamps_convert_both_ways() -> None:
    stamp = to_timestamp(MOMENT)
    assert (stamp.seconds, stamp.nanos) == (int(MOMENT.timestamp()), 427_900_000)
    assert from_timestamp(stamp) == MOMENT
    assert to_timestamp(MOMENT.timestamp()).seconds == stamp.seconds


# -- records -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    name: str
    done: bool = field(metadata=spec(flag=True))


@dataclass(frozen=True)
class Board:
    board_id: int
    last_seen_at: datetime | None = field(metadata=spec(instant=ISO_OFFSET))
    created_at: datetime
    items: tuple[Item, ...]
    note: str | None = None
    archived_at: datetime | None = field(default=None, metadata=spec(omit_none=True))


BOARD = Board(7, MOMENT, MOMENT, (Item("a", True), Item("b", False)))


def test_records_render_as_json() -> None:
    assert to_json(BOARD) == {
        "board_id": 7,
        "last_seen_at": "2026-02-04T11:41:39+00:00",
        "created_at": "2026-02-04T11:41:39Z",
        "items": [{"name": "a", "done": 1}, {"name": "b", "done": 0}],
        "note": None,
    }
    camel_json = to_json(BOARD, camel_case=True)
    assert list(camel_json) == ["boardId", "lastSeenAt", "createdAt", "items", "note"]
    # the keys of a plain mapping are data, not field names
    assert to_json({"snake_key": BOARD.items[0]}, camel_case=True) == {
        "snake_key": {"name": "a", "done": 1}
    }


def _proto_module() -> dict[str, type[Message]]:
    """A real proto3 file built at run time: presence, implicit scalars, repeated, map, a
    nested message and a Timestamp, the shapes the plugins' protos use."""
    file = descriptor_pb2.FileDescriptorProto(
        name="records_test.proto",
        package="records.test",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    item = file.message_type.add(name="Item")
    item.field.add(name="name", number=1, type=9, label=1)
    item.field.add(name="done", number=2, type=8, label=1)
    board = file.message_type.add(name="Board")
    board.field.add(name="board_id", number=1, type=3, label=1)
    board.field.add(name="last_seen_at", number=2, type=9, label=1)
    board.field.add(
        name="created_at", number=3, type=11, label=1, type_name=".google.protobuf.Timestamp"
    )
    board.field.add(name="items", number=4, type=11, label=3, type_name=".records.test.Item")
    board.field.add(name="note", number=5, type=9, label=1, proto3_optional=True, oneof_index=0)
    board.oneof_decl.add(name="_note")
    entry = board.nested_type.add(name="TagsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=9, label=1)
    entry.field.add(name="value", number=2, type=3, label=1)
    board.field.add(
        name="tags", number=6, type=11, label=3, type_name=".records.test.Board.TagsEntry"
    )
    board.field.add(name="first", number=7, type=11, label=1, type_name=".records.test.Item")
    pool = descriptor_pool.Default()  # where timestamp_pb2 lives: one Timestamp class
    pool.AddSerializedFile(file.SerializeToString())
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"records.test.{name}"))
        for name in ("Item", "Board")
    }


PB = _proto_module()


def test_records_render_as_messages() -> None:
    record = {**BOARD.__dict__, "tags": {"x": 1}, "first": {"name": "f", "done": 1}}
    message: Any = to_message(PB["Board"], record)
    assert message.board_id == 7
    assert message.last_seen_at == "2026-02-04T11:41:39Z"  # a plain mapping: the default style
    assert from_timestamp(message.created_at) == MOMENT
    assert [(i.name, i.done) for i in message.items] == [("a", True), ("b", False)]
    assert not message.HasField("note")  # None stays unset
    assert dict(message.tags) == {"x": 1}
    assert message.first.done is True  # a 0/1 flag becomes a boolean
    # a record's own spec decides how a string field writes its instant
    assert to_message(PB["Board"], BOARD).last_seen_at == "2026-02-04T11:41:39+00:00"


def test_a_record_renders_as_a_plugin_message() -> None:
    device = {"id": 3, "is_enabled": 1, "check_public_http": 0, "last_error": None}
    message = to_message(monitorozas_pb2.Device, device)
    assert (message.id, message.is_enabled, message.check_public_http) == (3, True, False)
    assert not message.HasField("last_error")


def test_a_value_a_message_field_cannot_take_is_named() -> None:
    """protobuf's own error names neither the message nor the field: a plugin author had to
    guess which of a record's fields was wrong."""
    device = {"id": 3, "location": 12}  # location is a string field
    with pytest.raises(TypeError) as refused:
        to_message(monitorozas_pb2.Device, device)
    assert str(refused.value).startswith("hub.monitorozas.v1.Device.location: "), refused.value
    assert str(refused.value).endswith("(got int)"), refused.value


@strawberry.type
class ItemType:
    name: str
    done: bool


@strawberry.type
class BoardType:
    board_id: int
    last_seen_at: str | None
    items: list[ItemType]
    note: str | None = "default"

    @strawberry.field
    def size(self) -> int:
        return len(self.items)


@strawberry.type
class BoardQuery:
    @strawberry.field
    def board(self) -> BoardType:
        return to_graphql(BoardType, {**BOARD.__dict__, "items": BOARD.items})


def test_records_render_as_graphql_types() -> None:
    board = to_graphql(BoardType, BOARD)
    assert board.last_seen_at == "2026-02-04T11:41:39+00:00"
    assert [i.done for i in board.items] == [True, False]
    result = strawberry.Schema(query=BoardQuery).execute_sync(
        "{ board { boardId lastSeenAt items { name done } note size } }"
    )
    assert result.errors is None
    assert result.data == {
        "board": {
            "boardId": 7,
            "lastSeenAt": "2026-02-04T11:41:39Z",  # a plain mapping: the default style
            "items": [{"name": "a", "done": True}, {"name": "b", "done": False}],
            "note": None,
            "size": 2,
        }
    }


# -- only the fields that were sent --------------------------------------------------------------
@strawberry.input
class ItemInput:
    name: str | None = strawberry.UNSET
    done: bool | None = strawberry.UNSET


@strawberry.input
class BoardInput:
    title: str
    note: str | None = strawberry.UNSET
    first: ItemInput | None = strawberry.UNSET
    items: list[ItemInput] | None = strawberry.UNSET


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{ save(input: {title: "t"}) }', {"title": "t"}),
        ('{ save(input: {title: "t", note: null}) }', {"title": "t", "note": None}),
        (
            '{ save(input: {title: "t", first: {done: true}, items: [{name: "a"}, {}]}) }',
            {"title": "t", "first": {"done": True}, "items": [{"name": "a"}, {}]},
        ),
    ],
)
def test_sent_fields_of_a_strawberry_input(document: str, expected: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def save(self, input: BoardInput) -> bool:
            seen.append(sent_fields(input))
            return True

    assert strawberry.Schema(query=Query).execute_sync(document).errors is None
    assert seen == [expected]


def test_sent_fields_of_a_proto3_message() -> None:
    board = PB["Board"](board_id=0, created_at=to_timestamp(MOMENT))
    assert sent_fields(board) == {
        "board_id": 0,  # no presence: always there
        "last_seen_at": "",
        "created_at": MOMENT,  # a Timestamp as a datetime
        "items": [],
        "tags": {},
    }
    board = PB["Board"](note="", first=PB["Item"](done=True), items=[PB["Item"](name="a")])
    sent = sent_fields(board)
    assert sent["note"] == ""  # optional and set, even to its default
    assert sent["first"] == {"name": "", "done": True}
    assert sent["items"] == [{"name": "a", "done": False}]
    assert "created_at" not in sent
    upsert = unspot_pb2.UpsertDisplayRequest(name="lobby", status="online")
    assert sent_fields(upsert) == {"name": "lobby", "status": "online"}


# -- the error factory ---------------------------------------------------------------------------
def test_error_factory_has_one_argument_order() -> None:
    error = ErrorFactory("todo")
    made = error(404, "id: no item 'x'", "item_not_found")
    assert isinstance(made, HubError)
    assert (made.status, made.message, made.reason, made.plugin) == (
        404,
        "id: no item 'x'",
        "item_not_found",
        "todo",
    )
    limited = error(429, "slow down", "rate_limited", retry_after=3)
    assert limited.retry_after == 3 and limited.extensions["retryAfter"] == 3
    coded = ErrorFactory("era", reasons=lambda status: 1000 + status)
    assert coded(404, "Not found").reason == 1404
    assert coded(404, "Not found", "own").reason == "own"
    assert error(400, "bad").reason is None


# -- Retry-After, once, by the host --------------------------------------------------------------
RENDERERS = {
    "limitedera": "hub_era.rest",
    "limitedmonitorozas": "hub_monitorozas.rest",
    "limitedwebim": "hub_webim.rest",
    "limitedrop": "hub_rop.rest",
    "limitedunspot": "hub_unspot.rest",
    "limitednotes": "hub_notes.rest",
}

LIMITED_PLUGIN = '''
"""Refuses every request with a 429, rendered by {module}'s error renderer."""
from aiohttp import web

from hub.errors import HubError
from hub.hookspecs import hookimpl
from hub.registrations import RestApi
from {module} import render_error


async def refuse(request):
    raise HubError(429, "slow down", reason="rate_limited", plugin="{name}", retry_after=7)


@hookimpl
def register_rest(hub, register):
    register(RestApi(routes=[web.get("/x", refuse)], render_error=render_error))
'''


@pytest.fixture(scope="module")
def limited_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    plugins = tmp_path_factory.mktemp("plugins")
    for name, module in RENDERERS.items():
        text = LIMITED_PLUGIN.format(module=module, name=name)
        Path(plugins, f"{name}.py").write_text(textwrap.dedent(text))
    hub = HubProcess(tmp_path_factory.mktemp("limited"))
    hub.env.update(HUB_PLUGINS=",".join(RENDERERS), HUB_PLUGINS_DIR=str(plugins))
    hub.start()
    yield hub
    hub.stop()


@pytest.mark.parametrize("plugin", list(RENDERERS))
async def test_the_host_sets_retry_after_on_every_plugins_429(
    limited_hub: HubProcess, plugin: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{limited_hub.url}/{plugin}/x") as response,
    ):
        assert response.status == 429
        assert response.headers.getall("Retry-After") == ["7"]
        body = await response.read()
    assert b"slow down" in body  # in the plugin's own error shape


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_json_array_joins_stored_texts_as_one_array(count: int) -> None:
    items = [orjson.dumps({"n": i, "s": "é,]"}) for i in range(count)]
    joined = json_array(items)
    assert joined == b"[" + b",".join(items) + b"]"
    assert orjson.loads(joined) == [{"n": i, "s": "é,]"} for i in range(count)]
    assert items == [orjson.dumps({"n": i, "s": "é,]"}) for i in range(count)]  # left as they were
