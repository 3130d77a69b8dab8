"""Which loggers are a plugin's, so that its level is set as one and every log line names the
plugin that wrote it.

A plugin logs under its module's top-level package (``hub_rop``, ``hub_rop.intake``) and may log
under ``hub.<name>``; the host logs under ``hub``. :func:`plugin_loggers` names them when the
plugin loads, :func:`set_plugin_level` sets them together, :class:`PluginFilter` stamps each
record with ``record.plugin`` (``%(plugin)s`` in :data:`FORMAT`) and the request it was written
for (:mod:`hub.requestid`), which :class:`JsonFormatter` writes as one JSON object a line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub import requestid

if TYPE_CHECKING:
    from types import ModuleType

    from hub.plugins import PluginInfo

HOST = "hub"
FORMAT = "%(asctime)s %(levelname)s [%(plugin)s] %(name)s: %(message)s"
NO_PLUGIN = "-"  # records of libraries (aiohttp, grpc, ...) that no plugin wrote
# what a record may carry besides its message, in the order a JSON line shows them
REQUEST_FIELDS = ("request_id", "protocol", "operation", "status", "duration_ms")

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
    """Stamps ``record.plugin`` (unless the line names it, as the access line does) and the
    request being served; a handler filter, so it sees the records of every logger, and runs
    where the record is made, so the request is the one of that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.setdefault("plugin", owner(record.name))
        served = requestid.current()
        if served is not None:
            record.__dict__.setdefault("request_id", served.id)
            record.__dict__.setdefault("protocol", served.protocol)
            record.__dict__.setdefault("operation", served.operation)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, plugin, the
    request's fields when there is one, and a traceback as the ``exception`` string, never
    lines of its own."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "plugin": getattr(record, "plugin", NO_PLUGIN),
        }
        for name in REQUEST_FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str, log_format: str = "text") -> None:
    """The hub's logging on stderr, each line naming its plugin: :data:`FORMAT`, or one JSON
    object a line (warnings included) with a request's lines carrying its id and an access line
    ending each request."""
    handler = logging.StreamHandler(sys.stderr)
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.captureWarnings(json_lines)
    requestid.access_log.disabled = not json_lines
    for root_handler in logging.getLogger().handlers:
        if not any(isinstance(f, PluginFilter) for f in root_handler.filters):
            root_handler.addFilter(PluginFilter())
