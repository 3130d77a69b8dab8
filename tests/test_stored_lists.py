"""Lists that hand their rows to GraphQL as stored rows with each row's id
(``hub.graphql.stored.stored_objects``): unspot's users and hub-notes' notes. On a real hub,
every selection shape answers with the rows' values, the same when asked again (then from the
renderings the hub keeps), and a row changed through the API shows in the very next answer: a
rendering kept for a row's id is used only for an equal row. webim's accounts meet the rows'
contract (a record holds all its row shows, the storagers' sums too) but are built, as graphql-core
completes their type anyway (it implements WebimCounters); they are held to the same answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.test_example_plugin import notes_installed  # noqa: F401  (a fixture)

Rows = list[dict[str, Any]]
Shape = tuple[str, dict[str, Any], Callable[[Rows], Any]]  # a query, its variables, its answer
ASKED = 3  # the first answer renders; the document is cached at the second; the rest reuse


@pytest.fixture(scope="module")
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    request.getfixturevalue("notes_installed")
    env = {"HUB_PLUGINS": "webim,unspot,notes"}
    process = HubProcess(Path(tmp_path_factory.mktemp("stored-lists")), env=env).start()
    yield process
    process.stop()


async def ask(hub: HubProcess, query: str, **variables: Any) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response,
    ):
        body = await response.json()
    assert response.status == 200 and "errors" not in body, body
    return body["data"]


async def answers_steadily(hub: HubProcess, shapes: list[Shape], rows: Rows) -> None:
    for query, variables, expected in shapes:
        for _ in range(ASKED):
            assert await ask(hub, query, **variables) == expected(rows), query


def pick(row: dict[str, Any], *names: str, **aliases: str) -> dict[str, Any]:
    """``row``'s fields ``names``, and ``alias=field`` under their alias, in that order."""
    return {**{n: row[n] for n in names}, **{a: row[f] for a, f in aliases.items()}}


# -- webim: accounts ---------------------------------------------------------------------------
ACCOUNT_FIELDS = "name domain sessionsCnt chatsCnt collectedToStoreObjectsCnt blocked"
WEBIM_SHAPES: list[Shape] = [
    (
        f"{{ webim {{ accounts(first: 10) {{ nodes {{ {ACCOUNT_FIELDS} }} totalCount }} }} }}",
        {},
        lambda rows: {
            "webim": {
                "accounts": {
                    "nodes": [pick(r, *ACCOUNT_FIELDS.split()) for r in rows],
                    "totalCount": len(rows),
                }
            }
        },
    ),
    (
        "{ webim { accounts { edges { node { __typename n: name b: blocked sessionsCnt } } } } }",
        {},
        lambda rows: {
            "webim": {
                "accounts": {
                    "edges": [
                        {
                            "node": {
                                "__typename": "WebimAccountStat",
                                **pick(r, n="name", b="blocked", sessionsCnt="sessionsCnt"),
                            }
                        }
                        for r in rows
                    ]
                }
            }
        },
    ),
    (
        "query($first: Int) { webim { accounts(first: $first) { nodes { ...Row }"
        " pageInfo { hasNextPage } } } }"
        " fragment Row on WebimAccountStat { name collectedToStoreObjectsCnt inQueueCnt"
        " notBelongsToTornadoInstance }",
        {"first": 2},
        lambda rows: {
            "webim": {
                "accounts": {
                    "nodes": [
                        pick(
                            r,
                            "name",
                            "collectedToStoreObjectsCnt",
                            "inQueueCnt",
                            "notBelongsToTornadoInstance",
                        )
                        for r in rows[:2]
                    ],
                    "pageInfo": {"hasNextPage": len(rows) > 2},
                }
            }
        },
    ),
]
SEED_WEBIM = """mutation {
  a: webimUpsertAccount(input: {name: "acme", domain: "acme.webim.ru"}) { name }
  b: webimSetAccountCounters(name: "acme", counters: {sessionsCnt: 3, chatsCnt: 2, inQueueCnt: 1})
     { name }
  c: webimUpsertAccount(input: {name: "globex", domain: "globex.webim.ru", blocked: true,
     notBelongsToTornadoInstance: true}) { name }
  d: webimSetStoreObjects(account: "globex", collector: "collected_to_store",
     objects: {Chat: 4, Message: 1}) { className }
  e: webimUpsertAccount(input: {name: "initech", domain: "initech.webim.ru"}) { name }
}"""


def account(name: str, **values: Any) -> dict[str, Any]:
    defaults = {"sessionsCnt": 0, "chatsCnt": 0, "inQueueCnt": 0, "collectedToStoreObjectsCnt": 0}
    flags = {"blocked": False, "notBelongsToTornadoInstance": False}
    return {"name": name, "domain": f"{name}.webim.ru", **defaults, **flags, **values}


