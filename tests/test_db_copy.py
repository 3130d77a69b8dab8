"""``hub db copy``: a data directory filled by a real hub on SQLite, copied with the real command
into PostgreSQL, then served from there by another hub (with a data directory of its own) and
read back over the wire; a second copy is refused, ``--replace`` gives the same result again,
and bad inputs get one line."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hub.storage.postgres import split_url
from hub.testing.plugin import PostgresDatabases
from tests.hubproc import ADMIN_TOKEN, HubProcess

pytestmark = pytest.mark.skipif(
    not os.environ.get("HUB_TEST_POSTGRES"),
    reason="copies into PostgreSQL: set HUB_TEST_POSTGRES (temporary, or postgresql://…)",
)

ERA = "/era/rest/v1/service/integration_points"
MONITOROZAS = "/monitorozas/api/v1"
NOTES = "/notes/api/notes"
UNSPOT = "/unspot/api/external/v1/monitoring"
QUIET = {  # nothing is checked or polled while the test runs
    "HUB_MONITOROZAS_INTERVAL": "3600",
    "HUB_MONITOROZAS_BLACKLIST_INTERVAL": "3600",
}
OFFICES = {
    "offices": [
        {
            "office_title": "Центр",
            "office_id": "office_001",
            "leader_ids": ["leader_1"],
            "managers_ids": ["manager_1", "manager_2"],
        }
    ]
}
DEVICE = {"target_type": "domain", "service_type": "ssh", "location": "copy test"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    hub: HubProcess, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, Any]:
    host, _, port = hub.http.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    send = dict(headers or {})
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        send["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=send)
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(payload) if payload else None
    except ValueError:
        return response.status, payload.decode()


def graphql(hub: HubProcess, query: str, token: str = ADMIN_TOKEN) -> Any:
    status, answer = call(hub, "POST", "/graphql", bearer(token), {"query": query})
    assert status == 200 and "errors" not in answer, answer
    return answer["data"]


def hub_at(data_dir: Path, database_url: str, admin_token_setting: bool = True) -> HubProcess:
    """Every installed plugin, on SQLite (``""``) or on PostgreSQL, whatever the shell says;
    without ``admin_token_setting``, the admin token is the data directory's or the database's."""
    process = HubProcess(data_dir, env={**QUIET, "HUB_DATABASE_URL": database_url})
    process.env.pop("HUB_PLUGINS", None)
    if not admin_token_setting:
        process.env.pop("HUB_ADMIN_TOKEN")
    return process


@dataclass
class Filled:
    """What the SQLite hub was given, to be found again on PostgreSQL."""

    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)


def fill(hub: HubProcess) -> Filled:
    filled = Filled(hub.data_dir)
    tokens = filled.tokens
    tokens["era"] = hub.creds("era")["token"]
    tokens["monitorozas"] = hub.creds("monitorozas", user="alice", scopes="read,write")["key"]
    tokens["notes"] = hub.creds("notes")["token"]
    tokens["unspot"] = hub.creds("unspot", role="owner")["token"]
    tokens["rop"] = hub.creds("rop")["api_key"]
    service = hub.creds("webim", kind="service", login="zabbix")
    tokens["webim"] = base64.b64encode(f"zabbix:{service['password']}".encode()).decode()
    status, point = call(hub, "POST", ERA, bearer(tokens["era"]), {"code": "c-1", "type": "t"})
    assert status == 200, point
    filled.rows["era"] = point
    devices = []
    for name in ("kept.example", "deleted.example"):
        status, made = call(
            hub,
            "POST",
            f"{MONITOROZAS}/devices/create",
            bearer(tokens["monitorozas"]),
            {**DEVICE, "target_value": name},
        )
        assert status == 201, made
        devices.append(made["data"])
    deleted = devices[1]["id"]
    status, _ = call(
        hub, "DELETE", f"{MONITOROZAS}/devices/delete?id={deleted}", bearer(tokens["monitorozas"])
    )
    assert status == 200
    filled.rows["monitorozas"] = devices[0]
    filled.rows["monitorozas_deleted"] = deleted
    status, note = call(hub, "POST", NOTES, bearer(tokens["notes"]), {"title": "milk", "body": "2"})
    assert status == 201, note
    filled.rows["notes"] = note
    status, answer = call(
        hub, "POST", f"/rop/api/v1/settings/offices-update?apiKey={tokens['rop']}", body=OFFICES
    )
    assert status == 200, answer
    assert (
        call(hub, "GET", "/webim/l/a/monitor", {"Authorization": f"Basic {tokens['webim']}"})[0]
        == 200
    )
    return filled


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    """Filled once; a test that changes the data directory changes a copy of it."""
    source = hub_at(tmp_path_factory.mktemp("copy") / "sqlite-data", "").start()
    try:
        filled = fill(source)
    finally:
        source.stop()  # as the documentation says: stop the hub, then copy
    yield filled


def db(
    data_dir: Path,
    *args: str,
    database_url: str = "",
    check: bool = True,
    admin_token_setting: bool = True,
) -> Any:
    """``hub db ...`` on ``data_dir`` (SQLite unless ``database_url``)."""
    return hub_at(data_dir, database_url, admin_token_setting).cli("db", *args, check=check)


def info(data_dir: Path, database_url: str = "") -> dict[str, Any]:
    return json.loads(db(data_dir, "info", database_url=database_url).stdout)  # type: ignore[no-any-return]


def one_line_failure(result: Any, *fragments: str) -> None:
    assert result.returncode != 0 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def same_rows(target: dict[str, Any], source: dict[str, Any]) -> bool:
    """Every table of every source file, with as many rows. Beside them, what only hubs on
    PostgreSQL keep: the cluster's coordination (empty) and the admin token's hash (one row)."""
    databases = target["databases"]
    copied = {
        name: {t: databases[name][t] for t in tables}
        for name, tables in source["databases"].items()
    }
    extra = [name for name in databases if name not in source["databases"]]
    assert all(not any(databases[name].values()) for name in extra), target
    assert databases["hub"]["admin_token"] == 1
    return copied == source["databases"]


def read_back(hub: HubProcess, filled: Filled) -> None:
    """Every plugin's rows and credentials, over the wire, from the hub on PostgreSQL."""
    tokens = filled.tokens
    point = filled.rows["era"]
    assert call(hub, "GET", f"{ERA}/{point['id']}", bearer(tokens["era"])) == (200, point)
    device = filled.rows["monitorozas"]
    query = "{ monitorozas { device(id: %d) { id targetValue createdAt } } }"
    found = graphql(hub, query % device["id"], tokens["monitorozas"])["monitorozas"]["device"]
    assert found == {
        "id": device["id"],
        "targetValue": device["target_value"],
        "createdAt": device["created_at"],
    }
    note = filled.rows["notes"]
    assert call(hub, "GET", f"{NOTES}/{note['id']}", bearer(tokens["notes"])) == (200, note)
    assert call(hub, "GET", f"{UNSPOT}/displays", bearer(tokens["unspot"]))[0] == 200
    users = graphql(hub, "{ unspot { users(first: 100) { nodes { role } } } }")
    assert users["unspot"]["users"]["nodes"] == [{"role": "owner"}]
    offices = graphql(hub, "{ rop { offices { officeId managersIds } } }", tokens["rop"])
    assert offices["rop"]["offices"] == [
        {"officeId": "office_001", "managersIds": ["manager_1", "manager_2"]}
    ]
    webim = {"Authorization": f"Basic {tokens['webim']}"}
    assert call(hub, "GET", "/webim/l/a/monitor", webim)[0] == 200


