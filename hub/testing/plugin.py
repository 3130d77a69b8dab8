"""The plugin kit's pytest fixtures, loaded by pytest through the entry point ``hub`` in the
group ``pytest11`` (``pip install 'hub-gateway[testing]'`` brings pytest and pytest-asyncio).

- ``hub_env``: environment for the hubs the fixtures start (``HUB_PLUGINS``,
  ``HUB_<PLUGIN>_<KEY>``); ``{}`` unless a test module or conftest overrides it.
- ``hub_server``: a :class:`~hub.testing.RunningHub` served in the test's event loop.
- ``hub_client``: a :class:`~hub.testing.HubClient` bound to ``hub_server``.
- ``hub_process``: one real hub process for the whole session, every installed plugin.
- ``fresh_hub``: a :class:`~hub.testing.HubProcess` of the test's own, not yet started.

Only pytest imports this module; the hub itself never does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hub.testing import HubClient, HubProcess, RunningHub

try:
    import pytest_asyncio
except ImportError:  # pytest runs that never ask for hub_server must not fail for want of it
    pytest_asyncio = None  # type: ignore[assignment]


def _async_fixture(function: Callable[..., Any]) -> Any:
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function)

    @pytest.fixture(name=function.__name__)
    def needs_pytest_asyncio() -> None:
        pytest.fail(f"{function.__name__} needs pytest-asyncio: pip install 'hub-gateway[testing]'")

    return needs_pytest_asyncio


@pytest.fixture
def hub_env() -> dict[str, str]:
    return {}


@_async_fixture
async def hub_server(tmp_path: Path, hub_env: dict[str, str]) -> AsyncIterator[RunningHub]:
    from hub.testing import running_hub

    async with running_hub(tmp_path / "hub-data", hub_env) as running:
        yield running


@_async_fixture
async def hub_client(hub_server: RunningHub) -> AsyncIterator[HubClient]:
    from hub.testing import HubClient

    async with HubClient(hub_server.url, hub_server.grpc) as client:
        yield client


@pytest.fixture(scope="session")
def hub_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    from hub.testing import HubProcess

    process = HubProcess(tmp_path_factory.mktemp("hub-data")).start()
    yield process
    process.stop()


@pytest.fixture
def fresh_hub(tmp_path: Path) -> Iterator[HubProcess]:
    from hub.testing import HubProcess

    process = HubProcess(tmp_path / "data")
    yield process
    process.stop()
