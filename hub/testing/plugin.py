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
  empty PostgreSQL namespace of its own as ``HUB_DATABASE_URL`` (a ``schema_prefix`` on the
  session's database), so each hub it starts (in process, as a subprocess, or a ``hub``
  command) keeps its state there; ``new()`` makes another, for a second hub that must not
  share it. Unset: SQLite, and ``new()`` is ``""``.

Only pytest imports this module; the hub itself never does."""

from __future__ import annotations

import itertools
import os
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
    """Empty namespaces on the session's PostgreSQL database: each ``new()`` URL carries a
    ``schema_prefix`` of its own, so hubs given different ones share nothing. Their schemas
    are dropped by :meth:`drop` (at the end of the test module: a module's hub outlives the
    test that started it)."""

    _count = itertools.count(1)

    def __init__(self, base: str | None) -> None:
        self.base = base
        self.made: list[str] = []

    def new(self) -> str:
        if self.base is None:
            return ""
        prefix = f"t{os.getpid()}_{next(self._count)}_"
        self.made.append(prefix)
        return f"{self.base}?schema_prefix={prefix}"

    def drop(self) -> None:
        """Also the namespaces the kit gave data directories meanwhile."""
        from hub.testing import namespaces

        self.made.extend(namespaces.made)
        namespaces.made.clear()
        if self.base is None or not self.made:
            return
        from hub.testing.postgres import run_sql

        rows = run_sql(self.base, "SELECT nspname FROM pg_namespace")
        doomed = [r[0] for r in rows if r[0].startswith(tuple(self.made))]
        if doomed:
            run_sql(self.base, "DROP SCHEMA " + ", ".join(f'"{n}"' for n in doomed) + " CASCADE")
        self.made.clear()


@pytest.fixture(scope="session")
def hub_postgres() -> Iterator[str | None]:
    """The URL of the session's PostgreSQL database, or None when the suite runs on SQLite:
    ``HUB_TEST_POSTGRES=temporary`` starts a throwaway server, a URL names a server the
    caller runs (the database is made there and dropped at the end)."""
    from hub.testing.namespaces import SESSION_DATABASE
    from hub.testing.postgres import TemporaryPostgres, run_sql

    setting = os.environ.get("HUB_TEST_POSTGRES", "")
    if not setting:
        yield None
        return
    with pytest.MonkeyPatch.context() as patch:
        if setting == "temporary":
            with TemporaryPostgres() as server:
                url = server.create_database("hub_test")
                patch.setenv(SESSION_DATABASE, url)
                yield url
        else:
            name = f"hub_test_{os.getpid()}"
            run_sql(setting, f'CREATE DATABASE "{name}"')
            url = f"{setting.rsplit('/', 1)[0]}/{name}"
            patch.setenv(SESSION_DATABASE, url)
            yield url
            run_sql(setting, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", autouse=True)
def _hub_module_databases(hub_postgres: str | None) -> Iterator[PostgresDatabases]:
    """A namespace for the module's own hubs (a module-scoped fixture's), which start before
    any test's namespace is set; each test then gets one of its own."""
    databases = PostgresDatabases(hub_postgres)
    with pytest.MonkeyPatch.context() as patch:
        if hub_postgres is not None:
            patch.setenv("HUB_DATABASE_URL", databases.new())
        yield databases
    databases.drop()


@pytest.fixture(autouse=True)
def hub_database(
    _hub_module_databases: PostgresDatabases, monkeypatch: pytest.MonkeyPatch
) -> PostgresDatabases:
    if _hub_module_databases.base is not None:
        monkeypatch.setenv("HUB_DATABASE_URL", _hub_module_databases.new())
    return _hub_module_databases


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
    env = {"HUB_DATABASE_URL": database.new()}  # its own: it outlives every module
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
