"""The background half of audio intake: download, check, measure, then ask the analysers.
Waiting downloads are items of a work queue of the host (``hub.queue``) in the table
``audio_downloads``, written in the upload's transaction; the queue leases them and renews the
lease while the download runs, so a hub that stops or dies leaves nothing lost: the next start
(or another process) picks the call up again."""

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

from hub.queue import Claim, Outcome, Table, WorkQueue, done
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
        self.queue = WorkQueue(
            database,
            "audio",
            self._process,
            Table("audio_downloads", key="call_id"),
            interval=settings.intake_interval,
            lease=settings.intake_lease,
            concurrency=settings.intake_concurrency,
            job="audio_intake",
        )

    def enqueue(self, db: Any, call_id: str) -> None:
        """Call inside the transaction that stores the call in ``downloading``."""
        self.queue.enqueue(db, {"call_id": call_id})

    async def _process(self, claim: Claim) -> Outcome:
        """One call's download, in a task of its own (up to ``intake_concurrency`` at once). A
        failure rejects the call; nothing is retried (docs/rop.md)."""
        call_id = claim.key
        row = self.database.execute(
            "SELECT audio_url FROM calls WHERE call_id = ? AND status = 'downloading'", (call_id,)
        ).fetchone()
        if row is None:
            return done()
        self.audio_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # as the data directory
        staging = audio_file(self.audio_dir, call_id, "download")
        target: Path | None = None
        try:
            size = await download(
                self.session(),
                row[0],
                staging,
                max_bytes=self.settings.max_audio_bytes,
                timeout=self.settings.download_timeout,
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
        except asyncio.CancelledError:  # shutting down: the queue gives the lease back
            staging.unlink(missing_ok=True)
            raise
        except IntakeFailure as failure:
            return self._reject(call_id, failure.reason, failure.message, staging, target)
        except Exception as exc:  # a bug must not leave the call waiting for ever
            log.exception("call %s: intake failed", call_id)
            return self._reject(
                call_id, "internal", f"audio: intake failed: {type(exc).__name__}", staging, target
            )
        ready = partial(
            _update,
            call_id=call_id,
            status="awaiting_analysis",
            format=fmt,
            size_bytes=size,
            duration=seconds,
            audio_path=str(target),
        )
        return done(write=ready, then=partial(self.on_ready, call_id))

    @staticmethod
    def _reject(call_id: str, reason: str, message: str, *files: Path | None) -> Outcome:
        for path in files:
            if path is not None:
                path.unlink(missing_ok=True)
        return done(
            write=partial(
                _update, call_id=call_id, status="rejected", reason=reason, detail=message
            )
        )


def _update(db: Any, *, call_id: str, **values: Any) -> None:
    """The call's new state, in the transaction that finishes its download."""
    values["updated_at"] = time.time()
    sets = ", ".join(f"{k} = ?" for k in values)
    db.execute(
        f"UPDATE calls SET {sets} WHERE call_id = ? AND status = 'downloading'",
        [*values.values(), call_id],
    )
