"""Every built-in plugin and the example plugin pass the plugin kit's conformance check
(hub.testing.conformance), each on an in-process hub that loads only that plugin; a plugin that
breaks the rules fails it, with each breach named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.testing import RunningHub, conformance

PLUGINS = ["era", "monitorozas", "unspot", "webim", "rop", "notes"]
BROKEN = Path(__file__).parent / "broken_plugin"
SERVICE = "hub.broken.v1.Broken"


@pytest.fixture(params=PLUGINS)
def hub_env(request: pytest.FixtureRequest) -> dict[str, str]:
    return {"HUB_PLUGINS": request.param}


async def test_plugin_conforms(hub_server: RunningHub, hub_env: dict[str, str]) -> None:
    await conformance.check(hub_server, hub_env["HUB_PLUGINS"])


BREACHES = [
    "REST GET of an unknown path: answered 200, expected 404",
    "REST GET /items without a credential: answered 500",
    "REST POST /items without a credential: answered 400 as application/json {'detail': 'str'},"
    " not in the plugin's error shape",
    "GraphQL query broken.boom without a credential: INTERNAL",
    f"gRPC /{SERVICE}/Fail without a credential: INTERNAL without a hub-status trailer",
]


@pytest.mark.parametrize(
    "hub_env", [{"HUB_PLUGINS": "broken", "HUB_PLUGINS_DIR": str(BROKEN)}], ids=["broken"]
)
async def test_the_check_names_every_breach(hub_server: RunningHub) -> None:
    found = await conformance.problems(hub_server, "broken")
    for breach in BREACHES:
        assert any(problem.startswith(breach) for problem in found), (breach, found)
    with pytest.raises(AssertionError, match="plugin broken does not conform"):
        await conformance.check(hub_server, "broken")
