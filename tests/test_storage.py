"""Opening a plugin's SQLite file while another process holds it: switching a new file to WAL
takes a lock SQLite does not wait for, so the hub waits for it itself (two commands starting at
once on a fresh data directory), and past the busy timeout says so in one line."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from hub.errors import StartupError
from hub.storage import sqlite as storage


def hold_exclusive(path: Path, seconds: float) -> threading.Thread:
    """Another connection holding the file's exclusive lock for ``seconds``."""
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        ready.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(5)
    return thread


def test_processes_opening_a_fresh_file_at_once_all_open_it(tmp_path: Path) -> None:
    """Four connections switching one new file to WAL at the same moment, a hundred times:
    without the hub's own wait some of them get "database is locked"."""
    failures: list[str] = []

    def open_it(path: Path, start: threading.Barrier) -> None:
        start.wait()
        try:
            storage.SQLiteDatabase(path).close()
        except Exception as exc:
            failures.append(repr(exc))

    for attempt in range(100):
        path = tmp_path / f"{attempt}.db"
        start = threading.Barrier(4)
        threads = [threading.Thread(target=open_it, args=(path, start)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_a_file_locked_past_the_busy_timeout_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "BUSY_TIMEOUT_MS", 300)
    path = tmp_path / "plugin.db"
    holder = hold_exclusive(path, 2)
    with pytest.raises(StartupError, match=r"plugin\.db: database is locked"):
        storage.SQLiteDatabase(path)
    holder.join()
