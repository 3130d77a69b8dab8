from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess


@pytest.fixture(scope="session")
def hub_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One real hub for the whole session (tests that need their own start one)."""
    hub = HubProcess(tmp_path_factory.mktemp("hub-data")).start()
    yield hub
    hub.stop()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def fresh_hub(tmp_path: Path) -> Iterator[HubProcess]:
    hub = HubProcess(tmp_path / "data")
    yield hub
    hub.stop()
