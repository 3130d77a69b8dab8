"""Running health probes: each with a timeout, a failing probe reported rather than raised."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from hub.registrations import HealthProbe

log = logging.getLogger("hub.health")
PROBE_TIMEOUT = 5.0


async def _run(plugin: str, probe: HealthProbe) -> dict[str, Any]:
    try:
        result = probe.probe()
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, PROBE_TIMEOUT)
        status, detail = _checked(result)
    except TimeoutError:
        status, detail = "down", f"probe timed out after {PROBE_TIMEOUT:g}s"
    except Exception as exc:
        log.warning("health probe %s.%s failed: %s", plugin, probe.name, exc)
        status, detail = "down", f"{type(exc).__name__}: {exc}"
    return {
        "plugin": plugin,
        "name": probe.name,
        "status": status,
        "detail": detail,
        "critical": probe.critical,
    }


STATUSES = ("ok", "degraded", "down")


def _checked(result: Any) -> tuple[str, str]:
    """A probe's answer as its contract says, ``(status, detail)`` with ``status`` one of
    :data:`STATUSES`; anything else is the probe failing, said in those words (not Python's
    "too many values to unpack")."""
    if (
        not isinstance(result, tuple | list)
        or len(result) != 2
        or result[0] not in STATUSES
        or not isinstance(result[1], str)
    ):
        shown = repr(result)
        shown = shown if len(shown) <= 60 else shown[:60] + "..."
        raise TypeError(
            f"the probe returned {shown}, expected (status, detail) with status ok, degraded"
            " or down"
        )
    return result[0], result[1]


async def run_probes(probes: list[tuple[str, HealthProbe]]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(_run(plugin, probe) for plugin, probe in probes)))


def plugin_status(results: list[dict[str, Any]], plugin: str) -> str:
    """``ok`` unless one of the plugin's probes says otherwise (``down`` beats ``degraded``)."""
    statuses = {r["status"] for r in results if r["plugin"] == plugin}
    if "down" in statuses:
        return "down"
    if "degraded" in statuses:
        return "degraded"
    return "ok"
