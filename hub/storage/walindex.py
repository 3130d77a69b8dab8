"""Whether anything was committed to a SQLite file since a moment, without a transaction.

In WAL mode SQLite keeps a wal-index in the ``-shm`` file beside the database, shared by every
connection of every process through ``mmap``; every commit rewrites its header (a counter
``iChange`` incremented with each transaction, the last frame, checksums and salts). SQLite
writes the header twice, the second copy first, and a reader that finds both copies equal has
one consistent header: how SQLite's own readers start a transaction (the "WAL-index format"
of sqlite.org/walformat.html). An unchanged header means no connection committed since, which
``PRAGMA data_version`` would otherwise tell only in a read transaction of its own (two lock
calls to the kernel, about 15 µs in a serving hub).

Every doubt answers ``None``, and the caller reads the data version: no ``-shm`` file (not WAL,
or not opened yet), a file replaced since it was mapped, the two copies differing (a commit
being written), or a header of another version or not initialised."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

HEADER = 48  # bytes of one copy of the header
VERSION = 3007000  # iVersion: the wal-index format SQLite has written since 3.7.0
IS_INIT = 12  # the offset of the header's isInit byte


class WalIndex:
    """The wal-index header of the database at ``path``, read through a read-only mapping of
    its ``-shm`` file, mapped again when that file is gone from its path (SQLite never removes it
    while a connection is open, but a header that could never move again must not be trusted)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path.with_name(path.name + "-shm"))
        self._map: mmap.mmap | None = None
        self._fd = -1

    def header(self) -> bytes | None:
        """The header as it is now, or ``None`` when it cannot be read as one consistent
        header (see the module's docstring)."""
        try:
            if self._map is None or os.fstat(self._fd).st_nlink == 0:
                self._open()  # an unlinked or replaced file has no links left
        except OSError:
            self.close()
            return None
        assert self._map is not None
        first, second = self._map[:HEADER], self._map[HEADER : 2 * HEADER]
        if first != second or first[IS_INIT] != 1:
            return None
        if int.from_bytes(first[:4], sys.byteorder) != VERSION:
            return None
        return first

    def _open(self) -> None:
        """Map the file now at the path; ``OSError`` if there is none, or it is too short."""
        self.close()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if os.fstat(fd).st_size < 2 * HEADER:
                raise OSError(f"{self.path}: shorter than a wal-index header")
            self._map = mmap.mmap(fd, 2 * HEADER, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            os.close(fd)
            raise OSError(str(exc)) from None
        self._fd = fd  # kept: its link count tells whether the file is still the path's

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
