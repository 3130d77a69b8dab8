"""A certificate's ``notAfter``, read from the DER the server sent. Python's ``ssl`` decodes a
peer certificate only once it is verified, yet an expired or untrusted certificate's expiry is
exactly what a monitor must report; this reads the one field it needs without a dependency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

SEQUENCE = 0x30
EXPLICIT_VERSION = 0xA0
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18


def _elements(der: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """``(tag, content start, content end)`` of each DER element in ``der[start:end]``."""
    at = start
    while at < end:
        tag, length = der[at], der[at + 1]
        at += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(der[at : at + size], "big")
            at += size
        if at + length > end:
            raise ValueError("truncated DER")
        yield tag, at, at + length
        at += length


def _time(tag: int, text: str) -> datetime:
    if tag == UTC_TIME:  # YYMMDDHHMMSSZ; RFC 5280: YY >= 50 is 19YY
        year = int(text[:2])
        text = str(year + (1900 if year >= 50 else 2000)) + text[2:]
    elif tag != GENERALIZED_TIME:
        raise ValueError("not a time")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def not_after(der: bytes) -> datetime | None:
    """Certificate → tbsCertificate → [version], serial, signature, issuer, validity →
    notAfter; ``None`` for anything that is not a well-formed X.509 certificate."""
    try:
        tag, start, end = next(_elements(der, 0, len(der)))
        if tag != SEQUENCE:
            return None
        tag, start, end = next(_elements(der, start, end))
        fields = list(_elements(der, start, end))
        if fields and fields[0][0] == EXPLICIT_VERSION:
            fields = fields[1:]
        tag, start, end = fields[3]
        if tag != SEQUENCE:
            return None
        _, (tag, start, end) = list(_elements(der, start, end))
        return _time(tag, der[start:end].decode("ascii"))
    except (StopIteration, IndexError, ValueError, UnicodeDecodeError):
        return None
