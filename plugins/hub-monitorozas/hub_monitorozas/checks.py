"""The real checks of one device: HTTP(S) status, TLS handshake and expiry, origin behind a
proxy, TCP connect plus greeting. Each sub-check is bounded by the configured timeout, so a
hanging target costs only its own device that long.

The HTTP client is a few lines over ``asyncio.open_connection`` rather than a full client: a
check needs the status line only, and it must choose the address, the ``Host`` header and the
TLS server name separately (an origin is reached by its address with the public name).

A certificate that fails verification still has an expiry worth reporting (an expired one most
of all): the check then fetches it again without verification, only to read ``notAfter``, and
fails with the verification error all the same."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from hub.records import ISO_Z
from hub_monitorozas.certificate import not_after
from hub_monitorozas.records import Device, SubCheck

GREETINGS = {  # what a server that speaks first says, for the services that do
    "ssh": b"SSH-",
    "smtp": b"220",
    "smtps": b"220",
    "submission": b"220",
    "ftp": b"220",
    "imap": b"* OK",
    "imaps": b"* OK",
    "pop3": b"+OK",
    "pop3s": b"+OK",
    "mysql": b"",  # a binary handshake packet: any bytes will do
}
TLS_SERVICES = ("smtps", "imaps", "pop3s")
MAX_STATUS_LINE = 8192


class CheckFailed(Exception):
    """A check that ran and found the target wrong (the message says how)."""


class CertificateRejected(Exception):
    """Verification failed; ``expires_at`` is what the presented certificate says."""

    def __init__(self, cause: ssl.SSLCertVerificationError, expires_at: str | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.expires_at = expires_at


@dataclass
class Outcome:
    status: str  # "up" | "down"
    error: str | None
    response_ms: int
    tls_expires_at: str | None = None
    checks: list[SubCheck] = field(default_factory=list)


def trust_store(ca_file: str) -> ssl.SSLContext:
    """Chain and name verification against ``ca_file`` (PEM) or the system's store."""
    return ssl.create_default_context(cafile=ca_file or None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CertificateRejected):
        exc = exc.cause
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def host_header(name: str, port: int, tls: bool) -> str:
    """``host[:port]`` (RFC 9110): an IPv6 address in brackets, the port left out only when it
    is the scheme's default."""
    host = f"[{name}]" if ":" in name else name
    return host if port == (443 if tls else 80) else f"{host}:{port}"


def _expiry(writer: asyncio.StreamWriter) -> str | None:
    tls = writer.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls is not None else None
    expires = not_after(der) if der else None
    return ISO_Z.format(expires) if expires else None


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
        await asyncio.wait_for(writer.wait_closed(), 1)


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def presented_expiry(address: str, port: int, server_name: str | None) -> str | None:
    """The expiry of the certificate the server presents, trusted or not (``None`` if a second
    handshake fails too)."""
    try:
        _, writer = await asyncio.open_connection(
            address, port, ssl=_unverified(), server_hostname=server_name
        )
    except (OSError, ssl.SSLError):
        return None
    try:
        return _expiry(writer)
    finally:
        await _close(writer)


