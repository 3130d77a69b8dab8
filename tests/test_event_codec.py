"""What crosses the event bus between processes: every event the plugins publish comes back as
published, a pickle naming anything else is refused before it runs, and a real hub fed such a
pickle straight into its transport (the broker's socket, PostgreSQL's ``NOTIFY``) drops it
with one warning and goes on delivering."""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import pickle
import shutil
import sys
import tempfile
import textwrap
import time
import types
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psycopg
import pytest
from hub_era.graphql import Direction
from hub_monitorozas.records import Device, StatusChange
from hub_notes.records import Note
from hub_rop.records import Call, ChecklistResult, StageResult, TableResult
from hub_unspot.records import DisplayStatusChange
from hub_webim.records import InstanceRestart

from hub import eventcodec, logs
from hub.bus import EVENT, frame
from hub.eventcodec import Refused, decode, encode
from hub.pgbus import CHANNEL
from hub.plugins import load_plugins
from hub.storage.postgres import split_url
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.ws_client import next_message

TOPIC = "notes.added"  # hub-notes' topic: what the real hubs below are fed
WAIT = 15.0  # seconds anything a real hub does here may take on a busy machine
AT = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def _plugins_loaded() -> None:
    """The plugins loaded as a hub loads them: their packages are the ones trusted."""
    load_plugins(env={})


@dataclass(frozen=True)
class Stranger:
    """A record of a module that is neither the hub's nor a loaded plugin's."""

    name: str


def _device() -> Device:
    return Device(
        id=7,
        user_id=3,
        target_type="domain",
        target_value="example.org",
        service_type="web",
        scheme="https",
        port=443,
        host_header=None,
        proxy_enabled=True,
        origin_host="10.0.0.2",
        origin_scheme="http",
        origin_port=8080,
        check_public_http=True,
        check_public_https=True,
        check_public_tls=False,
        check_origin_http=False,
        check_origin_tls=False,
        expect_status=200,
        location="fra",
        is_enabled=True,
        last_status="down",
        last_check_at=AT,
        last_response_ms=None,
        last_error="timed out",
        tls_expires_at=None,
        created_at=AT - timedelta(days=3),
        updated_at=AT,
    )


def _call() -> Call:
    stage = StageResult("s1", "Greeting", 1, 100.0, "completed", "said hello", "Hello!", AT)
    checklist = ChecklistResult("c1", "m1", "Sales", 1, 1, 100.0, (stage,), AT)
    table = TableResult("c1", "t1", "Budget", {"budget": 1200, "items": ["a", None]}, 4.5, AT)
    return Call(
        call_id="c1",
        manager_id="m1",
        deal_id="d1",
        deal_stage_id="ds1",
        audio_url="http://127.0.0.1/a.mp3",
        declared_duration=61.5,
        status="analyzed",
        reason=None,
        detail=None,
        format="mp3",
        size_bytes=123_456,
        duration=61.2,
        created_at=AT,
        updated_at=AT,
        analyzed_at=AT,
        checklist_results=(checklist,),
        table_results=(table,),
    )


PUBLISHED = {
    "monitorozas StatusChange": StatusChange(_device(), "up"),
    "unspot DisplayStatusChange": DisplayStatusChange("d1", "Lobby", "offline", "online"),
    "unspot DisplayStatusChange, new": DisplayStatusChange("d2", "Hall", "online", None),
    "webim InstanceRestart": InstanceRestart("new-id", "old-id", AT),
    "rop Call": _call(),
    "notes Note": Note("n1", "title", "body", AT, None),
    "notes Note, expiring": Note("n2", "t", "b", AT, AT + timedelta(hours=1)),
}


@pytest.mark.parametrize("event", PUBLISHED.values(), ids=PUBLISHED.keys())
def test_every_published_event_comes_back_as_published(event: Any) -> None:
    assert decode(encode(event)) == event


def test_plain_values_and_plugin_enums_come_back_as_sent() -> None:
    values = {
        "scalars": (1, -2.5, "text", True, None, b"\x00bytes", bytearray(b"ba")),
        "containers": [{"a": [1, (2, 3)]}, {1, 2}, frozenset({"x"}), {(1, 2): "tuple key"}],
        "times": (AT, date(2026, 5, 1), clock(12, 30), timedelta(seconds=90)),
        "zone": datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        "others": (uuid.UUID(int=42), Decimal("1.10")),
        "enum": Direction.DESC,
    }
    decoded = decode(encode(values))
    assert decoded == values
    assert decoded["enum"] is Direction.DESC


