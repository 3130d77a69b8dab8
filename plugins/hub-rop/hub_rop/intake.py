"""The background half of audio intake: download, check, measure, then ask the analysers.
Calls wait in ``downloading`` in SQLite; the timer job claims them with a lease that the
download renews while it runs, so a hub that stops or dies leaves nothing lost: the next start
picks the call up again."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from hub.storage import Database
from hub_rop.audio import IntakeFailure, download, duration_of, sniff
from hub_rop.settings import RopSettings

log = logging.getLogger("hub_rop.intake")


def audio_file(audio_dir: Path, call_id: str, fmt: str) -> Path:
    """A file name the call id cannot steer outside the directory."""
    return audio_dir / f"{hashlib.sha256(call_id.encode()).hexdigest()[:32]}.{fmt}"


class Intake:
    def __init__(
        self,
        database: Database,
        settings: RopSettings,
        audio_dir: Path,
        session: Callable[[], aiohttp.ClientSession],
        on_ready: Callable[[str], Awaitable[None]],
    ) -> None:
        self.database = database
        self.settings = settings
        self.audio_dir = audio_dir
        self.session = session
        self.on_ready = on_ready
        self.inflight: dict[str, asyncio.Task[None]] = {}

    def depth(self) -> int:
        row = self.database.execute(
            "SELECT count(*) FROM calls WHERE status = 'downloading'"
        ).fetchone()
        return int(row[0])

    async def run(self) -> None:
        """The timer job: claim waiting downloads up to the free slots, each in its own task."""
        free = self.settings.intake_concurrency - len(self.inflight)
        if free <= 0:
            return
        now = time.time()
        with self.database.write() as db:
            rows = db.execute(
                "SELECT call_id, audio_url FROM calls WHERE status = 'downloading'"
                " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY seq LIMIT ?",
                (now, free),
            ).fetchall()
            rows = [r for r in rows if r[0] not in self.inflight]
            db.conn.executemany(
                "UPDATE calls SET claimed_until = ? WHERE call_id = ?",
                [(now + self.settings.intake_lease, r[0]) for r in rows],
            )
        for call_id, url in rows:
            task = asyncio.get_running_loop().create_task(self._process(call_id, url))
            self.inflight[call_id] = task
            task.add_done_callback(partial(self._done, call_id))

    def _done(self, call_id: str, _task: asyncio.Task[None]) -> None:
        self.inflight.pop(call_id, None)

    def _renewer(self, call_id: str) -> Callable[[], None]:
        lease = self.settings.intake_lease
        renewed = time.monotonic()

        def renew() -> None:
            nonlocal renewed
            if time.monotonic() - renewed > lease / 3:
                renewed = time.monotonic()
                with self.database.write() as db:
                    db.execute(
                        "UPDATE calls SET claimed_until = ? WHERE call_id = ?",
                        (time.time() + lease, call_id),
                    )

        return renew

    async def _process(self, call_id: str, url: str) -> None:
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        staging = audio_file(self.audio_dir, call_id, "download")
        target: Path | None = None
        try:
            size = await download(
                self.session(),
                url,
                staging,
                max_bytes=self.settings.max_audio_bytes,
                timeout=self.settings.download_timeout,
                progress=self._renewer(call_id),
            )
            with staging.open("rb") as f:
                fmt = sniff(f.read(16))
            if fmt is None:
                raise IntakeFailure(
                    "not_audio", "audio: the downloaded file is not MP3, WAV or OGG"
                )
            target = audio_file(self.audio_dir, call_id, fmt)
            staging.replace(target)
            seconds = await duration_of(target, fmt)
            if seconds > self.settings.max_duration:
                raise IntakeFailure(
                    "too_long",
                    f"audio: {seconds:.1f}s long, over the limit of"
                    f" {self.settings.max_duration:g}s",
                )
            self._update(
                call_id,
                status="awaiting_analysis",
                format=fmt,
                size_bytes=size,
                duration=seconds,
                audio_path=str(target),
            )
        except asyncio.CancelledError:
            self._update(call_id, claimed_until=None)  # shutting down: the next start resumes
            staging.unlink(missing_ok=True)
            raise
        except IntakeFailure as failure:
            self._reject(call_id, failure.reason, failure.message, staging, target)
            return
        except Exception as exc:  # a bug must not leave the call claimed for ever
            log.exception("call %s: intake failed", call_id)
            self._reject(
                call_id, "internal", f"audio: intake failed: {type(exc).__name__}", staging, target
            )
            return
        await self.on_ready(call_id)

    def _reject(self, call_id: str, reason: str, message: str, *files: Path | None) -> None:
        for path in files:
            if path is not None:
                path.unlink(missing_ok=True)
        self._update(call_id, status="rejected", reason=reason, detail=message)

    def _update(self, call_id: str, **values: Any) -> None:
        values.setdefault("claimed_until", None)
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.database.write() as db:
            db.execute(
                f"UPDATE calls SET {sets} WHERE call_id = ? AND status = 'downloading'",
                [*values.values(), call_id],
            )

    async def stop(self) -> None:
        tasks = list(self.inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