async def _connect(
    address: str, port: int, tls: ssl.SSLContext | None, server_name: str | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """TCP, and TLS when ``tls`` is given; a failed verification as
    :class:`CertificateRejected` carrying the presented certificate's expiry."""
    try:
        return await asyncio.open_connection(
            address, port, ssl=tls, server_hostname=server_name if tls else None
        )
    except ssl.SSLCertVerificationError as exc:
        raise CertificateRejected(exc, await presented_expiry(address, port, server_name)) from None


async def http_status(
    address: str,
    port: int,
    *,
    host: str,
    tls: ssl.SSLContext | None,
    server_name: str | None,
    user_agent: str,
) -> tuple[int, str | None]:
    """``GET /`` on ``address:port`` with ``Host: host``; the status and, over TLS, the
    certificate's expiry."""
    reader, writer = await _connect(address, port, tls, server_name)
    try:
        expires = _expiry(writer) if tls else None
        writer.write(
            f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n".encode("ascii")
        )
        await writer.drain()
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise CheckFailed("the server closed the connection without an answer") from None
    except asyncio.LimitOverrunError:
        raise CheckFailed("the status line is too long") from None
    finally:
        await _close(writer)
    parts = line.decode("latin-1").split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise CheckFailed(f"not an HTTP answer: {line[:80]!r}")
    return int(parts[1]), expires


async def tls_handshake(
    address: str, port: int, *, tls: ssl.SSLContext, server_name: str
) -> str | None:
    """A verified handshake (chain and name); the certificate's expiry."""
    _, writer = await _connect(address, port, tls, server_name)
    try:
        return _expiry(writer)
    finally:
        await _close(writer)


async def greeting(
    address: str, port: int, *, service: str, tls: ssl.SSLContext | None, server_name: str
) -> str | None:
    """TCP connect (TLS for the ``s`` services) and, for protocols that speak first, their
    greeting; the TLS certificate's expiry where there is one."""
    use_tls = tls if service in TLS_SERVICES else None
    reader, writer = await _connect(address, port, use_tls, server_name)
    try:
        expires = _expiry(writer) if use_tls else None
        expected = GREETINGS.get(service)
        if expected is not None:
            data = await reader.read(512)
            if not data:
                raise CheckFailed("connected, but the server closed without a greeting")
            if not data.startswith(expected):
                raise CheckFailed(
                    f"unexpected greeting {data[:40]!r}, expected {expected.decode()}..."
                )
        return expires
    finally:
        await _close(writer)


def planned(
    device: Device, tls: ssl.SSLContext, user_agent: str
) -> list[tuple[str, Coroutine[Any, Any, str | None]]]:
    """The sub-checks the device's flags enable, named after them (``public_https``, ...)."""
    address, port, scheme = device.target_value, device.port, device.scheme
    public_name = device.host_header or address  # Host and SNI, also for the origin
    expect = device.expect_status

    async def web_status(host: str, at: int, use_tls: bool) -> str | None:
        status, expires = await http_status(
            host,
            at,
            host=host_header(public_name, at, use_tls),
            tls=tls if use_tls else None,
            server_name=public_name,
            user_agent=user_agent,
        )
        if status != expect:
            raise CheckFailed(f"HTTP {status}, expected {expect}")
        return expires

    if device.service_type != "web":
        service = device.service_type
        return [
            (service, greeting(address, port, service=service, tls=tls, server_name=public_name))
        ]
    http_port = port if scheme == "http" else 80
    https_port = port if scheme == "https" else 443
    jobs: list[tuple[str, Coroutine[Any, Any, str | None]]] = []
    if device.check_public_http:
        jobs.append(("public_http", web_status(address, http_port, False)))
    if device.check_public_https:
        jobs.append(("public_https", web_status(address, https_port, True)))
    if device.check_public_tls:
        jobs.append(
            ("public_tls", tls_handshake(address, https_port, tls=tls, server_name=public_name))
        )
    if device.proxy_enabled and device.origin_host and device.origin_port:
        origin, origin_port = device.origin_host, device.origin_port
        origin_tls = device.origin_scheme == "https"
        if device.check_origin_http:
            jobs.append(("origin_http", web_status(origin, origin_port, origin_tls)))
        if device.check_origin_tls:
            jobs.append(
                (
                    "origin_tls",
                    tls_handshake(
                        origin, origin_port if origin_tls else 443, tls=tls, server_name=public_name
                    ),
                )
            )
    return jobs


async def run_device(
    device: Device, *, tls: ssl.SSLContext, timeout: float, user_agent: str
) -> Outcome:
    """Every enabled check of ``device``, concurrently, each within ``timeout``; ``up`` when
    all pass."""
    jobs = planned(device, tls, user_agent)
    started = time.perf_counter()

    async def bounded(job: Coroutine[Any, Any, str | None]) -> str | None:
        async with asyncio.timeout(timeout):
            return await job

    results = await asyncio.gather(*(bounded(job) for _, job in jobs), return_exceptions=True)
    elapsed = int((time.perf_counter() - started) * 1000)
    checks: list[SubCheck] = []
    errors = []
    expires_at = None
    for (name, _), result in zip(jobs, results, strict=True):
        if isinstance(result, BaseException):
            if isinstance(result, asyncio.CancelledError):
                raise result
            reason = _describe(result)
            if isinstance(result, CertificateRejected):
                expires_at = expires_at or result.expires_at
            errors.append(f"{name}: {reason}")
            checks.append(SubCheck(name, False, reason))
        else:
            expires_at = expires_at or result
            checks.append(SubCheck(name, True, None))
    if not jobs:
        errors.append("no check is enabled")
    return Outcome(
        status="down" if errors else "up",
        error="; ".join(errors) or None,
        response_ms=elapsed,
        tls_expires_at=expires_at,
        checks=checks,
    )
