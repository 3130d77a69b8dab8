"""set-log-level and its read-back: a Webim component name means loggers of this hub process
(every logger of a plugin, or one of the host's), changed at once."""

from __future__ import annotations

import logging

from hub import logs
from hub.api import HubApi
from hub_webim import system
from hub_webim.errors import bad_request
from hub_webim.records import LogLevel, LogLevelChange

log = logging.getLogger("hub_webim")


def loggers(hub: HubApi, name: str) -> tuple[str, ...]:
    """The loggers ``name`` means: every logger of a plugin (its package and
    ``hub.<plugin>``), else one logger of the hub process."""
    if not name:
        raise bad_request("name: required")
    plugin = hub.plugins.get(name)
    if plugin is not None:
        return tuple(plugin.loggers)
    logger = system.logger_name(name)
    if logger is None:
        raise bad_request(f"name: no component {name!r} in this hub")
    return (logger,)


def set_level(hub: HubApi, name: str | None, level: str | None) -> LogLevelChange:
    """Change the level of the named component (for a plugin, every line it writes); the
    change is logged at WARNING so the log shows it."""
    if not name:
        raise bad_request("name: required")
    if not level:
        raise bad_request("level: required")
    python_level = system.LEVELS.get(level.upper())
    if python_level is None:
        raise bad_request(f"level: expected one of {', '.join(system.LEVELS)}, got {level!r}")
    names = loggers(hub, name)
    plugin = hub.plugins.get(name)
    if plugin is not None:
        logs.set_plugin_level(plugin, python_level)
    else:
        logging.getLogger(names[0]).setLevel(python_level)
    log.warning("set-log-level: %s (%s) -> %s", name, ", ".join(names), level.upper())
    return LogLevelChange(
        result="ok", name=name, logger=names[0], loggers=names, level=level.upper()
    )


def level_of(hub: HubApi, name: str) -> LogLevel:
    """The level of ``name``'s first logger (a plugin's loggers are set together)."""
    logger = loggers(hub, name)[0]
    target = logging.getLogger(logger)
    return LogLevel(
        name=name,
        logger=logger,
        level=system.level_name(target.level) if target.level else "NOTSET",
        effective_level=system.level_name(target.getEffectiveLevel()),
    )
