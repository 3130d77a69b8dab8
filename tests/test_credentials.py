"""Credential look-ups are cached, yet a change made through another connection (another
worker, ``hub creds add``) takes effect on the very next request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.credentials import CredentialStore, CredentialType, m001_credentials
from hub.storage import Database


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
