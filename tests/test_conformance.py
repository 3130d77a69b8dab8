"""The plugin kit (hub.testing): every built-in plugin and the example plugin pass its
conformance check, each on an in-process hub that loads only that plugin; a plugin that breaks
the rules fails it, each breach named; the example's and the guide's own tests pass on the kit
alone, as their repositories run them; and the hub never imports pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing import HubClient, RunningHub, conformance
from hub.testing.conformance.graphql import subscribed
from tests.test_guide import guide, installed, project  # noqa: F401 (the guide's plugin, built)

PLUGINS = ["era", "monitorozas", "unspot", "webim", "rop", "notes"]
BROKEN = Path(__file__).parent / "broken_plugin"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub-notes"
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
    "GraphQL query broken.tooBig without a credential: INTERNAL",
    "GraphQL query broken.missing without a credential: INTERNAL",
    "GraphQL subscription brokenTicks without a credential: INTERNAL",
    "GraphQL subscription brokenTicks with a wrong credential: INTERNAL",
    f"gRPC /{SERVICE}/Fail without a credential: INTERNAL without a hub-status trailer",
]


@pytest.mark.parametrize(
    "hub_env", [{"HUB_PLUGINS": "broken", "HUB_PLUGINS_DIR": str(BROKEN)}], ids=["broken"]
)
async def test_the_check_names_every_breach(hub_server: RunningHub) -> None:
    found = await conformance.problems(hub_server, "broken")
    for breach in BREACHES:
        assert any(problem.startswith(breach) for problem in found), (breach, found)
    assert not [problem for problem in found if "brokenQuiet" in problem]  # waiting for events
    with pytest.raises(AssertionError, match="plugin broken does not conform"):
        await conformance.check(hub_server, "broken")


@pytest.mark.parametrize("hub_env", [{"HUB_PLUGINS": "notes"}], ids=["notes"])
async def test_a_subscription_the_hub_closes_the_socket_on_is_a_breach(
    hub_client: HubClient,
) -> None:
    """A socket closed instead of an answer (here: a document the hub cannot parse) is named,
    not taken for a subscription waiting for events."""
    found = await subscribed(hub_client, "unparsable", "subscription {", {}, None, "notes")
    assert len(found) == 1, found
    assert found[0].startswith("GraphQL unparsable: the hub closed the socket (4400 "), found


def test_the_example_plugins_own_kit_tests_pass_as_its_repository_runs_them() -> None:
    """examples/hub-notes/tests with the example's own rootdir and config: no conftest of this
    suite, pytest-asyncio in its default strict mode, the kit found through its entry point."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            EXAMPLE,
            "-c",
            EXAMPLE / "pyproject.toml",
            EXAMPLE / "tests",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_the_guides_plugin_passes_the_tests_the_guide_gives_it(
    project: Path,  # noqa: F811
    installed: Path,  # noqa: F811
) -> None:
    """docs/plugin-authoring.md's tests/test_todo.py, run in the guide's project as its reader
    runs it (``pytest tests``), with the plugin installed and only the kit's fixtures."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_the_kit_imports_no_pytest() -> None:
    """pytest is no run-time dependency of the hub: only pytest loads hub.testing.plugin."""
    code = "import sys, hub.cli, hub.testing.conformance; print('pytest' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


@pytest.mark.parametrize(
    "hub_env", [{"HUB_PLUGINS": "broken", "HUB_PLUGINS_DIR": str(BROKEN)}], ids=["broken"]
)
@pytest.mark.parametrize("field", ["tooBig", "missing"])
async def test_an_answer_graphql_cannot_carry_is_the_hubs_fault_not_the_clients(
    hub_client: HubClient, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A resolver's value its type cannot carry (an int past GraphQL's Int, null for a non-null
    field) is an internal error, logged, as a resolver's exception is: not a request error that
    blames the client's document (over HTTP and over the websocket alike)."""
    internal = {"code": "INTERNAL", "plugin": None, "status": 500, "reason": "internal"}
    answer = await hub_client.graphql(f"{{ broken {{ {field} }} }}")
    (error,) = answer["errors"]
    assert (error["message"], error["extensions"]) == ("internal error", internal), answer
    assert error["path"] == ["broken", field]
    async with hub_client.subscription(f"query {{ broken {{ {field} }} }}") as answers:
        message = await anext(answers)
    (error,) = message["payload"]["errors"]
    assert (error["message"], error["extensions"]) == ("internal error", internal), message
    logged = [r for r in caplog.records if r.levelname == "ERROR" and field in r.getMessage()]
    assert len(logged) == 2, [r.getMessage() for r in caplog.records]
