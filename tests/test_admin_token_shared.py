"""Hubs sharing one PostgreSQL database and no ``admin_token`` setting agree on one generated
admin token: the first to store its SHA-256 decides, the others read it back. Only the hub that
generated it shows it and writes it to its data directory."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.test_host import adds_credential

pytestmark = pytest.mark.skipif(
    not os.environ.get("HUB_TEST_POSTGRES"),
    reason="needs PostgreSQL: the suite runs on SQLite (set HUB_TEST_POSTGRES), where the"
    " generated admin token is a file of each data directory (tests/test_host.py)",
)


def without_admin_token(data_dir: Path) -> HubProcess:
    # every hub on the test's one database, not a namespace of its data directory's own
    hub = HubProcess(data_dir, {"HUB_DATABASE_URL": os.environ.get("HUB_DATABASE_URL", "")})
    hub.env.pop("HUB_ADMIN_TOKEN")
    return hub


def start_together(hubs: list[HubProcess]) -> None:
    failures: list[BaseException] = []

    def start(hub: HubProcess) -> None:
        try:
            hub.start()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(hub,)) for hub in hubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def announced(hub: HubProcess) -> list[str]:
    return [line for line in hub.output if "admin token" in line]


def test_hubs_starting_together_accept_one_generated_admin_token(tmp_path: Path) -> None:
    hubs = [without_admin_token(tmp_path / f"hub{i}") for i in range(3)]
    start_together(hubs)
    try:
        makers = [hub for hub in hubs if (hub.data_dir / "admin-token").exists()]
        assert len(makers) == 1, [hub.output for hub in hubs]
        path = makers[0].data_dir / "admin-token"
        token = path.read_text().strip()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lines = [line for hub in hubs for line in announced(hub)]
        assert len(lines) == 1 and token in lines[0] and announced(makers[0]) == lines
        assert "every hub on postgresql://" in lines[0]
        for hub in hubs:
            assert adds_credential(hub.url, token)
            assert not adds_credential(hub.url, ADMIN_TOKEN)
    finally:
        for hub in hubs:
            hub.stop()
    late = without_admin_token(tmp_path / "late").start()  # a hub joining later: the same one
    try:
        assert adds_credential(late.url, token) and not announced(late)
        assert not (late.data_dir / "admin-token").exists()
    finally:
        late.stop()


def test_a_data_directory_token_the_database_does_not_share_is_refused(tmp_path: Path) -> None:
    first = without_admin_token(tmp_path / "first").start()
    first.stop()
    moved = tmp_path / "moved"  # e.g. a SQLite data directory with a token of its own
    moved.mkdir(mode=0o700)
    (moved / "admin-token").write_text("a-token-of-another-data-directory\n")
    hub = without_admin_token(moved)
    with pytest.raises(RuntimeError, match="holds another admin token than the one the hubs"):
        hub.start()


def test_a_data_directory_token_is_the_shared_one_when_none_is_stored(tmp_path: Path) -> None:
    """A SQLite data directory moved to PostgreSQL keeps its admin token."""
    moved = tmp_path / "moved"
    moved.mkdir(mode=0o700)
    (moved / "admin-token").write_text("the-token-of-the-sqlite-days\n")
    hub = without_admin_token(moved).start()
    other = without_admin_token(tmp_path / "other").start()
    try:
        assert not announced(hub) and not announced(other)
        for each in (hub, other):
            assert adds_credential(each.url, "the-token-of-the-sqlite-days")
    finally:
        hub.stop()
        other.stop()
