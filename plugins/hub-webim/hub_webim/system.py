"""Facts about the machine and the hub process that Webim reports: OS, uptime and load, live
objects, logger levels. Nothing here is stored; every call reads the system now."""

from __future__ import annotations

import gc
import logging
import os
import platform
import socket
import time
from collections import Counter

import psutil

LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}
HOST_COMPONENTS = {"auth": "hub.auth"}  # Webim component names that are not hub logger names


def os_release() -> dict[str, str]:
    """``NAME``/``VERSION_ID``/``ID`` of /etc/os-release, else what ``platform`` knows."""
    try:
        info = platform.freedesktop_os_release()
    except OSError:
        return {"NAME": platform.system(), "VERSION_ID": platform.release(), "ID": ""}
    return {
        "NAME": info.get("NAME", platform.system()),
        "VERSION_ID": info.get("VERSION_ID", ""),
        "ID": info.get("ID", ""),
    }


def process_start_time() -> float:
    return float(psutil.Process(os.getpid()).create_time())


def short_hostname() -> str:
    return socket.gethostname().split(".")[0]


def fqdn() -> str:
    """The machine's fully qualified name as ``hostname -f`` prints it: the canonical name of
    the host name. Not ``socket.getfqdn()``, which answers ``localhost`` wherever /etc/hosts
    maps the machine's name to 127.0.0.1 (the first name of that address), as most do."""
    name = socket.gethostname()
    try:
        found = socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME)
    except OSError:
        return name
    return next((canonical for *_, canonical, _ in found if canonical), name)


def uptime_line(now: float | None = None) -> str:
    """What procps ``uptime`` prints: `` 21:48:59 up 36 days, 22:02,  0 users,  load average:
    1.62, 0.65, 0.35`` (with its trailing newline, as PHP's ``shell_exec`` returns it)."""
    now = time.time() if now is None else now
    up = int(now - psutil.boot_time())
    days, rest = divmod(up, 86400)
    hours, minutes = divmod(rest // 60, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    parts.append(f"{hours:2d}:{minutes:02d}" if hours else f"{minutes} min")
    users = len({u.name for u in psutil.users()}) if hasattr(psutil, "users") else 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    clock = time.strftime("%H:%M:%S", time.localtime(now))
    return (
        f" {clock} up {', '.join(parts)},  {users} user{'s' if users != 1 else ''},"
        f"  load average: {load}\n"
    )


def object_stats(limit: int = 50) -> dict[str, int]:
    """The hub process's live objects by type name, most common first (objgraph's
    ``most_common_types``). ``hub serve`` freezes what it keeps for its life out of the
    collector, and frozen objects are not listed: they are thawed for the count and frozen
    again (with whatever has lived since), as the collector would keep them anyway."""
    frozen = gc.get_freeze_count()
    if frozen:
        gc.unfreeze()
    try:
        counts = Counter(type(o).__name__ for o in gc.get_objects())
    finally:
        if frozen:
            gc.freeze()
    return dict(counts.most_common(limit))


def logger_name(component: str) -> str | None:
    """The one hub logger a Webim component name that is not a plugin means: ``auth`` →
    ``hub.auth``, ``timers`` → ``hub.timers``, ``hub.x`` or any other existing logger as is.
    ``None`` for names that no part of the hub logs under (creating loggers on request would grow
    without bound). A plugin's name means all its loggers: :func:`hub.logs.set_plugin_level`."""
    if component in HOST_COMPONENTS:
        return HOST_COMPONENTS[component]
    known = logging.root.manager.loggerDict
    for name in (f"hub.{component}", component):
        if name in known:
            return name
    return None


def level_name(level: int) -> str:
    """Webim's spelling of a Python level."""
    return {v: k for k, v in LEVELS.items()}.get(level, logging.getLevelName(level))
