"""rop keeps downloaded audio in its database (table ``audio_chunks``, rows of 1 MiB), on SQLite
and on PostgreSQL alike, so any hub sharing the database reads it: nothing is written under the
data directory, the analyser hook still gets a file, a rejected call keeps no audio, and files an
older version left in ``<data-dir>/rop-audio/`` are moved into the database at start."""

from __future__ import annotations

import hashlib
import io
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hub_rop.audio_store import CHUNK_BYTES, AudioStore, ChunkWriter
from hub_rop.storage import MIGRATIONS

from hub.storage import Database, Engine
from hub.testing.namespaces import database_env
from tests.hubproc import HubProcess
from tests.rop_audio import wav_bytes
from tests.rop_client import connected, start_hub, uploaded
from tests.rop_servers import ThreadedServer

BIG = wav_bytes(28.0, rate=48000, width=2)  # 2.69 MB: three chunks, the last one short
CAP = 4_000_000
BROKEN = b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * 5000  # sniffed as WAV, no readable header

# An analyser that records what it was given (the digest of the file, its directory's mode) and
# leaves the call waiting.
ANALYSER = """
import hashlib, os, pathlib, stat
from hub.hookspecs import hookimpl

@hookimpl
def rop_analyze_call(call, audio_path, checklists, tables):
    path = pathlib.Path(audio_path)
    mode = oct(stat.S_IMODE(path.parent.stat().st_mode))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    seen = pathlib.Path(os.environ["ROP_TEST_SEEN"]) / call["call_id"]
    seen.write_text(f"{digest} {mode} {audio_path}")
    return None
"""


class FileHost(ThreadedServer):
    """Serves the recordings; ``/huge.wav`` streams past the cap without a Content-Length."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_get("/big.wav", self.fixed(BIG))
        app.router.add_get("/broken.wav", self.fixed(BROKEN))
        app.router.add_get("/huge.wav", self.huge)
        super().__init__(app)

    @staticmethod
    def fixed(data: bytes) -> Any:
        async def serve(request: web.Request) -> web.Response:
            return web.Response(body=data, content_type="audio/wav")

        return serve

    async def huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(BIG)
        await response.write(BIG)
        return response


@pytest.fixture(scope="module")
def files() -> Iterator[FileHost]:
    server = FileHost()
    yield server
    server.stop()


def start(data_dir: Path, seen: Path) -> HubProcess:
    plugins = data_dir.parent / "analysers"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "rop_seen.py").write_text(ANALYSER)
    seen.mkdir(exist_ok=True)
    return start_hub(
        data_dir,
        HUB_PLUGINS="rop,rop_seen",
        HUB_PLUGINS_DIR=str(plugins),
        HUB_ROP_MAX_AUDIO_BYTES=str(CAP),
        ROP_TEST_SEEN=str(seen),
    )


def rop_database(data_dir: Path) -> Database:
    """The hub's ``rop`` state, on whichever engine the suite runs."""
    return Engine(data_dir, database_env(data_dir, None).get("HUB_DATABASE_URL", "")).open("rop")


def chunks(data_dir: Path, call_id: str) -> list[bytes]:
    database = rop_database(data_dir)
    try:
        rows = database.execute(
            "SELECT seq, data FROM audio_chunks WHERE call_id = ? ORDER BY seq", (call_id,)
        ).fetchall()
    finally:
        database.close()
    assert [row[0] for row in rows] == list(range(len(rows)))
    return [bytes(row[1]) for row in rows]


async def upload(hub: HubProcess, files: FileHost, path: str, statuses: tuple[str, ...]) -> Any:
    async with connected(hub) as rop:
        key = await rop.new_key()
        call_id = await uploaded(rop, key, files.url(path))
        return await rop.call_in(call_id, key, statuses)