def test_copy_serve_refuse_and_replace(
    filled: Filled, hub_database: PostgresDatabases, tmp_path: Path
) -> None:
    url = hub_database.new()
    (filled.data_dir / "admin-token").write_text(ADMIN_TOKEN + "\n")  # as `hub serve` makes it
    source_info = info(filled.data_dir)
    credentials = source_info["databases"]["hub"]["credentials"]
    assert credentials >= 6
    copied = db(filled.data_dir, "copy", "--to", url, admin_token_setting=False)
    assert f"hub.credentials: {credentials} rows" in copied.stdout.splitlines()
    assert "monitorozas.devices: 1 row" in copied.stdout.splitlines()
    assert copied.stderr.strip() == "not copied (files, not table rows): admin-token"
    target_info = info(filled.data_dir, url)
    assert target_info["engine"] == "postgresql"
    assert same_rows(target_info, source_info)

    # a data directory of its own, and no admin token setting: everything comes from the
    # database, the admin token too (the SQLite data directory's, carried over by the copy)
    served = hub_at(tmp_path / "pg-data", url, admin_token_setting=False).start()
    try:
        read_back(served, filled)
        tokens = filled.tokens
        # new rows get fresh ids: past the copied ones and past the deleted one, as on SQLite
        status, made = call(
            served,
            "POST",
            f"{MONITOROZAS}/devices/create",
            bearer(tokens["monitorozas"]),
            {**DEVICE, "target_value": "new.example"},
        )
        assert status == 201 and made["data"]["id"] == filled.rows["monitorozas_deleted"] + 1
        status, note = call(served, "POST", NOTES, bearer(tokens["notes"]), {"title": "new"})
        assert status == 201 and note["id"] != filled.rows["notes"]["id"]
        assert (
            call(served, "POST", "/graphql", bearer(ADMIN_TOKEN), {"query": "{ __typename }"})[0]
            == 200
        )
    finally:
        served.stop()

    again = db(filled.data_dir, "copy", "--to", url, check=False)
    one_line_failure(again, "already holds the hub's data", "--replace")

    replaced = db(filled.data_dir, "copy", "--to", url, "--replace", admin_token_setting=False)
    assert replaced.stdout == copied.stdout  # the rows written meanwhile are gone
    assert same_rows(info(filled.data_dir, url), source_info)
    twice = db(filled.data_dir, "copy", "--to", url, "--replace", admin_token_setting=False)
    assert twice.stdout == copied.stdout
    served = hub_at(tmp_path / "pg-data", url, admin_token_setting=False).start()
    try:
        read_back(served, filled)
    finally:
        served.stop()


