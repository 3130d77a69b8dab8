"""``hub.storage.walindex``: the wal-index header changes with every commit to the file, by any
connection of any process, and stays the same while only reads happen; whatever it cannot
read as one consistent header is ``None`` (the caller then reads the data version)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from hub.storage.sqlite import SQLiteDatabase
from hub.storage.walindex import HEADER, IS_INIT, WalIndex


def database(tmp_path: Path) -> SQLiteDatabase:
    db = SQLiteDatabase(tmp_path / "t.db")
    db.execute("CREATE TABLE t (x INTEGER)")
    return db


def test_the_header_moves_with_every_commit_and_only_then(tmp_path: Path) -> None:
    db = database(tmp_path)
    seen = db.commit_marker()
    assert seen is not None and len(seen) == HEADER
    for _ in range(3):  # reads, on this connection and another, commit nothing
        db.execute("SELECT count(*) FROM t").fetchall()
        other = sqlite3.connect(tmp_path / "t.db")
        other.execute("SELECT * FROM t").fetchall()
        other.close()
        assert db.commit_marker() == seen
    with db.write() as writing:  # this connection's own commit
        writing.execute("INSERT INTO t VALUES (1)")
    assert db.commit_marker() not in (None, seen)
    seen = db.commit_marker()
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)  # another connection's
    other.execute("INSERT INTO t VALUES (2)")
    other.close()
    assert db.commit_marker() not in (None, seen)
    seen = db.commit_marker()
    script = "import sqlite3, sys; sqlite3.connect(sys.argv[1], isolation_level=None)"
    script += ".execute('INSERT INTO t VALUES (3)')"
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "t.db")], check=True)
    assert db.commit_marker() not in (None, seen)  # another process's
    db.close()


def test_no_header_without_wal_or_when_it_cannot_be_read_as_one(tmp_path: Path) -> None:
    plain = sqlite3.connect(tmp_path / "rollback.db", isolation_level=None)
    plain.execute("CREATE TABLE t (x INTEGER)")  # rollback journal: no -shm file
    assert WalIndex(tmp_path / "rollback.db").header() is None
    plain.close()

    shm = tmp_path / "fake.db-shm"
    index = WalIndex(tmp_path / "fake.db")
    good = (3007000).to_bytes(4, sys.byteorder) + bytes(8) + b"\x01" + bytes(HEADER - 13)
    shm.write_bytes(good + good)
    assert index.header() == good
    torn = good[:20] + b"\xff" + good[21:]  # the first copy being rewritten
    shm.write_bytes(torn + good)
    assert index.header() is None
    uninitialised = good[:IS_INIT] + b"\x00" + good[IS_INIT + 1 :]
    shm.write_bytes(uninitialised + uninitialised)
    assert index.header() is None
    other = (3007001).to_bytes(4, sys.byteorder) + good[4:]
    shm.write_bytes(other + other)
    assert index.header() is None  # a format this code does not know
    shm.write_bytes(b"\x00" * 10)
    assert index.header() is None  # too short
    shm.unlink()
    assert index.header() is None


def test_a_replaced_file_is_mapped_again(tmp_path: Path) -> None:
    shm = tmp_path / "r.db-shm"
    index = WalIndex(tmp_path / "r.db")
    first = (3007000).to_bytes(4, sys.byteorder) + bytes(8) + b"\x01" + bytes(HEADER - 13)
    shm.write_bytes(first + first)
    assert index.header() == first
    second = first[:8] + (7).to_bytes(4, sys.byteorder) + first[12:]
    replacement = tmp_path / "new-shm"
    replacement.write_bytes(second + second)
    os.replace(replacement, shm)  # another file at the path: the old mapping never moves again
    assert index.header() == second
    index.close()
