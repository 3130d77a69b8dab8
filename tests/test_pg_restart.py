"""PostgreSQL restarted under load: the hub answers 503 in each plugin's shape meanwhile (never
a 500, never a traceback), ``/readyz`` names the database as what is wrong, every write it
acknowledged is still there afterwards, and it serves normally once the server is back.

The test runs its own throwaway PostgreSQL (it stops and starts it), so it runs the same in the
SQLite and the PostgreSQL runs of the suite; without PostgreSQL's binaries it is skipped."""

from __future__ import annotations

import asyncio
import glob
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from hub.testing import ADMIN_TOKEN, HubProcess
from hub.testing.clients import bearer

PASSWORD = "s3cret-never-shown"  # trust auth ignores it; no answer or log line may show it
WRITERS = 3
OUTAGE = 2.0  # seconds PostgreSQL stays down
UNAVAILABLE = {"code": "UPSTREAM_UNAVAILABLE", "status": 503, "reason": "database_unavailable"}
RECONNECT_GRACE = 1.0  # seconds, past the storage layer's half second of failing fast


def _postgres_installed() -> bool:
    return bool(shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"))


pytestmark = pytest.mark.skipif(
    not _postgres_installed(),
    reason="needs PostgreSQL's server binaries (initdb): apt-get install postgresql",
)


@dataclass
class Seen:
    """Every answer the clients got, and the writes the hub acknowledged."""

    answers: list[tuple[str, str, Any]] = field(default_factory=list)  # (what, status, detail)
    era_ids: set[str] = field(default_factory=set)
    note_ids: set[str] = field(default_factory=set)

    def bad(self) -> list[tuple[str, str, Any]]:
        return [a for a in self.answers if a[1] == "bad"]

    def count(self, status: str) -> int:
        return sum(1 for a in self.answers if a[1] == status)


@pytest.fixture
def postgres() -> Iterator[Any]:
    from hub.testing.postgres import TemporaryPostgres

    with TemporaryPostgres() as server:
        yield server


@pytest.fixture
def hub(postgres: Any, tmp_path: Path) -> Iterator[HubProcess]:
    url = postgres.create_database().replace("hub@", f"hub:{PASSWORD}@")
    process = HubProcess(
        tmp_path / "data",
        {"HUB_DATABASE_URL": url, "HUB_NOTES_CREATE_LIMIT": "1000000"},
    )
    yield process.start()
    process.stop()


async def _issue(session: aiohttp.ClientSession, plugin: str) -> str:
    """A credential, made through the admin's mutation (no second process to start)."""
    query = f'mutation {{ hubAddCredential(plugin: "{plugin}") }}'
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with session.post("/graphql", json={"query": query}, headers=headers) as r:
        data = await r.json()
    return str(data["data"]["hubAddCredential"]["token"])


# -- what an answer during an outage may be -------------------------------------------------
def _era_rest(status: int, body: Any) -> bool:
    return status == 503 and body == {"error_code": 1503, "error_message": body["error_message"]}


def _notes_rest(status: int, body: Any) -> bool:
    return (
        status == 503
        and body["status"] == 503
        and body["title"] == "Service Unavailable"
        and body["reason"] == "database_unavailable"
    )


def _graphql_unavailable(errors: list[dict[str, Any]], plugin: str) -> bool:
    expected = {**UNAVAILABLE, "plugin": plugin, "retryAfter": 1}
    return bool(errors) and all(e["extensions"] == expected for e in errors)


async def _rest(
    session: aiohttp.ClientSession, seen: Seen, what: str, path: str, token: str, body: Any
) -> None:
    async with session.post(path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        data = await r.json(content_type=None)
        if r.status in (200, 201):
            (seen.era_ids if what == "era" else seen.note_ids).add(data["id"])
            seen.answers.append((what, "ok", r.status))
            return
        shaped = _era_rest if what == "era" else _notes_rest
        ok = shaped(r.status, data) and r.headers.get("Retry-After") == "1"
        seen.answers.append((what, "unavailable" if ok else "bad", (r.status, data)))


async def _graphql(
    session: aiohttp.ClientSession, seen: Seen, what: str, plugin: str, token: str, query: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.post("/graphql", json={"query": query}, headers=headers) as r:
        data = await r.json()
    errors = data.get("errors")
    if r.status == 200 and not errors:
        if "notesCreateNote" in (data.get("data") or {}):
            seen.note_ids.add(data["data"]["notesCreateNote"]["id"])
        seen.answers.append((what, "ok", 200))
    elif r.status == 200 and _graphql_unavailable(errors, plugin):
        seen.answers.append((what, "unavailable", errors[0]["message"]))
    else:
        seen.answers.append((what, "bad", (r.status, data)))


async def _grpc(stub: Any, seen: Seen, token: str) -> None:
    from hub_notes.v1 import notes_pb2

    call = stub.ListNotes(notes_pb2.ListNotesRequest(limit=1), metadata=bearer(token))
    try:
        await call
        seen.answers.append(("grpc", "ok", "OK"))
    except grpc.aio.AioRpcError as exc:
        trailers = dict(exc.trailing_metadata() or ())
        expected = {
            "hub-status": "503",
            "hub-reason": "database_unavailable",
            "hub-plugin": "notes",
            "retry-after": "1",
        }
        shaped = exc.code() == grpc.StatusCode.UNAVAILABLE and all(
            trailers.get(k) == v for k, v in expected.items()
        )
        seen.answers.append(("grpc", "unavailable" if shaped else "bad", (exc.code(), trailers)))


async def _client(
    hub: HubProcess, tokens: dict[str, str], seen: Seen, index: int, stop: asyncio.Event
) -> None:
    from hub_notes.v1 import notes_pb2_grpc

    era, notes = tokens["era"], tokens["notes"]
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(hub.url, timeout=timeout) as session,
        grpc.aio.insecure_channel(hub.grpc) as channel,
    ):
        stub = notes_pb2_grpc.NotesStub(channel)
        n = 0
        while not stop.is_set():
            n += 1
            tag = f"w{index}-{n}"
            body = {"code": tag, "type": "webhook"}
            await _rest(session, seen, "era", "/era/rest/v1/service/integration_points", era, body)
            await _rest(session, seen, "notes", "/notes/api/notes", notes, {"title": tag})
            await _graphql(
                session,
                seen,
                "graphql-write",
                "notes",
                notes,
                f'mutation {{ notesCreateNote(input: {{title: "g{tag}"}}) {{ id }} }}',
            )
            await _graphql(
                session,
                seen,
                "graphql-read",
                "era",
                era,
                "{ era { integrationPoints(first: 1) { totalCount } } }",
            )
            await _grpc(stub, seen, notes)
            await asyncio.sleep(0.01)


async def _outage_answers(session: aiohttp.ClientSession, notes: str) -> None:
    """What a client meets beyond plain requests while the database is down: metrics still
    served, errors naming the plugin even under an alias or over a websocket, a persisted
    document over a websocket refused in the protocol's shape."""
    async with session.get("/metrics") as r:
        assert r.status == 200 and "hub_queue_depth" in await r.text()
    query = "{ mine: notes { notes(first: 1) { totalCount } } }"
    headers = {"Authorization": f"Bearer {notes}"}
    async with session.post("/graphql", json={"query": query}, headers=headers) as r:
        errors = (await r.json())["errors"]
    assert _graphql_unavailable(errors, "notes"), errors
    async with session.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": headers})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        query = "subscription { added: notesNoteAdded { id } }"
        await ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": query}})
        answer = await ws.receive_json(timeout=5)
        errors = answer["payload"]["errors"] if answer["type"] == "next" else answer["payload"]
        assert _graphql_unavailable(errors, "notes"), answer
        named = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
        await ws.send_json({"type": "subscribe", "id": "2", "payload": {"extensions": named}})
        while (answer := await ws.receive_json(timeout=5))["id"] != "2":
            pass
        assert answer["type"] == "error", answer
        expected = {**UNAVAILABLE, "plugin": "hub", "retryAfter": 1}
        assert answer["payload"][0]["extensions"] == expected, answer


async def _readyz(
    session: aiohttp.ClientSession, token: str = ADMIN_TOKEN
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get("/readyz", headers=headers) as r:
        return r.status, await r.json()


def _database_probe(report: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in report["probes"] if (p["plugin"], p["name"]) == ("hub", "database"))


async def _listed(session: aiohttp.ClientSession, path: str, token: str, key: str | None) -> set:
    """Every id a list endpoint gives, a page of 1000 at a time."""
    found: set[str] = set()
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        params = {"offset": str(len(found)), "limit": "1000"}
        async with session.get(path, params=params, headers=headers) as r:
            assert r.status == 200, await r.text()
            data = await r.json(content_type=None)
        page = data if key is None else data[key]
        found |= {item["id"] for item in page}
        if len(page) < 1000:
            return found


async def _scenario(hub: HubProcess, postgres: Any) -> None:
    seen = Seen()
    stop = asyncio.Event()
    async with aiohttp.ClientSession(hub.url) as session:
        tokens = {plugin: await _issue(session, plugin) for plugin in ("era", "notes")}
        clients = [asyncio.create_task(_client(hub, tokens, seen, i, stop)) for i in range(WRITERS)]
        await asyncio.sleep(1.0)
        assert (await _readyz(session))[0] == 200
        assert not seen.bad(), seen.bad()[:3]
        before = len(seen.answers)

        await asyncio.to_thread(postgres.stop)
        await _outage_answers(session, tokens["notes"])
        down: list[tuple[int, dict[str, Any]]] = []
        ends = time.monotonic() + OUTAGE
        while time.monotonic() < ends:
            down.append(await _readyz(session))
            # a plugin's token cannot be looked up now: the report still comes, without details
            status, report = await _readyz(session, tokens["notes"])
            assert status == 503 and report["status"] == "not ready", report
            assert all(p["detail"] is None for p in report["probes"]), report
            await asyncio.sleep(0.3)
        await asyncio.to_thread(postgres.start)

        deadline = time.monotonic() + 15
        status, report = await _readyz(session)
        while status != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status, report = await _readyz(session)
        assert status == 200, report
        assert _database_probe(report)["status"] == "ok"
        # a connection that failed in the last half second is not tried again sooner
        await asyncio.sleep(RECONNECT_GRACE)
        recovered = len(seen.answers)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*clients)

        # during the outage: readiness fails, and says why in one line without the password
        assert down and all(s == 503 for s, _ in down), down
        for _, report in down:
            probe = _database_probe(report)
            assert probe["status"] == "down" and probe["critical"], probe
            detail = probe["detail"]
            assert detail.startswith(f"postgresql://hub@127.0.0.1:{postgres.port}/"), detail
            assert "refused" in detail.lower() and "\n" not in detail, detail
            assert PASSWORD not in str(report)

        # every answer was a success or a 503 in the plugin's shape
        assert not seen.bad(), seen.bad()[:5]
        assert seen.count("unavailable") > 0, "no request met the outage"
        assert PASSWORD not in str(seen.answers)
        # once ready again, every answer is a success
        after = seen.answers[recovered:]
        assert after and all(a[1] == "ok" for a in after), [a for a in after if a[1] != "ok"][:5]
        assert len(seen.answers) > before

        # every acknowledged write is there
        points = "/era/rest/v1/service/integration_points"
        era = await _listed(session, points, tokens["era"], None)
        assert seen.era_ids <= era, len(seen.era_ids - era)
        notes = await _listed(session, "/notes/api/notes", tokens["notes"], "notes")
        assert seen.note_ids <= notes, len(seen.note_ids - notes)


def test_postgres_restart_under_load(hub: HubProcess, postgres: Any) -> None:
    asyncio.run(_scenario(hub, postgres))
    # and a hub stopped while the database is down stops cleanly
    postgres.stop()
    time.sleep(1.0)  # its timers meet the outage
    assert hub.stop() == 0
    output = "".join(hub.output)
    assert "Traceback" not in output, output[-4000:]
    assert PASSWORD not in output
    # background work says once per outage that it fails, not once per run
    lines = output.splitlines()
    for timer in ("monitorozas.scheduler", "rop.webhook_delivery"):
        failing = [line for line in lines if f"timer {timer}: the database is unavailable" in line]
        assert 1 <= len(failing) <= 2, failing
    assert sum("leases and run figures are not kept" in line for line in lines) <= 2