def _reduce(module: str, name: str, *args: Any) -> bytes:
    """A pickle, as an attacker writes one, whose REDUCE calls ``module``'s ``name`` (a dotted
    name: protocol 4 resolves it attribute by attribute) with ``args``."""

    def text(value: str) -> bytes:
        return b"\x8c" + bytes([len(value.encode())]) + value.encode()  # SHORT_BINUNICODE

    arguments = pickle.dumps(args, 2)[2:-1]  # the tuple alone: no PROTO, no STOP
    return b"\x80\x04" + text(module) + text(name) + b"\x93" + arguments + b"R."


def _attacks(marker: Path) -> dict[str, tuple[bytes, str]]:
    """Pickles that would create ``marker`` (or run other code), each with the global refused."""
    create = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": (_reduce(os.system.__module__, "system", f"touch {marker}"), "system"),
        "builtins.eval": (_reduce("builtins", "eval", create), "builtins.eval"),
        "subprocess.Popen": (_reduce("subprocess", "Popen", ["touch", str(marker)]), "Popen"),
        "Popen through a hub module": (
            _reduce("hub.testing.process", "subprocess.Popen", ["touch", str(marker)]),
            "hub.testing.process.subprocess.Popen",
        ),
    }


@pytest.mark.parametrize("attack", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_the_attacks_do_run_under_plain_unpickling(tmp_path: Path, attack: str) -> None:
    """The payloads below are real: plain ``pickle.loads`` runs them."""
    marker = tmp_path / "ran"
    payload, _ = _attacks(marker)[attack]
    pickle.loads(payload)
    deadline = time.monotonic() + WAIT  # Popen's child writes it a moment later
    while not marker.exists():
        assert time.monotonic() < deadline, f"{attack} did not run"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "attack", ["os.system", "builtins.eval", "subprocess.Popen", "Popen through a hub module"]
)
def test_a_pickle_that_calls_anything_is_refused_before_it_runs(
    tmp_path: Path, attack: str
) -> None:
    marker = tmp_path / "ran"
    payload, refused = _attacks(marker)[attack]
    with pytest.raises(Refused) as raised:
        decode(payload)
    assert raised.value.name.endswith(refused)
    time.sleep(0.2)  # what a spawned child would have written by now
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        (pickle.dumps(collections.OrderedDict(a=1), 5), "collections.OrderedDict"),
        (pickle.dumps(Stranger("x"), 5), f"{__name__}.Stranger"),  # a record, of no plugin
        (_reduce("hub.bus", "Broker", "/tmp/x.sock"), "hub.bus.Broker"),  # the hub's, no record
        (_reduce("hub_monitorozas.records", "Device.of", {}), "hub_monitorozas.records.Device.of"),
        (_reduce("hub_monitorozas.records", "datetime", 2026, 1, 1), "records.datetime"),
    ],
    ids=["a library class", "a record of no plugin", "a hub class", "a method", "an import"],
)
def test_a_pickle_naming_any_other_class_is_refused(payload: bytes, refused: str) -> None:
    with pytest.raises(Refused) as raised:
        decode(payload)
    assert raised.value.name.endswith(refused)


def test_decoding_imports_nothing() -> None:
    """``hub.__main__`` would run the CLI if imported: a module not imported is refused."""
    assert "hub.__main__" not in sys.modules
    with pytest.raises(Refused):
        decode(_reduce("hub.__main__", "main"))
    assert "hub.__main__" not in sys.modules


def test_an_event_the_others_would_refuse_is_refused_when_encoded() -> None:
    with pytest.raises(Refused, match=f"{__name__}.Stranger is refused"):
        encode({"who": Stranger("x")})


# records of a module of their own, trusted (or not) by each test, as a plugin's package is
RECORDS = """
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    number: int


@dataclass
class Rebuilt:
    number: int
    builds = []  # the objects unpickling built, through __setstate__

    def __setstate__(self, state):
        self.builds.append(state)
        self.__dict__.update(state)


@dataclass(frozen=True)
class Calling:
    command: str

    def __reduce__(self):
        return os.system, (self.command,)
"""


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], types.ModuleType]:
    """``make(name)``: the module ``name`` (of a package too, if dotted) holding :data:`RECORDS`,
    imported; trusted by nobody yet."""

    def make(name: str) -> types.ModuleType:
        package = name.rpartition(".")[0]
        if package:  # pickle imports a module by its full name, its package first
            monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
        module = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, module)  # where dataclass looks annotations up
        exec(textwrap.dedent(RECORDS), vars(module))
        return module

    return make


