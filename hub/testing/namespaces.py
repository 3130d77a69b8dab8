"""On a PostgreSQL test run, a hub started by the kit on a data directory gets a namespace (a
``schema_prefix``) named after that directory, so hubs on different data directories share
nothing, as on SQLite, and a hub restarted on the same directory finds its state again."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

SESSION_DATABASE = "HUB_TEST_DATABASE"  # set by the pytest plugin: the session's database URL
made: set[str] = set()  # prefixes handed out, for the plugin to drop


def database_env(data_dir: Path | str, env: Mapping[str, str] | None) -> dict[str, str]:
    """``HUB_DATABASE_URL`` for a hub on ``data_dir``, unless ``env`` names its own (a test of
    several hubs on one database) or the run is on SQLite."""
    base = os.environ.get(SESSION_DATABASE)
    if not base or (env is not None and "HUB_DATABASE_URL" in env):
        return {}
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    prefix = f"d{digest}_"
    made.add(prefix)
    return {"HUB_DATABASE_URL": f"{base}?schema_prefix={prefix}"}
