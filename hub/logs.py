"""Which loggers are a plugin's, so that its level is set as one and every log line names the
plugin that wrote it.

A plugin logs under its module's top-level package (``hub_rop``, ``hub_rop.intake``) and may log
under ``hub.<name>``; the host logs under ``hub``. :func:`plugin_loggers` names them when the
plugin loads, :func:`set_plugin_level` sets them together, :class:`PluginFilter` stamps each
record with ``record.plugin`` (``%(plugin)s`` in :data:`FORMAT`)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

    from hub.plugins import PluginInfo

HOST = "hub"
FORMAT = "%(asctime)s %(levelname)s [%(plugin)s] %(name)s: %(message)s"
NO_PLUGIN = "-"  # records of libraries (aiohttp, grpc, ...) that no plugin wrote

_owners: dict[str, str] = {}  # logger name -> the plugin whose records it (and its children) carry
_resolved: dict[str, str] = {}  # record's logger name -> plugin, memoised for every record


def plugin_loggers(name: str, module: ModuleType) -> tuple[str, ...]:
    """The loggers of plugin ``name``: its package, then ``hub.<name>`` (just ``hub`` for the
    host). A plugin living inside the ``hub`` package gets only ``hub.<name>``: its package's
    level is the host's."""
    if name == HOST:
        return (HOST,)
    package = module.__name__.split(".")[0]
    return tuple(dict.fromkeys(p for p in (package, f"{HOST}.{name}") if p != HOST))


def claim(plugin: str, loggers: tuple[str, ...]) -> None:
    """Records of these loggers and their children are ``plugin``'s (the first claim stands)."""
    for logger in loggers:
        _owners.setdefault(logger, plugin)
    _resolved.clear()


def owner(logger_name: str) -> str:
    """The plugin whose logger wrote a record: the nearest claimed ancestor of its logger."""
    found = _resolved.get(logger_name)
    if found is None:
        probe = logger_name
        while probe and probe not in _owners:
            probe = probe.rpartition(".")[0]
        found = _owners.get(probe, NO_PLUGIN)
        _resolved[logger_name] = found
    return found


def set_plugin_level(plugin: PluginInfo, level: int) -> None:
    """Set the level of every logger of ``plugin`` at once (each child logger follows)."""
    for name in plugin.loggers:
        logging.getLogger(name).setLevel(level)


class PluginFilter(logging.Filter):
    """Stamps ``record.plugin``; a handler filter, so it sees the records of every logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.plugin = owner(record.name)
        return True


def configure(level: str) -> None:
    """The hub's logging on stderr: :data:`FORMAT`, each line naming its plugin."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format=FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PluginFilter) for f in handler.filters):
            handler.addFilter(PluginFilter())
