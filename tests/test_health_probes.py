"""A plugin's health probe answers ``(status, detail)``, status ok, degraded or down. One that
answers anything else is a probe failing (down), said in those words: before, a string was
"too many values to unpack" and an unknown status ("fine") was passed on as the status."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from hub.testing.process import ADMIN_TOKEN, HubProcess

SLOPPY = """
from hub.hookspecs import hookimpl
from hub.registrations import HealthProbe


@hookimpl
def register_health_probes(hub, register):
    register(HealthProbe("text", lambda: "fine", critical=False))
    register(HealthProbe("status", lambda: ("fine", "all good"), critical=False))
    register(HealthProbe("right", lambda: ("degraded", "slow disk"), critical=False))
"""


async def test_a_probe_answering_outside_its_contract_is_down_saying_why(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sloppy.py").write_text(SLOPPY)
    hub = HubProcess(tmp_path / "data", env={"HUB_PLUGINS_DIR": str(plugins)}).start()
    try:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(hub.url + "/readyz", headers=headers) as answer,
        ):
            body = await answer.json()
    finally:
        hub.stop()
    probes = {p["name"]: p for p in body["probes"] if p["plugin"] == "sloppy"}
    expected = "expected (status, detail) with status ok, degraded or down"
    assert probes["text"]["status"] == "down"
    assert probes["text"]["detail"] == f"TypeError: the probe returned 'fine', {expected}"
    assert probes["status"]["status"] == "down"
    assert probes["status"]["detail"] == (
        f"TypeError: the probe returned ('fine', 'all good'), {expected}"
    )
    assert (probes["right"]["status"], probes["right"]["detail"]) == ("degraded", "slow disk")
    assert body["plugins"]["sloppy"] == "down"
