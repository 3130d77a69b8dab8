"""rop's GraphQL lists (calls, managers, webhookDeliveries) hand their stored rows to GraphQL
(``hub.graphql.stored``): whatever the selection, each answer is the one the records give (read
here through gRPC, which renders them on its own path), the same when asked again (answered
from kept renderings), and a row changed through the API shows its new values in the very next
list."""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import json_format
from hub_rop.v1 import rop_pb2

from hub.paging import Seek, decode_cursor
from tests.hubproc import ADMIN_TOKEN
from tests.rop_client import Rop, uid, until, uploaded
from tests.rop_fixtures import audio_fixture, hub_fixture, receiver_fixture, rop_fixture
from tests.rop_servers import AudioServer, WebhookReceiver

SECRET = "stored-rows-secret-0123456789"

# A selection is a list of fields: a name, "alias: name", or (name, its own selection).
Selection = list[Any]

STAGE: Selection = [
    "stageId",
    "stageName",
    "score",
    "percentage",
    "status",
    "comment",
    "quote",
    "timestamp",
]
CALL_ALL: Selection = [
    "callId",
    "managerId",
    "dealId",
    "dealStageId",
    "audioUrl",
    "declaredDuration",
    "status",
    "reason",
    "detail",
    "format",
    "sizeBytes",
    "duration",
    "createdAt",
    "updatedAt",
    "analyzedAt",
    (
        "checklistResults",
        [
            "callId",
            "managerId",
            "checklistName",
            "totalScore",
            "maxScore",
            "completionPercentage",
            ("stages", STAGE),
            "timestamp",
        ],
    ),
    (
        "tableResults",
        ["callId", "tableId", "tableName", "extractedData", "processingTime", "timestamp"],
    ),
]
CALL_SOME: Selection = [
    "status",
    "callId",
    "state: status",
    ("tableResults", ["extractedData", "tableId"]),
    ("checklistResults", ["totalScore", ("stages", ["score", "stageId"])]),
]
MANAGER_ALL: Selection = ["managerId", "name", "surname", "middlename"]
MANAGER_SOME: Selection = ["surname", "who: managerId"]
DELIVERY_ALL: Selection = [
    "id",
    "event",
    "callId",
    "targetKind",
    "targetId",
    "url",
    "status",
    "attempts",
    "nextAttemptAt",
    "lastStatus",
    "lastError",
    "createdAt",
    "deliveredAt",
    "deadAt",
]
DELIVERY_SOME: Selection = ["status", "id", "tries: attempts", "lastStatus"]


def text(selection: Selection) -> str:
    parts = [f if isinstance(f, str) else f"{f[0]} {text(f[1])}" for f in selection]
    return "{ " + " ".join(parts) + " }"


class Selected(dict[str, Any]):
    """An object as a selection asks for it."""


