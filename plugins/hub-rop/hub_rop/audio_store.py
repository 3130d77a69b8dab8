"""Downloaded audio lives in rop's database (table ``audio_chunks``), not on one hub's disk, so
every hub sharing the database reads what another downloaded. A recording is stored as rows of
:data:`CHUNK_BYTES` (the last one shorter): no write and no read holds more than one chunk of it
in memory, whatever ``max_audio_bytes`` allows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

from hub.storage import Database

CHUNK_BYTES = 1024 * 1024


class AudioStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def writer(self, call_id: str) -> ChunkWriter:
        """Where a download goes; the call's earlier chunks (a download cut off) are dropped."""
        self.discard(self.database, call_id)
        return ChunkWriter(self.database, call_id)

    @staticmethod
    def discard(db: Any, call_id: str) -> None:
        """Inside a transaction of the caller, or one of its own."""
        with db.write() as tx:
            tx.execute("DELETE FROM audio_chunks WHERE call_id = ?", (call_id,))

    def head(self, call_id: str, size: int) -> bytes:
        row = self.database.execute(
            "SELECT substr(data, 1, ?) FROM audio_chunks WHERE call_id = ? AND seq = 0",
            (size, call_id),
        ).fetchone()
        return bytes(row[0]) if row is not None else b""

    @staticmethod
    def reader(db: Database, call_id: str) -> ChunkReader:
        """A seekable binary file over the call's chunks (for mutagen), read through ``db``."""
        size = db.execute(
            "SELECT coalesce(sum(length(data)), 0) FROM audio_chunks WHERE call_id = ?",
            (call_id,),
        ).fetchone()[0]
        return ChunkReader(db, call_id, int(size))

    @staticmethod
    def copy_to(db: Database, call_id: str, out: BinaryIO) -> int:
        """Write the call's audio to ``out`` a chunk at a time; the bytes written (0: none)."""
        written = seq = 0
        while True:
            row = db.execute(
                "SELECT data FROM audio_chunks WHERE call_id = ? AND seq = ?", (call_id, seq)
            ).fetchone()
            if row is None:
                return written
            written += out.write(bytes(row[0]))
            seq += 1

    def import_file(self, call_id: str, path: Path) -> None:
        """A file of the data directory of older versions, in one transaction."""
        with self.database.write() as db, path.open("rb") as source:
            self.discard(db, call_id)
            store = ChunkWriter(db, call_id)
            while data := source.read(CHUNK_BYTES):
                store.write(data)
            store.flush()


class ChunkWriter:
    """Buffers up to one chunk and stores each full one in a transaction of its own, so the
    writers' lock is never held for a whole recording."""

    def __init__(self, database: Database, call_id: str) -> None:
        self.database = database
        self.call_id = call_id
        self.buffer = bytearray()
        self.seq = 0

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= CHUNK_BYTES:
            self._store(bytes(self.buffer[:CHUNK_BYTES]))
            del self.buffer[:CHUNK_BYTES]

    def flush(self) -> None:
        """The last, shorter chunk."""
        if self.buffer:
            self._store(bytes(self.buffer))
            self.buffer.clear()

    def _store(self, data: bytes) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO audio_chunks (call_id, seq, data) VALUES (?, ?, ?)",
                (self.call_id, self.seq, data),
            )
        self.seq += 1


class ChunkReader(io.RawIOBase):
    """Reads the chunk under the position and keeps only that one."""

    def __init__(self, db: Database, call_id: str, size: int) -> None:
        super().__init__()
        self.db = db
        self.call_id = call_id
        self.size = size
        self.position = 0
        self._chunk: tuple[int, bytes] = (-1, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self.position = base + offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        """Fills ``buffer`` up to the end of the audio: readers such as mutagen take a short
        read for the end of the file."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self.position < self.size:
            seq, offset = divmod(self.position, CHUNK_BYTES)
            piece = self._chunk_at(seq)[offset : offset + len(view) - filled]
            if not piece:  # fewer bytes stored than counted: the end, as for a file
                break
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
            self.position += len(piece)
        return filled

    def _chunk_at(self, seq: int) -> bytes:
        if self._chunk[0] != seq:
            row = self.db.execute(
                "SELECT data FROM audio_chunks WHERE call_id = ? AND seq = ?", (self.call_id, seq)
            ).fetchone()
            self._chunk = (seq, bytes(row[0]) if row is not None else b"")
        return self._chunk[1]
