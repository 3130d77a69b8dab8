"""The fixtures the ``monitorozas`` test modules set up alike, made in each module by a call
that states what is the module's own (its hub's directory and settings)::

    targets = targets_fixture()
    hub = checking_hub_fixture("stored-hub", HUB_MONITOROZAS_RATE_LIMIT="100000")
    api = api_fixture()
    stub = stub_fixture()

Each is found by pytest under the name it is made with, as if it were written out in the
module (a module-level assignment, so the linter sees no unused import shadowed by a test's
argument). All are module-scoped: one hub and one set of servers per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hub_monitorozas.v1 import monitorozas_pb2_grpc

from tests.hubproc import HubProcess
from tests.monitorozas_support import Api, Targets, hub_env


def targets_fixture() -> Any:
    """``targets``: the real servers the checks run against (HTTP, HTTPS, banners, DNS)."""

    @pytest.fixture(scope="module", name="targets")
    def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
        servers = Targets(tmp_path_factory.mktemp("targets")).start()
        yield servers
        servers.stop()

    return targets


def hub_fixture(directory: str, **env: str) -> Any:
    """``hub``: a hub with these settings on a temporary data directory named ``directory``."""

    @pytest.fixture(scope="module", name="hub")
    def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
        yield from _running(tmp_path_factory.mktemp(directory), env)

    return hub


def checking_hub_fixture(directory: str, **extra: str) -> Any:
    """``hub``: a hub checking the module's ``targets`` every second
    (:func:`tests.monitorozas_support.hub_env`, ``extra`` on top)."""

    @pytest.fixture(scope="module", name="hub")
    def hub(targets: Targets, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
        yield from _running(tmp_path_factory.mktemp(directory), hub_env(targets, **extra))

    return hub


def _running(data_dir: Path, env: dict[str, str]) -> Iterator[HubProcess]:
    process = HubProcess(data_dir, env=env).start()
    yield process
    process.stop()


def api_fixture() -> Any:
    """``api``: the REST client of the module's ``hub``."""

    @pytest.fixture(scope="module", name="api")
    def api(hub: HubProcess) -> Api:
        return Api(hub.http)

    return api


def stub_fixture() -> Any:
    """``stub``: a gRPC stub on a channel to the module's ``hub``."""

    @pytest.fixture(scope="module", name="stub")
    def stub(hub: HubProcess) -> Iterator[monitorozas_pb2_grpc.MonitorozasStub]:
        with grpc.insecure_channel(hub.grpc) as channel:
            yield monitorozas_pb2_grpc.MonitorozasStub(channel)

    return stub