def test_bad_inputs_get_one_line(
    filled: Filled, hub_database: PostgresDatabases, tmp_path: Path
) -> None:
    url = hub_database.new()
    one_line_failure(
        db(filled.data_dir, "copy", "--to", "mysql://u:secret@db/hub", check=False),
        "postgresql://",
    )
    missing = tmp_path / "nowhere"
    one_line_failure(db(missing, "copy", "--to", url, check=False), "no hub.db", str(missing))
    assert not missing.exists()
    unreachable = url.rsplit("/", 1)[0] + "/no_such_database"
    one_line_failure(db(filled.data_dir, "copy", "--to", unreachable, check=False))
    one_line_failure(db(filled.data_dir, "copy", check=False), "--to")

    # a table no loaded plugin makes (another version of the plugin made this data directory)
    other = tmp_path / "other-version"
    shutil.copytree(filled.data_dir, other)
    with closing(sqlite3.connect(other / "era.db")) as conn:
        conn.execute("CREATE TABLE extra (id INTEGER PRIMARY KEY)")
    one_line_failure(db(other, "copy", "--to", url, check=False), "era.db", "table extra")
    with closing(sqlite3.connect(other / "era.db")) as conn:
        conn.execute("DROP TABLE extra")
        conn.execute("ALTER TABLE integration_points ADD COLUMN newer TEXT")
    one_line_failure(db(other, "copy", "--to", url, check=False), "integration_points.newer")

    # none of the refusals left anything behind that would refuse the next copy, nor does a
    # look at the target: the rows its migrations write (unspot's user_sync) are not data
    assert info(filled.data_dir, url)["databases"]["unspot"]["user_sync"] == 1
    assert "hub.credentials:" in db(filled.data_dir, "copy", "--to", url).stdout


def test_the_copy_keeps_to_the_statement_timeout_setting(
    filled: Filled, hub_database: PostgresDatabases
) -> None:
    """A table of the target locked by someone else: the copy's statement waiting on it is
    cancelled after ``database_statement_timeout``, not after the 5 s a writer waits."""
    url = hub_database.new()
    db(filled.data_dir, "copy", "--to", url, admin_token_setting=False)
    copying = hub_at(filled.data_dir, "", admin_token_setting=False)
    copying.env["HUB_DATABASE_STATEMENT_TIMEOUT"] = "0.5"
    plain, prefix = split_url(url)
    with psycopg.connect(plain, autocommit=True) as other:
        other.execute("BEGIN")
        other.execute(f'LOCK TABLE "{prefix}era".integration_points IN ACCESS EXCLUSIVE MODE')
        refused = copying.cli("db", "copy", "--to", url, "--replace", check=False)
        other.execute("ROLLBACK")
    one_line_failure(refused, "statement timeout")