async def test_webim_accounts_answer_from_their_rows_and_follow_every_write(
    hub: HubProcess,
) -> None:
    await ask(hub, SEED_WEBIM)
    rows = [
        account("acme", sessionsCnt=3, chatsCnt=2, inQueueCnt=1),
        account("globex", blocked=True, notBelongsToTornadoInstance=True),
        account("initech"),
    ]
    rows[1]["collectedToStoreObjectsCnt"] = 5
    await answers_steadily(hub, WEBIM_SHAPES, rows)

    # an account's own columns, with the same name (its id): the kept rendering is not used
    await ask(
        hub,
        'mutation { webimSetAccountCounters(name: "acme", counters: {sessionsCnt: 9}) { name } }',
    )
    rows[0]["sessionsCnt"] = 9
    await answers_steadily(hub, WEBIM_SHAPES, rows)

    # another table's rows: the storager's sums are part of the account's row
    await ask(
        hub,
        'mutation { webimSetStoreObjects(account: "globex", collector: "collected_to_store",'
        " objects: {Chat: 1}) { className } }",
    )
    rows[1]["collectedToStoreObjectsCnt"] = 1
    await answers_steadily(hub, WEBIM_SHAPES, rows)

    await ask(
        hub, 'mutation { webimUpsertAccount(input: {name: "initech", blocked: true}) { name } }'
    )
    rows[2]["blocked"] = True
    await answers_steadily(hub, WEBIM_SHAPES, rows)

    # every row moves up a place
    await ask(hub, 'mutation { webimDeleteAccount(name: "acme") }')
    del rows[0]
    await answers_steadily(hub, WEBIM_SHAPES, rows)


async def test_webim_listed_accounts_equal_the_account_field(hub: HubProcess) -> None:
    """Every field of an account, listed as a stored row and read alone (built as an object)."""
    counters = [
        "sessionsCnt visibleSessionsCnt aliveSessionsCnt pagesCnt alivePagesCnt",
        "onlineOperatorsCnt workingOperatorsCnt chatsCnt offlineChatsCnt inQueueCnt",
        "failedToStoreObjectsCnt collectedToStoreObjectsCnt beingStoredNowObjectsCnt",
        "beingStoredNowProcessedObjectsCnt failedToStoreObjectsCnt1 collectedToStoreObjectsCnt1",
        "beingStoredNowObjectsCnt1 beingStoredNowProcessedObjectsCnt1",
    ]
    every = " ".join(
        [
            "name domain notBelongsToTornadoInstance",
            "ignoreNotBelongsToTornadoInstance blocked",
            *counters,
        ]
    )
    await ask(
        hub,
        'mutation { a: webimUpsertAccount(input: {name: "hooli", domain: "h.example",'
        " ignoreNotBelongsToTornadoInstance: true}) { name }"
        ' b: webimSetAccountCounters(name: "hooli", counters: {pagesCnt: 7, offlineChatsCnt: 2})'
        " { name }"
        ' c: webimSetStoreObjects(account: "hooli", collector: "being_stored_now_1",'
        " objects: {Visit: 6}) { className } }",
    )
    names = [
        n["name"]
        for n in (await ask(hub, "{ webim { accounts { nodes { name } } } }"))["webim"]["accounts"][
            "nodes"
        ]
    ]
    alone = " ".join(f'a{i}: account(name: "{n}") {{ ...All }}' for i, n in enumerate(names))
    query = (
        f"{{ webim {{ accounts {{ nodes {{ ...All }} }} {alone} }} }}"
        f" fragment All on WebimAccountStat {{ {every} }}"
    )
    for _ in range(ASKED):
        webim = (await ask(hub, query))["webim"]
        assert webim["accounts"]["nodes"] == [webim[f"a{i}"] for i in range(len(names))]
    hooli = webim[f"a{names.index('hooli')}"]
    assert hooli["pagesCnt"] == 7 and hooli["beingStoredNowObjectsCnt1"] == 6
    assert hooli["ignoreNotBelongsToTornadoInstance"] is True
    await ask(hub, 'mutation { webimDeleteAccount(name: "hooli") }')  # the other test's list


