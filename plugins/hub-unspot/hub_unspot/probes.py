"""Real probes of the deployment for the ``system`` category: the plugin's SQLite file, the data
directory, a Redis PING. Each answers ``online``/``offline`` (redis also ``not_configured``),
runs at request time and is reused for at most ``system_cache`` seconds."""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

from hub.storage import Database, DatabaseUnavailable, StorageError
from hub_unspot.settings import RedisAddress

ONLINE, OFFLINE, NOT_CONFIGURED = "online", "offline", "not_configured"
TABLES = ("users", "displays", "calendars", "webhooks", "user_sync")


async def database_status(database: Database) -> str:
    """Online when the hub's own connection answers and a fresh one (never creating the store;
    on SQLite, to the very file the hub opened: one replaced or removed under a running hub
    means it now writes where nobody will find it) finds the plugin's tables."""
    try:
        database.execute("SELECT 1").fetchall()
        names = await asyncio.to_thread(_fresh_tables, database)
    except (StorageError, DatabaseUnavailable, OSError):
        return OFFLINE
    return ONLINE if set(TABLES) <= names else OFFLINE


def _fresh_tables(database: Database) -> set[str]:
    with database.fresh() as fresh:
        return set(fresh.tables())


def filesystem_status(data_dir: Path) -> str:
    """Online when a file in the data directory can be created, written, fsynced and removed.
    Its name is random, not the process id: hubs in containers of their own may share the
    directory and each be process 1, and one must never remove the other's probe."""
    probe = data_dir / f".unspot-probe-{secrets.token_hex(8)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"unspot filesystem probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(probe)
    except OSError:
        return OFFLINE
    return ONLINE


def resp_command(*parts: str) -> bytes:
    """A command as a RESP array of bulk strings, the form every Redis accepts."""
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def redis_status(address: RedisAddress | None) -> str:
    """PING (after AUTH and SELECT when the URL asks for them); online only on ``+PONG``."""
    if address is None:
        return NOT_CONFIGURED
    writer = None
    try:
        if address.unix_path:
            reader, writer = await asyncio.open_unix_connection(address.unix_path)
        else:
            context = ssl.create_default_context() if address.tls else None
            reader, writer = await asyncio.open_connection(address.host, address.port, ssl=context)
        commands = []
        if address.password is not None:
            auth = [address.username] if address.username else []
            commands.append(("+OK", resp_command("AUTH", *auth, address.password)))
        if address.db:
            commands.append(("+OK", resp_command("SELECT", str(address.db))))
        commands.append(("+PONG", resp_command("PING")))
        for expected, command in commands:
            writer.write(command)
            await writer.drain()
            if (await reader.readline()).rstrip(b"\r\n") != expected.encode():
                return OFFLINE
        return ONLINE
    except (OSError, asyncio.IncompleteReadError, ValueError):
        return OFFLINE
    finally:
        if writer is not None:
            writer.close()
            with suppress(OSError, ssl.SSLError):
                await writer.wait_closed()


class CachedProbe:
    """One probe's last answer, reused for ``ttl`` seconds; concurrent callers share one run.
    A probe that outlasts ``timeout`` is offline."""

    def __init__(self, run: Callable[[], Awaitable[str]], ttl: float, timeout: float) -> None:
        self.run = run
        self.ttl = ttl
        self.timeout = timeout
        self._value = OFFLINE
        self._at = -float("inf")
        self._lock = asyncio.Lock()

    async def status(self) -> str:
        async with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                try:
                    self._value = await asyncio.wait_for(self.run(), self.timeout)
                except TimeoutError:
                    self._value = OFFLINE
                self._at = time.monotonic()
            return self._value