def test_trust_is_the_codecs_own_not_the_loggers(
    records: Callable[[str], types.ModuleType],
) -> None:
    """A module whose log lines are claimed as a plugin's is not trusted for it; a package
    :func:`eventcodec.trust` names is, with its submodules, and a module merely named alike is
    not."""
    claimed = records("codec_claimed")
    logs.claim("codec-claimed", (claimed.__name__,))
    with pytest.raises(Refused, match=r"codec_claimed\.Reading is refused"):
        encode(claimed.Reading(1))
    with pytest.raises(Refused, match=r"codec_claimed\.Reading is refused"):
        decode(pickle.dumps(claimed.Reading(1), pickle.HIGHEST_PROTOCOL))

    inside, alike = records("codec_trusted.records"), records("codec_trustedx")
    eventcodec.trust("codec_trusted")
    assert decode(encode(inside.Reading(1))) == inside.Reading(1)
    with pytest.raises(Refused, match=r"codec_trustedx\.Reading is refused"):
        encode(alike.Reading(1))


def test_encoding_checks_an_event_without_building_it_again(
    records: Callable[[str], types.ModuleType],
) -> None:
    module = records("codec_rebuilt")
    eventcodec.trust(module.__name__)
    event = {"items": [module.Rebuilt(1), module.Rebuilt(2)]}
    body = encode(event)
    assert module.Rebuilt.builds == []  # no unpickling at the publisher
    assert decode(body) == event and module.Rebuilt.builds == [{"number": 1}, {"number": 2}]


def _refusals(records: Callable[[str], types.ModuleType]) -> dict[str, Any]:
    """Values pickle writes with a global the decoder refuses, each a different way in."""
    trusted = records("codec_refusals")
    eventcodec.trust(trusted.__name__)
    return {
        "a record of no plugin": Stranger("x"),
        "a builtin function (reduced to its name)": os.system,
        "a function": _device,
        "a singleton (reduced to its name)": Ellipsis,
        "a copyreg reduction (complex)": 2 + 1j,
        "a library class's own reduction": collections.OrderedDict(a=1),
        "a bound method, inside a time zone": datetime(2026, 5, 1, tzinfo=ZoneInfo("UTC")),
        "a callable a trusted record reduces to": trusted.Calling("true"),
        "a partial": partial(int, "7"),
    }


