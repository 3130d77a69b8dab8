"""The plugin kit's pytest fixtures, loaded by pytest through the entry point ``hub`` in the
group ``pytest11`` (``pip install 'hub-gateway[testing]'`` brings pytest and pytest-asyncio).

- ``hub_env``: environment for the hubs the fixtures start (``HUB_PLUGINS``,
  ``HUB_<PLUGIN>_<KEY>``); ``{}`` unless a test module or conftest overrides it.
- ``hub_server``: a :class:`~hub.testing.RunningHub` served in the test's event loop.
- ``hub_client``: a :class:`~hub.testing.HubClient` bound to ``hub_server``.
- ``hub_process``: one real hub process for the whole session, every installed plugin.
- ``fresh_hub``: a :class:`~hub.testing.HubProcess` of the test's own, not yet started.
- ``hub_database``: with ``HUB_TEST_POSTGRES`` set (``temporary``: a throwaway server the
  session starts; or the URL of a server where databases may be created), every test gets an
  empty PostgreSQL database of its own as ``HUB_DATABASE_URL``, so each hub it starts (in
  process, as a subprocess, or a ``hub`` command) keeps its state there; ``new()`` makes
  another, for a second hub that must not share it. Unset: SQLite, and ``new()`` is ``""``.

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


class PostgresDatabases:
    """Empty databases on the session's PostgreSQL server, dropped when the test ends."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.made: list[str] = []

    def new(self) -> str:
        if self.server is None:
            return ""
        url = str(self.server.create_database())
        self.made.append(url)
        return url

    def drop(self) -> None:
        for url in self.made:
            self.server.drop_database(url)


class _ExternalPostgres:
    """A server the caller runs (``HUB_TEST_POSTGRES=postgresql://…``)."""

    def __init__(self, url: str) -> None:
        self.base = url.rsplit("/", 1)[0]
        self._count = 0

    def _sql(self, statement: str) -> None:
        from hub.testing.postgres import run_sql

        run_sql(self.url(), statement)

    def url(self, database: str = "postgres") -> str:
        return f"{self.base}/{database}"

    def create_database(self) -> str:
        import os

        self._count += 1
        name = f"hub_{os.getpid()}_{self._count}"
        self._sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture(scope="session")
def hub_postgres() -> Iterator[Any]:
    """The session's PostgreSQL server, or None when the suite runs on SQLite."""
    import os

    setting = os.environ.get("HUB_TEST_POSTGRES", "")
    if not setting:
        yield None
    elif setting == "temporary":
        from hub.testing.postgres import TemporaryPostgres

        with TemporaryPostgres() as server:
            yield server
    else:
        yield _ExternalPostgres(setting)


@pytest.fixture(autouse=True)
def hub_database(hub_postgres: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(hub_postgres)
    if hub_postgres is not None:
        monkeypatch.setenv("HUB_DATABASE_URL", databases.new())
    yield databases
    if hub_postgres is not None:
        monkeypatch.undo()
        databases.drop()


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
def hub_process(
    tmp_path_factory: pytest.TempPathFactory, hub_postgres: Any
) -> Iterator[HubProcess]:
    from hub.testing import HubProcess

    database = PostgresDatabases(hub_postgres)
    env = {"HUB_DATABASE_URL": database.new()}  # its own: it outlives every test's
    process = HubProcess(tmp_path_factory.mktemp("hub-data"), env).start()
    yield process
    process.stop()
    database.drop()


@pytest.fixture
def fresh_hub(tmp_path: Path) -> Iterator[HubProcess]:
    from hub.testing import HubProcess

    process = HubProcess(tmp_path / "data")
    yield process
    process.stop()
