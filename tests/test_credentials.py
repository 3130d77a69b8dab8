"""Credential look-ups are cached, yet a change made through another connection (another
worker, ``hub creds add``, ``revoke``, ``rotate``) takes effect on the very next request; the
last use of each credential is recorded without a write per request."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hub.credentials import (
    Credential,
    CredentialStore,
    CredentialType,
    m001_credentials,
    sha256,
)
from hub.errors import HubError
from hub.storage import SQLiteDatabase as Database


def user_only(params: dict[str, str]) -> dict[str, Any]:
    return {"user": params["user"]}


def store(path: Path) -> CredentialStore:
    database = Database(path)
    database.migrate("hub", [m001_credentials])
    credentials = CredentialStore(database, admin_token="admin")
    credentials.register_type("demo", CredentialType(validate=user_only, one_per="user"))
    return credentials


def test_revocation_by_another_connection_is_seen_at_once(tmp_path: Path) -> None:
    worker_a, worker_b = store(tmp_path / "hub.db"), store(tmp_path / "hub.db")
    first = worker_a.issue("demo", {"user": "ann"})["token"]
    assert worker_b.by_token("demo", first) is not None  # now cached in worker B
    second = worker_a.issue("demo", {"user": "ann"})["token"]  # one per user: revokes the first
    assert worker_b.by_token("demo", first) is None
    found = worker_b.by_token("demo", second)
    assert found is not None and found.attrs == {"user": "ann"}


def test_a_token_is_valid_for_its_own_plugin_only(tmp_path: Path) -> None:
    credentials = store(tmp_path / "hub.db")
    credentials.register_type("other", CredentialType())
    token = credentials.issue("demo", {"user": "bob"})["token"]
    assert credentials.authenticate("demo", f"Bearer {token}") is not None
    assert credentials.authenticate("other", f"Bearer {token}") is None
    assert credentials.authenticate("other", "Bearer admin").is_admin  # type: ignore[union-attr]


def usage_file(credentials: CredentialStore, path: Path) -> Database:
    database = Database(path)
    credentials.last_used.store_in(database, "hub")
    return database


def test_last_used_costs_no_write_per_request_and_spares_the_cache(tmp_path: Path) -> None:
    credentials = store(tmp_path / "hub.db")
    usage = usage_file(credentials, tmp_path / "_ratelimits.db")
    token = credentials.issue("demo", {"user": "ann"})["token"]
    (credential_id,) = [c["id"] for c in credentials.listing("demo").items]
    watcher = sqlite3.connect(tmp_path / "hub.db")  # sees what other workers' caches would see
    version = watcher.execute("PRAGMA data_version").fetchone()
    writes = usage.conn.total_changes
    for _ in range(200):
        assert credentials.authenticate("demo", f"Bearer {token}") is not None
    assert usage.conn.total_changes == writes  # 200 uses, not one write yet
    assert credentials.listing("demo").items[0]["last_used_at"] is not None  # known in memory
    credentials.last_used.flush()
    assert usage.conn.total_changes == writes + 1  # one row for the lot
    credentials.last_used.flush()  # nothing new: nothing written
    assert usage.conn.total_changes == writes + 1
    assert watcher.execute("PRAGMA data_version").fetchone() == version  # hub.db untouched
    other = store(tmp_path / "hub.db")  # another process on the same files
    usage_file(other, tmp_path / "_ratelimits.db")
    (seen,) = other.listing("demo").items
    assert seen["id"] == credential_id and seen["last_used_at"] is not None


def test_listing_never_shows_a_secret_or_its_hash(tmp_path: Path) -> None:
    credentials = store(tmp_path / "hub.db")
    token = credentials.issue("demo", {"user": "ann"})["token"]
    shown = repr(credentials.listing().items)
    assert token not in shown and sha256(token) not in shown


def test_revoke_and_rotate_are_seen_by_another_connection_at_once(tmp_path: Path) -> None:
    worker_a, worker_b = store(tmp_path / "hub.db"), store(tmp_path / "hub.db")
    first = worker_a.issue("demo", {"user": "ann"})["token"]
    second = worker_a.issue("demo", {"user": "bob"})["token"]
    assert worker_b.by_token("demo", first) and worker_b.by_token("demo", second)  # cached
    ann, bob = (c["id"] for c in worker_a.listing("demo").items)
    new_id, shown = worker_a.rotate("demo", ann)
    assert worker_b.by_token("demo", first) is None
    rotated = worker_b.by_token("demo", shown["token"])
    assert rotated is not None and rotated.id == new_id and rotated.attrs == {"user": "ann"}
    assert worker_a.revoke("demo", bob)["revoked_at"] is not None
    assert worker_b.by_token("demo", second) is None
    assert [c["id"] for c in worker_b.listing("demo").items] == [new_id]


def test_unknown_plugin_or_id_is_a_404(tmp_path: Path) -> None:
    credentials = store(tmp_path / "hub.db")
    token = credentials.issue("demo", {"user": "ann"})["token"]
    (credential_id,) = [c["id"] for c in credentials.listing("demo").items]
    credentials.register_type("other", CredentialType())
    for attempt in (
        lambda: credentials.listing("nosuch"),
        lambda: credentials.revoke("nosuch", credential_id),
        lambda: credentials.rotate("demo", "no-such-id"),
        lambda: credentials.revoke("other", credential_id),  # another plugin's credential
    ):
        with pytest.raises(HubError) as info:
            attempt()
        assert info.value.status == 404 and info.value.plugin == "hub"
    assert credentials.by_token("demo", token) is not None


def test_a_rotation_the_plugin_refuses_changes_nothing(tmp_path: Path) -> None:
    credentials = store(tmp_path / "hub.db")
    users = {"ann"}

    def present(secret: str, credential: Credential) -> dict[str, Any]:
        if credential.attrs["user"] not in users:  # as unspot does for a deleted user
            raise HubError(404, "user: no such user", plugin="demo")
        return {"token": secret}

    credentials.types["demo"] = CredentialType(validate=user_only, present=present)
    token = credentials.issue("demo", {"user": "ann"})["token"]
    (credential_id,) = [c["id"] for c in credentials.listing("demo").items]
    users.clear()
    with pytest.raises(HubError):
        credentials.rotate("demo", credential_id)
    assert [c["id"] for c in credentials.listing("demo").items] == [credential_id]
    assert credentials.by_token("demo", token) is not None