def project(value: Any, selection: Selection) -> Any:
    """``value`` (a record in GraphQL's field names) as ``selection`` asks for it."""
    if isinstance(value, list):
        return [project(v, selection) for v in value]
    out = Selected()
    for f in selection:
        name, sub = (f, None) if isinstance(f, str) else f
        key, _, field = name.partition(": ")
        field = field or key
        out[key] = value[field] if sub is None else project(value[field], sub)
    return out


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def record_of(message: Any) -> dict[str, Any]:
    """A gRPC message as GraphQL's type of the same record shows it."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            value = [record_of(v) for v in value]
        elif field.type == field.TYPE_MESSAGE:  # google.protobuf.Struct: extractedData
            value = json_format.MessageToDict(value)
        elif field.has_presence and not message.HasField(field.name):
            value = None
        out[camel(field.name)] = value
    return out


def same(actual: Any, expected: Any) -> None:
    """Equal values, and the fields of every selected object in the order selected (a JSON
    scalar's own keys keep the order the hub stored them in, which gRPC's Struct loses)."""
    assert actual == expected
    if isinstance(expected, Selected):
        assert list(actual) == list(expected)
        for k in expected:
            same(actual[k], expected[k])
    elif isinstance(expected, list):
        for a, e in zip(actual, expected, strict=True):
            same(a, e)


audio = audio_fixture()
receiver = receiver_fixture({"/ok": SECRET, "/flaky": SECRET})
hub = hub_fixture("rop-stored")
rop = rop_fixture()


class Lists:
    """One list field of ``{ rop { ... } }`` asked in several shapes, each twice."""

    def __init__(self, rop: Rop, field: str, typename: str, token: str) -> None:
        self.rop, self.field, self.typename, self.token = rop, field, typename, token

    async def raw(self, arguments: str, body: str) -> bytes:
        query = f"{{ rop {{ {self.field}({arguments}) {body} }} }}"
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.rop.hub.url}/graphql"
        async with self.rop.session.post(url, json={"query": query}, headers=headers) as r:
            assert r.status == 200
            return await r.read()

    async def ask(self, body: str, arguments: str = "first: 1000") -> Any:
        """The answer, the same to the byte when asked again."""
        first = await self.raw(arguments, body)
        again = await self.raw(arguments, body)
        assert again == first
        answer = orjson.loads(first)
        assert "errors" not in answer, answer
        return answer["data"]["rop"][self.field]

    async def check(self, records: list[dict[str, Any]], every: Selection, some: Selection) -> None:
        """Every shape of the list answers as ``records`` (oldest first) give it."""
        total = len(records)
        got = await self.ask(f"{{ totalCount nodes {text(some)} }}")
        same(got, {"totalCount": total, "nodes": project(records, some)})
        got = await self.ask(f"{{ nodes {text(every)} }}")
        same(got, {"nodes": project(records, every)})
        body = (
            "{ totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
            f" edges {{ cursor node {text(every)} }} }}"
        )
        got = await self.ask(body)
        same([e["node"] for e in got["edges"]], project(records, every))
        cursors = [e["cursor"] for e in got["edges"]]
        assert all(isinstance(decode_cursor(c), Seek) for c in cursors)
        assert got["pageInfo"] == {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": cursors[0],
            "endCursor": cursors[-1],
        }
        assert got["totalCount"] == total
        got = await self.ask(
            f"{{ edges {{ __typename node {{ __typename {text(some)[2:]} }} nodes {text(some)} }}"
        )
        typename = self.typename
        same(
            [e["node"] for e in got["edges"]],
            [Selected(__typename=typename, **node) for node in project(records, some)],
        )
        assert {e["__typename"] for e in got["edges"]} == {f"{typename}Edge"}
        same(got["nodes"], project(records, some))
        # a page at a time, after each page's end cursor
        paged: list[Any] = []
        after = ""
        while True:
            page = await self.ask(
                f"{{ pageInfo {{ hasNextPage endCursor }} nodes {text(every)} }}",
                f'first: 2, after: "{after}"',
            )
            paged += page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        same(paged, project(records, every))


async def stable(read: Any) -> list[dict[str, Any]]:
    """What ``read()`` lists, once two reads in a row agree (the background queues settled)."""
    last: list[Any] = [None]

    async def settled() -> Any:
        now = await read()
        agreed = now == last[0]
        last[0] = now
        return now if agreed else None

    return await until(settled)  # type: ignore[no-any-return]


async def put_definitions(rop: Rop, receiver: WebhookReceiver, path: str) -> tuple[str, str]:
    """A checklist and a table whose results are posted to ``path`` of ``receiver``."""
    checklist = await rop.gql_data(
        "mutation($i: RopChecklistInput!) { ropPutChecklist(input: $i) { id } }",
        {
            "i": {
                "name": f"Скрипт {uid('c')}",
                "webhookUrl": receiver.url(path),
                "webhookSecret": SECRET,
                "stages": [
                    {"id": "greeting", "name": "Приветствие"},
                    {"id": "closing", "name": "Закрытие"},
                ],
            }
        },
        token=ADMIN_TOKEN,
    )
    table = await rop.gql_data(
        "mutation($i: RopTableInput!) { ropPutTable(input: $i) { id } }",
        {
            "i": {
                "name": f"Бюджет {uid('t')}",
                "webhookUrl": receiver.url(path),
                "webhookSecret": SECRET,
                "fields": [{"name": "budget"}, {"name": "note"}],
            }
        },
        token=ADMIN_TOKEN,
    )
    return checklist["ropPutChecklist"]["id"], table["ropPutTable"]["id"]


async def upload(rop: Rop, key: str, audio: AudioServer, path: str) -> str:
    fields = {"manager_id": "mgr_stored", "deal_id": "deal_1", "deal_stage_id": "stage_1"}
    return await uploaded(rop, key, audio.url(path), **fields, duration=3)


async def analyse(rop: Rop, call_id: str, checklist: str, table: str) -> None:
    analyser = await rop.new_key("analyser")
    answer = {
        "callId": call_id,
        "checklists": [
            {
                "checklistId": checklist,
                "stages": [
                    {"stageId": "greeting", "status": "completed", "quote": "Добрый день"},
                    {"stageId": "closing", "status": "failed", "comment": "no next step"},
                ],
            }
        ],
        "tables": [{"tableId": table, "extractedData": {"budget": 150000, "note": "ok"}}],
    }
    await rop.gql_data(
        "mutation($i: RopAnalysisInput!) { ropSubmitAnalysis(input: $i) { status } }",
        {"i": answer},
        token=analyser,
    )


async def grpc_calls(rop: Rop, key: str) -> list[dict[str, Any]]:
    listed = await rop.rpc("ListCalls", rop_pb2.ListCallsRequest(limit=1000), key)
    return [record_of(c) for c in listed.calls]


async def test_calls_answer_as_their_records_and_show_a_change_at_once(
    rop: Rop, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    key = await rop.new_key()
    checklist, table = await put_definitions(rop, receiver, "/ok")
    made = [await upload(rop, key, audio, p) for p in ("/call.wav", "/call.mp3", "/long.wav")]
    for call_id in made:
        await rop.call_in(call_id, key, ("awaiting_analysis", "rejected"))
    lists = Lists(rop, "calls", "RopCall", key)
    before = await stable(lambda: grpc_calls(rop, key))
    assert [c["callId"] for c in before] == made
    assert [(c["status"], c["reason"]) for c in before] == [
        ("awaiting_analysis", None),
        ("awaiting_analysis", None),
        ("rejected", "too_long"),
    ]
    assert all(c["declaredDuration"] == 3 and c["managerId"] == "mgr_stored" for c in before)
    await lists.check(before, CALL_ALL, CALL_SOME)

    await analyse(rop, made[0], checklist, table)  # a row changed: its status and results
    after = await stable(lambda: grpc_calls(rop, key))
    analysed = after[0]
    assert analysed["status"] == "analyzed" and analysed["analyzedAt"] is not None
    assert [r["totalScore"] for r in analysed["checklistResults"]] == [0]
    assert [r["extractedData"] for r in analysed["tableResults"]] == [
        {"budget": 150000, "note": "ok"}
    ]
    assert after[1:] == before[1:]
    await lists.check(after, CALL_ALL, CALL_SOME)
    for status in ("analyzed", "awaiting_analysis"):  # a filtered list: rows of another query
        got = await lists.ask(f"{{ nodes {text(CALL_ALL)} }}", f'first: 1000, status: "{status}"')
        same(got["nodes"], project([c for c in after if c["status"] == status], CALL_ALL))
    # gRPC's list (kept renderings) and GetCall (built on its own) give the same messages
    listed = await rop.rpc("ListCalls", rop_pb2.ListCallsRequest(limit=1000), key)
    for message in listed.calls:
        alone = await rop.rpc("GetCall", rop_pb2.GetCallRequest(call_id=message.call_id), key)
        assert message.SerializeToString() == alone.SerializeToString()
    # the list and the single call (built on its own) agree
    single = await rop.gql_data(
        f'{{ rop {{ call(callId: "{made[0]}") {text(CALL_ALL)} }} }}', token=key
    )
    same(single["rop"]["call"], project(analysed, CALL_ALL))


async def grpc_managers(rop: Rop, key: str) -> list[dict[str, Any]]:
    listed = await rop.rpc("ListManagers", rop_pb2.ListManagersRequest(limit=1000), key)
    return [record_of(m) for m in listed.managers]


async def test_managers_answer_as_sent_and_show_an_update_at_once(rop: Rop) -> None:
    key = await rop.new_key()
    sent = [
        {"manager_id": uid("mgr"), "name": "Иван", "surname": "Петров", "middlename": "Ильич"},
        {"manager_id": uid("mgr"), "name": "Anna", "surname": "Lee", "middlename": ""},
        {"manager_id": uid("mgr"), "name": "Олег", "surname": "Сидоров", "middlename": "Б."},
    ]
    status, body, _ = await rop.rest(
        "POST", "/settings/managers-update", key, json={"managers": sent}
    )
    assert status == 200, body
    lists = Lists(rop, "managers", "RopManager", key)
    records = await grpc_managers(rop, key)
    expected = [
        {"managerId": m["manager_id"], **{k: m[k] for k in ("name", "surname", "middlename")}}
        for m in sent
    ]
    assert records == expected
    await lists.check(records, MANAGER_ALL, MANAGER_SOME)

    changed = {**sent[1], "surname": "Lee-Smith"}
    status, body, _ = await rop.rest(
        "POST", "/settings/managers-update", key, json={"managers": [changed]}
    )
    assert (status, body["updated"]) == (200, 1), body
    expected[1]["surname"] = "Lee-Smith"
    assert await grpc_managers(rop, key) == expected
    await lists.check(expected, MANAGER_ALL, MANAGER_SOME)


async def grpc_deliveries(rop: Rop) -> list[dict[str, Any]]:
    listed = await rop.rpc(
        "ListWebhookDeliveries", rop_pb2.ListWebhookDeliveriesRequest(limit=1000), ADMIN_TOKEN
    )
    return [record_of(d) for d in listed.deliveries]


async def settled_deliveries(rop: Rop) -> list[dict[str, Any]]:
    async def none_waiting() -> Any:
        records = await grpc_deliveries(rop)
        return records if all(d["status"] in ("dead", "delivered") for d in records) else None

    await until(none_waiting)
    return await stable(lambda: grpc_deliveries(rop))


async def test_webhook_deliveries_answer_as_their_records_and_show_a_redelivery_at_once(
    rop: Rop, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    key = await rop.new_key()
    receiver.script("/flaky", ["400", "200"])  # the first attempt is refused: dead at once
    checklist, table = await put_definitions(rop, receiver, "/flaky")
    call_id = await upload(rop, key, audio, "/call.ogg")
    await rop.call_in(call_id, key, ("awaiting_analysis",))
    await analyse(rop, call_id, checklist, table)
    lists = Lists(rop, "webhookDeliveries", "RopWebhookDelivery", ADMIN_TOKEN)
    before = await settled_deliveries(rop)
    mine = [d for d in before if d["callId"] == call_id]
    assert sorted(d["event"] for d in mine) == ["checklist.result", "table.result"]
    dead = next(d for d in mine if d["status"] == "dead")
    assert (dead["attempts"], dead["lastStatus"], dead["nextAttemptAt"]) == (1, 400, None)
    assert dead["deadAt"] is not None and dead["deliveredAt"] is None
    await lists.check(before, DELIVERY_ALL, DELIVERY_SOME)

    again = await rop.gql_data(
        f'mutation {{ ropRedeliverWebhook(id: "{dead["id"]}") {{ id status }} }}',
        token=ADMIN_TOKEN,
    )
    assert again["ropRedeliverWebhook"]["status"] == "pending"
    after = await settled_deliveries(rop)
    redelivered = next(d for d in after if d["id"] == dead["id"])
    assert (redelivered["status"], redelivered["lastStatus"]) == ("delivered", 200)
    assert redelivered["deadAt"] is None and redelivered["deliveredAt"] is not None
    await lists.check(after, DELIVERY_ALL, DELIVERY_SOME)
