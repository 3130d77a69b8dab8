"""The suite uses the plugin kit's fixtures (hub.testing.plugin, loaded by its ``pytest11``
entry point): ``hub_process``, one real hub for the session; ``fresh_hub``, a test's own
HubProcess, not yet started; ``hub_server`` and ``hub_client`` in-process."""

from __future__ import annotations

import pytest

from hub.testing import ADMIN_TOKEN


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