# -- unspot: users -----------------------------------------------------------------------------
UNSPOT_SHAPES: list[Shape] = [
    (
        "{ unspot { users(first: 100) { nodes { id name role } totalCount } } }",
        {},
        lambda rows: {
            "unspot": {
                "users": {
                    "nodes": [pick(r, "id", "name", "role") for r in rows],
                    "totalCount": len(rows),
                }
            }
        },
    ),
    (  # no id selected: users that differ only by id render alike
        "{ unspot { users { edges { node { role n: name } } } } }",
        {},
        lambda rows: {
            "unspot": {"users": {"edges": [{"node": pick(r, "role", n="name")} for r in rows]}}
        },
    ),
    (
        "query($first: Int) { unspot { users(first: $first) { nodes { ...U }"
        " pageInfo { hasNextPage } } } } fragment U on UnspotUser { __typename id name }",
        {"first": 2},
        lambda rows: {
            "unspot": {
                "users": {
                    "nodes": [
                        {"__typename": "UnspotUser", **pick(r, "id", "name")} for r in rows[:2]
                    ],
                    "pageInfo": {"hasNextPage": len(rows) > 2},
                }
            }
        },
    ),
]
CREATE_USER = "mutation($role: String!, $name: String!) {"
CREATE_USER += " unspotCreateUser(role: $role, name: $name) { userId role } }"


async def create_user(hub: HubProcess, role: str, name: str) -> dict[str, Any]:
    issued = (await ask(hub, CREATE_USER, role=role, name=name))["unspotCreateUser"]
    return {"id": issued["userId"], "name": name, "role": issued["role"]}


async def test_unspot_users_answer_from_their_rows_and_follow_every_write(
    hub: HubProcess,
) -> None:
    rows = [
        await create_user(hub, "owner", "Ann"),
        await create_user(hub, "integration_admin", "Bob"),
        await create_user(hub, "owner", "Ann"),  # the first one's twin but for the id
    ]
    await answers_steadily(hub, UNSPOT_SHAPES, rows)

    await ask(hub, "mutation($u: ID!) { unspotDeleteUser(userId: $u) }", u=rows[0]["id"])
    del rows[0]  # every row moves up a place
    await answers_steadily(hub, UNSPOT_SHAPES, rows)

    rows.append(await create_user(hub, "integration_admin", "Cy"))
    await answers_steadily(hub, UNSPOT_SHAPES, rows)


# -- hub-notes: notes --------------------------------------------------------------------------
NOTES_SHAPES: list[Shape] = [
    (
        "{ notes { notes(first: 100) { nodes { id title body createdAt expiresAt }"
        " totalCount } } }",
        {},
        lambda rows: {
            "notes": {
                "notes": {
                    "nodes": [
                        pick(r, "id", "title", "body", "createdAt", "expiresAt") for r in rows
                    ],
                    "totalCount": len(rows),
                }
            }
        },
    ),
    (
        "{ notes { notes { edges { node { t: title body } } } } }",
        {},
        lambda rows: {
            "notes": {"notes": {"edges": [{"node": pick(r, "body", t="title")} for r in rows]}}
        },
    ),
    (
        "query($first: Int) { notes { notes(first: $first) { nodes { ...N }"
        " pageInfo { hasNextPage } } } } fragment N on NotesNote { __typename id expiresAt }",
        {"first": 1},
        lambda rows: {
            "notes": {
                "notes": {
                    "nodes": [
                        {"__typename": "NotesNote", **pick(r, "id", "expiresAt")} for r in rows[:1]
                    ],
                    "pageInfo": {"hasNextPage": len(rows) > 1},
                }
            }
        },
    ),
]
CREATE_NOTE = "mutation($input: NotesNoteInput!) {"
CREATE_NOTE += " notesCreateNote(input: $input) { id title body createdAt expiresAt } }"
SHORT_TTL = 6.0  # seconds: long enough for the first answers on a busy machine


async def create_note(hub: HubProcess, **note: Any) -> dict[str, Any]:
    return (await ask(hub, CREATE_NOTE, input=note))["notesCreateNote"]  # type: ignore[no-any-return]


async def test_notes_answer_from_their_rows_and_follow_every_write(hub: HubProcess) -> None:
    rows = [
        await create_note(hub, title="soon gone", body="", ttlSeconds=SHORT_TTL),
        await create_note(hub, title="kept", body="b"),
        await create_note(hub, title="kept", body="b"),  # the second one's twin but for the id
    ]
    expires = time.monotonic() + SHORT_TTL
    await answers_steadily(hub, NOTES_SHAPES, rows)

    rows.append(await create_note(hub, title="new", body="n", ttlSeconds=3600))
    await answers_steadily(hub, NOTES_SHAPES, rows)

    await asyncio.sleep(max(0.0, expires - time.monotonic()) + 0.5)
    del rows[0]  # expired: every row moves up a place
    await answers_steadily(hub, NOTES_SHAPES, rows)
