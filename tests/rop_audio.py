"""Small real recordings for the ``rop`` tests, made here rather than checked in: WAV with the
standard library's ``wave``, MP3 as MPEG-1 Layer III frames (valid headers, silent payload),
Ogg Opus as proper Ogg pages (OpusHead, OpusTags, one audio page whose granule position sets
the length). mutagen reads the duration of each."""

from __future__ import annotations

import io
import struct
import wave

MP3_FRAME_HEADER = bytes([0xFF, 0xFB, 0x90, 0x64])  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz
MP3_FRAME_BYTES = 417  # 144 * 128000 / 44100, no padding
MP3_FRAME_SECONDS = 1152 / 44100


def wav_bytes(seconds: float, rate: int = 8000, width: int = 1) -> bytes:
    frames = int(seconds * rate)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x80" * frames * width)
    return out.getvalue()


def mp3_bytes(seconds: float) -> bytes:
    frames = max(1, round(seconds / MP3_FRAME_SECONDS))
    frame = MP3_FRAME_HEADER + bytes(MP3_FRAME_BYTES - len(MP3_FRAME_HEADER))
    return frame * frames


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def _ogg_page(packet: bytes, *, flags: int, granule: int, serial: int, seqno: int) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = struct.pack(
        "<4sBBqIIIB", b"OggS", 0, flags, granule, serial, seqno, 0, len(lacing)
    ) + bytes(lacing)
    page = header + packet
    crc = _ogg_crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def ogg_opus_bytes(seconds: float) -> bytes:
    pre_skip = 312
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48000, 0, 0)
    vendor = b"hub tests"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    audio = bytes([0xF8, 0xFF, 0xFE])  # one 20 ms CELT frame TOC and a silent payload
    serial = 0x524F50
    return b"".join(
        [
            _ogg_page(head, flags=0x02, granule=0, serial=serial, seqno=0),
            _ogg_page(tags, flags=0x00, granule=0, serial=serial, seqno=1),
            _ogg_page(
                audio, flags=0x04, granule=int(seconds * 48000) + pre_skip, serial=serial, seqno=2
            ),
        ]
    )
