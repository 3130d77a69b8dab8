"""Real audio intake: what the first bytes say the file is, a bounded streaming download, and
the duration as the audio metadata library (mutagen) reads it."""

from __future__ import annotations

import io
from collections.abc import Callable

import aiohttp

HEAD_BYTES = 16  # enough for every signature below
CHUNK = 64 * 1024
FORMATS = ("mp3", "wav", "ogg")


class IntakeFailure(Exception):
    """A recording the hub will not take; ``reason`` is kept with a call rejected in the
    background, ``status`` answers an upload refused at once (5xx: the file host failed, and the
    same upload may succeed later)."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then no reserved version, layer, bitrate or
    sample rate (the checks that keep random 0xFF bytes from passing as audio)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 0xF and rate != 3


def sniff(head: bytes) -> str | None:
    """``mp3``, ``wav``, ``ogg`` by magic bytes, or ``None``; names and types are not proof."""
    if head.startswith(b"ID3") or _mpeg_frame(head):
        return "mp3"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    return None


async def fetch_head(session: aiohttp.ClientSession, url: str, timeout: float) -> bytes:
    """The first bytes of ``url`` by a ranged GET; servers that ignore ``Range`` answer 200 and
    are cut off after those bytes."""
    try:
        async with session.get(
            url,
            headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            if response.status >= 500:
                raise IntakeFailure(
                    "fetch_failed",
                    f"audio_url: the file host answered HTTP {response.status}",
                    502,
                )
            if response.status not in (200, 206):
                raise IntakeFailure("fetch_failed", f"audio_url: answered HTTP {response.status}")
            head = b""
            while len(head) < HEAD_BYTES:
                chunk = await response.content.read(HEAD_BYTES - len(head))
                if not chunk:
                    break
                head += chunk
            if response.status == 206 and (response.content_length or 0) <= HEAD_BYTES:
                await response.read()  # the whole ranged answer: the connection can be reused
            else:
                response.close()  # do not drain the rest of a server that ignored Range
            return head
    except TimeoutError:
        raise IntakeFailure(
            "fetch_failed", f"audio_url: no answer within {timeout:g}s", 504
        ) from None
    except aiohttp.ClientSSLError as exc:
        raise IntakeFailure(
            "fetch_failed", f"audio_url: TLS with the file host failed: {exc}", 502
        ) from None
    except aiohttp.ClientConnectorError as exc:
        raise IntakeFailure(
            "fetch_failed", f"audio_url: cannot connect to the file host: {exc}", 503
        ) from None
    except aiohttp.InvalidURL:  # no host can answer it: the same upload would fail again
        raise IntakeFailure(
            "fetch_failed", f"audio_url: not a URL the hub can fetch: {url!r}"
        ) from None
    except aiohttp.ClientError as exc:
        raise IntakeFailure(
            "fetch_failed", f"audio_url: the file host's answer is broken: {exc}", 502
        ) from None


async def download(
    session: aiohttp.ClientSession,
    url: str,
    sink: Callable[[bytes], None],
    *,
    max_bytes: int,
    timeout: float,
) -> int:
    """Stream ``url`` into ``sink`` a piece at a time; stop past ``max_bytes``."""
    size = 0
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if response.status != 200:
                raise IntakeFailure(
                    "download_failed", f"audio_url: answered HTTP {response.status}"
                )
            if response.content_length is not None and response.content_length > max_bytes:
                raise IntakeFailure(
                    "too_large",
                    f"audio: {response.content_length} bytes, over the limit of {max_bytes}",
                )
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    response.close()
                    raise IntakeFailure(
                        "too_large", f"audio: more than {max_bytes} bytes, download stopped"
                    )
                sink(chunk)
        return size
    except TimeoutError:
        raise IntakeFailure(
            "download_failed", f"audio_url: download took longer than {timeout:g}s"
        ) from None
    except aiohttp.ClientError as exc:
        raise IntakeFailure("download_failed", f"audio_url: download failed: {exc}") from None


def read_duration(audio: io.RawIOBase, fmt: str) -> float:
    """Seconds of audio as mutagen reads them from the file itself (seekable, binary)."""
    from mutagen import MutagenError
    from mutagen.mp3 import MP3
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggspeex import OggSpeex
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    try:
        if fmt == "mp3":
            info = MP3(audio).info
        elif fmt == "wav":
            info = WAVE(audio).info
        else:
            for kind in (OggVorbis, OggOpus, OggFLAC, OggSpeex):
                try:
                    audio.seek(0)
                    info = kind(audio).info
                    break
                except MutagenError:
                    continue
            else:
                raise IntakeFailure("unreadable", "audio: an Ogg stream of no known audio codec")
    except MutagenError as exc:
        raise IntakeFailure(
            "unreadable", f"audio: not a readable {fmt.upper()} file: {exc}"
        ) from None
    length = float(getattr(info, "length", 0.0) or 0.0)
    if length <= 0:
        raise IntakeFailure("unreadable", f"audio: {fmt.upper()} file of no measurable duration")
    return length
