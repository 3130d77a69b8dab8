"""The background half of audio intake: download (into rop's database, ``hub_rop.audio_store``),
check, measure, then ask the analysers.
Waiting downloads are items of a work queue of the host (``hub.queue``) in the table
``audio_downloads``, written in the upload's transaction; the queue leases them and renews the
lease while the download runs, so a hub that stops or dies leaves nothing lost: the next start
(or another process) picks the call up again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiohttp

from hub.queue import Claim, Outcome, Table, WorkQueue, done
from hub.storage import Database, StorageError
from hub_rop.audio import HEAD_BYTES, IntakeFailure, download, read_duration, sniff
from hub_rop.audio_store import AudioStore
from hub_rop.settings import RopSettings

log = logging.getLogger("hub_rop.intake")


class Intake:
    def __init__(
        self,
        database: Database,
        settings: RopSettings,
        session: Callable[[], aiohttp.ClientSession],
        on_ready: Callable[[str], None],
    ) -> None:
        self.database = database
        self.settings = settings
        self.audio = AudioStore(database)
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
        """One call's download, in a task of its own (up to ``intake_concurrency`` at once),
        into the database a chunk at a time. A failure rejects the call; nothing is retried
        (docs/rop.md), but the database failing counts as a failed attempt of the queue, which
        tries again later."""
        call_id = claim.key
        row = self.database.execute(
            "SELECT audio_url FROM calls WHERE call_id = ? AND status = 'downloading'", (call_id,)
        ).fetchone()
        if row is None:
            return done()
        try:
            store = self.audio.writer(call_id)
            size = await download(
                self.session(),
                row[0],
                store.write,
                max_bytes=self.settings.max_audio_bytes,
                timeout=self.settings.download_timeout,
            )
            store.flush()
            fmt = sniff(self.audio.head(call_id, HEAD_BYTES))
            if fmt is None:
                raise IntakeFailure(
                    "not_audio", "audio: the downloaded file is not MP3, WAV or OGG"
                )
            seconds = await asyncio.to_thread(self._duration, call_id, fmt)
            if seconds > self.settings.max_duration:
                raise IntakeFailure(
                    "too_long",
                    f"audio: {seconds:.1f}s long, over the limit of"
                    f" {self.settings.max_duration:g}s",
                )
        except IntakeFailure as failure:
            return self._reject(call_id, failure.reason, failure.message)
        except StorageError:  # the database, not the recording: the queue tries again
            raise
        except Exception as exc:  # a bug must not leave the call waiting for ever
            log.exception("call %s: intake failed", call_id)
            return self._reject(call_id, "internal", f"audio: intake failed: {type(exc).__name__}")
        ready = partial(
            _update,
            call_id=call_id,
            status="awaiting_analysis",
            format=fmt,
            size_bytes=size,
            duration=seconds,
        )
        return done(write=ready, then=partial(self.on_ready, call_id))

    def _duration(self, call_id: str, fmt: str) -> float:
        """In a thread, on a connection of its own."""
        with self.database.fresh() as db:
            return read_duration(AudioStore.reader(db, call_id), fmt)

    @staticmethod
    def _reject(call_id: str, reason: str, message: str) -> Outcome:
        """The call is kept, its audio is not."""

        def rejected(db: Any) -> None:
            AudioStore.discard(db, call_id)
            _update(db, call_id=call_id, status="rejected", reason=reason, detail=message)

        return done(write=rejected)


def _update(db: Any, *, call_id: str, **values: Any) -> None:
    """The call's new state, in the transaction that finishes its download."""
    values["updated_at"] = time.time()
    sets = ", ".join(f"{k} = ?" for k in values)
    db.execute(
        f"UPDATE calls SET {sets} WHERE call_id = ? AND status = 'downloading'",
        [*values.values(), call_id],
    )
