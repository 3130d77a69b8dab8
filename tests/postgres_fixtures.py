"""The fixture the PostgreSQL-only test modules set up alike, made in each by a call (as
``tests.rop_fixtures``'s are: a module-level assignment, found by pytest under its name)::

    url = postgres_url_fixture()
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def postgres_url_fixture() -> Any:
    """``url``: the suite's PostgreSQL (this test's own namespace), or a skip on SQLite."""

    @pytest.fixture(name="url")
    def url() -> str:
        found = os.environ.get("HUB_DATABASE_URL", "")
        if not found:
            pytest.skip("PostgreSQL only: run with HUB_TEST_POSTGRES=temporary")
        return found

    return url