@pytest.mark.parametrize(
    "refused",
    [
        "a record of no plugin",
        "a builtin function (reduced to its name)",
        "a function",
        "a singleton (reduced to its name)",
        "a copyreg reduction (complex)",
        "a library class's own reduction",
        "a bound method, inside a time zone",
        "a callable a trusted record reduces to",
        "a partial",
    ],
)
def test_encode_refuses_what_decode_refuses_and_names_the_same_global(
    records: Callable[[str], types.ModuleType], refused: str
) -> None:
    value = {"nested": [(_refusals(records)[refused],)]}
    with pytest.raises(Refused) as at_decode:
        decode(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    with pytest.raises(Refused) as at_encode:
        encode(value)
    assert at_encode.value.name == at_decode.value.name


# -- a real hub fed a refused event through its transport --------------------------------------


def _notes_hub(data_dir: Path, *args: str, **env: str) -> HubProcess:
    return HubProcess(data_dir, env={"HUB_PLUGINS": "notes", **env}, args=list(args)).start()


async def _subscribers(session: aiohttp.ClientSession, hub: HubProcess) -> str:
    async with session.get(hub.url + "/readyz", headers=_bearer(ADMIN_TOKEN)) as resp:
        ready = await resp.json()  # probe details are the admin's
    (probe,) = [p for p in ready["probes"] if p["plugin"] == "notes"]
    return str(probe["detail"]).split("subscribers: ")[1]


async def _fed_refused_events(
    hub: HubProcess, feed: Callable[[], Awaitable[list[str]]], marker: Path
) -> None:
    """Subscribe to notes, ``feed()`` refused events into the transport, then add a note: the
    note is the first (and only) event the subscriber gets, each refused event is one warning,
    and nothing ran."""
    reader = hub.creds("notes", scope="read")["token"]
    writer = hub.creds("notes")["token"]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(hub.url + "/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": _bearer(reader)})
        assert (await next_message(ws, WAIT))["type"] == "connection_ack"
        query = "subscription { notesNoteAdded { id title } }"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        deadline = time.monotonic() + WAIT
        while await _subscribers(session, hub) != "1":
            assert time.monotonic() < deadline, "the subscription never started"
            await asyncio.sleep(0.05)

        refused = await feed()
        async with session.post(
            hub.url + "/notes/api/notes",
            json={"title": "after", "body": "b"},
            headers=_bearer(writer),
        ) as resp:
            assert resp.status == 201, await resp.text()
            note = await resp.json()
        message = await next_message(ws, WAIT)
        assert message["type"] == "next", message
        assert message["payload"]["data"]["notesNoteAdded"] == {"id": note["id"], "title": "after"}

    deadline = time.monotonic() + WAIT
    while len(_warnings(hub)) < len(refused):
        assert time.monotonic() < deadline, "".join(hub.output)
        await asyncio.sleep(0.05)
    warnings = _warnings(hub)
    assert len(warnings) == len(refused), warnings
    for line, name in zip(warnings, refused, strict=True):
        assert f"{name} is refused" in line, line
    assert "Traceback" not in "".join(hub.output)
    assert not marker.exists()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _warnings(hub: HubProcess) -> list[str]:
    return [line for line in hub.output if f"dropped an event of {TOPIC}" in line]


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short directory: the broker's socket path must fit a Unix socket address."""
    path = Path(tempfile.mkdtemp(prefix="hub-codec-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_a_refused_event_sent_to_the_broker_is_dropped_and_the_hub_goes_on(
    tmp_path: Path, short_tmp: Path
) -> None:
    # SQLite, two workers: events go through the supervisor's broker (it makes its socket
    # under TMPDIR), which anyone able to connect to that socket can write to
    hub = _notes_hub(tmp_path / "hub", "--workers", "2", HUB_DATABASE_URL="", TMPDIR=str(short_tmp))
    marker = tmp_path / "ran"
    attacks = _attacks(marker)

    writers: list[asyncio.StreamWriter] = []

    async def feed() -> list[str]:
        """Connect as a worker does and send events (kept connected: the broker writes
        subscriber counts to a new connection, and one already closed is dropped unread)."""
        (socket_path,) = short_tmp.glob("hub-workers-*/bus.sock")
        _, writer = await asyncio.open_unix_connection(str(socket_path))
        writers.append(writer)
        for name in ("os.system", "subprocess.Popen"):
            writer.write(frame(EVENT, TOPIC, attacks[name][0]))
        await writer.drain()
        return [f"{os.system.__module__}.system", "subprocess.Popen"]

    try:
        await _fed_refused_events(hub, feed, marker)
    finally:
        for writer in writers:
            writer.close()
        hub.stop()


@pytest.mark.skipif(
    not os.environ.get("HUB_TEST_POSTGRES"), reason="NOTIFY needs PostgreSQL: HUB_TEST_POSTGRES"
)
async def test_a_refused_event_notified_on_postgresql_is_dropped_and_the_hub_goes_on(
    tmp_path: Path,
) -> None:
    hub = _notes_hub(tmp_path / "hub")
    url, prefix = split_url(hub.env["HUB_DATABASE_URL"])
    marker = tmp_path / "ran"
    attacks = _attacks(marker)

    async def feed() -> list[str]:
        """One in a notification, one in a large event's row, as pgbus writes them."""
        system, popen = attacks["os.system"][0], attacks["subprocess.Popen"][0]
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            row = await (
                await conn.execute(
                    f'INSERT INTO "{prefix}_workers".bus_events (topic, body, at)'
                    " VALUES (%s, %s, %s) RETURNING id",
                    (TOPIC, popen, time.time()),
                )
            ).fetchone()
            assert row is not None
            for payload in (
                ["E", TOPIC, base64.b64encode(system).decode()],
                ["R", TOPIC, row[0]],
            ):
                await conn.execute(
                    "SELECT pg_notify(%s, %s)", (prefix + CHANNEL, json.dumps(payload))
                )
        return [f"{os.system.__module__}.system", "subprocess.Popen"]

    try:
        await _fed_refused_events(hub, feed, marker)
    finally:
        hub.stop()