async def test_downloaded_audio_is_stored_in_database_chunks(
    tmp_path: Path, files: FileHost
) -> None:
    data, seen = tmp_path / "data", tmp_path / "seen"
    hub = start(data, seen)
    try:
        call = await upload(hub, files, "/big.wav", ("awaiting_analysis", "rejected"))
        assert call["status"] == "awaiting_analysis", call
        assert call["sizeBytes"] == len(BIG) and call["duration"] == pytest.approx(28.0)
        stored = chunks(data, call["callId"])
        assert [len(c) for c in stored] == [CHUNK_BYTES, CHUNK_BYTES, len(BIG) - 2 * CHUNK_BYTES]
        assert b"".join(stored) == BIG
        assert not (data / "rop-audio").exists()
        record = seen / call["callId"]
        deadline = time.monotonic() + 30  # the hook runs right after the call is marked ready
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert record.exists(), "".join(hub.output)
        digest, mode, path = record.read_text().split(" ")
        assert digest == hashlib.sha256(BIG).hexdigest() and mode == "0o700"
        assert not Path(path).exists() and not Path(path).parent.exists()  # removed after
    finally:
        hub.stop()


async def test_a_rejected_call_keeps_no_audio(tmp_path: Path, files: FileHost) -> None:
    data = tmp_path / "data"
    hub = start(data, tmp_path / "seen")
    try:
        broken = await upload(hub, files, "/broken.wav", ("awaiting_analysis", "rejected"))
        assert (broken["status"], broken["reason"]) == ("rejected", "unreadable")
        huge = await upload(hub, files, "/huge.wav", ("awaiting_analysis", "rejected"))
        assert (huge["status"], huge["reason"]) == ("rejected", "too_large")  # chunks were stored
        assert chunks(data, broken["callId"]) == [] and chunks(data, huge["callId"]) == []
    finally:
        hub.stop()


async def test_files_of_an_older_version_move_into_the_database(
    tmp_path: Path, files: FileHost
) -> None:
    data = tmp_path / "data"
    start(data, tmp_path / "seen").stop()  # the tables exist
    directory = data / "rop-audio"
    directory.mkdir(mode=0o700)
    (directory / "c0ffee.wav").write_bytes(BIG)
    (directory / "dead.download.part").write_bytes(b"cut off")
    now = time.time()
    database = rop_database(data)
    try:
        with database.write() as db:
            for call_id, path in (
                ("old_here", "/gone/rop-audio/c0ffee.wav"),
                ("old_away", "b.wav"),
            ):
                db.execute(
                    "INSERT INTO calls (call_id, manager_id, deal_id, deal_stage_id, audio_url,"
                    " status, format, size_bytes, duration, audio_path, created_at, updated_at)"
                    " VALUES (?, 'm', 'd', 's', 'http://x/a.wav', 'awaiting_analysis', 'wav', ?,"
                    " 28.0, ?, ?, ?)",
                    (call_id, len(BIG), path, now, now),
                )
    finally:
        database.close()
    hub = start(data, tmp_path / "seen")
    try:
        assert b"".join(chunks(data, "old_here")) == BIG
        assert chunks(data, "old_away") == []
        database = rop_database(data)
        try:
            paths = dict(database.execute("SELECT call_id, audio_path FROM calls").fetchall())
        finally:
            database.close()
        # the file not found here stays named: another hub on the database may hold it
        assert paths == {"old_here": None, "old_away": "b.wav"}
        assert not directory.exists()
    finally:
        hub.stop()


def test_chunk_reader_reads_like_a_file(tmp_path: Path) -> None:
    """Seeks and reads across chunk boundaries give what a file of the same bytes gives."""
    rng = random.Random(16)
    payload = rng.randbytes(2 * CHUNK_BYTES + 12345)
    database = rop_database(tmp_path)
    try:
        database.migrate("rop", MIGRATIONS)
        writer = ChunkWriter(database, "c")
        for start_at in range(0, len(payload), 70_000):
            writer.write(payload[start_at : start_at + 70_000])
        writer.flush()
        reader, expected = AudioStore.reader(database, "c"), io.BytesIO(payload)
        assert reader.seek(0, io.SEEK_END) == expected.seek(0, io.SEEK_END) == len(payload)
        for _ in range(200):
            whence = rng.choice([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END])
            low = {io.SEEK_SET: 0, io.SEEK_CUR: -expected.tell(), io.SEEK_END: -len(payload)}
            where = rng.randrange(low[whence], low[whence] + len(payload) + 100)
            assert reader.seek(where, whence) == expected.seek(where, whence)
            size = rng.choice([1, 16, 4096, CHUNK_BYTES + 7])
            assert reader.read(size) == expected.read(size)
            assert reader.tell() == expected.tell()
    finally:
        database.close()
