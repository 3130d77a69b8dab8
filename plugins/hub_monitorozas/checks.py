"""The real checks of one device: HTTP(S) status, TLS handshake and expiry, origin behind a
proxy, TCP connect plus greeting. Each sub-check is bounded by the configured timeout, so a
hanging target costs only its own device that long.

The HTTP client is a few lines over ``asyncio.open_connection`` rather than a full client: a
check needs the status line only, and it must choose the address, the ``Host`` header and the
TLS server name separately (an origin is reached by its address with the public name)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

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


@dataclass
class Outcome:
    status: str  # "up" | "down"
    error: str | None
    response_ms: int
    tls_expires_at: str | None = None
    checks: list[dict[str, object]] = field(default_factory=list)


def trust_store(ca_file: str) -> ssl.SSLContext:
    """Chain and name verification against ``ca_file`` (PEM) or the system's store."""
    return ssl.create_default_context(cafile=ca_file or None)


def _describe(exc: BaseException) -> str:
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


def _expiry(writer: asyncio.StreamWriter) -> str | None:
    cert = writer.get_extra_info("peercert")
    if not cert or "notAfter" not in cert:
        return None
    stamp = ssl.cert_time_to_seconds(cert["notAfter"])
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
        await asyncio.wait_for(writer.wait_closed(), 1)


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
    reader, writer = await asyncio.open_connection(
        address, port, ssl=tls, server_hostname=server_name if tls else None
    )
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
    _, writer = await asyncio.open_connection(address, port, ssl=tls, server_hostname=server_name)
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
    reader, writer = await asyncio.open_connection(
        address, port, ssl=use_tls, server_hostname=server_name if use_tls else None
    )
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


async def run_device(
    device: dict[str, object], *, tls: ssl.SSLContext, timeout: float, user_agent: str
) -> Outcome:
    """Every enabled check of ``device``; ``up`` when all pass."""
    target = str(device["target_value"])
    address = target
    public_name = str(device["host_header"] or target)
    port = int(device["port"])  # type: ignore[call-overload]
    scheme = device["scheme"]
    expect = int(device["expect_status"])  # type: ignore[call-overload]
    agent = user_agent

    async def web_status(addr: str, prt: int, use_tls: bool) -> str | None:
        status, expires = await http_status(
            addr,
            prt,
            host=public_name,
            tls=tls if use_tls else None,
            server_name=public_name,
            user_agent=agent,
        )
        if status != expect:
            raise CheckFailed(f"HTTP {status}, expected {expect}")
        return expires

    jobs: list[tuple[str, object]] = []
    if device["service_type"] == "web":
        if device["check_public_http"]:
            jobs.append(
                ("public_http", web_status(address, port if scheme == "http" else 80, False))
            )
        if device["check_public_https"]:
            jobs.append(
                ("public_https", web_status(address, port if scheme == "https" else 443, True))
            )
        if device["check_public_tls"]:
            jobs.append(
                (
                    "public_tls",
                    tls_handshake(
                        address,
                        port if scheme == "https" else 443,
                        tls=tls,
                        server_name=public_name,
                    ),
                )
            )
        if device["proxy_enabled"] and device["origin_host"]:
            origin = str(device["origin_host"])
            origin_port = int(device["origin_port"])  # type: ignore[call-overload]
            origin_tls = device["origin_scheme"] == "https"
            if device["check_origin_http"]:
                jobs.append(("origin_http", web_status(origin, origin_port, origin_tls)))
            if device["check_origin_tls"]:
                jobs.append(
                    (
                        "origin_tls",
                        tls_handshake(
                            origin,
                            origin_port if origin_tls else 443,
                            tls=tls,
                            server_name=public_name,
                        ),
                    )
                )
    else:
        jobs.append(
            (
                str(device["service_type"]),
                greeting(
                    address,
                    port,
                    service=str(device["service_type"]),
                    tls=tls,
                    server_name=public_name,
                ),
            )
        )

    started = time.perf_counter()

    async def bounded(job: object) -> str | None:
        async with asyncio.timeout(timeout):
            return await job  # type: ignore[misc, no-any-return]

    results = await asyncio.gather(*(bounded(job) for _, job in jobs), return_exceptions=True)
    elapsed = int((time.perf_counter() - started) * 1000)
    checks: list[dict[str, object]] = []
    errors = []
    expires_at = None
    for (name, _), result in zip(jobs, results, strict=True):
        if isinstance(result, BaseException):
            if isinstance(result, asyncio.CancelledError):
                raise result
            reason = _describe(result)
            errors.append(f"{name}: {reason}")
            checks.append({"check": name, "ok": False, "error": reason})
        else:
            expires_at = expires_at or result
            checks.append({"check": name, "ok": True, "error": None})
    if not jobs:
        errors.append("no check is enabled")
    return Outcome(
        status="down" if errors else "up",
        error="; ".join(errors) or None,
        response_ms=elapsed,
        tls_expires_at=expires_at,
        checks=checks,
    )
