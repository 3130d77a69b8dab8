"""The one plugin manager: entry points in the group ``hub`` (built-in plugins too),
single-file plugins from a directory, ``HUB_PLUGINS`` to limit what loads."""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import inspect
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from hub import eventcodec, hookspecs, logs
from hub.config import ConfigError
from hub.errors import StartupError
from hub.outage import log_failure

log = logging.getLogger("hub")
CORE = "hub"  # the host's own features, registered through the same hooks as any plugin


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str
    module: ModuleType
    hooks: list[str] = field(default_factory=list)
    loggers: tuple[str, ...] = ()  # its log lines' loggers (hub/logs.py)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "hooks": self.hooks,
        }


def _wanted(env: dict[str, str]) -> set[str] | None:
    raw = env.get("HUB_PLUGINS")
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _load_file(path: Path) -> ModuleType:
    name = f"hub_local_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_plugins(
    plugins_dir: str = "", env: dict[str, str] | None = None
) -> tuple[pluggy.PluginManager, dict[str, PluginInfo]]:
    env = dict(os.environ if env is None else env)
    pm = pluggy.PluginManager("hub")
    pm.add_hookspecs(hookspecs)
    wanted = _wanted(env)
    infos: dict[str, PluginInfo] = {}

    def add(name: str, module: ModuleType, version: str, source: str) -> None:
        if name in infos:
            raise StartupError(f"two plugins are named {name!r}: {infos[name].source} and {source}")
        _check_arguments(pm, name, module)
        try:
            pm.register(module, name=name)
            specs = getattr(module, "hub_hookspecs", None)
            if specs is not None:  # hooks this plugin defines for other plugins to implement
                pm.add_hookspecs(specs)
        except pluggy.PluginValidationError as exc:  # anything else pluggy refuses
            raise StartupError(f"plugin {name}: {one_line(exc)}") from None
        loggers = logs.plugin_loggers(name, module)
        logs.claim(name, loggers)
        eventcodec.trust(module.__name__.partition(".")[0])  # its records may be events
        infos[name] = PluginInfo(name, version, source, module, loggers=loggers)

    from hub import __version__, builtin

    add(CORE, builtin, __version__, "hub.builtin")
    for ep in importlib.metadata.entry_points(group="hub"):
        if wanted is not None and ep.name not in wanted:
            continue
        version = ep.dist.version if ep.dist else "0"
        try:
            module = ep.load()
        except Exception as exc:
            raise StartupError(f"plugin {ep.name}: cannot import {ep.value}: {exc}") from exc
        add(ep.name, module, version, f"entry point {ep.value}")
    if plugins_dir:
        for path in sorted(Path(plugins_dir).glob("*.py")):
            if wanted is not None and path.stem not in wanted:
                continue
            try:
                module = _load_file(path)
            except Exception as exc:
                raise StartupError(f"plugin {path.stem}: cannot load {path}: {exc}") from exc
            add(path.stem, module, "0", str(path))
    if wanted is not None and (missing := wanted - set(infos)):
        raise ConfigError(f"HUB_PLUGINS: names plugins that are not installed: {sorted(missing)}")
    _check_hook_names(pm)
    for name, info in infos.items():
        info.hooks = sorted(
            impl_name
            for impl_name, caller in vars(pm.hook).items()
            if isinstance(caller, pluggy.HookCaller)
            and any(i.plugin_name == name for i in caller.get_hookimpls())
        )
    return pm, infos


def _check_arguments(pm: pluggy.PluginManager, plugin: str, module: ModuleType) -> None:
    """An implementation declaring an argument its hook does not pass stops the start with one
    line naming the plugin, the hook and what it takes (pluggy's own message spans lines and
    names no plugin). Hooks defined by plugins loaded later are checked by pluggy then."""
    for attr in dir(module):
        if pm.parse_hookimpl_opts(module, attr) is None:
            continue
        caller = getattr(pm.hook, attr, None)
        if caller is None or caller.spec is None:
            continue
        takes = caller.spec.argnames
        try:
            declared = list(inspect.signature(getattr(module, attr)).parameters)
        except (TypeError, ValueError):
            continue
        for argument in declared:
            if argument not in takes:
                close = difflib.get_close_matches(argument, takes, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise StartupError(
                    f"plugin {plugin}: {attr}({', '.join(declared)}): {argument} is not an"
                    f" argument of {attr} (it takes {', '.join(takes)}{hint})"
                )


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """``pm.check_pending()`` in one line naming the plugin: an implementation of a hook that
    neither the host nor a loaded plugin defines is a misspelling, not something to ignore."""
    callers = {n: c for n, c in vars(pm.hook).items() if isinstance(c, pluggy.HookCaller)}
    known = [name for name, caller in callers.items() if caller.has_spec()]
    for name, caller in callers.items():
        for impl in [] if caller.has_spec() else caller.get_hookimpls():
            if not impl.optionalhook:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise StartupError(
                    f"plugin {impl.plugin_name}: {name} is not a hook of the hub or of a loaded"
                    f" plugin{hint}"
                )


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (pluggy's and some others' span several)."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def in_call_order(pm: pluggy.PluginManager, hook: str) -> list[Any]:
    """The implementations of ``hook`` in the order pluggy calls them (``tryfirst`` first, then
    the plugin loaded last first), each with ``impl.plugin_name``, so that every registration is
    attributed to the plugin that made it."""
    return list(reversed(getattr(pm.hook, hook).get_hookimpls()))


def invoke(impl: Any, **kwargs: Any) -> Any:
    """Call one hook implementation with just the arguments it declares, as pluggy would."""
    return impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})


async def call_lifecycle(pm: pluggy.PluginManager, hook: str, hub: Any) -> None:
    """``startup`` or ``shutdown`` of every plugin; a failing ``startup`` stops the start naming
    its plugin, a failing ``shutdown`` is logged and the other plugins still shut down."""
    for impl in in_call_order(pm, hook):
        try:
            result = invoke(impl, hub=hub)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            if hook == "startup":
                raise StartupError(f"plugin {impl.plugin_name}: {hook}: {one_line(exc)}") from exc
            log_failure(log, exc, "plugin %s: %s failed", impl.plugin_name, hook)
