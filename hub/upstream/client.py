"""The HTTP client of one vendor deployment: its timeouts, a connection limit, TLS verification
(with extra trust from ``ca_file``) and the vendor's own credential, which never reaches an
answer or a log line (failures name the vendor's origin and path, never a URL with its query)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from hub import tracing
from hub.upstream.cache import Target
from hub.upstream.settings import UpstreamSettings

USER_AGENT = "hub-upstream/1 (+https://github.com/hub-gateway)"


@dataclass(frozen=True)
class VendorAuth:
    """What every request to the vendor carries: headers (``Authorization``), cookies, query
    parameters (a vendor that takes its key in the URL)."""

    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    cookies: Mapping[str, str] = field(default_factory=dict, repr=False)
    params: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def fingerprint(self) -> str:
        """Names the credential in budget keys without storing it: another credential is
        another budget, as the vendor counts per credential."""
        parts = [
            sorted(self.headers.items()),
            sorted(self.cookies.items()),
            sorted(self.params.items()),
        ]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None


class VendorFailure(Exception):
    """No usable answer: ``status`` is the error table's (502 a bad answer, 503 unreachable,
    504 too slow); the message is safe to show."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds, or an HTTP date; ``None`` for what is neither (``nan`` included). ``inf`` stays:
    the source bounds every pause it takes from a vendor (``Upstream._held_back``)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
        return None if math.isnan(seconds) else max(0.0, seconds)
    except ValueError:
        import time
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _text(value: str | None) -> str | None:
    """A header's value as text the database and a later request can hold: aiohttp keeps the
    bytes of a header that are not UTF-8 as surrogates, which become U+FFFD here."""
    if value is None:
        return None
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _validator(value: str | None) -> str | None:
    """An ``ETag`` or ``Last-Modified`` sent back as it came, or none when it is not text (it
    could not be sent back byte for byte, and a mangled one never matches)."""
    text = _text(value)
    return value if text == value else None


async def _read_body(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """The whole body, or ``None`` past ``limit`` bytes: one ``read(n)`` returns only what
    has arrived so far, so an answer that comes in several pieces is read to its end."""
    pieces: list[bytes] = []
    size = 0
    while piece := await content.read(limit + 1 - size):
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            return None
    return b"".join(pieces)


class VendorClient:
    def __init__(self, settings: UpstreamSettings, auth: VendorAuth) -> None:
        self.settings = settings
        self.auth = auth
        self.base = settings.url.rstrip("/")
        split = urlsplit(settings.url)
        self.origin = f"{split.scheme}://{split.netloc}"
        self._session: aiohttp.ClientSession | None = None
        self._ssl = self._tls()  # once, at the start: the check has just read ca_file

    def _tls(self) -> ssl.SSLContext | bool:
        if not self.base.startswith("https:"):
            return False
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=self.settings.ca_file)
        return context

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.settings.connections, ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                headers={"User-Agent": USER_AGENT, **self.auth.headers},
                cookies=dict(self.auth.cookies),
                auto_decompress=True,
            )
            # aiohttp resends an idempotent request (DELETE, PUT) once by itself when the
            # connection drops after it went out: only the write queue may resend a write, as
            # it knows that the first one may have landed (its reconciler reads the answer)
            self._session._retry_connection = False
        return self._session

    def where(self, target: Target) -> str:
        """The vendor's origin and path, for messages and logs."""
        return f"{self.origin}{urlsplit(self.base).path}{target.path}"

    async def get(self, target: Target, validators: Mapping[str, str] | None = None) -> Reply:
        """A reading request: ``target``'s method (GET, or e.g. ERA's LOOKUP) and body."""
        headers = dict(validators or {})
        if target.content_type:
            headers["Content-Type"] = target.content_type
        return await self.send(target.method, target, headers=headers, data=target.body or None)

    async def send(
        self,
        method: str,
        target: Target,
        *,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
    ) -> Reply:
        params = [*target.query, *self.auth.params.items()]
        try:
            with tracing.outgoing(f"upstream {method} {target.path}", self.where(target)) as call:
                async with self.session.request(
                    method,
                    self.base + target.path,
                    params=params,
                    headers={**(headers or {}), **call.headers},
                    data=data,
                    allow_redirects=False,
                ) as response:
                    call.answered(response.status)
                    if response.status < 200:  # 101 Switching Protocols: no answer to read
                        raise VendorFailure(502, f"{self.where(target)} answered {response.status}")
                    body = await _read_body(response.content, self.settings.max_body)
                    if body is None:
                        raise VendorFailure(
                            502,
                            f"{self.where(target)} answered more than"
                            f" {self.settings.max_body} bytes",
                        )
                    return Reply(
                        response.status,
                        _text(response.headers.get("Content-Type")) or "",
                        body,
                        _validator(response.headers.get("ETag")),
                        _validator(response.headers.get("Last-Modified")),
                        _retry_after(response.headers.get("Retry-After")),
                    )
        except TimeoutError:
            raise VendorFailure(
                504, f"{self.where(target)} did not answer within {self.settings.timeout:g}s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            raise VendorFailure(503, f"{self.where(target)} is unreachable: {reason}") from None
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
            raise VendorFailure(
                502, f"{self.where(target)} broke off its answer: {type(exc).__name__}"
            ) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
